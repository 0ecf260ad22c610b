//! The durable job scheduler (A2 response clocks now; E3 reminders later): one row per job with its
//! due time, idempotency key, attempts and outcome. Open consultations whose first-response clock
//! was kept by the earlier sweep get their job here, once.

#![allow(clippy::wildcard_imports, reason = "migration DSL: the prelude and schema helpers are used throughout")]

use sea_orm_migration::{prelude::*, schema::*};

use super::dsl::{idx, t};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &'static str {
        "m0009_jobs"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            t("jobs")
                .col(string("id").primary_key())
                .col(string("kind"))
                .col(string("idem_key"))
                .col(text("payload"))
                .col(timestamp_with_time_zone("due_at"))
                .col(integer("attempts"))
                .col(integer("max_attempts"))
                .col(string_null("last_error"))
                .col(timestamp_with_time_zone_null("done_at"))
                .col(string_null("outcome"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(idx("jobs_idem_key", "jobs", &["idem_key"], true)).await?;
        m.create_index(idx("jobs_pending_due", "jobs", &["done_at", "due_at"], false)).await?;
        // `||` concatenates on both engines.
        m.get_connection()
            .execute_unprepared(
                "INSERT INTO jobs (id, kind, idem_key, payload, due_at, attempts, max_attempts, created_at) \
                 SELECT 'backfill-' || id, 'consultation.first_response', 'first_response:' || id, \
                        '{\"consultation\":\"' || id || '\"}', first_response_due_at, 0, 8, created_at \
                 FROM consultations \
                 WHERE first_response_at IS NULL AND escalated_at IS NULL AND closed_at IS NULL",
            )
            .await?;
        Ok(())
    }
}
