//! Table `jobs`: the durable scheduler's queue.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// What to run, e.g. `consultation.first_response`.
    pub kind: String,
    /// At most one job per key (scheduling twice is a no-op).
    pub idem_key: String,
    /// JSON arguments: identifiers only, never clinical text.
    pub payload: String,
    pub due_at: DateTimeUtc,
    pub attempts: i32,
    pub max_attempts: i32,
    /// The stable error code of the last failed attempt.
    pub last_error: Option<String>,
    pub done_at: Option<DateTimeUtc>,
    /// `done` or `failed` (gave up after `max_attempts`).
    pub outcome: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
