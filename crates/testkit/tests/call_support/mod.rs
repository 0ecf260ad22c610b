//! Fixtures shared by the call-room tests (`call_rooms.rs`, `call_recordings.rs`): a consultation
//! with a verified doctor, HTTP helpers for calls, guests, recordings, and audit reads.

#![allow(dead_code, reason = "shared by two test files; each uses part of it")]
#![allow(clippy::unwrap_used, reason = "a test: a failed step should stop it with its message")]

use app::bus::Event;
use axum::body::Body;
use chrono::{DateTime, Utc};
use domain::Role;
use http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};
use testkit::{Resp, TestApp, fresh_resident_id};
use tokio::sync::broadcast::Receiver;

pub struct World {
    pub t: TestApp,
    pub patient: String,
    pub patient_id: String,
    /// A patient with nothing to do with the consultation.
    pub stranger: String,
    pub doctor: String,
    pub doctor_id: String,
    pub doctor_secret: Vec<u8>,
    pub consultation: String,
}

pub async fn world() -> World {
    let t = TestApp::new().await;
    let (inst, dept) = t.institution("Room Hospital").await;
    let (doctor_id, doctor_secret) = t.user_with_role("dr-room", Role::Doctor, Some(inst.clone())).await;
    t.approve_doctor(&doctor_id, &inst, &dept).await;
    let doctor = t.token("dr-room", Some(&t.totp(&doctor_secret))).await;
    let patient_id = t.register_patient("pat-room", &fresh_resident_id()).await;
    t.register_patient("pat-stranger", &fresh_resident_id()).await;
    let patient = t.token("pat-room", None).await;
    let stranger = t.token("pat-stranger", None).await;
    let r = t
        .post(
            "/api/v1/consultations",
            json!({"doctor": doctor_id, "complaint": "术后复查：伤口愈合情况"}),
            Some(&patient),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let consultation = r.json()["id"].as_str().unwrap().to_owned();
    World { t, patient, patient_id, stranger, doctor, doctor_id, doctor_secret, consultation }
}

/// A doctor of another hospital (searchable by the hospital's name); verified unless `verified` is
/// false. Returns the user id and a bearer token.
pub async fn other_doctor(t: &TestApp, login: &str, hospital: &str, verified: bool) -> (String, String) {
    let (inst, dept) = t.institution(hospital).await;
    let (id, secret) = t.user_with_role(login, Role::Doctor, Some(inst.clone())).await;
    if verified {
        t.approve_doctor(&id, &inst, &dept).await;
    }
    let token = t.token(login, Some(&t.totp(&secret))).await;
    (id, token)
}

pub async fn start(w: &World, token: &str, kind: &str) -> (StatusCode, Value) {
    let r =
        w.t.post(&format!("/api/v1/consultations/{}/calls", w.consultation), json!({"kind": kind}), Some(token)).await;
    (r.status, r.json())
}

/// `POST /api/v1/calls/{id}/{what}` with a JSON body.
pub async fn call_post(w: &World, token: &str, id: &str, what: &str, body: Value) -> Resp {
    w.t.post(&format!("/api/v1/calls/{id}/{what}"), body, Some(token)).await
}

pub async fn act(w: &World, token: &str, id: &str, action: &str) -> (StatusCode, Value) {
    let r = call_post(w, token, id, action, json!({})).await;
    (r.status, r.json())
}

pub async fn view(w: &World, token: &str, id: &str) -> Value {
    let r = w.t.get(&format!("/api/v1/calls/{id}"), Some(token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json()
}

/// One participant of a call view.
pub fn member<'a>(v: &'a Value, id: &str) -> &'a Value {
    v["participants"].as_array().unwrap().iter().find(|p| p["id"] == id).unwrap_or(&Value::Null)
}

/// The doctor calls the patient, who answers: an active two-person call.
pub async fn live_call(w: &World) -> String {
    let (status, call) = start(w, &w.doctor, "video").await;
    assert_eq!(status, StatusCode::CREATED, "{call}");
    let id = call["id"].as_str().unwrap().to_owned();
    let (status, v) = act(w, &w.patient, &id, "accept").await;
    assert_eq!((status, v["state"].as_str()), (StatusCode::OK, Some("active")), "{v}");
    id
}

/// `POST /api/v1/calls/{id}/invite` for `user`.
pub async fn invite(w: &World, token: &str, id: &str, user: &str) -> Resp {
    call_post(w, token, id, "invite", json!({"user_id": user})).await
}

/// A guest link from the consultation's doctor: the guest's participant id and the join path.
pub async fn guest_link(w: &World, id: &str, name: &str, role: &str) -> (String, String) {
    let r = call_post(w, &w.doctor, id, "guests", json!({"name": name, "role": role})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let v = r.json();
    (v["participant_id"].as_str().unwrap().to_owned(), v["path"].as_str().unwrap().to_owned())
}

/// The join page's link token.
pub fn token_of(path: &str) -> &str {
    path.strip_prefix("/join/").unwrap()
}

/// A page request without a session (a guest's browser), in English.
pub async fn page(t: &TestApp, method: Method, path: &str, cookie: Option<&str>) -> Resp {
    let mut b = Request::builder().method(method.clone()).uri(path).header(header::ACCEPT_LANGUAGE, "en");
    if method == Method::POST {
        b = b.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    t.raw(b.body(Body::empty()).unwrap()).await
}

/// Clicks "Join" on a guest link; returns the guest cookie's secret.
pub async fn join_as_guest(t: &TestApp, path: &str) -> String {
    let r = page(t, Method::POST, path, None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(r.location(), Some("/guest/call"));
    let cookie = r
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("yiqiao_guest="))
        .unwrap()
        .to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    let secret = cookie.trim_start_matches("yiqiao_guest=").split(';').next().unwrap().to_owned();
    assert!(!secret.is_empty());
    secret
}

/// A guest API request with the guest cookie (and the guest's CSRF token when given).
pub async fn guest_api(
    t: &TestApp,
    method: Method,
    path: &str,
    secret: &str,
    csrf: Option<&str>,
    body: Option<Value>,
) -> Resp {
    let mut b = Request::builder().method(method).uri(path).header(header::COOKIE, format!("yiqiao_guest={secret}"));
    if let Some(c) = csrf {
        b = b.header("x-csrf-token", c);
    }
    let req = match body {
        Some(v) => b.header(header::CONTENT_TYPE, "application/json").body(Body::from(v.to_string())),
        None => b.body(Body::empty()),
    }
    .unwrap();
    t.raw(req).await
}

pub async fn principal(t: &TestApp, token: &str) -> app::Principal {
    app::account::authenticate(&t.app, token).await.unwrap()
}

/// `PUT /api/v1/recordings/{rid}/chunks/{seq}` with raw media bytes.
pub async fn put_chunk(t: &TestApp, token: &str, rid: &str, seq: i64, bytes: &[u8]) -> Resp {
    let req = Request::builder()
        .method(Method::PUT)
        .uri(format!("/api/v1/recordings/{rid}/chunks/{seq}"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(Body::from(bytes.to_vec()))
        .unwrap();
    t.raw(req).await
}

/// `GET /api/v1/recordings/{rid}`, optionally with a `Range` header.
pub async fn get_recording(t: &TestApp, token: &str, rid: &str, range: Option<&str>) -> Resp {
    let mut b = Request::builder()
        .method(Method::GET)
        .uri(format!("/api/v1/recordings/{rid}"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    if let Some(r) = range {
        b = b.header(header::RANGE, r);
    }
    t.raw(b.body(Body::empty()).unwrap()).await
}

/// The conversation's entries of one kind (`call`, `recording`), as the patient sees them.
pub async fn timeline(w: &World, kind: &str) -> Vec<Value> {
    let r = w.t.get(&format!("/api/v1/consultations/{}/messages", w.consultation), Some(&w.patient)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json()["items"].as_array().unwrap().iter().filter(|m| m["kind"] == kind).cloned().collect()
}

pub async fn audit(t: &TestApp, action: &str) -> Vec<store::entity::audit_event::Model> {
    store::repo::audit::list(
        &t.app.store.db,
        &store::repo::audit::AuditFilter { action: Some(action.into()), limit: 100, ..Default::default() },
    )
    .await
    .unwrap()
}

/// The signal events published since the last drain (other events are skipped).
pub fn signals(rx: &mut Receiver<Event>) -> Vec<Event> {
    let mut out = Vec::new();
    while let Ok(e) = rx.try_recv() {
        if e.payload["type"] == "signal" {
            out.push(e);
        }
    }
    out
}

/// The ids of a `{"items":[…]}` answer.
pub fn item_ids(v: &Value) -> Vec<String> {
    v["items"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap().to_owned()).collect()
}

pub fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

pub fn len(b: &[u8]) -> i64 {
    i64::try_from(b.len()).unwrap()
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

pub fn time(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

/// A live call whose doctor asked for recording and whose patient consented; returns the call id
/// and the running recording's id.
pub async fn recording_call(w: &World) -> (String, String) {
    let id = live_call(w).await;
    assert_eq!(call_post(w, &w.doctor, &id, "recording-request", json!({})).await.status, StatusCode::OK);
    assert_eq!(call_post(w, &w.patient, &id, "consent", json!({"allow": true})).await.status, StatusCode::OK);
    let r = call_post(w, &w.doctor, &id, "recordings", json!({"content_type": "audio/webm;codecs=opus"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    (id, r.json()["id"].as_str().unwrap().to_owned())
}
