//! Persistence for Yiqiao: SeaORM entities and migrations (one source for SQLite and PostgreSQL),
//! repositories, and `dialect` — the only module that branches on the database backend.
//!
//! Invariants: encrypted columns hold `crypto` blobs only (never plaintext); every write that matters
//! runs inside a transaction opened by [`Store::begin_write`] together with its audit event (S3).

pub mod blob;
pub mod dialect;
pub mod entity;
pub mod error;
pub mod migration;
pub mod repo;

pub use dialect::Backend;
pub use error::StoreError;
pub use sea_orm::{DatabaseConnection, DatabaseTransaction, TransactionTrait};

use sea_orm::ConnectionTrait;
use sea_orm_migration::MigratorTrait;

/// A connected database plus the facts about it the rest of the system needs.
#[derive(Clone)]
pub struct Store {
    /// Reads and single statements.
    pub db: DatabaseConnection,
    /// Write transactions ([`Store::begin_write`]). On SQLite a one-connection pool, so writers
    /// queue in order in the pool instead of spinning in SQLite's busy handler; on PostgreSQL the
    /// same pool as `db`.
    pub write_db: DatabaseConnection,
    pub backend: Backend,
}

impl std::fmt::Debug for Store {
    // Never print the connection (its URL may carry credentials).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("backend", &self.backend).finish_non_exhaustive()
    }
}

impl Store {
    /// Connects to `url` (`sqlite://…` or `postgres://…`). Unknown schemes are an error rather than
    /// a new database.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let backend = Backend::from_url(url)?;
        let db = dialect::connect(backend, url).await?;
        let write_db = dialect::connect_writer(backend, url, &db).await?;
        Ok(Self { db, write_db, backend })
    }

    /// Applies all pending migrations (forward only).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        migration::Migrator::up(&self.db, None).await?;
        Ok(())
    }

    /// Whether every migration has been applied.
    pub async fn is_migrated(&self) -> Result<bool, StoreError> {
        Ok(migration::Migrator::get_pending_migrations(&self.db).await?.is_empty())
    }

    /// A cheap round trip, used by `/healthz`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.execute_unprepared("SELECT 1").await?;
        Ok(())
    }

    /// Begins a transaction that will write; see [`dialect::begin_write`].
    pub async fn begin_write(&self) -> Result<DatabaseTransaction, StoreError> {
        dialect::begin_write(&self.write_db, self.backend).await
    }

    /// Begins a read transaction (a consistent snapshot for multi-query reads).
    pub async fn begin_read(&self) -> Result<DatabaseTransaction, StoreError> {
        Ok(self.db.begin().await?)
    }
}
