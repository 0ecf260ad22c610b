//! Corrections of closed consultations (C1): a closed record never changes; a correction is a new
//! version (summary and diagnoses) with the reason, its author and time. All versions stay visible.

#![allow(clippy::wildcard_imports, reason = "migration DSL: the prelude and schema helpers are used throughout")]

use sea_orm_migration::{prelude::*, schema::*};

use super::dsl::{fk, idx, t};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &'static str {
        "m0006_corrections"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            t("consultation_corrections")
                .col(string("id").primary_key())
                .col(string("consultation_id"))
                .col(integer("version"))
                .col(string("author_id"))
                .col(blob("reason_enc"))
                .col(blob("summary_enc"))
                .col(string("diagnoses"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("consultation_corrections", "consultation_id", "consultations"))
                .to_owned(),
        )
        .await?;
        m.create_index(idx("ux_correction_version", "consultation_corrections", &["consultation_id", "version"], true))
            .await?;
        Ok(())
    }
}
