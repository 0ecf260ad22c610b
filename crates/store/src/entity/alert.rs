//! Table `alerts`: an abnormal reading for the plan's doctor, open until acknowledged (D4).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "alerts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub patient_id: String,
    pub plan_id: String,
    pub doctor_id: String,
    pub observation_id: String,
    /// `warning` or `urgent`.
    pub severity: String,
    /// Sealed (issue 11 item 10): the rule names the condition (`glucose_low`, …).
    pub rule_enc: Option<Vec<u8>>,
    /// `open`, `acknowledged`.
    pub state: String,
    pub created_at: DateTimeUtc,
    pub acknowledged_at: Option<DateTimeUtc>,
    pub acknowledged_by: Option<String>,
    pub escalated_at: Option<DateTimeUtc>,
    /// Readings that raised this alert: the first and its repeats while it was open (issue 11 item 16).
    pub repeat_count: i32,
    /// The latest of them, and when it came (None until the first repeat).
    pub last_observation_id: Option<String>,
    pub last_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
