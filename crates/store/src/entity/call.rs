//! Table `calls`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "calls")]
pub struct Model {
    /// The room id: 128 random bits, minted by the server.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub consultation_id: String,
    /// `voice` or `video`.
    pub kind: String,
    pub caller_id: String,
    pub callee_id: String,
    /// `ringing`, `active`, `ended`, `declined`, `missed`, `cancelled`.
    pub state: String,
    pub created_at: DateTimeUtc,
    pub answered_at: Option<DateTimeUtc>,
    pub ended_at: Option<DateTimeUtc>,
    pub ended_by: Option<String>,
    /// When the host asked everyone to consent to recording.
    pub recording_requested_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
