//! Uploads and the health record, on both engines (issue 11 item 18): an article is saved from a
//! consultation the caller takes part in (or from the library, with no consultation), never linked
//! to someone else's; a file over the attachment limit answers `attachment_too_large` as documented;
//! and cookie-session uploads carry their CSRF token in the `X-CSRF-Token` header, never the URL.

#![allow(clippy::unwrap_used, reason = "a test: a failed step should stop it with its message")]

use domain::Role;
use http::{Method, StatusCode};
use serde_json::json;
use store::repo::audit::{AuditFilter, list};
use testkit::{Resp, TestApp, fresh_resident_id};

struct World {
    t: TestApp,
    patient_id: String,
    patient: String,
    consultation: String,
    other_consultation: String,
}

async fn world() -> World {
    let t = TestApp::new().await;
    let (inst, dept) = t.institution("Upload Hospital").await;
    let (doctor_id, _) = t.user_with_role("dr-up", Role::Doctor, Some(inst.clone())).await;
    t.approve_doctor(&doctor_id, &inst, &dept).await;
    let patient_id = t.register_patient("pat-up", &fresh_resident_id()).await;
    t.register_patient("pat-other", &fresh_resident_id()).await;
    let patient = t.token("pat-up", None).await;
    let other = t.token("pat-other", None).await;
    let start = |token: String| {
        let t = &t;
        let doctor_id = doctor_id.clone();
        async move {
            let r = t
                .post("/api/v1/consultations", json!({"doctor": doctor_id, "complaint": "咳嗽一周"}), Some(&token))
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
            r.json()["id"].as_str().unwrap().to_owned()
        }
    };
    let consultation = start(patient.clone()).await;
    let other_consultation = start(other.clone()).await;
    World { t, patient_id, patient, consultation, other_consultation }
}

fn multipart(file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "up-boundary";
    let mut body =
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"client_id\"\r\n\r\nup-1\r\n").into_bytes();
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"report.pdf\"\r\nContent-Type: application/pdf\r\n\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn pdf(len: usize) -> Vec<u8> {
    let mut b = b"%PDF-1.4\n".to_vec();
    b.resize(len, b' ');
    b.extend_from_slice(b"\n%%EOF\n");
    b
}

/// Uploads `file` into `consultation` with a bearer token, or with a cookie session and the CSRF
/// token where `csrf` says (`"header"`, `"query"`, or nowhere).
async fn upload(t: &TestApp, consultation: &str, file: &[u8], auth: (&str, bool), csrf: Option<&str>) -> Resp {
    let (ct, body) = multipart(file);
    let (token, cookie) = auth;
    let mut uri = format!("/api/v1/consultations/{consultation}/attachments");
    if csrf == Some("query") {
        uri.push_str("?csrf=csrf-test");
    }
    let mut b = http::Request::builder().method(Method::POST).uri(uri).header("content-type", ct);
    b = if cookie {
        b.header("cookie", format!("yiqiao_session={token}"))
    } else {
        b.header("authorization", format!("Bearer {token}"))
    };
    if csrf == Some("header") {
        b = b.header("x-csrf-token", "csrf-test");
    }
    t.raw(b.body(axum::body::Body::from(body)).unwrap()).await
}

#[tokio::test]
async fn an_article_is_saved_only_from_the_callers_own_consultation() {
    let w = world().await;
    let t = &w.t;
    let save = |consultation: Option<&str>| json!({"slug": "low-salt-diet", "consultation_id": consultation});
    // Someone else's consultation: 404 as for any record the caller cannot see, and audited.
    let r = t.post("/api/v1/me/health-record/articles", save(Some(&w.other_consultation)), Some(&w.patient)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = t.post("/api/v1/me/health-record/articles", save(Some("no-such-consultation")), Some(&w.patient)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(
        t.get("/api/v1/me/health-record", Some(&w.patient)).await.json()["articles"].as_array().unwrap().is_empty()
    );
    let f = AuditFilter { action: Some("health_record.save_article".into()), limit: 10, ..Default::default() };
    let denied: Vec<_> =
        list(&t.app.store.db, &f).await.unwrap().into_iter().filter(|e| e.outcome == "denied").collect();
    assert!(denied.iter().any(|e| e.resource.as_deref() == Some(w.other_consultation.as_str())), "{denied:?}");
    // None: saved from the article library, linked to no consultation.
    let r = t.post("/api/v1/me/health-record/articles", save(None), Some(&w.patient)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let record = t.get("/api/v1/me/health-record", Some(&w.patient)).await.json();
    assert_eq!(record["articles"][0]["consultation_id"], json!(null));
    // Their own consultation: linked.
    let r = t
        .post(
            "/api/v1/me/health-record/articles",
            json!({"slug": "stroke-signs", "consultation_id": w.consultation}),
            Some(&w.patient),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let record = t.get("/api/v1/me/health-record", Some(&w.patient)).await.json();
    let linked = record["articles"].as_array().unwrap().iter().find(|a| a["slug"] == "stroke-signs").cloned().unwrap();
    assert_eq!(linked["consultation_id"], json!(w.consultation));
    // The page form refuses the same way.
    let cookie = t.session_for(&w.patient_id).await;
    let req = http::Request::builder()
        .method(Method::POST)
        .uri("/health-record/articles")
        .header("cookie", format!("yiqiao_session={cookie}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(axum::body::Body::from(format!(
            "csrf=csrf-test&slug=low-salt-diet&consultation_id={}",
            w.other_consultation
        )))
        .unwrap();
    assert_eq!(t.raw(req).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_eleven_megabyte_pdf_is_attachment_too_large() {
    let w = world().await;
    let big = pdf(11 * 1024 * 1024);
    let r = upload(&w.t, &w.consultation, &big, (&w.patient, false), None).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.code(), "attachment_too_large");
    // Just under the limit is fine.
    let ok = pdf(10 * 1024 * 1024 - 64);
    let r = upload(&w.t, &w.consultation, &ok, (&w.patient, false), None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

#[tokio::test]
async fn cookie_uploads_take_the_csrf_token_from_the_header_not_the_url() {
    let w = world().await;
    let t = &w.t;
    let cookie = t.session_for(&w.patient_id).await;
    let file = pdf(2_000);
    let r = upload(t, &w.consultation, &file, (&cookie, true), Some("query")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "?csrf= alone is refused: {}", r.text);
    assert_eq!(r.code(), "csrf_failed");
    let r = upload(t, &w.consultation, &file, (&cookie, true), None).await;
    assert_eq!(r.code(), "csrf_failed");
    let r = upload(t, &w.consultation, &file, (&cookie, true), Some("header")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    // The same for a page route (the doctor's verification upload form posts here).
    let req = http::Request::builder()
        .method(Method::POST)
        .uri("/doctor/verification?csrf=csrf-test")
        .header("cookie", format!("yiqiao_session={cookie}"))
        .header("content-type", "multipart/form-data; boundary=x")
        .body(axum::body::Body::from("--x--\r\n"))
        .unwrap();
    assert_eq!(t.raw(req).await.status, StatusCode::FORBIDDEN);
}
