//! Device readings over MQTT (D5). Devices (or their gateways) publish to
//! `yiqiao/devices/<device_id>/readings` the JSON `{"body": "<the HTTP body, as a string>",
//! "hmac": "<hex HMAC-SHA256 of body with the device secret>"}`; the body is any form
//! `POST /api/v1/device-readings` accepts. The broker authenticates devices (ACLs in
//! docs/DEVICES.md); the HMAC proves the payload came from the device whose id the topic names.
//! Accepted readings go through the same `ingest` as HTTP: same dedupe, checks and alerts.

use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::Value;

use super::{ObservationView, ingest};
use crate::{App, AppError};

/// The topic filter the server subscribes to.
pub const TOPIC_FILTER: &str = "yiqiao/devices/+/readings";

/// Where the broker is (`[mqtt]` in yiqiao.toml).
#[derive(Debug, Clone, Default)]
pub struct MqttConfig {
    /// `host:port`; empty turns MQTT ingestion off.
    pub broker: String,
    pub client_id: String,
    pub username: String,
    pub password: String,
}

/// Checks and stores one MQTT message; the topic names the device.
pub async fn ingest_message(app: &App, topic: &str, payload: &[u8]) -> Result<Vec<(ObservationView, bool)>, AppError> {
    let device_id = topic
        .strip_prefix("yiqiao/devices/")
        .and_then(|t| t.strip_suffix("/readings"))
        .filter(|id| !id.is_empty() && !id.contains('/'))
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

/// Subscribes and ingests until the process ends; reconnects with back-off when the broker goes away.
pub async fn run(app: App, config: MqttConfig) {
    let Some((host, port)) = config.broker.rsplit_once(':').and_then(|(h, p)| Some((h.to_owned(), p.parse().ok()?)))
    else {
        tracing::error!(broker = %config.broker, "[mqtt] broker must be host:port; MQTT ingestion is off");
        return;
    };
    let mut options = MqttOptions::new(config.client_id.clone(), host, port);
    options.set_keep_alive(Duration::from_secs(30));
    options.set_clean_session(false);
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
            Ok(Event::Incoming(Packet::Publish(p))) => match ingest_message(&app, &p.topic, &p.payload).await {
                Ok(items) => tracing::debug!(topic = %p.topic, readings = items.len(), "MQTT readings stored"),
                Err(e) => tracing::warn!(topic = %p.topic, code = e.code(), "MQTT reading refused: {e}"),
            },
            Ok(_) => {}
            Err(e) => {
                tracing::warn!("MQTT connection: {e}; retrying in {delay:?}");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        }
    }
}
