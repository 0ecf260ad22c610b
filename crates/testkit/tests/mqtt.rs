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
