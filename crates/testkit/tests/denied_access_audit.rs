//! Refused reads and list views leave a trace (S3; issue 11 item 11), on both engines: another
//! patient probing a consultation, an attachment or a patient's readings still gets 404, and an
//! audit event names the target with outcome `denied`, committed although the use case failed; each
//! list view that reveals names or readings (alerts, notifications, plans, tasks, ringing calls, the
//! follow-up list) is one event; the auditor filters refused access on the API and the page.

#![allow(clippy::unwrap_used, reason = "a test: a failed step should stop it with its message")]

use domain::Role;
use http::StatusCode;
use serde_json::{Value, json};
use store::repo::audit::{AuditFilter, list};
use testkit::{TestApp, fresh_resident_id};

struct World {
    t: TestApp,
    doctor_id: String,
    doctor: String,
    patient_id: String,
    patient: String,
    other_id: String,
    other: String,
    consultation: String,
}

/// A verified doctor, a patient with a consultation with them, and a second patient (the prober).
async fn world() -> World {
    let t = TestApp::new().await;
    let (inst, dept) = t.institution("Audit Hospital").await;
    let (doctor_id, secret) = t.user_with_role("dr-audit", Role::Doctor, Some(inst.clone())).await;
    t.approve_doctor(&doctor_id, &inst, &dept).await;
    let doctor = t.token("dr-audit", Some(&t.totp(&secret))).await;
    let patient_id = t.register_patient("pat-audit", &fresh_resident_id()).await;
    let other_id = t.register_patient("pat-probe", &fresh_resident_id()).await;
    let patient = t.token("pat-audit", None).await;
    let other = t.token("pat-probe", None).await;
    let r = t
        .post("/api/v1/consultations", json!({"doctor": doctor_id, "complaint": "胸闷，血压高"}), Some(&patient))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let consultation = r.json()["id"].as_str().unwrap().to_owned();
    World { t, doctor_id, doctor, patient_id, patient, other_id, other, consultation }
}

/// The stored events with `outcome` (any when `None`), newest first.
async fn events(t: &TestApp, outcome: Option<&str>) -> Vec<store::entity::audit_event::Model> {
    let f = AuditFilter { limit: 500, ..Default::default() };
    let all = list(&t.app.store.db, &f).await.unwrap();
    all.into_iter().filter(|e| outcome.is_none_or(|o| e.outcome == o)).collect()
}

