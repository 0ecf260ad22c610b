//! Every difference between SQLite and PostgreSQL lives here (CONVENTIONS: a `match backend`
//! anywhere else is a bug): URL schemes, connection pragmas, how a write transaction starts, and how
//! the audit chain head is locked.

use std::time::Duration;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};

use crate::StoreError;

/// Which engine a [`crate::Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// Recognises the URL scheme; anything else is refused so a typo never creates a new database.
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        let scheme = url.split_once(':').map_or("", |(s, _)| s);
        match scheme {
            "sqlite" => Ok(Self::Sqlite),
            "postgres" | "postgresql" => Ok(Self::Postgres),
            _ => Err(StoreError::UnknownScheme),
        }
    }

    /// The name reported by `/healthz`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }

    pub fn db_backend(self) -> DbBackend {
        match self {
            Self::Sqlite => DbBackend::Sqlite,
            Self::Postgres => DbBackend::Postgres,
        }
    }
}

/// Settings of every SQLite connection: WAL, full fsync, foreign keys, busy timeout.
fn sqlite_connection(o: sea_orm::sqlx::sqlite::SqliteConnectOptions) -> sea_orm::sqlx::sqlite::SqliteConnectOptions {
    use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
    o.create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10))
}

/// Opens a pool. SQLite gets WAL, foreign keys, a busy timeout and `synchronous=FULL` on every
/// connection (clinical writes must survive power loss); the file is created when missing.
pub async fn connect(backend: Backend, url: &str) -> Result<DatabaseConnection, StoreError> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.sqlx_logging(false).acquire_timeout(Duration::from_secs(5)).connect_timeout(Duration::from_secs(5));
    match backend {
        Backend::Sqlite => {
            opts.max_connections(8).min_connections(1);
            opts.map_sqlx_sqlite_opts(sqlite_connection);
        }
        Backend::Postgres => {
            opts.max_connections(16).min_connections(1);
        }
    }
    Ok(Database::connect(opts).await?)
}

/// The pool for write transactions: on SQLite a single connection (writers wait their turn in
/// order, with a generous acquire timeout); on PostgreSQL the shared pool.
pub async fn connect_writer(
    backend: Backend,
    url: &str,
    shared: &DatabaseConnection,
) -> Result<DatabaseConnection, StoreError> {
    match backend {
        Backend::Postgres => Ok(shared.clone()),
        Backend::Sqlite => {
            let mut opts = ConnectOptions::new(url.to_owned());
            opts.sqlx_logging(false)
                .max_connections(1)
                .min_connections(1)
                .acquire_timeout(Duration::from_secs(30))
                .connect_timeout(Duration::from_secs(5));
            opts.map_sqlx_sqlite_opts(sqlite_connection);
            Ok(Database::connect(opts).await?)
        }
    }
}

/// Begins a transaction that will write. On SQLite it is `BEGIN IMMEDIATE`, so a transaction that
/// reads before it writes cannot fail to upgrade its lock; on PostgreSQL a plain `BEGIN`
/// (row locks are taken where needed, e.g. [`lock_audit_head`]).
pub async fn begin_write(db: &DatabaseConnection, backend: Backend) -> Result<DatabaseTransaction, StoreError> {
    let opts = match backend {
        Backend::Sqlite => TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        },
        Backend::Postgres => TransactionOptions::default(),
    };
    Ok(db.begin_with_options(opts).await?)
}

/// Reads the audit chain head inside `txn`, locking it against concurrent appenders until commit.
/// SQLite needs no row lock: `BEGIN IMMEDIATE` already serialises writers.
pub async fn lock_audit_head(txn: &DatabaseTransaction) -> Result<(i64, String), StoreError> {
    let sql = match txn.get_database_backend() {
        DbBackend::Postgres => "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE",
        _ => "SELECT seq, hash FROM audit_head WHERE id = 1",
    };
    let row =
        txn.query_one_raw(Statement::from_string(txn.get_database_backend(), sql)).await?.ok_or(StoreError::Corrupt)?;
    let seq: i64 = row.try_get("", "seq")?;
    let hash: String = row.try_get("", "hash")?;
    Ok((seq, hash))
}

/// Reads one row by primary key for update: `SELECT … FOR UPDATE` on PostgreSQL; on SQLite the
/// surrounding `BEGIN IMMEDIATE` already holds the write lock.
pub async fn find_for_update<E>(txn: &DatabaseTransaction, id: String) -> Result<Option<E::Model>, StoreError>
where
    E: sea_orm::EntityTrait,
    <E::PrimaryKey as sea_orm::PrimaryKeyTrait>::ValueType: From<String>,
{
    use sea_orm::QuerySelect;
    let q = E::find_by_id(id);
    let q = match txn.get_database_backend() {
        DbBackend::Postgres => q.lock_exclusive(),
        _ => q,
    };
    Ok(q.one(txn).await?)
}

/// Adds "and skip rows another transaction holds" to a locking select: `FOR UPDATE SKIP LOCKED` on
/// PostgreSQL, so several workers claim different jobs; on SQLite `BEGIN IMMEDIATE` already makes
/// the one writer exclusive.
pub fn skip_locked<S: sea_orm::QuerySelect>(q: S, backend: DbBackend) -> S {
    match backend {
        DbBackend::Postgres => {
            q.lock_with_behavior(sea_orm::sea_query::LockType::Update, sea_orm::sea_query::LockBehavior::SkipLocked)
        }
        _ => q,
    }
}
