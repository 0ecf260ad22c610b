//! Table `notification_deliveries`: one notification on one channel, with its state and retries (E3).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notification_deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub notification_id: String,
    pub user_id: String,
    /// `inapp`, `email`, `sms`.
    pub channel: String,
    /// `pending`, `sent`, `delivered`, `read`, `failed`; `skipped` when never attempted (the SMS
    /// cap, issue 11 item 16: `last_error` says why).
    pub state: String,
    pub attempts: i32,
    pub next_at: DateTimeUtc,
    pub lease_until: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    pub external_id: Option<String>,
    pub sent_at: Option<DateTimeUtc>,
    pub delivered_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
