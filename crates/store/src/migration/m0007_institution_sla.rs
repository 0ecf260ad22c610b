//! Per-institution response-time targets (A2): priority and normal first-response limits in
//! seconds; empty means the platform defaults (15 and 30 minutes).

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &'static str {
        "m0007_institution_sla"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one column at a time.
        for col in ["sla_priority_secs", "sla_normal_secs"] {
            m.alter_table(
                Table::alter().table("institutions").add_column(ColumnDef::new(col).integer().null()).to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
