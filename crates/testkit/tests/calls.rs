//! Calls inside a consultation (A1, F3) on both engines: only the two participants can see, answer or
//! signal a call; a closed consultation cannot be called; a second call cannot ring over a live one;
//! an unanswered call becomes missed by its durable job; every outcome lands in the timeline.

#![allow(clippy::unwrap_used, reason = "a test: a failed step should stop it with its message")]

use app::call::Party;
use chrono::Duration;
use domain::Role;
use http::StatusCode;
use serde_json::{Value, json};
use testkit::{TestApp, fresh_resident_id};

struct World {
    t: TestApp,
    patient: String,
    patient_id: String,
    other_patient: String,
    doctor: String,
    doctor_id: String,
    consultation: String,
}

async fn world() -> World {
    let t = TestApp::new().await;
    let (inst, dept) = t.institution("Call Hospital").await;
    let (doctor_id, secret) = t.user_with_role("dr-call", Role::Doctor, Some(inst.clone())).await;
    t.approve_doctor(&doctor_id, &inst, &dept).await;
    let doctor = t.token("dr-call", Some(&t.totp(&secret))).await;
    let patient_id = t.register_patient("pat-call", &fresh_resident_id()).await;
    t.register_patient("pat-other", &fresh_resident_id()).await;
    let patient = t.token("pat-call", None).await;
    let other_patient = t.token("pat-other", None).await;
    let r = t
        .post("/api/v1/consultations", json!({"doctor": doctor_id, "complaint": "复诊：血压控制情况"}), Some(&patient))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let consultation = r.json()["id"].as_str().unwrap().to_owned();
    World { t, patient, patient_id, other_patient, doctor, doctor_id, consultation }
}

async fn start(w: &World, token: &str, kind: &str) -> (StatusCode, Value) {
    let r =
        w.t.post(&format!("/api/v1/consultations/{}/calls", w.consultation), json!({"kind": kind}), Some(token)).await;
    (r.status, r.json())
}

async fn act(w: &World, token: &str, id: &str, action: &str) -> (StatusCode, Value) {
    let r = w.t.post(&format!("/api/v1/calls/{id}/{action}"), json!({}), Some(token)).await;
    (r.status, r.json())
}

async fn timeline(w: &World) -> Vec<Value> {
    let v = w.t.get(&format!("/api/v1/consultations/{}/messages", w.consultation), Some(&w.patient)).await.json();
    v["items"].as_array().unwrap().iter().filter(|m| m["kind"] == "call").cloned().collect()
}

async fn principal(w: &World, token: &str) -> app::Principal {
    app::account::authenticate(&w.t.app, token).await.unwrap()
}

