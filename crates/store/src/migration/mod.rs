//! Forward-only migrations, one source for both engines. A migration that has landed is never
//! edited; changes come as new migrations.

use sea_orm_migration::prelude::*;

mod m0001_foundation;
mod m0002_consultation;
mod m0003_search;
mod m0004_attachments;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_foundation::Migration),
            Box::new(m0002_consultation::Migration),
            Box::new(m0003_search::Migration),
            Box::new(m0004_attachments::Migration),
        ]
    }
}
