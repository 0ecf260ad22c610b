//! The personal health record's saved education articles (A6).

#![allow(clippy::wildcard_imports, reason = "migration DSL: the prelude and schema helpers are used throughout")]

use sea_orm_migration::{prelude::*, schema::*};

use super::dsl::{fk, t};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &'static str {
        "m0008_saved_articles"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            t("saved_articles")
                .col(string("user_id"))
                .col(string("slug"))
                .col(string_null("consultation_id"))
                .col(timestamp_with_time_zone("saved_at"))
                .primary_key(Index::create().col("user_id").col("slug"))
                .foreign_key(&mut fk("saved_articles", "user_id", "users"))
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}
