//! Table `care_tasks`: one occurrence of a plan's measure (a reading to take) or visit (D1, D2).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "care_tasks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub plan_id: String,
    pub patient_id: String,
    pub doctor_id: String,
    pub slot: i32,
    /// `reading` or `visit`.
    pub kind: String,
    pub measure: String,
    pub context: Option<String>,
    /// Sealed (issue 11 item 10): a visit's name is free text from the plan.
    pub label_enc: Option<Vec<u8>>,
    pub due_at: DateTimeUtc,
    pub close_at: DateTimeUtc,
    /// `pending`, `done`, `late`, `missed`, `cancelled`.
    pub state: String,
    pub completed_at: Option<DateTimeUtc>,
    pub observation_id: Option<String>,
    pub consultation_id: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
