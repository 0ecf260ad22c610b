//! Forward-only migrations, one source for both engines. A migration that has landed is never
//! edited; changes come as new migrations.

use sea_orm_migration::prelude::*;

mod m0001_foundation;
mod m0002_consultation;
mod m0003_search;
mod m0004_attachments;
mod m0005_annotations;
mod m0006_corrections;
mod m0007_institution_sla;
mod m0008_saved_articles;
mod m0009_jobs;
mod m0010_calls;
mod m0011_call_rooms;
mod m0012_monitoring;
mod m0013_care;
mod m0014_job_claim_index;
mod m0015_role_scopes;
mod m0016_seal_clinical_text;
mod m0017_limits;
mod m0018_audit_outcome_index;

/// Shared DSL helpers for the migrations below.
pub(crate) mod dsl {
    use sea_orm_migration::prelude::*;

    pub fn t(name: &'static str) -> TableCreateStatement {
        Table::create().table(name).if_not_exists().to_owned()
    }

    pub fn idx(name: &str, table: &'static str, cols: &[&'static str], unique: bool) -> IndexCreateStatement {
        let mut i = Index::create();
        i.name(name).table(table).if_not_exists();
        for c in cols {
            i.col(*c);
        }
        if unique {
            i.unique();
        }
        i.clone()
    }

    pub fn fk(table: &'static str, col: &'static str, to: &'static str) -> ForeignKeyCreateStatement {
        ForeignKey::create().from(table, col).to(to, "id").on_delete(ForeignKeyAction::Restrict).to_owned()
    }
}

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_foundation::Migration),
            Box::new(m0002_consultation::Migration),
            Box::new(m0003_search::Migration),
            Box::new(m0004_attachments::Migration),
            Box::new(m0005_annotations::Migration),
            Box::new(m0006_corrections::Migration),
            Box::new(m0007_institution_sla::Migration),
            Box::new(m0008_saved_articles::Migration),
            Box::new(m0009_jobs::Migration),
            Box::new(m0010_calls::Migration),
            Box::new(m0011_call_rooms::Migration),
            Box::new(m0012_monitoring::Migration),
            Box::new(m0013_care::Migration),
            Box::new(m0014_job_claim_index::Migration),
            Box::new(m0015_role_scopes::Migration),
            Box::new(m0016_seal_clinical_text::Migration),
            Box::new(m0017_limits::Migration),
            Box::new(m0018_audit_outcome_index::Migration),
        ]
    }
}
