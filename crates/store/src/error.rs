//! Store errors. Messages never carry database text or personal data; the cause is logged by the
//! caller with a request id.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL scheme (use sqlite:// or postgres://)")]
    UnknownScheme,
    #[error("database error")]
    Db(#[from] sea_orm::DbErr),
    #[error("record not found")]
    NotFound,
    #[error("duplicate value")]
    Conflict,
    #[error("stored value is malformed")]
    Corrupt,
    #[error("encryption failure")]
    Crypto(#[from] crypto::CryptoError),
}

impl StoreError {
    /// Maps a unique-constraint violation to [`StoreError::Conflict`], leaving others as they are.
    pub fn from_insert(err: sea_orm::DbErr) -> Self {
        match err.sql_err() {
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => Self::Conflict,
            _ => Self::Db(err),
        }
    }
}
