//! Use cases of Yiqiao. Each one opens a transaction, checks policy, applies domain rules, writes,
//! appends its audit event in the same transaction (S3), and commits. The web layer, the CLI and the
//! tests all call these functions; none of them touches SQL directly.

pub mod account;
pub mod audit;
pub mod bus;
pub mod call;
pub mod clock;
pub mod consultation;
pub mod demo;
pub mod error;
pub mod health_record;
pub mod institution;
pub mod jobs;
pub mod keys;
pub mod monitoring;
pub mod notify;
pub mod principal;
pub mod seal;
pub mod throttle;
pub mod verification;

use std::sync::Arc;

pub use clock::{Clock, FakeClock, SystemClock};
pub use error::AppError;
pub use principal::{Principal, RequestCtx, RoleGrant};

use crypto::KeyRing;
use store::Store;

/// Formats an instant for people: `2026-11-25 14:30` in China Standard Time (UTC+8, no DST).
pub fn china_time(at: chrono::DateTime<chrono::Utc>) -> String {
    chrono::FixedOffset::east_opt(8 * 3600).map_or_else(
        || at.format("%Y-%m-%d %H:%M UTC").to_string(),
        |cst| at.with_timezone(&cst).format("%Y-%m-%d %H:%M").to_string(),
    )
}

/// Tunables with safe defaults; the server fills them from configuration.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// A session unused this long ends (B3).
    pub session_idle_secs: i64,
    /// A session ends this long after login whatever its use.
    pub session_absolute_secs: i64,
    /// Sensitive operations need a second-factor check at most this old.
    pub step_up_secs: i64,
    /// Failures on one account, from any addresses, before it locks for everyone: wrong passwords
    /// on accounts without a second factor, wrong codes after the right password on accounts with
    /// one (issue 11 item 8; per-address throttles act long before).
    pub lockout_threshold: i32,
    pub lockout_secs: i64,
    /// Demo mode accepts the published demo TOTP secret; refused otherwise.
    pub demo: bool,
    /// STUN/TURN servers handed to call participants (F3).
    pub ice: call::IceConfig,
    /// How long call recordings are kept (F3: audio/video consultation records at least 3 years;
    /// smaller values count as 3).
    pub recording_retention_years: u32,
    /// An urgent monitoring alert not acknowledged within this many seconds goes to the doctor's team.
    pub alert_escalation_secs: i64,
    /// The address people reach this server at, for links in e-mails and SMS (E3).
    pub public_url: String,
    /// Attempt limits per address and per account (issue 11 item 8).
    pub throttles: throttle::Limits,
    /// Bounded resources (issue 11): image decoding, alert repeats, SMS per recipient.
    pub limits: Limits,
}

/// Resource limits (issue 11 items 3 and 16; docs/OPERATIONS.md "Resource limits").
#[derive(Debug, Clone)]
pub struct Limits {
    /// Images with more pixels than this are refused from their header, before decoding.
    pub image_max_pixels: u64,
    /// Images decoded at once (thumbnails, PDF exports); more wait for a slot.
    pub image_decode_slots: usize,
    /// How long a request waits for a decode slot before it answers `busy`.
    pub image_decode_wait_secs: u64,
    /// A repeat of an open alert's rule for the same patient within this many seconds of the alert
    /// updates it instead of raising (and notifying) a new one; 0 turns collapsing off.
    pub alert_repeat_window_secs: i64,
    /// SMS a recipient gets within any hour at most; beyond it a notification is in-app only.
    pub sms_per_hour: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            image_max_pixels: 40_000_000,
            image_decode_slots: 2,
            image_decode_wait_secs: 30,
            alert_repeat_window_secs: 30 * 60,
            sms_per_hour: 10,
        }
    }
}

