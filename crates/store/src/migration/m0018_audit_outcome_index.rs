//! The auditor's "refused access only" filter (`WHERE outcome = 'denied' ORDER BY seq DESC LIMIT 100`,
//! issue 11 item 11) reads the index in order instead of walking the whole chain backwards: refused
//! reads are rare among millions of events.

use sea_orm_migration::prelude::*;

use super::dsl::idx;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &'static str {
        "m0018_audit_outcome_index"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(idx("ix_audit_outcome", "audit_events", &["outcome", "seq"], false)).await
    }
}
