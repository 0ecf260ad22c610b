//! Table `followup_plans`: a patient's follow-up plan and the doctor responsible for it (D2, D4).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "followup_plans")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub patient_id: String,
    pub doctor_id: String,
    /// `hypertension`, `diabetes`, `custom`.
    pub template: String,
    pub title: String,
    /// JSON: reading kinds and how often.
    pub measures: String,
    /// JSON: `domain::reading::Thresholds`.
    pub thresholds: String,
    /// `active`, `ended`.
    pub state: String,
    pub created_at: DateTimeUtc,
    pub ended_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
