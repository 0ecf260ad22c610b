//! Chronic-care monitoring, first part (D2, D4, D5) on both engines: a doctor who cares for the patient
//! starts a hypertension plan, the patient pairs a BP monitor, the device sends readings over HTTP in the
//! compact and FHIR forms (single and batch); duplicates are stored once, units are normalised,
//! implausible values are refused with their code and change nothing; an urgent value raises an alert
//! that reaches the plan's doctor live and is acknowledged; readings are visible only to the patient
//! and their care team, and every read is audited.

#![allow(clippy::unwrap_used, reason = "a test: a failed step should stop it with its message")]

use app::clock::Clock as _;
use axum::body::Body;
use domain::Role;
use http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};
use testkit::{Resp, TestApp, fresh_resident_id};

struct World {
    t: TestApp,
    patient: String,
    patient_id: String,
    stranger: String,
    doctor: String,
    doctor_id: String,
    inst: String,
}

async fn world() -> World {
    let t = TestApp::new().await;
    let (inst, dept) = t.institution("Follow-up Hospital").await;
    let (doctor_id, secret) = t.user_with_role("dr-plan", Role::Doctor, Some(inst.clone())).await;
    t.approve_doctor(&doctor_id, &inst, &dept).await;
    let doctor = t.token("dr-plan", Some(&t.totp(&secret))).await;
    let patient_id = t.register_patient("pat-plan", &fresh_resident_id()).await;
    t.register_patient("pat-else", &fresh_resident_id()).await;
    let patient = t.token("pat-plan", None).await;
    let stranger = t.token("pat-else", None).await;
    // A consultation makes the doctor part of the patient's care.
    let r = t
        .post(
            "/api/v1/consultations",
            json!({"doctor": doctor_id, "complaint": "高血压复诊，想加入随访"}),
            Some(&patient),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    World { t, patient, patient_id, stranger, doctor, doctor_id, inst }
}

async fn device_post(t: &TestApp, auth: &str, body: &Value) -> Resp {
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/device-readings")
        .header(header::AUTHORIZATION, auth)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    t.raw(req).await
}

fn bp(id: &str, sys: f64, dia: f64, at: &str) -> Value {
    json!({"reading_id": id, "type": "blood-pressure", "values": {"systolic": sys, "diastolic": dia}, "unit": "mmHg", "measured_at": at})
}

/// A plan and a paired monitor; returns the device's `Authorization` value.
async fn on_plan_with_monitor(w: &World) -> String {
    let t = &w.t;
    let r = t
        .post(&format!("/api/v1/patients/{}/plans", w.patient_id), json!({"template": "hypertension"}), Some(&w.doctor))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json()["thresholds"]["systolic_urgent"], 180.0);
    let r = t
        .post(
            &format!("/api/v1/patients/{}/devices", w.patient_id),
            json!({"device_id": "bp-test-1", "kind": "blood-pressure", "label": "家用血压计"}),
            Some(&w.patient),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let secret = r.json()["secret"].as_str().unwrap().to_owned();
    assert!(secret.len() >= 32, "a generated secret");
    format!("Device bp-test-1:{secret}")
}

fn now_str(t: &TestApp, minus_minutes: i64) -> String {
    (t.clock.now() - chrono::Duration::minutes(minus_minutes)).to_rfc3339()
}

#[tokio::test]
async fn an_urgent_reading_alerts_the_plans_doctor_live_and_is_acknowledged() {
    let w = world().await;
    let t = &w.t;
    let auth = on_plan_with_monitor(&w).await;
    let mut events = t.app.bus.subscribe();
    let r = device_post(t, &auth, &bp("r-1", 182.0, 96.0, &now_str(t, 2))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let v = r.json();
    assert_eq!(v["created"], true);
    assert_eq!(v["observation"]["alert"]["severity"], "urgent");
    assert_eq!(v["observation"]["alert"]["rule"], "bp_urgent");
    // The doctor's socket hears it at once.
    let mut doctor_alert = None;
    while let Ok(ev) = events.try_recv() {
        if ev.payload["type"] == "alert" {
            assert_eq!(ev.recipients, vec![w.doctor_id.clone()]);
            doctor_alert = Some(ev.payload["alert"].clone());
        }
    }
    let alert = doctor_alert.expect("an alert event for the plan's doctor");
    assert_eq!(alert["patient"], w.patient_id.as_str());
    assert_eq!(alert["reading"]["values"]["systolic"], 182.0);
    // Listed until acknowledged.
    let list = t.get("/api/v1/alerts", Some(&w.doctor)).await.json();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let id = list["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        t.post(&format!("/api/v1/alerts/{id}/ack"), json!({}), Some(&w.patient)).await.status,
        StatusCode::FORBIDDEN,
        "only doctors acknowledge"
    );
    let r = t.post(&format!("/api/v1/alerts/{id}/ack"), json!({}), Some(&w.doctor)).await;
    assert_eq!((r.status, r.json()["state"].as_str()), (StatusCode::OK, Some("acknowledged")));
    assert_eq!(t.get("/api/v1/alerts", Some(&w.doctor)).await.json()["items"].as_array().unwrap().len(), 0);
    // A normal reading raises nothing.
    let r = device_post(t, &auth, &bp("r-2", 128.0, 82.0, &now_str(t, 1))).await;
    assert!(r.json()["observation"]["alert"].is_null(), "{}", r.text);
}

#[tokio::test]
async fn duplicates_are_stored_once_and_units_are_normalised() {
    let w = world().await;
    let t = &w.t;
    let auth = on_plan_with_monitor(&w).await;
    let at = now_str(t, 30);
    let first = device_post(t, &auth, &bp("dup-1", 135.0, 85.0, &at)).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let again = device_post(t, &auth, &bp("dup-1", 135.0, 85.0, &at)).await;
    assert_eq!(again.status, StatusCode::OK, "a resend answers the stored reading");
    assert_eq!(again.json()["created"], false);
    assert_eq!(again.json()["observation"]["id"], first.json()["observation"]["id"]);
    // FHIR, in kPa: 20/12 kPa = 150/90 mmHg.
    let fhir = json!({
        "resourceType": "Observation", "status": "final", "identifier": [{"value": "fhir-1"}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
        "effectiveDateTime": now_str(t, 20),
        "component": [
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}, "valueQuantity": {"value": 20, "unit": "kPa"}},
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]}, "valueQuantity": {"value": 12, "unit": "kPa"}}
        ]
    });
    let r = device_post(t, &auth, &fhir).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json()["observation"]["values"], json!({"systolic": 150.0, "diastolic": 90.0}));
    assert_eq!(r.json()["observation"]["unit"], "mm[Hg]");
    // A batch: glucose in mg/dL is stored in mmol/L; a known reading inside a batch is not stored twice.
    let batch = json!([
        {"reading_id": "g-1", "type": "glucose", "values": {"glucose": 126}, "unit": "mg/dL", "context": "fasting", "measured_at": now_str(t, 10)},
        bp("dup-1", 135.0, 85.0, &at)
    ]);
    let r = device_post(t, &auth, &batch).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let items = r.json()["items"].as_array().unwrap().clone();
    assert_eq!((items[0]["created"].as_bool(), items[1]["created"].as_bool()), (Some(true), Some(false)));
    assert_eq!(items[0]["observation"]["values"]["glucose"], 7.0);
    assert_eq!(items[0]["observation"]["code"], "15074-8");
    // The patient reads them back by code and window; a stranger cannot.
    let path = format!("/api/v1/patients/{}/observations?code=85354-9&from=2020-01-01", w.patient_id);
    let list = t.get(&path, Some(&w.patient)).await.json();
    assert_eq!(list["items"].as_array().unwrap().len(), 2, "{list}");
    assert_eq!(t.get(&path, Some(&w.stranger)).await.status, StatusCode::NOT_FOUND);
    assert_eq!(t.get(&path, Some(&w.doctor)).await.status, StatusCode::OK);
    let filter =
        store::repo::audit::AuditFilter { action: Some("observation.view".into()), limit: 100, ..Default::default() };
    let events = store::repo::audit::list(&t.app.store.db, &filter).await.unwrap();
    let (refused, reads): (Vec<_>, Vec<_>) = events.into_iter().partition(|e| e.outcome == "denied");
    assert_eq!(reads.len(), 2, "each read is audited");
    assert_eq!(refused.len(), 1, "and so is the stranger's refused one (issue 11 item 11)");
}

