//! Key operations (S1): start-up checks that the key ring belongs to this database, rotation, and
//! the background re-encryption of old rows. Every key operation is audited (S3).

use crypto::KeyRing;
use store::{Store, repo};

use crate::{App, AppError, RequestCtx, audit::Subject};

const FINGERPRINT_KEY: &str = "keyring_fingerprint";

/// A non-secret value that identifies a key ring (its blind-index key under a fixed label).
pub fn fingerprint(keys: &KeyRing) -> String {
    keys.blind_index("keyring-fingerprint", "yiqiao")
}

#[derive(Debug, thiserror::Error)]
pub enum KeyCheckError {
    #[error(
        "the database holds encrypted data but no key ring was found; supply the key ring (data-dir keyring.json, YIQIAO_KEYRING or crypto.keyring_file) — refusing to start"
    )]
    Missing,
    #[error("the key ring does not belong to this database (fingerprint mismatch) — refusing to start")]
    Mismatch,
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

/// Fails closed: encrypted data present and no key → refuse to start.
pub async fn ensure_no_orphaned_data(store: &Store) -> Result<(), KeyCheckError> {
    let has_data = repo::reencrypt::any_encrypted(&store.db).await?
        || repo::meta::find(&store.db, FINGERPRINT_KEY).await?.is_some();
    if has_data { Err(KeyCheckError::Missing) } else { Ok(()) }
}

/// Binds the key ring to the database on first use and refuses a different one later.
pub async fn check_binding(store: &Store, keys: &KeyRing) -> Result<(), KeyCheckError> {
    let fp = fingerprint(keys);
    match repo::meta::find(&store.db, FINGERPRINT_KEY).await? {
        Some(existing) if existing == fp => Ok(()),
        Some(_) => Err(KeyCheckError::Mismatch),
        None => {
            if repo::reencrypt::any_encrypted(&store.db).await? {
                return Err(KeyCheckError::Mismatch);
            }
            repo::meta::put(&store.db, FINGERPRINT_KEY, &fp).await?;
            Ok(())
        }
    }
}

/// Records a key operation done by the operator (CLI) in the audit trail.
pub async fn audit_key_operation(app: &App, action: &str, resource: &str) -> Result<(), AppError> {
    let txn = app.store.begin_write().await?;
    app.record_as(
        &txn,
        &RequestCtx::default(),
        None,
        Some("operator"),
        action,
        Subject { patient_id: None, resource: Some(resource) },
        "ok",
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Moves every encrypted value to the active key; resumable and idempotent.
pub async fn reencrypt_all(app: &App) -> Result<repo::reencrypt::ReencryptStats, AppError> {
    let stats = repo::reencrypt::run(&app.store.db, &app.keys, 500).await?;
    if stats.rewritten > 0 {
        audit_key_operation(app, "keys.reencrypt", &format!("rewritten={}", stats.rewritten)).await?;
    }
    Ok(stats)
}
