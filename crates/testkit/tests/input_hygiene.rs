//! Control characters in text input are refused with 422 `control_characters` before they reach the
//! database, on both engines (issue 11 item 15; on PostgreSQL a NUL answered 500): JSON bodies,
//! url-encoded forms, query strings, path parameters and multipart fields all pass one check. Line
//! breaks and tabs stay allowed where text is naturally multi-line, and nothing is ever altered.

#![allow(clippy::unwrap_used, reason = "a test: a failed step should stop it with its message")]

use domain::Role;
use http::{Method, StatusCode};
use serde_json::json;
use testkit::{Resp, TestApp, fresh_resident_id};

struct World {
    t: TestApp,
    doctor: String,
    patient_id: String,
    patient: String,
    auditor: String,
    consultation: String,
}

async fn world() -> World {
    let t = TestApp::new().await;
    let (inst, dept) = t.institution("Input Hospital").await;
    let (doctor_id, secret) = t.user_with_role("dr-input", Role::Doctor, Some(inst.clone())).await;
    t.approve_doctor(&doctor_id, &inst, &dept).await;
    let doctor = t.token("dr-input", Some(&t.totp(&secret))).await;
    let (_, secret) = t.user_with_role("auditor-input", Role::Auditor, None).await;
    let auditor = t.token("auditor-input", Some(&t.totp(&secret))).await;
    let patient_id = t.register_patient("pat-input", &fresh_resident_id()).await;
    let patient = t.token("pat-input", None).await;
    let r =
        t.post("/api/v1/consultations", json!({"doctor": doctor_id, "complaint": "头痛\n三天"}), Some(&patient)).await;
    assert_eq!(r.status, StatusCode::CREATED, "a complaint may span lines: {}", r.text);
    let consultation = r.json()["id"].as_str().unwrap().to_owned();
    World { t, doctor, patient_id, patient, auditor, consultation }
}

fn refused(r: &Resp, what: &str) {
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {}", r.text);
    assert_eq!(r.code(), "control_characters", "{what}");
}

#[tokio::test]
async fn nul_in_each_named_field_is_a_422_not_a_500() {
    let w = world().await;
    let t = &w.t;
    // Login name (JSON API).
    let r = t.post("/api/v1/auth/login", json!({"login": "pat-input\u{0}", "password": "x"}), None).await;
    refused(&r, "login name");
    // Device label.
    let devices = format!("/api/v1/patients/{}/devices", w.patient_id);
    let r = t
        .post(
            &devices,
            json!({"device_id": "bp-1", "kind": "blood-pressure", "label": "床头\u{0}血压计"}),
            Some(&w.patient),
        )
        .await;
    refused(&r, "device label");
    // Plan title.
    let plans = format!("/api/v1/patients/{}/plans", w.patient_id);
    let r = t.post(&plans, json!({"template": "hypertension", "title": "降压\u{0}随访"}), Some(&w.doctor)).await;
    refused(&r, "plan title");
    // A device's reading id.
    let r = t
        .post(&devices, json!({"device_id": "bp-2", "kind": "blood-pressure", "label": "客厅"}), Some(&w.patient))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let secret = r.json()["secret"].as_str().unwrap().to_owned();
    let reading = json!({"reading_id": "r\u{0}1", "type": "blood-pressure", "values": {"systolic": 120, "diastolic": 80},
        "unit": "mmHg", "measured_at": "2026-11-25T07:55:00Z"});
    let req = http::Request::builder()
        .method("POST")
        .uri("/api/v1/device-readings")
        .header("authorization", format!("Device bp-2:{secret}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(reading.to_string()))
        .unwrap();
    refused(&t.raw(req).await, "reading id");
    // The auditor's filters (query string).
    for q in ["actor=a%00b", "patient=%00", "action=auth.login%00", "outcome=denied%00"] {
        refused(&t.get(&format!("/api/v1/audit/events?{q}"), Some(&w.auditor)).await, q);
    }
    // A message body: multi-line text, but NUL is never text.
    let messages = format!("/api/v1/consultations/{}/messages", w.consultation);
    refused(&t.post(&messages, json!({"client_id": "m-nul", "text": "你好\u{0}"}), Some(&w.patient)).await, "message");
    // A path parameter.
    refused(&t.get("/api/v1/consultations/abc%00def", Some(&w.patient)).await, "path parameter");
    // Nothing was stored: no device, no plan, no message.
    let list = t.get(&plans, Some(&w.doctor)).await.json();
    assert_eq!(list["items"], json!([]));
    let msgs = t.get(&messages, Some(&w.patient)).await.json();
    assert!(msgs["items"].as_array().unwrap().iter().all(|m| m["client_id"] != "m-nul"));
}

#[tokio::test]
async fn line_breaks_only_where_text_spans_lines_and_nothing_is_altered() {
    let w = world().await;
    let t = &w.t;
    let messages = format!("/api/v1/consultations/{}/messages", w.consultation);
    let text = "早上 150/95\r\n晚上 140/90\t头晕";
    let r = t.post(&messages, json!({"client_id": "m-lines", "text": text}), Some(&w.patient)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json()["text"], text, "stored byte for byte");
    let plans = format!("/api/v1/patients/{}/plans", w.patient_id);
    let r = t.post(&plans, json!({"template": "hypertension", "title": "两行\n标题"}), Some(&w.doctor)).await;
    refused(&r, "a title is one line");
    let r = t.post(&messages, json!({"client_id": "m-esc", "text": "\u{1b}[2J"}), Some(&w.patient)).await;
    refused(&r, "escape sequence");
    let r = t.post(&messages, json!({"client_id": "m\u{7f}", "text": "ok"}), Some(&w.patient)).await;
    refused(&r, "client id with DEL");
}

#[tokio::test]
async fn forms_and_multipart_fields_pass_the_same_check() {
    let w = world().await;
    let t = &w.t;
    // The sign-in form (a page): refused before the database, answered as a page.
    let req = http::Request::builder()
        .method(Method::POST)
        .uri("/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(axum::body::Body::from("login=pat-input%00&password=x"))
        .unwrap();
    let r = t.raw(req).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.headers["content-type"].to_str().unwrap().starts_with("text/html"));
    // A multipart text field of an upload.
    let boundary = "nul-boundary";
    let mut body =
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"client_id\"\r\n\r\nup\u{0}1\r\n").into_bytes();
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(b"%PDF-1.4\n%%EOF\n");
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let req = http::Request::builder()
        .method(Method::POST)
        .uri(format!("/api/v1/consultations/{}/attachments", w.consultation))
        .header("authorization", format!("Bearer {}", w.patient))
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(axum::body::Body::from(body))
        .unwrap();
    refused(&t.raw(req).await, "multipart client_id");
}
