//! Configuration: defaults → `yiqiao.toml` → `YIQIAO_*` environment (e.g. `YIQIAO_SERVER__LISTEN`,
//! `YIQIAO_CRYPTO__CIPHER`) → command-line flags. Secrets never appear in `Debug` or `print-config`.

mod limits;

use std::path::{Path, PathBuf};

pub use limits::LimitsConfig;

use serde::{Deserialize, Serialize};

#[derive(Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct Config {
    pub data_dir: PathBuf,
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub crypto: CryptoConfig,
    pub session: SessionConfig,
    pub bus: BusConfig,
    pub blob: BlobConfig,
    pub calls: CallsConfig,
    pub mqtt: MqttConfig,
    pub monitoring: MonitoringConfig,
    pub email: EmailConfig,
    pub sms: SmsConfig,
    pub limits: LimitsConfig,
    pub images: ImagesConfig,
}

/// Image decoding limits (issue 11 item 3; docs/OPERATIONS.md "Resource limits").
#[derive(Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct ImagesConfig {
    /// Photos with more pixels are refused (`image_too_large`) from their header.
    pub max_pixels: u64,
    /// Images decoded at once (upload thumbnails, PDF exports).
    pub decode_slots: usize,
    /// How long a request waits for a slot before answering `busy` (503).
    pub decode_wait_secs: u64,
}

impl Default for ImagesConfig {
    fn default() -> Self {
        let d = app::Limits::default();
        Self {
            max_pixels: d.image_max_pixels,
            decode_slots: d.image_decode_slots,
            decode_wait_secs: d.image_decode_wait_secs,
        }
    }
}

/// E-mail notifications over SMTP (E3). Empty `host` = off.
#[derive(Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct EmailConfig {
    pub host: String,
    pub port: u16,
    /// `starttls` (default), `tls`, or `none` (a relay on the same host).
    pub security: String,
    pub username: String,
    pub password: String,
    /// The From header, e.g. `医桥 Yiqiao <noreply@hospital.example>`.
    pub from: String,
}

impl Default for EmailConfig {
    fn default() -> Self {
        Self {
            host: String::new(),
            port: 587,
            security: "starttls".into(),
            username: String::new(),
            password: String::new(),
            from: "Yiqiao <noreply@localhost>".into(),
        }
    }
}

/// SMS notifications through the hospital's HTTP gateway (E3; contract in docs/OPERATIONS.md).
/// Empty `url` = off.
#[derive(Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct SmsConfig {
    pub url: String,
    pub token: String,
    /// Signature shown to recipients, e.g. `【医桥】`.
    pub sender: String,
    /// The bearer token the gateway presents when it posts delivery receipts.
    pub receipt_token: String,
    /// SMS one person gets within any hour at most; beyond it notifications are in-app only
    /// (issue 11 item 16). 0 = no cap.
    pub max_per_hour: u32,
}

impl Default for SmsConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            token: String::new(),
            sender: String::new(),
            receipt_token: String::new(),
            max_per_hour: app::Limits::default().sms_per_hour,
        }
    }
}

/// Chronic-care monitoring (D4).
#[derive(Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct MonitoringConfig {
    /// An urgent alert not acknowledged within this many seconds goes to the doctor's team (≥ 60).
    pub alert_escalation_secs: i64,
    /// A repeat of an open alert's rule for the same patient within this many seconds of the alert
    /// joins it (count, latest reading) instead of raising and notifying again; 0 = off (issue 11
    /// item 16).
    pub alert_repeat_window_secs: i64,
}

impl Default for MonitoringConfig {
    fn default() -> Self {
        Self { alert_escalation_secs: 600, alert_repeat_window_secs: app::Limits::default().alert_repeat_window_secs }
    }
}

/// The MQTT broker devices publish readings to (D5; docs/DEVICES.md). Empty `broker` = off.
#[derive(Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct MqttConfig {
    /// `host:port`, e.g. `127.0.0.1:1883`.
    pub broker: String,
    /// Defaults to `yiqiao-<random>`; give each node its own.
    pub client_id: String,
    pub username: String,
    pub password: String,
    /// Largest payload stored; bigger messages are dropped and logged (issue 11 item 2).
    pub max_payload_bytes: usize,
    /// How long the broker queues readings for a node that is away.
    pub session_expiry_secs: u32,
}

impl Default for MqttConfig {
    fn default() -> Self {
        let d = app::monitoring::mqtt::MqttConfig::default();
        Self {
            broker: d.broker,
            client_id: d.client_id,
            username: d.username,
            password: d.password,
            max_payload_bytes: d.max_payload_bytes,
            session_expiry_secs: d.session_expiry_secs,
        }
    }
}

