//! Table `institutions`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "institutions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name_zh: String,
    pub name_en: String,
    pub kind: String,
    pub tier: i32,
    pub region_code: String,
    pub created_at: DateTimeUtc,
    /// A2: first-response limits of this institution (seconds); `None` = platform default.
    pub sla_priority_secs: Option<i32>,
    pub sla_normal_secs: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