impl Default for AppConfig {
    fn default() -> Self {
        Self {
            session_idle_secs: 30 * 60,
            session_absolute_secs: 12 * 3600,
            step_up_secs: 5 * 60,
            lockout_threshold: 10,
            lockout_secs: 15 * 60,
            demo: false,
            ice: call::IceConfig::default(),
            recording_retention_years: 3,
            alert_escalation_secs: 10 * 60,
            public_url: "http://127.0.0.1:8080".into(),
            throttles: throttle::Limits::default(),
            limits: Limits::default(),
        }
    }
}

/// Everything a use case needs, shared by every request (`Arc` inside, cheap to clone).
#[derive(Clone)]
pub struct App {
    pub store: Store,
    pub keys: Arc<keys::KeyHandle>,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<AppConfig>,
    pub bus: Arc<dyn bus::Bus>,
    /// Encrypted attachments (local directory, or any object store at scale).
    pub blobs: store::blob::BlobStore,
    /// Configured e-mail / SMS channels (E3); empty: in-app only.
    pub outbound: Arc<notify::Outbound>,
    /// This node's attempt counters (issue 11 item 8).
    pub throttle: Arc<throttle::Throttle>,
    /// Slots for decoding images (issue 11 item 3): bounds the memory decodes take together.
    pub decode_slots: Arc<tokio::sync::Semaphore>,
}

impl App {
    pub fn new(
        store: Store,
        keys: Arc<KeyRing>,
        clock: Arc<dyn Clock>,
        config: AppConfig,
        blobs: store::blob::BlobStore,
    ) -> Self {
        let decode_slots = Arc::new(tokio::sync::Semaphore::new(config.limits.image_decode_slots.max(1)));
        Self {
            store,
            keys: Arc::new(keys::KeyHandle::new(keys)),
            clock,
            decode_slots,
            config: Arc::new(config),
            bus: Arc::new(bus::LocalBus::default()),
            blobs,
            outbound: Arc::new(notify::Outbound::default()),
            throttle: Arc::new(throttle::Throttle::default()),
        }
    }

    /// The same app with these outbound notification channels.
    #[must_use]
    pub fn with_outbound(mut self, outbound: notify::Outbound) -> Self {
        self.outbound = Arc::new(outbound);
        self
    }

    /// Encrypts a value bound to its row and column (S1).
    pub(crate) fn seal(&self, table: &str, column: &str, row_id: &str, plain: &[u8]) -> Result<Vec<u8>, AppError> {
        Ok(self.keys.current().encrypt(plain, &crypto::Aad { table, column, row_id })?)
    }

    pub(crate) fn open(&self, table: &str, column: &str, row_id: &str, blob: &[u8]) -> Result<Vec<u8>, AppError> {
        let aad = crypto::Aad { table, column, row_id };
        match self.keys.current().decrypt(blob, &aad) {
            // Rotated elsewhere (`yiqiao keys rotate`): load the new ring once and retry.
            Err(crypto::CryptoError::UnknownKey(_)) if self.keys.reload_if_changed().unwrap_or(false) => {
                Ok(self.keys.current().decrypt(blob, &aad)?)
            }
            other => Ok(other?),
        }
    }

    /// Counts one attempt of `action` by `key` against the configured limit (issue 11 item 8).
    pub(crate) fn throttle_hit(&self, action: throttle::Action, key: &str) -> Result<(), AppError> {
        self.throttle.hit(self.clock.now(), action, key, self.config.throttles.of(action))
    }

    /// Refuses when `key` already used up `action`'s limit; counts nothing.
    pub(crate) fn throttle_check(&self, action: throttle::Action, key: &str) -> Result<(), AppError> {
        self.throttle.check(self.clock.now(), action, key, self.config.throttles.of(action))
    }

    pub(crate) fn open_str(&self, table: &str, column: &str, row_id: &str, blob: &[u8]) -> Result<String, AppError> {
        String::from_utf8(self.open(table, column, row_id, blob)?)
            .map_err(|_| AppError::Internal("stored text is not UTF-8"))
    }
}