/// ICE servers for calls (F3). TURN credentials are minted per user from `turn_secret` in coturn's
/// `use-auth-secret` format (docs/OPERATIONS.md shows the coturn side).
#[derive(Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct CallsConfig {
    pub stun_urls: Vec<String>,
    pub turn_urls: Vec<String>,
    pub turn_secret: String,
    pub turn_ttl_secs: i64,
    /// Years call recordings are kept before a job deletes them (F3: at least 3; smaller values count
    /// as 3).
    pub recording_retention_years: u32,
}

impl Default for CallsConfig {
    fn default() -> Self {
        Self {
            stun_urls: Vec::new(),
            turn_urls: Vec::new(),
            turn_secret: String::new(),
            turn_ttl_secs: 3600,
            recording_retention_years: 3,
        }
    }
}

#[derive(Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct ServerConfig {
    pub listen: String,
    /// Set when served over TLS (directly or behind a proxy): cookies get `Secure`.
    pub secure_cookies: bool,
    /// How people reach this server (links in e-mails and SMS); default `http://<listen>`.
    pub public_url: String,
}

#[derive(Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct DatabaseConfig {
    /// `sqlite://…` or `postgres://…`; empty = SQLite in the data dir.
    pub url: String,
}

#[derive(Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct CryptoConfig {
    /// "aes-256-gcm" (default) or "sm4-gcm".
    pub cipher: String,
    /// Key-ring file; empty = `keyring.json` in the data dir. `YIQIAO_KEYRING` may hold the ring itself.
    pub keyring_file: String,
}

#[derive(Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct SessionConfig {
    pub idle_secs: i64,
    pub absolute_secs: i64,
    pub step_up_secs: i64,
}

/// Realtime fan-out between nodes (A1 at scale).
#[derive(Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct BusConfig {
    /// `nats://host:4222` to share events with the other `yiqiao serve` nodes; empty = in-process.
    pub nats: String,
    /// The NATS subject all nodes of one deployment share.
    pub subject: String,
}

/// Where attachments live (encrypted before they are written, S1).
#[derive(Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct BlobConfig {
    /// Empty = `blobs/` in the data dir; `file:///dir`; or `s3://bucket[/prefix]`.
    pub url: String,
    /// S3 endpoint for non-AWS storage, e.g. `http://127.0.0.1:8333`.
    pub endpoint: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Permit plain HTTP to the endpoint (loopback or a sidecar gateway only).
    pub allow_http: bool,
}

impl BlobConfig {
    pub fn s3_options(&self) -> store::blob::S3Options {
        store::blob::S3Options {
            endpoint: self.endpoint.clone(),
            region: if self.region.is_empty() { "us-east-1".into() } else { self.region.clone() },
            access_key_id: self.access_key_id.clone(),
            secret_access_key: self.secret_access_key.clone(),
            allow_http: self.allow_http,
        }
    }
}

impl Default for BusConfig {
    fn default() -> Self {
        Self { nats: String::new(), subject: "yiqiao.events".into() }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./yiqiao-data"),
            server: ServerConfig::default(),
            database: DatabaseConfig::default(),
            crypto: CryptoConfig::default(),
            session: SessionConfig::default(),
            bus: BusConfig::default(),
            blob: BlobConfig::default(),
            calls: CallsConfig::default(),
            mqtt: MqttConfig::default(),
            monitoring: MonitoringConfig::default(),
            email: EmailConfig::default(),
            sms: SmsConfig::default(),
            limits: LimitsConfig::default(),
            images: ImagesConfig::default(),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self { listen: "127.0.0.1:8080".into(), secure_cookies: false, public_url: String::new() }
    }
}

impl Default for CryptoConfig {
    fn default() -> Self {
        Self { cipher: "aes-256-gcm".into(), keyring_file: String::new() }
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        let d = app::AppConfig::default();
        Self { idle_secs: d.session_idle_secs, absolute_secs: d.session_absolute_secs, step_up_secs: d.step_up_secs }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted_toml())
    }
}

