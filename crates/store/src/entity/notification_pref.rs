//! Table `notification_prefs`: a user's channels, e-mail address (sealed), quiet hours, time zone (E3).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notification_prefs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    /// JSON list: `email`, `sms` (in-app is always on).
    pub channels: String,
    pub email_enc: Option<Vec<u8>>,
    pub quiet_start: Option<i32>,
    pub quiet_end: Option<i32>,
    pub time_zone: String,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