#[tokio::test]
async fn only_the_two_participants_ring_answer_and_signal() {
    let w = world().await;
    let t = &w.t;
    let (status, call) = start(&w, &w.patient, "video").await;
    assert_eq!(status, StatusCode::CREATED, "{call}");
    assert_eq!((call["state"].as_str(), call["is_caller"].as_bool()), (Some("ringing"), Some(true)));
    let id = call["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 32, "a 128-bit room id minted by the server");
    assert_eq!(call["callee_id"], w.doctor_id.as_str());
    // A page the doctor opens now still shows the ring; nobody else's list has it.
    let incoming = t.get("/api/v1/calls", Some(&w.doctor)).await.json();
    assert_eq!(incoming["items"][0]["id"], id.as_str());
    assert_eq!(t.get("/api/v1/calls", Some(&w.patient)).await.json()["items"].as_array().unwrap().len(), 0);
    // Outsiders: the call does not exist for them.
    assert_eq!(t.get(&format!("/api/v1/calls/{id}"), Some(&w.other_patient)).await.status, StatusCode::NOT_FOUND);
    assert_eq!(act(&w, &w.other_patient, &id, "accept").await.0, StatusCode::NOT_FOUND);
    let outsider = principal(&w, &w.other_patient).await;
    let offer = json!({"description": {"type": "offer", "sdp": "v=0"}});
    let err = app::call::signal(&t.app, Party::User(&outsider), &app::RequestCtx::default(), &id, None, offer.clone())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "not_found", "a non-participant's offer is refused");
    // The caller cannot answer their own call; the callee can.
    assert_eq!(act(&w, &w.patient, &id, "accept").await.1["error"]["code"], "call_state");
    let (status, v) = act(&w, &w.doctor, &id, "accept").await;
    assert_eq!((status, v["state"].as_str()), (StatusCode::OK, Some("active")), "{v}");
    // A participant's signal reaches the other participant only.
    let mut events = t.app.bus.subscribe();
    let me = principal(&w, &w.patient).await;
    app::call::signal(&t.app, Party::User(&me), &app::RequestCtx::default(), &id, None, offer).await.unwrap();
    let ev = events.recv().await.unwrap();
    assert_eq!(ev.recipients, vec![w.doctor_id.clone()]);
    assert_eq!(
        (ev.payload["type"].as_str(), ev.payload["from"].as_str()),
        (Some("signal"), Some(w.patient_id.as_str()))
    );
    assert_eq!(
        app::call::signal(&t.app, Party::User(&me), &app::RequestCtx::default(), &id, None, json!("not an object"))
            .await
            .unwrap_err()
            .code(),
        "signal_invalid"
    );
    // No second call over a live one.
    assert_eq!(start(&w, &w.doctor, "voice").await.1["error"]["code"], "call_in_progress");
    // Three minutes and five seconds later the doctor hangs up: the timeline keeps the call.
    t.clock.advance(Duration::seconds(185));
    let (status, v) = act(&w, &w.doctor, &id, "hangup").await;
    assert_eq!((status, v["state"].as_str()), (StatusCode::OK, Some("ended")));
    assert_eq!(act(&w, &w.patient, &id, "hangup").await.0, StatusCode::OK, "hanging up twice is harmless");
    let calls = timeline(&w).await;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["call"]["duration_secs"], 185);
    assert_eq!(calls[0]["call"]["kind"], "video");
    assert!(calls[0]["text"].as_str().unwrap().contains("03:05"));
    // After the call, signals are refused.
    let err =
        app::call::signal(&t.app, Party::User(&me), &app::RequestCtx::default(), &id, None, json!({"candidate": null}))
            .await
            .unwrap_err();
    assert_eq!(err.code(), "call_state");
}

#[tokio::test]
async fn an_unanswered_call_is_missed_by_its_job_and_a_declined_one_is_recorded() {
    let w = world().await;
    let t = &w.t;
    let (_, call) = start(&w, &w.doctor, "voice").await;
    let id = call["id"].as_str().unwrap().to_owned();
    t.clock.advance(Duration::seconds(app::call::RING_SECS - 1));
    assert_eq!(app::jobs::run_due(&t.app).await.unwrap(), 0);
    t.clock.advance(Duration::seconds(1));
    assert_eq!(app::jobs::run_due(&t.app).await.unwrap(), 1);
    let v = t.get(&format!("/api/v1/calls/{id}"), Some(&w.patient)).await.json();
    assert_eq!(v["state"], "missed");
    assert_eq!(act(&w, &w.patient, &id, "accept").await.1["error"]["code"], "call_state", "too late to answer");
    // A new call may ring now; the patient declines it.
    let (_, call) = start(&w, &w.doctor, "video").await;
    let id2 = call["id"].as_str().unwrap().to_owned();
    assert_eq!(act(&w, &w.patient, &id2, "decline").await.1["state"], "declined");
    let states: Vec<String> =
        timeline(&w).await.iter().map(|m| m["call"]["state"].as_str().unwrap().to_owned()).collect();
    assert_eq!(states, vec!["missed", "declined"]);
    // The ring-timeout job of the declined call finds nothing to do.
    t.clock.advance(Duration::seconds(app::call::RING_SECS + 1));
    app::jobs::run_due(&t.app).await.unwrap();
    assert_eq!(timeline(&w).await.len(), 2);
}

#[tokio::test]
async fn a_closed_consultation_cannot_be_called() {
    let w = world().await;
    let r =
        w.t.post(
            &format!("/api/v1/consultations/{}/close", w.consultation),
            json!({"summary": "血压控制良好", "diagnoses": ["I10"]}),
            Some(&w.doctor),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let (status, v) = start(&w, &w.patient, "video").await;
    assert_eq!((status, v["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("consultation_closed")));
    assert_eq!(start(&w, &w.other_patient, "video").await.0, StatusCode::NOT_FOUND);
    assert_eq!(start(&w, &w.patient, "hologram").await.1["error"]["code"], "call_kind");
}
