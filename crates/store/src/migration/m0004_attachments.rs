//! Consultation attachments (A1, C1): photos and report files. The bytes live encrypted in the blob
//! store; this table holds what is needed to find and serve them.

#![allow(clippy::wildcard_imports, reason = "migration DSL: the prelude and schema helpers are used throughout")]

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &'static str {
        "m0004_attachments"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("attachments")
                .if_not_exists()
                .col(string("id").primary_key())
                .col(string("consultation_id"))
                .col(string("owner_id"))
                .col(string("content_type"))
                .col(big_integer("size_bytes"))
                .col(blob("name_enc"))
                .col(string("blob_key"))
                .col(string_null("thumb_key"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(
                    ForeignKey::create()
                        .from("attachments", "consultation_id")
                        .to("consultations", "id")
                        .on_delete(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_attachments_consultation")
                .table("attachments")
                .col("consultation_id")
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}
