//! Key operations (S1): start-up checks that the key ring belongs to this database, rotation, and
//! the background re-encryption of old rows. Every key operation is audited (S3).

use std::{
    path::PathBuf,
    sync::{Arc, Mutex, OnceLock, RwLock},
    time::SystemTime,
};

use chrono::{DateTime, Utc};
use crypto::{CryptoError, KeyRing};
use store::{Store, repo};

use crate::{App, AppError, RequestCtx, audit::Subject};

const FINGERPRINT_KEY: &str = "keyring_fingerprint";

/// The key ring in use, replaceable while the server runs: after `yiqiao keys rotate` rewrote the
/// key-ring file, [`KeyHandle::reload_if_changed`] picks the new ring up (a periodic task calls it,
/// and a decryption that meets an unknown key id tries it once), so running servers never fail on
/// rows already moved to the new key.
#[derive(Debug)]
pub struct KeyHandle {
    ring: RwLock<Arc<KeyRing>>,
    source: OnceLock<PathBuf>,
    loaded_mtime: Mutex<Option<SystemTime>>,
}

impl KeyHandle {
    pub fn new(ring: Arc<KeyRing>) -> Self {
        Self { ring: RwLock::new(ring), source: OnceLock::new(), loaded_mtime: Mutex::new(None) }
    }

    /// The ring to use for this operation.
    pub fn current(&self) -> Arc<KeyRing> {
        self.ring.read().map_or_else(|p| Arc::clone(&p.into_inner()), |r| Arc::clone(&r))
    }

    pub fn replace(&self, ring: Arc<KeyRing>) {
        if let Ok(mut r) = self.ring.write() {
            *r = ring;
        }
    }

    /// Remembers the file the ring came from, so that it can be reloaded when it changes.
    pub fn watch(&self, path: PathBuf) {
        let mtime = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        if let Ok(mut m) = self.loaded_mtime.lock() {
            *m = mtime;
        }
        let _ = self.source.set(path);
    }

    /// Reloads the watched file if it changed since it was read; returns whether it did.
    /// A file that no longer parses is ignored (the ring in memory stays in use).
    pub fn reload_if_changed(&self) -> Result<bool, CryptoError> {
        let Some(path) = self.source.get() else { return Ok(false) };
        let mtime = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        let unchanged = self.loaded_mtime.lock().map_or(true, |m| *m == mtime);
        if unchanged {
            return Ok(false);
        }
        let ring = KeyRing::load(path)?;
        // Never drop a key id the current ring has: a ring that lost keys would make rows unreadable.
        let current = self.current();
        let new_ids: Vec<u32> = ring.key_ids().iter().map(|k| k.id).collect();
        if current.key_ids().iter().any(|k| !new_ids.contains(&k.id)) || fingerprint(&ring) != fingerprint(&current) {
            return Err(CryptoError::KeyRingFormat("the changed key ring does not extend the one in use".into()));
        }
        self.replace(Arc::new(ring));
        if let Ok(mut m) = self.loaded_mtime.lock() {
            *m = mtime;
        }
        Ok(true)
    }
}

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

/// Binds the key ring to the database on first use and refuses a different one later; then seals
/// the start of the audit chain ([`ensure_audit_genesis`], at the wall-clock time).
pub async fn check_binding(store: &Store, keys: &KeyRing) -> Result<(), KeyCheckError> {
    check_binding_at(store, keys, crate::Clock::now(&crate::SystemClock)).await
}

/// [`check_binding`] with the genesis written at `now` (tests run on a fake clock).
pub async fn check_binding_at(store: &Store, keys: &KeyRing, now: DateTime<Utc>) -> Result<(), KeyCheckError> {
    let fp = fingerprint(keys);
    match repo::meta::find(&store.db, FINGERPRINT_KEY).await? {
        Some(existing) if existing == fp => {}
        Some(_) => return Err(KeyCheckError::Mismatch),
        None => {
            if repo::reencrypt::any_encrypted(&store.db).await? {
                return Err(KeyCheckError::Mismatch);
            }
            repo::meta::put(&store.db, FINGERPRINT_KEY, &fp).await?;
        }
    }
    ensure_audit_genesis(store, keys, now).await
}

/// Issue 11 item 9 (S3): every audit chain holds a sealed genesis event, so a log emptied by someone
/// with database access (events deleted, head reset) no longer verifies as "0 events". Migrations have
/// no keys, so the genesis is written here, when a start binds the ring: a new chain opens with it; a
/// chain begun before genesis events existed gets it appended as an anchor that records the head it
/// saw. An empty chain on a database that has accounts is left alone — its events were deleted, and
/// a genesis now would hide that; `audit-verify` reports it until the database is restored.
pub async fn ensure_audit_genesis(store: &Store, keys: &KeyRing, now: DateTime<Utc>) -> Result<(), KeyCheckError> {
    let txn = store.begin_write().await?;
    // Hold the head first, so two nodes starting together write one genesis.
    let (seq, hash) = store::dialect::lock_audit_head(&txn).await?;
    if repo::audit::genesis_seq(&txn).await?.is_some() {
        return Ok(());
    }
    let resource = if seq > 0 {
        format!("anchor seq={seq} hash={hash}")
    } else if repo::audit::has_users(&txn).await? {
        tracing::error!(
            "the audit log is empty but the database has accounts: its events were deleted; not sealing it"
        );
        return Ok(());
    } else {
        format!("keyring={}", fingerprint(keys))
    };
    let ev = repo::audit::NewAuditEvent {
        actor_role: Some("system".into()),
        action: repo::audit::GENESIS_ACTION.into(),
        resource: Some(resource),
        outcome: "ok".into(),
        ..repo::audit::NewAuditEvent::default()
    };
    repo::audit::append(&txn, keys, now, ev).await?;
    txn.commit().await.map_err(store::StoreError::from)?;
    Ok(())
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
    let stats = repo::reencrypt::run(&app.store, &app.keys.current(), 500).await?;
    if stats.rewritten > 0 {
        audit_key_operation(app, "keys.reencrypt", &format!("rewritten={}", stats.rewritten)).await?;
    }
    Ok(stats)
}
