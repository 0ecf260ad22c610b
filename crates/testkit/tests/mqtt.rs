//! Device readings over real MQTT (D5) against the Mosquitto broker on this machine (127.0.0.1:1883,
//! or `YIQIAO_TEST_MQTT`): the server's subscriber stores a signed reading and raises its alert; a
//! payload with a wrong HMAC, or for an unknown device, stores nothing; a resend is stored once.

#![allow(clippy::unwrap_used, reason = "a test: a failed step should stop it with its message")]

use std::time::Duration;

use app::clock::Clock as _;
use domain::Role;
use http::StatusCode;
use rumqttc::{AsyncClient, MqttOptions, QoS};
use serde_json::json;
use testkit::{TestApp, fresh_resident_id};

fn broker() -> String {
    std::env::var("YIQIAO_TEST_MQTT").unwrap_or_else(|_| "127.0.0.1:1883".into())
}

fn signed(secret: &str, body: &serde_json::Value) -> Vec<u8> {
    let body = body.to_string();
    let mac = hex::encode(crypto::hmac_sha256(secret.as_bytes(), body.as_bytes()));
    json!({"body": body, "hmac": mac}).to_string().into_bytes()
}

#[tokio::test]
async fn signed_mqtt_readings_are_stored_once_and_alert_the_doctor() {
    let t = TestApp::new().await;
    let (inst, dept) = t.institution("MQTT Hospital").await;
    let (doctor_id, totp) = t.user_with_role("dr-mqtt", Role::Doctor, Some(inst.clone())).await;
    t.approve_doctor(&doctor_id, &inst, &dept).await;
    let doctor = t.token("dr-mqtt", Some(&t.totp(&totp))).await;
    let patient_id = t.register_patient("pat-mqtt", &fresh_resident_id()).await;
    let patient = t.token("pat-mqtt", None).await;
    let r =
        t.post("/api/v1/consultations", json!({"doctor": doctor_id, "complaint": "血压随访"}), Some(&patient)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = t
        .post(&format!("/api/v1/patients/{patient_id}/plans"), json!({"template": "hypertension"}), Some(&doctor))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    // A device id no other run uses (the broker is shared).
    let device = format!("mqtt-bp-{}", std::process::id());
    let r = t
        .post(
            &format!("/api/v1/patients/{patient_id}/devices"),
            json!({"device_id": device, "kind": "blood-pressure"}),
            Some(&patient),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let secret = r.json()["secret"].as_str().unwrap().to_owned();

    // The server's subscriber, as `serve` starts it.
    let config = app::monitoring::mqtt::MqttConfig {
        broker: broker(),
        client_id: format!("yiqiao-test-{}", std::process::id()),
        ..Default::default()
    };
    tokio::spawn(app::monitoring::mqtt::run(t.app.clone(), config));
    // The device.
    let (host, port) = broker().rsplit_once(':').map(|(h, p)| (h.to_owned(), p.parse().unwrap())).unwrap();
    let (client, mut events) = AsyncClient::new(MqttOptions::new(format!("{device}-client"), host, port), 16);
    tokio::spawn(async move { while events.poll().await.is_ok() {} });
    let topic = format!("yiqiao/devices/{device}/readings");
    let at = t.clock.now().to_rfc3339();
    let later = (t.clock.now() + chrono::Duration::minutes(1)).to_rfc3339();
    let urgent = json!({"reading_id": "m-1", "type": "blood-pressure", "values": {"systolic": 184, "diastolic": 100}, "unit": "mmHg", "measured_at": at});
    let forged = json!({"reading_id": "m-2", "type": "blood-pressure", "values": {"systolic": 120, "diastolic": 80}, "unit": "mmHg", "measured_at": at});

    let path = format!("/api/v1/patients/{patient_id}/observations");
    let mut stored = 0;
    // The subscriber may still be connecting: publish until the reading is in (a resend is stored once).
    for _ in 0..50 {
        client.publish(&topic, QoS::AtLeastOnce, false, signed(&secret, &urgent)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        stored = t.get(&path, Some(&patient)).await.json()["items"].as_array().unwrap().len();
        if stored > 0 {
            break;
        }
    }
    assert_eq!(stored, 1, "the signed reading is stored once");
    let alerts = t.get("/api/v1/alerts", Some(&doctor)).await.json();
    assert_eq!(alerts["items"][0]["rule"], "bp_urgent", "{alerts}");

    // Wrong HMAC: refused. A message for an unknown device: refused. Then a good one proves delivery order.
    client.publish(&topic, QoS::AtLeastOnce, false, signed("not-the-secret-000000", &forged)).await.unwrap();
    client
        .publish("yiqiao/devices/no-such-device/readings", QoS::AtLeastOnce, false, signed(&secret, &forged))
        .await
        .unwrap();
    let fine = json!({"reading_id": "m-3", "type": "blood-pressure", "values": {"systolic": 126, "diastolic": 80}, "unit": "mmHg", "measured_at": later});
    client.publish(&topic, QoS::AtLeastOnce, false, signed(&secret, &fine)).await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let items = t.get(&path, Some(&patient)).await.json()["items"].as_array().unwrap().clone();
        ids = items.iter().map(|o| o["reading_id"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
        if ids.len() >= 2 {
            break;
        }
    }
    assert_eq!(ids, vec!["m-1".to_owned(), "m-3".to_owned()], "the forged reading was not stored");
}

/// A blood pressure reading in the largest form devices may send: a FHIR `Observation` with three
/// components and a 100-character reading id (docs/DEVICES.md).
fn fhir_bp(reading_id: &str, at: &str, systolic: u32, diastolic: u32) -> serde_json::Value {
    let part = |code: &str, value: u32, unit: &str| {
        json!({"code": {"coding": [{"system": "http://loinc.org", "code": code}]},
               "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}})
    };
    json!({
        "resourceType": "Observation", "status": "final",
        "identifier": [{"system": "urn:yiqiao:test-device", "value": format!("{reading_id:-<100}")}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9", "display": "Blood pressure panel"}]},
        "effectiveDateTime": at,
        "component": [part("8480-6", systolic, "mm[Hg]"), part("8462-4", diastolic, "mm[Hg]"), part("8867-4", 72, "/min")]
    })
}

/// The reading ids stored for the patient (without the padding `fhir_bp` adds).
async fn reading_ids(t: &TestApp, path: &str, token: &str) -> Vec<String> {
    let items = t.get(path, Some(token)).await.json()["items"].as_array().cloned().unwrap_or_default();
    items.iter().filter_map(|o| o["reading_id"].as_str().map(|s| s.trim_end_matches('-').to_owned())).collect()
}

/// Polls `check` every 200 ms for at most `secs` seconds; panics with `what` when it never holds,
/// so a subscriber that stopped reading fails the test instead of hanging it.
async fn within<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while !check().await {
        assert!(std::time::Instant::now() < deadline, "after {secs} s: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Issue 11 item 2: one message over the client's old 10 KiB packet limit used to disconnect the
/// subscriber, and the broker redelivered it (persistent session, QoS 1) for ever, so no later
/// reading of any device was stored. Now a 500-reading batch (the documented maximum) is stored,
/// payloads over the maximum — a little over (dropped by the server, logged with the device id) or
/// far over (discarded by the broker) — are dropped, and an urgent reading right after each is
/// stored and alerts the doctor.
#[tokio::test]
async fn a_full_batch_is_stored_and_an_oversized_message_never_blocks_the_next_reading() {
    let t = TestApp::new().await;
    let (inst, dept) = t.institution("MQTT Limits Hospital").await;
    let (doctor_id, totp) = t.user_with_role("dr-mqtt-big", Role::Doctor, Some(inst.clone())).await;
    t.approve_doctor(&doctor_id, &inst, &dept).await;
    let doctor = t.token("dr-mqtt-big", Some(&t.totp(&totp))).await;
    let patient_id = t.register_patient("pat-mqtt-big", &fresh_resident_id()).await;
    let patient = t.token("pat-mqtt-big", None).await;
    let r =
        t.post("/api/v1/consultations", json!({"doctor": doctor_id, "complaint": "血压随访"}), Some(&patient)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = t
        .post(&format!("/api/v1/patients/{patient_id}/plans"), json!({"template": "hypertension"}), Some(&doctor))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    // Ids no other run uses: the broker is shared, and sessions outlive a run.
    let run = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
    let device = format!("mqtt-big-{run}");
    let r = t
        .post(
            &format!("/api/v1/patients/{patient_id}/devices"),
            json!({"device_id": device, "kind": "blood-pressure"}),
            Some(&patient),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let secret = r.json()["secret"].as_str().unwrap().to_owned();

    let max = app::monitoring::mqtt::DEFAULT_MAX_PAYLOAD_BYTES;
    let config = app::monitoring::mqtt::MqttConfig {
        broker: broker(),
        client_id: format!("yiqiao-test-big-{run}"),
        session_expiry_secs: 120,
        ..Default::default()
    };
    tokio::spawn(app::monitoring::mqtt::run(t.app.clone(), config));
    let (host, port) = broker().rsplit_once(':').map(|(h, p)| (h.to_owned(), p.parse().unwrap())).unwrap();
    let mut options = MqttOptions::new(format!("{device}-client"), host, port);
    options.set_max_packet_size(8 * max, 8 * max);
    let (client, mut events) = AsyncClient::new(options, 16);
    tokio::spawn(async move { while events.poll().await.is_ok() {} });
    let topic = format!("yiqiao/devices/{device}/readings");
    let path = format!("/api/v1/patients/{patient_id}/observations");
    let stored = || reading_ids(&t, &path, &patient);

    // The subscriber may still be connecting: a tiny reading, resent until it is in, proves it listens.
    let now = t.clock.now();
    let at = |mins: i64| (now - chrono::Duration::minutes(mins)).to_rfc3339();
    let hello = signed(&secret, &fhir_bp("hello", &at(600), 118, 76));
    let mut seen = false;
    for _ in 0..50 {
        client.publish(&topic, QoS::AtLeastOnce, false, hello.clone()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        if stored().await.contains(&"hello".to_owned()) {
            seen = true;
            break;
        }
    }
    assert!(seen, "the subscriber never stored a small reading");

    // 500 readings, FHIR, in one signed message: well over 10 KiB, within the documented maximum.
    let batch: Vec<_> = (0..500).map(|i| fhir_bp(&format!("b-{i}"), &at(i + 1), 120, 80)).collect();
    let full = signed(&secret, &json!(batch));
    assert!(full.len() > 300 * 1024 && full.len() <= max, "a full FHIR batch is {} bytes", full.len());
    client.publish(&topic, QoS::AtLeastOnce, false, full).await.unwrap();
    within(90, "the 500-reading batch is stored", || async { stored().await.len() == 501 }).await;

    // A little over the maximum (the server drops it), then far over it (the broker does); an urgent
    // reading after each is stored and alerts the doctor. Acknowledging keeps each alert its own.
    let padded = |id: &str, bytes: usize| {
        let mut reading = fhir_bp(id, &at(0), 122, 82);
        reading["note"] = json!("x".repeat(bytes));
        signed(&secret, &reading)
    };
    for (i, oversized) in [padded("big-1", max + max / 2), padded("big-2", 3 * max)].into_iter().enumerate() {
        assert!(oversized.len() > max);
        client.publish(&topic, QoS::AtLeastOnce, false, oversized).await.unwrap();
        let urgent = format!("urgent-{i}");
        client
            .publish(&topic, QoS::AtLeastOnce, false, signed(&secret, &fhir_bp(&urgent, &at(0), 186, 100)))
            .await
            .unwrap();
        within(60, &format!("{urgent} after an oversized message is stored"), || async {
            stored().await.contains(&urgent)
        })
        .await;
        let ids = stored().await;
        assert!(!ids.iter().any(|id| id.starts_with("big-")), "an oversized reading was stored: {ids:?}");
        let alerts = t.get("/api/v1/alerts", Some(&doctor)).await.json()["items"].clone();
        assert_eq!(alerts.as_array().map(Vec::len), Some(1), "{alerts}");
        assert_eq!(alerts[0]["rule"], "bp_urgent");
        assert_eq!(alerts[0]["reading"]["reading_id"].as_str().map(|s| s.trim_end_matches('-')), Some(urgent.as_str()));
        let id = alerts[0]["id"].as_str().unwrap();
        let r = t.post(&format!("/api/v1/alerts/{id}/ack"), json!({}), Some(&doctor)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
}
