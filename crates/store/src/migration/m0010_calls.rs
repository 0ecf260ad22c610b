//! Voice and video calls inside a consultation (A1, F3): one row per call with its state and times;
//! the call's id is the unguessable room id the server mints.

#![allow(clippy::wildcard_imports, reason = "migration DSL: the prelude and schema helpers are used throughout")]

use sea_orm_migration::{prelude::*, schema::*};

use super::dsl::{fk, idx, t};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &'static str {
        "m0010_calls"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            t("calls")
                .col(string("id").primary_key())
                .col(string("consultation_id"))
                .col(string("kind"))
                .col(string("caller_id"))
                .col(string("callee_id"))
                .col(string("state"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("answered_at"))
                .col(timestamp_with_time_zone_null("ended_at"))
                .col(string_null("ended_by"))
                .foreign_key(&mut fk("calls", "consultation_id", "consultations"))
                .to_owned(),
        )
        .await?;
        m.create_index(idx("calls_consultation", "calls", &["consultation_id", "state"], false)).await?;
        Ok(())
    }
}
