//! Device readings over MQTT (D5). Devices (or their gateways) publish to
//! `yiqiao/devices/<device_id>/readings` the JSON `{"body": "<the HTTP body, as a string>",
//! "hmac": "<hex HMAC-SHA256 of body with the device secret>"}`; the body is any form
//! `POST /api/v1/device-readings` accepts. The broker authenticates devices (ACLs in
//! docs/DEVICES.md); the HMAC proves the payload came from the device whose id the topic names.
//! Accepted readings go through the same `ingest` as HTTP: same dedupe, checks and alerts.
//!
//! Issue 11 item 2: no single message may stop ingestion. The subscriber speaks MQTT 5 and tells
//! the broker the largest packet it takes (twice [`MqttConfig::max_payload_bytes`]); the broker
//! discards anything larger for this client and goes on (MQTT 5 §3.1.2.11.4), so an oversized
//! message can never be redelivered to us in a loop. Everything that does arrive is acknowledged
//! whatever becomes of it: a payload over the documented maximum, an unparseable or a forged one
//! is logged with the device id and dropped, and the next message is read.

use std::time::Duration;

use rumqttc::v5::{
    AsyncClient, Event, MqttOptions,
    mqttbytes::{QoS, v5::Packet},
};
use serde_json::Value;

use super::{ObservationView, ingest};
use crate::{App, AppError};

/// The topic filter the server subscribes to.
pub const TOPIC_FILTER: &str = "yiqiao/devices/+/readings";

/// The largest payload accepted by default: a batch of 500 readings (`payload::MAX_BATCH`) in the
/// largest form, FHIR `Observation`s with three components and a 100-character reading id, is
/// about 0.5 MB once escaped into the signed envelope; 1 MiB leaves room for the rest (issue 11
/// item 2; docs/DEVICES.md).
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 1024 * 1024;

/// Where the broker is (`[mqtt]` in yiqiao.toml).
#[derive(Debug, Clone)]
pub struct MqttConfig {
    /// `host:port`; empty turns MQTT ingestion off.
    pub broker: String,
    pub client_id: String,
    pub username: String,
    pub password: String,
    /// Payloads above this are dropped (and logged); the broker drops those above twice this.
    pub max_payload_bytes: usize,
    /// How long the broker keeps our session (and queues readings) while we are away.
    pub session_expiry_secs: u32,
}

impl Default for MqttConfig {
    fn default() -> Self {
        Self {
            broker: String::new(),
            client_id: String::new(),
            username: String::new(),
            password: String::new(),
            max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES,
            session_expiry_secs: 7 * 24 * 3600,
        }
    }
}

impl MqttConfig {
    /// The Maximum Packet Size we announce: payloads a little over the limit still reach us, to be
    /// logged with their device id; the broker discards bigger ones without blocking the rest.
    fn packet_ceiling(&self) -> u32 {
        u32::try_from(self.max_payload_bytes.saturating_mul(2)).unwrap_or(u32::MAX).max(64 * 1024)
    }
}

/// The device a topic names, if it is one of ours.
fn device_of(topic: &str) -> Option<&str> {
    topic
        .strip_prefix("yiqiao/devices/")
        .and_then(|t| t.strip_suffix("/readings"))
        .filter(|id| !id.is_empty() && !id.contains('/'))
}

/// Checks and stores one MQTT message; the topic names the device.
pub async fn ingest_message(app: &App, topic: &str, payload: &[u8]) -> Result<Vec<(ObservationView, bool)>, AppError> {
    let device_id = device_of(topic)
        .ok_or_else(|| AppError::invalid("mqtt_topic", "Publish to yiqiao/devices/<device_id>/readings."))?;
    let envelope: Value = serde_json::from_slice(payload)
        .map_err(|_| AppError::invalid("reading_format", "The MQTT payload is JSON {\"body\", \"hmac\"}."))?;
    let (Some(body), Some(mac)) = (envelope["body"].as_str(), envelope["hmac"].as_str()) else {
        return Err(AppError::invalid("reading_format", "The MQTT payload is JSON {\"body\", \"hmac\"}."));
    };
    let device = super::device_secret(app, device_id).await?;
    let expected = hex::encode(crypto::hmac_sha256(&device.1, body.as_bytes()));
    // Compare digests of both, so timing says nothing about the expected value.
    if crypto::hmac_sha256(b"mqtt", expected.as_bytes())
        != crypto::hmac_sha256(b"mqtt", mac.to_ascii_lowercase().as_bytes())
    {
        return Err(AppError::Unauthenticated);
    }
    let value: Value =
        serde_json::from_str(body).map_err(|_| AppError::invalid("reading_format", "body is not JSON."))?;
    Ok(ingest(app, &device.0, &value).await?.0)
}

/// One delivered message: stored, or dropped with a log line naming the device — never an error
/// that would stop the loop (issue 11 item 2). The caller has acknowledged it already.
async fn handle(app: &App, config: &MqttConfig, topic: &[u8], payload: &[u8]) {
    let topic = String::from_utf8_lossy(topic);
    let device = device_of(&topic).unwrap_or("?");
    if payload.len() > config.max_payload_bytes {
        tracing::warn!(
            device,
            bytes = payload.len(),
            max = config.max_payload_bytes,
            code = "mqtt_payload_too_large",
            "MQTT message dropped"
        );
        return;
    }
    match ingest_message(app, &topic, payload).await {
        Ok(items) => tracing::debug!(device, readings = items.len(), "MQTT readings stored"),
        Err(e) => tracing::warn!(device, code = e.code(), "MQTT message dropped: {e}"),
    }
}

/// Subscribes and ingests until the process ends; reconnects with back-off when the broker goes away.
pub async fn run(app: App, config: MqttConfig) {
    let Some((host, port)) = config.broker.rsplit_once(':').and_then(|(h, p)| Some((h.to_owned(), p.parse().ok()?)))
    else {
        tracing::error!(broker = %config.broker, "[mqtt] broker must be host:port; MQTT ingestion is off");
        return;
    };
    let mut options = MqttOptions::new(config.client_id.clone(), host, port);
    options.set_keep_alive(Duration::from_secs(30));
    // A persistent session: readings published while this node is down wait at the broker.
    options.set_clean_start(false);
    options.set_session_expiry_interval(Some(config.session_expiry_secs));
    options.set_max_packet_size(Some(config.packet_ceiling()));
    if !config.username.is_empty() {
        options.set_credentials(config.username.clone(), config.password.clone());
    }
    let (client, mut events) = AsyncClient::new(options, 64);
    let mut delay = Duration::from_millis(500);
    loop {
        match events.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                delay = Duration::from_millis(500);
                tracing::info!(broker = %config.broker, "MQTT connected; subscribing to {TOPIC_FILTER}");
                if let Err(e) = client.subscribe(TOPIC_FILTER, QoS::AtLeastOnce).await {
                    tracing::warn!("MQTT subscribe failed: {e}");
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) => handle(&app, &config, &p.topic, &p.payload).await,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!("MQTT connection: {e}; retrying in {delay:?}");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        }
    }
}
