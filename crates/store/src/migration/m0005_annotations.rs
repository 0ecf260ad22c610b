//! Image annotations (A4): one set of shapes per attachment, encrypted, beside the untouched original.

#![allow(clippy::wildcard_imports, reason = "migration DSL: the prelude and schema helpers are used throughout")]

use sea_orm_migration::{prelude::*, schema::*};

use super::dsl::{fk, t};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &'static str {
        "m0005_annotations"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            t("annotations")
                .col(string("attachment_id").primary_key())
                .col(string("consultation_id"))
                .col(string("author_id"))
                .col(blob("shapes_enc"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("annotations", "attachment_id", "attachments"))
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}
