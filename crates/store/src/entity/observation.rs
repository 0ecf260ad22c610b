//! Table `observations`: one reading in canonical units, values sealed (D1, D5).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "observations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub patient_id: String,
    pub kind: String,
    /// LOINC code.
    pub code: String,
    /// JSON `domain::reading::Reading`, sealed.
    pub values_enc: Vec<u8>,
    pub measured_at: DateTimeUtc,
    pub received_at: DateTimeUtc,
    /// `device` or `manual`.
    pub source: String,
    pub device_id: Option<String>,
    pub reading_id: Option<String>,
    /// Above the plan's target when stored (the trend rule counts these).
    pub above_target: bool,
    /// The alert this reading raised or repeated (issue 11 item 16); older rows: see `alerts.observation_id`.
    pub alert_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