impl Config {
    /// Loads defaults, then `file` (or `./yiqiao.toml` when present), then the environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut b = config::Config::builder().add_source(config::Config::try_from(&Config::default())?);
        match file {
            Some(f) => b = b.add_source(config::File::from(f).required(true)),
            None => b = b.add_source(config::File::with_name("yiqiao").required(false)),
        }
        b = b.add_source(
            config::Environment::with_prefix("YIQIAO")
                .prefix_separator("_")
                .separator("__")
                .try_parsing(true)
                .ignore_empty(true),
        );
        Ok(b.build()?.try_deserialize()?)
    }

    /// The database URL in effect.
    pub fn database_url(&self) -> String {
        if self.database.url.is_empty() {
            format!("sqlite://{}/yiqiao.sqlite?mode=rwc", self.data_dir.display())
        } else {
            self.database.url.clone()
        }
    }

    pub fn keyring_path(&self) -> PathBuf {
        if self.crypto.keyring_file.is_empty() {
            self.data_dir.join("keyring.json")
        } else {
            PathBuf::from(&self.crypto.keyring_file)
        }
    }

    pub fn app_config(&self, demo: bool) -> app::AppConfig {
        app::AppConfig {
            session_idle_secs: self.session.idle_secs,
            session_absolute_secs: self.session.absolute_secs,
            step_up_secs: self.session.step_up_secs,
            demo,
            ice: app::call::IceConfig {
                stun_urls: self.calls.stun_urls.clone(),
                turn_urls: self.calls.turn_urls.clone(),
                turn_secret: self.calls.turn_secret.clone(),
                turn_ttl_secs: self.calls.turn_ttl_secs,
            },
            recording_retention_years: self.calls.recording_retention_years.max(3),
            alert_escalation_secs: self.monitoring.alert_escalation_secs.max(60),
            throttles: self.limits.limits(),
            lockout_threshold: self.limits.lockout_threshold.max(1),
            lockout_secs: self.limits.lockout_secs.max(60),
            public_url: if self.server.public_url.is_empty() {
                format!("http://{}", self.server.listen)
            } else {
                self.server.public_url.clone()
            },
            limits: app::Limits {
                image_max_pixels: self.images.max_pixels,
                image_decode_slots: self.images.decode_slots.max(1),
                image_decode_wait_secs: self.images.decode_wait_secs,
                alert_repeat_window_secs: self.monitoring.alert_repeat_window_secs.max(0),
                sms_per_hour: self.sms.max_per_hour,
            },
        }
    }

    /// The effective configuration as TOML with credentials removed.
    pub fn redacted_toml(&self) -> String {
        let mut shown = self.clone();
        shown.database.url = redact_url(&self.database_url());
        shown.bus.nats = redact_url(&self.bus.nats);
        if !shown.mqtt.password.is_empty() {
            shown.mqtt.password = "***".into();
        }
        if !shown.calls.turn_secret.is_empty() {
            shown.calls.turn_secret = "***".into();
        }
        for secret in [&mut shown.email.password, &mut shown.sms.token, &mut shown.sms.receipt_token] {
            if !secret.is_empty() {
                *secret = "***".into();
            }
        }
        if !shown.blob.secret_access_key.is_empty() {
            shown.blob.secret_access_key = "***".into();
        }
        let mut out = toml::to_string_pretty(&shown).unwrap_or_default();
        if std::env::var_os("YIQIAO_KEYRING").is_some() {
            out.push_str("\n# key ring supplied by YIQIAO_KEYRING (redacted)\n");
        }
        out
    }
}

/// Hides the password in `scheme://user:password@host/db`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    match rest.split_once('@') {
        Some((creds, host)) => {
            let user = creds.split(':').next().unwrap_or("");
            if creds.contains(':') { format!("{scheme}://{user}:***@{host}") } else { url.to_owned() }
        }
        None => url.to_owned(),
    }
}

impl Config {
    /// The e-mail and SMS channels configured (E3); in-app needs none.
    pub fn outbound(&self) -> anyhow::Result<app::notify::Outbound> {
        use app::notify::channels;
        let mut out = app::notify::Outbound::default();
        if !self.email.host.is_empty() {
            let e = &self.email;
            let smtp = channels::SmtpChannel::new(&channels::SmtpConfig {
                host: e.host.clone(),
                port: e.port,
                security: e.security.clone(),
                username: Some(e.username.clone()).filter(|u| !u.is_empty()),
                password: Some(e.password.clone()).filter(|p| !p.is_empty()),
                from: e.from.clone(),
                timeout_secs: Some(20),
            })
            .map_err(|e| anyhow::anyhow!("[email]: {e}"))?;
            out = out.with(std::sync::Arc::new(smtp));
        }
        if !self.sms.url.is_empty() {
            let s = &self.sms;
            let sms = channels::SmsChannel::new(&channels::SmsConfig {
                url: s.url.clone(),
                token: s.token.clone(),
                sender: s.sender.clone(),
                timeout_secs: Some(20),
            })
            .map_err(|e| anyhow::anyhow!("[sms]: {e}"))?;
            out = out.with(std::sync::Arc::new(sms));
            out.sms_receipt_token = Some(s.receipt_token.clone()).filter(|t| !t.is_empty());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact_url("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        let mut c = Config::default();
        c.database.url = "postgres://u:hunter2@h/db".into();
        assert!(!c.redacted_toml().contains("hunter2"));
        assert!(!format!("{c:?}").contains("hunter2"));
        c.blob.secret_access_key = "s3-secret-value".into();
        assert!(!c.redacted_toml().contains("s3-secret-value"));
    }
}
