//! Table `call_participants`: who is in a call room (F3).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "call_participants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub call_id: String,
    /// The user's id, or `guest-<hex>` for a guest.
    pub participant_id: String,
    pub user_id: Option<String>,
    /// A guest's name, sealed.
    pub name_enc: Option<Vec<u8>>,
    /// `host`, `member` (the consultation's other side), `doctor`, `interpreter`, `family`.
    pub role: String,
    /// `invited`, `joined`, `left`, `declined`, `missed`, `expired`.
    pub state: String,
    pub invited_by: String,
    pub invited_at: DateTimeUtc,
    pub joined_at: Option<DateTimeUtc>,
    pub left_at: Option<DateTimeUtc>,
    /// Recording consent: `granted` or `refused`.
    pub consent: Option<String>,
    pub consent_at: Option<DateTimeUtc>,
    /// Guests: SHA-256 of the one-time link token, its expiry and when it was used.
    pub token_hash: Option<String>,
    pub token_expires_at: Option<DateTimeUtc>,
    pub token_used_at: Option<DateTimeUtc>,
    /// Guests: SHA-256 of the cookie secret the link was exchanged for, and its CSRF token.
    pub secret_hash: Option<String>,
    pub csrf: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
