//! Keyword search over encrypted text (C2): blind-index tokens (keyed HMAC of normalised tokens),
//! never plaintext, pointing at the consultation and the message or field they came from.

#![allow(clippy::wildcard_imports, reason = "migration DSL: the prelude and schema helpers are used throughout")]

use sea_orm_migration::{prelude::*, schema::*};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &'static str {
        "m0003_search"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("search_tokens")
                .if_not_exists()
                .col(string("token"))
                .col(string("consultation_id"))
                .col(string("source_id"))
                .primary_key(Index::create().col("token").col("consultation_id").col("source_id"))
                .foreign_key(
                    ForeignKey::create()
                        .from("search_tokens", "consultation_id")
                        .to("consultations", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_search_consultation")
                .table("search_tokens")
                .col("consultation_id")
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}