async fn upload_pdf(w: &World) -> String {
    let boundary = "audit-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"report.pdf\"\r\nContent-Type: application/pdf\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n");
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let req = http::Request::builder()
        .method("POST")
        .uri(format!("/api/v1/consultations/{}/attachments", w.consultation))
        .header("authorization", format!("Bearer {}", w.patient))
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(axum::body::Body::from(body))
        .unwrap();
    let r = w.t.raw(req).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.json()["attachment"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn probing_another_patients_ids_is_refused_and_audited_as_denied() {
    let w = world().await;
    let t = &w.t;
    let attachment = upload_pdf(&w).await;
    let r = t
        .post(
            &format!("/api/v1/patients/{}/readings", w.patient_id),
            json!({"type": "blood-pressure", "values": {"systolic": 128, "diastolic": 82}}),
            Some(&w.patient),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert!(events(t, Some("denied")).await.is_empty(), "nothing refused yet");

    let probes = [
        format!("/api/v1/consultations/{}", w.consultation),
        format!("/api/v1/consultations/{}/messages", w.consultation),
        format!("/api/v1/attachments/{attachment}"),
        format!("/api/v1/attachments/{attachment}/annotations"),
        format!("/api/v1/patients/{}/observations", w.patient_id),
        format!("/api/v1/patients/{}/charts/blood-pressure", w.patient_id),
        format!("/api/v1/patients/{}/plans", w.patient_id),
        format!("/api/v1/patients/{}/tasks", w.patient_id),
    ];
    for path in &probes {
        let r = t.get(path, Some(&w.other)).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: still 404, nothing revealed");
    }
    // A write to someone else's consultation is a probe too.
    let r = t
        .post(
            &format!("/api/v1/consultations/{}/messages", w.consultation),
            json!({"client_id": "probe-1", "text": "hello?"}),
            Some(&w.other),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let denied = events(t, Some("denied")).await;
    assert!(denied.iter().all(|e| e.actor_user_id.as_deref() == Some(w.other_id.as_str())), "{denied:?}");
    assert_eq!(denied.len(), probes.len() + 1, "one event per refused request: {denied:?}");
    let has = |action: &str, resource: Option<&str>, patient: Option<&str>| {
        denied.iter().any(|e| {
            e.action == action && e.resource.as_deref() == resource && e.subject_patient_id.as_deref() == patient
        })
    };
    assert!(has("consultation.view", Some(&w.consultation), None));
    assert!(has("consultation.messages_view", Some(&w.consultation), None));
    assert!(has("consultation.message", Some(&w.consultation), None));
    assert!(has("attachment.view", Some(&attachment), None));
    assert!(has("attachment.annotation_view", Some(&attachment), None));
    assert!(has("observation.view", None, Some(&w.patient_id)), "the probed patient is named");
    assert!(has("observation.chart", None, Some(&w.patient_id)));
    assert!(has("plan.list", None, Some(&w.patient_id)));
    assert!(has("task.list", None, Some(&w.patient_id)));
    // An id that exists nowhere is a probe like any other.
    let ghost = "0192f0c0-0000-7000-8000-000000000000";
    assert_eq!(t.get(&format!("/api/v1/attachments/{ghost}"), Some(&w.other)).await.status, StatusCode::NOT_FOUND);
    assert!(events(t, Some("denied")).await.iter().any(|e| e.resource.as_deref() == Some(ghost)));
    // The events joined the hash chain: it still verifies.
    assert!(t.audit_report().await.broken.is_none());
    // The owner's own reads are not refusals.
    assert_eq!(t.get(&format!("/api/v1/attachments/{attachment}"), Some(&w.patient)).await.status, StatusCode::OK);
    assert_eq!(events(t, Some("denied")).await.len(), probes.len() + 2);
}

/// One event per list view, naming whose data the list showed when it is one patient's.
#[tokio::test]
async fn list_views_that_reveal_names_or_readings_are_audited_once_each() {
    let w = world().await;
    let t = &w.t;
    let r = t
        .post(&format!("/api/v1/patients/{}/plans", w.patient_id), json!({"template": "hypertension"}), Some(&w.doctor))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    // An urgent reading: an open alert and a notification for the doctor.
    let r = t
        .post(
            &format!("/api/v1/patients/{}/readings", w.patient_id),
            json!({"type": "blood-pressure", "values": {"systolic": 190, "diastolic": 115}}),
            Some(&w.patient),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = t
        .post(&format!("/api/v1/consultations/{}/calls", w.consultation), json!({"kind": "voice"}), Some(&w.doctor))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

    let count = |action: &'static str| async move {
        events(t, None).await.iter().filter(|e| e.action == action && e.outcome == "ok").count()
    };
    let views: [(&str, &str, &str, Option<&str>); 7] = [
        ("/api/v1/alerts", "doctor", "alert.list", None),
        ("/api/v1/notifications", "doctor", "notification.list", None),
        ("/api/v1/calls", "patient", "call.list", None),
        ("/api/v1/patients/{p}/plans", "doctor", "plan.list", Some("p")),
        ("/api/v1/patients/{p}/tasks", "patient", "task.list", Some("p")),
        ("/care/patients", "doctor", "care.patients", None),
        ("/api/v1/visits/due", "doctor", "visit.list_due", None),
    ];
    for (path, who, action, _) in &views {
        let path = path.replace("{p}", &w.patient_id);
        let token = if *who == "doctor" { &w.doctor } else { &w.patient };
        let before = count(action).await;
        let r = t.get(&path, Some(token)).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
        let after = count(action).await;
        if *action == "visit.list_due" {
            // No visit is due today: an empty list reveals nothing and is not recorded.
            assert_eq!(after, before, "{path}");
        } else {
            assert_eq!(after, before + 1, "{path}: one event per view, not per row");
        }
    }
    let all = events(t, None).await;
    let plan_view = all.iter().find(|e| e.action == "plan.list").unwrap();
    assert_eq!(plan_view.subject_patient_id.as_deref(), Some(w.patient_id.as_str()));
    assert_eq!(plan_view.actor_user_id.as_deref(), Some(w.doctor_id.as_str()));
    // The inbox badge asks for the count alone: that reveals no names and is not a list view.
    let before = count("notification.list").await;
    assert_eq!(t.get("/api/v1/notifications?count_only=true", Some(&w.doctor)).await.status, StatusCode::OK);
    assert_eq!(count("notification.list").await, before);
}

/// The auditor lists refused access with `outcome=denied`, on the API and on the page (zh-CN, en).
#[tokio::test]
async fn the_auditor_filters_refused_access() {
    let w = world().await;
    let t = &w.t;
    assert_eq!(
        t.get(&format!("/api/v1/consultations/{}", w.consultation), Some(&w.other)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        t.get(&format!("/api/v1/consultations/{}", w.consultation), Some(&w.patient)).await.status,
        StatusCode::OK
    );
    let (_, secret) = t.user_with_role("auditor-a", Role::Auditor, None).await;
    let auditor = t.token("auditor-a", Some(&t.totp(&secret))).await;

    let r = t.get("/api/v1/audit/events?outcome=denied", Some(&auditor)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let items = r.json()["items"].as_array().cloned().unwrap();
    assert!(!items.is_empty());
    assert!(items.iter().all(|e| e["outcome"] == "denied"), "{items:?}");
    let probe: &Value = items.iter().find(|e| e["action"] == "consultation.view").unwrap();
    assert_eq!(probe["resource"], json!(w.consultation));
    assert_eq!(probe["actor_login"], "pat-probe");
    // Unfiltered, the owner's successful view is there too.
    let all = t.get("/api/v1/audit/events", Some(&auditor)).await.json()["items"].as_array().cloned().unwrap();
    assert!(all.iter().any(|e| e["action"] == "consultation.view" && e["outcome"] == "ok"));

    let page = t.get("/audit?outcome=denied", Some(&auditor)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains(&w.consultation), "the probed id is listed");
    assert!(page.text.contains("仅被拒绝的访问") && page.text.contains("已拒绝"), "zh-CN filter and outcome");
    assert!(page.text.contains(r#"<option value="denied" selected>"#));
    assert!(!page.text.contains(">auth.login<"), "only refused access is listed");
    let r = t.send(http::Method::PUT, "/api/v1/me/locale", Some(json!({"locale": "en"})), Some(&auditor)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let page = t.get("/audit?outcome=denied", Some(&auditor)).await;
    assert!(page.text.contains("Refused access only") && page.text.contains(">denied<"), "English");
}