#[tokio::test]
async fn bad_readings_are_refused_with_a_code_and_change_nothing() {
    let w = world().await;
    let t = &w.t;
    let auth = on_plan_with_monitor(&w).await;
    let cases = [
        (bp("bad-1", 400.0, 90.0, &now_str(t, 1)), "reading_implausible"),
        (bp("bad-2", 80.0, 120.0, &now_str(t, 1)), "reading_implausible"),
        (
            json!({"reading_id": "bad-3", "type": "glucose", "values": {"glucose": 5}, "unit": "g/L", "measured_at": now_str(t, 1)}),
            "reading_unit",
        ),
        (
            json!({"reading_id": "bad-4", "type": "cholesterol", "values": {"value": 5}, "unit": "mmol/L", "measured_at": now_str(t, 1)}),
            "reading_type",
        ),
        (bp("bad-5", 120.0, 80.0, &now_str(t, -60)), "reading_time"),
        (
            json!([bp("ok-in-bad-batch", 120.0, 80.0, &now_str(t, 1)), bp("bad-6", 120.0, 10.0, &now_str(t, 1))]),
            "reading_implausible",
        ),
    ];
    for (body, code) in cases {
        let r = device_post(t, &auth, &body).await;
        assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, code.to_owned()), "{body}");
    }
    let all = t.get(&format!("/api/v1/patients/{}/observations", w.patient_id), Some(&w.patient)).await.json();
    assert_eq!(all["items"].as_array().unwrap().len(), 0, "nothing stored, not even the good half of a batch");
    // Wrong secret, unknown device, no header.
    assert_eq!(
        device_post(t, "Device bp-test-1:wrong-secret-000000", &bp("x", 120.0, 80.0, &now_str(t, 1))).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        device_post(t, "Device nope:whatever-secret-00000", &bp("x", 120.0, 80.0, &now_str(t, 1))).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        device_post(t, "Bearer x", &bp("x", 120.0, 80.0, &now_str(t, 1))).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn three_readings_above_target_in_a_week_raise_a_warning() {
    let w = world().await;
    let t = &w.t;
    let auth = on_plan_with_monitor(&w).await;
    let sev = |r: &Resp| r.json()["observation"]["alert"]["severity"].as_str().map(str::to_owned);
    assert_eq!(sev(&device_post(t, &auth, &bp("t-1", 150.0, 92.0, &now_str(t, 3 * 24 * 60))).await), None);
    assert_eq!(sev(&device_post(t, &auth, &bp("t-2", 148.0, 88.0, &now_str(t, 2 * 24 * 60))).await), None);
    let third = device_post(t, &auth, &bp("t-3", 152.0, 95.0, &now_str(t, 5))).await;
    assert_eq!(sev(&third).as_deref(), Some("warning"), "{}", third.text);
    assert_eq!(third.json()["observation"]["alert"]["rule"], "above_target_trend");
}

#[tokio::test]
async fn only_the_care_team_starts_plans_and_pairs_devices() {
    let w = world().await;
    let t = &w.t;
    let plans = format!("/api/v1/patients/{}/plans", w.patient_id);
    assert_eq!(
        t.post(&plans, json!({"template": "hypertension"}), Some(&w.patient)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(t.post(&plans, json!({"template": "yoga"}), Some(&w.doctor)).await.code(), "plan_template");
    let devices = format!("/api/v1/patients/{}/devices", w.patient_id);
    let r = t.post(&devices, json!({"device_id": "gm-1", "kind": "glucose"}), Some(&w.stranger)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "a stranger does not see this patient");
    let r = t.post(&devices, json!({"device_id": "gm 1!", "kind": "glucose"}), Some(&w.patient)).await;
    assert_eq!(r.code(), "device_id");
    assert_eq!(
        t.post(&devices, json!({"device_id": "gm-1", "kind": "glucose"}), Some(&w.patient)).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        t.post(&devices, json!({"device_id": "gm-1", "kind": "glucose"}), Some(&w.doctor)).await.code(),
        "device_paired"
    );
    // Without a plan, readings are stored but nobody is alerted.
    let r = t.get(&plans, Some(&w.doctor)).await.json();
    assert_eq!(r["items"].as_array().unwrap().len(), 0);
    let _ = &w.doctor_id;
}

#[tokio::test]
async fn an_unacknowledged_urgent_alert_escalates_to_the_team_once() {
    let w = world().await;
    let t = &w.t;
    let (nurse_id, nurse_totp) = t.user_with_role("nurse-plan", Role::Nurse, Some(w.inst.clone())).await;
    let nurse = t.token("nurse-plan", Some(&t.totp(&nurse_totp))).await;
    let auth = on_plan_with_monitor(&w).await;
    let r = device_post(t, &auth, &bp("esc-1", 190.0, 100.0, &now_str(t, 1))).await;
    let id = r.json()["observation"]["alert"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        t.post(&format!("/api/v1/alerts/{id}/ack"), json!({}), Some(&nurse)).await.status,
        StatusCode::NOT_FOUND,
        "not the nurse's alert yet"
    );
    let mut events = t.app.bus.subscribe();
    t.clock.advance(chrono::Duration::seconds(t.app.config.alert_escalation_secs - 1));
    app::jobs::run_due(&t.app).await.unwrap();
    assert!(std::iter::from_fn(|| events.try_recv().ok()).all(|e| e.payload["type"] != "alert"), "not yet");
    t.clock.advance(chrono::Duration::seconds(2));
    app::jobs::run_due(&t.app).await.unwrap();
    let ev = std::iter::from_fn(|| events.try_recv().ok())
        .find(|e| e.payload["type"] == "alert")
        .expect("an escalation event");
    assert_eq!(
        (ev.payload["type"].as_str(), ev.payload["alert"]["state"].as_str()),
        (Some("alert"), Some("escalated"))
    );
    assert!(ev.recipients.contains(&nurse_id), "{:?}", ev.recipients);
    assert!(!ev.recipients.contains(&w.doctor_id), "the doctor already has it");
    // Once only.
    t.clock.advance(chrono::Duration::seconds(t.app.config.alert_escalation_secs * 3));
    app::jobs::run_due(&t.app).await.unwrap();
    while let Ok(ev) = events.try_recv() {
        assert_ne!(ev.payload["type"], "alert", "escalated once only");
    }
    // Someone of the team acknowledges it now (the doctor's session may have expired meanwhile).
    let nurse = t.token("nurse-plan", Some(&t.totp(&nurse_totp))).await;
    let r = t.post(&format!("/api/v1/alerts/{id}/ack"), json!({}), Some(&nurse)).await;
    assert_eq!((r.status, r.json()["state"].as_str()), (StatusCode::OK, Some("acknowledged")), "{}", r.text);
}

#[tokio::test]
async fn an_acknowledged_alert_does_not_escalate() {
    let w = world().await;
    let t = &w.t;
    let auth = on_plan_with_monitor(&w).await;
    let r = device_post(t, &auth, &bp("esc-2", 190.0, 100.0, &now_str(t, 1))).await;
    let id = r.json()["observation"]["alert"]["id"].as_str().unwrap().to_owned();
    assert_eq!(t.post(&format!("/api/v1/alerts/{id}/ack"), json!({}), Some(&w.doctor)).await.status, StatusCode::OK);
    let mut events = t.app.bus.subscribe();
    t.clock.advance(chrono::Duration::seconds(t.app.config.alert_escalation_secs + 1));
    app::jobs::run_due(&t.app).await.unwrap();
    while let Ok(ev) = events.try_recv() {
        assert_ne!(ev.payload["type"], "alert", "an acknowledged alert is not escalated");
    }
}
