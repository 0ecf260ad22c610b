//! Table `call_recordings`: a consented recording of a call (F3), kept at least 3 years.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "call_recordings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub call_id: String,
    pub consultation_id: String,
    pub started_by: String,
    /// `recording`, `complete`, `purged`.
    pub state: String,
    pub content_type: String,
    pub started_at: DateTimeUtc,
    pub ended_at: Option<DateTimeUtc>,
    pub size_bytes: i64,
    pub chunks: i32,
    pub retain_until: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
