//! Table `plan_templates`: an institution's own version of a built-in follow-up plan template (D2).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "plan_templates")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub institution_id: String,
    /// `hypertension`, `diabetes`.
    pub key: String,
    pub title: String,
    /// JSON: measures with their RFC 5545 rules, and visits.
    pub measures: String,
    /// JSON: `domain::reading::Thresholds`.
    pub thresholds: String,
    pub updated_by: String,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
