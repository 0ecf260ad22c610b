//! Bounded alerting (D4, E3; issue 11 item 16) through the API, on both engines: repeats of an open
//! alert's rule for the same patient join that alert (one alert, one notification, a count) until it
//! is acknowledged or its window has passed, and the SMS cap per recipient holds across different
//! alerts while the in-app notification still arrives.

#![allow(clippy::unwrap_used, reason = "a test: a failed step should stop it with its message")]

mod care_support;

use std::sync::Arc;

use app::notify::{
    Outbound,
    channels::{SmsChannel, SmsConfig},
};
use care_support::{Server, World, bp, get_json, have_python, t0, time_of, world};
use chrono::Duration;
use http::StatusCode;
use serde_json::{Value, json};

const GATEWAY_TOKEN: &str = "gateway-test-token";

/// An urgent blood pressure by hand for the world's patient; returns the stored reading.
async fn urgent(w: &World, systolic: f64) -> Value {
    let r = w.reading(&w.patient_id, bp(systolic, 115.0)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.json()
}

async fn open_alerts(w: &World) -> Vec<Value> {
    let r = w.get("/api/v1/alerts", &w.doctor_id).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json()["items"].as_array().cloned().unwrap_or_default()
}

async fn ack(w: &World, id: &Value) {
    let r = w.post(&format!("/api/v1/alerts/{}/ack", id.as_str().unwrap()), json!({}), &w.doctor_id).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

/// Issue 11 item 16: fifteen urgent readings used to make fifteen alerts and fifteen notifications.
#[tokio::test]
async fn fifteen_urgent_readings_make_one_alert_counted_fifteen_times_and_one_notification() {
    let w = world().await;
    w.hypertension_plan().await;
    let mut alert_ids = Vec::new();
    for i in 0..15 {
        w.set_clock(t0() + Duration::minutes(i));
        let obs = urgent(&w, 190.0 + f64::from(u8::try_from(i).unwrap())).await;
        // The patient is still told what to do now, every time.
        assert_eq!(obs["alert"]["severity"], "urgent", "{obs}");
        alert_ids.push(obs["alert"]["id"].clone());
    }
    assert!(alert_ids.iter().all(|id| *id == alert_ids[0]), "one alert: {alert_ids:?}");
    let alerts = open_alerts(&w).await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let a = &alerts[0];
    assert_eq!(
        (a["id"].clone(), a["count"].clone(), a["rule"].clone()),
        (alert_ids[0].clone(), json!(15), json!("bp_urgent"))
    );
    assert_eq!(a["reading"]["values"]["systolic"], 204.0, "the latest value: {a}");
    assert_eq!(time_of(&a["last_at"]), w.now());
    assert_eq!(time_of(&a["created_at"]), t0());
    assert_eq!(w.notifications(&w.doctor_id, "alert").await.len(), 1, "one notification");
    // Every reading still carries the alert it joined (lists and chart rings).
    let listed = w.get(&format!("/api/v1/patients/{}/observations", w.patient_id), &w.patient_id).await.json();
    let listed = listed["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(listed.len(), 15);
    assert!(listed.iter().all(|o| o["alert"]["id"] == alert_ids[0]), "{listed:?}");
    // The doctor's care panel shows the count.
    let page = w.get(&format!("/patients/{}/care", w.patient_id), &w.doctor_id).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains(r#"class="badge repeat-count" data-count="15""#), "no repeat count on the panel");

    // Acknowledged: the next urgent reading alerts (and notifies) again.
    ack(&w, &alert_ids[0]).await;
    w.set_clock(w.now() + Duration::minutes(1));
    let second = urgent(&w, 186.0).await["alert"]["id"].clone();
    assert_ne!(second, alert_ids[0]);
    let alerts = open_alerts(&w).await;
    assert_eq!((alerts.len(), alerts[0]["count"].clone()), (1, json!(1)), "{alerts:?}");
    assert_eq!(w.notifications(&w.doctor_id, "alert").await.len(), 2);

    // Unacknowledged past the window (30 minutes from when it was raised): raised and notified anew.
    w.set_clock(w.now() + Duration::minutes(29));
    assert_eq!(urgent(&w, 185.0).await["alert"]["id"], second, "still within the window");
    w.set_clock(w.now() + Duration::minutes(2));
    let third = urgent(&w, 185.0).await["alert"]["id"].clone();
    assert_ne!(third, second);
    assert_eq!(w.notifications(&w.doctor_id, "alert").await.len(), 3);
}

/// Gives the world's doctor a mobile number, SMS notifications and a cap of `per_hour` SMS.
async fn doctor_on_sms(w: &mut World, gateway_port: u16, per_hour: u32) {
    let db = &w.t.app.store.db;
    let mut user = store::repo::user::get(db, &w.doctor_id).await.unwrap();
    let aad = crypto::Aad { table: "users", column: "phone_enc", row_id: &w.doctor_id };
    user.phone_enc = Some(w.t.app.keys.current().encrypt(b"13900139000", &aad).unwrap());
    store::repo::user::update(db, user).await.unwrap();
    let mut config = (*w.t.app.config).clone();
    config.limits.sms_per_hour = per_hour;
    w.t.app.config = Arc::new(config);
    let sms = SmsConfig {
        url: format!("http://127.0.0.1:{gateway_port}/v1/messages"),
        token: GATEWAY_TOKEN.into(),
        sender: "【医桥】".into(),
        timeout_secs: Some(5),
    };
    w.with_outbound(Outbound::default().with(Arc::new(SmsChannel::new(&sms).unwrap())));
    let r = w.put("/api/v1/notification-prefs", json!({"channels": ["sms"]}), &w.doctor_id).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

/// Issue 11 item 16: urgent alerts bypass quiet hours and go out by SMS; the cap per recipient per
/// hour holds across different alerts, and beyond it the notification is in-app only.
#[tokio::test]
async fn the_sms_cap_holds_across_different_alerts_and_in_app_still_arrives() {
    if !have_python() {
        return;
    }
    let gw = Server::start("fake_sms_gateway.py", &["--token", GATEWAY_TOKEN]).await;
    let mut w = world().await;
    doctor_on_sms(&mut w, gw.port, 3).await;
    w.hypertension_plan().await;
    // Five different alerts (each acknowledged before the next reading) within ten minutes.
    for i in 0..5 {
        w.set_clock(t0() + Duration::minutes(2 * i));
        let id = urgent(&w, 190.0).await["alert"]["id"].clone();
        ack(&w, &id).await;
    }
    let notes = w.notifications(&w.doctor_id, "alert").await;
    assert_eq!(notes.len(), 5, "each alert is notified");
    let mut states = Vec::new();
    for n in &notes {
        assert_eq!(w.delivery(&n.id, "inapp").await.state, "sent", "in-app always");
        let sms = w.delivery(&n.id, "sms").await;
        states.push((sms.state, sms.last_error));
    }
    let held = (String::from("skipped"), Some(app::notify::SMS_CAP_REASON.to_owned()));
    assert_eq!(
        states,
        vec![
            ("pending".to_owned(), None),
            ("pending".to_owned(), None),
            ("pending".to_owned(), None),
            held.clone(),
            held.clone()
        ]
    );
    let inbox = w.inbox_of_kind(&w.doctor_id, "alert").await;
    assert_eq!(inbox[0]["channels"], json!({"inapp": "sent", "sms": "skipped"}), "newest first");
    // Only three reach the gateway.
    assert_eq!(app::notify::deliver_due(&w.t.app).await.unwrap(), 3);
    assert_eq!(app::notify::deliver_due(&w.t.app).await.unwrap(), 0);
    let sent = get_json(gw.port, "/messages").await;
    assert_eq!(sent.as_array().map(Vec::len), Some(3), "{sent}");

    // Over an hour after the first three, the next alert goes by SMS again.
    w.set_clock(t0() + Duration::minutes(65));
    urgent(&w, 190.0).await;
    let notes = w.notifications(&w.doctor_id, "alert").await;
    assert_eq!(notes.len(), 6);
    assert_eq!(w.delivery(&notes[5].id, "sms").await.state, "pending");
}
