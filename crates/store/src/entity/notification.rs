//! Table `notifications`: what a user is told (reminders, due visits, alerts) — the inbox (E3).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notifications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    pub kind: String,
    /// Sealed (S1, issue 11 item 10): titles and bodies name the patient and the reading.
    pub title_enc: Option<Vec<u8>>,
    pub body_enc: Option<Vec<u8>>,
    pub link: Option<String>,
    pub urgent: bool,
    pub subject_id: Option<String>,
    pub created_at: DateTimeUtc,
    pub read_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
