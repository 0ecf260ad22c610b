//! Bounded alerting (issue 11 item 16). A repeat of an open alert's rule for the same patient
//! updates that alert instead of raising a new one: `repeat_count`, the latest reading and its
//! time live on the alert, and each reading names the alert it raised or repeated (`alert_id`), so
//! lists and charts still mark every abnormal reading. The SMS cap counts a recipient's SMS
//! deliveries around a send time, which `deliveries_user_channel` serves.

#![allow(clippy::wildcard_imports, reason = "migration DSL: the prelude and schema helpers are used throughout")]

use sea_orm_migration::{prelude::*, schema::*};

use super::dsl::idx;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &'static str {
        "m0017_limits"
    }
}

/// SQLite adds one column per `ALTER TABLE`.
async fn add(m: &SchemaManager<'_>, table: &'static str, column: ColumnDef) -> Result<(), DbErr> {
    m.alter_table(Table::alter().table(table).add_column(column).to_owned()).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        add(m, "alerts", integer("repeat_count").default(1).to_owned()).await?;
        add(m, "alerts", string_null("last_observation_id")).await?;
        add(m, "alerts", timestamp_with_time_zone_null("last_at")).await?;
        add(m, "observations", string_null("alert_id")).await?;
        m.create_index(idx(
            "deliveries_user_channel",
            "notification_deliveries",
            &["user_id", "channel", "next_at"],
            false,
        ))
        .await
    }
}
