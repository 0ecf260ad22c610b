//! Issue 11 items 6, 7 and 14: security headers on pages, JSON and static files (HSTS only with
//! secure cookies), `Cache-Control: no-store, private` on every authenticated answer (page, JSON,
//! download, chart) while static assets stay cacheable, and request ids made by the server.

use domain::Role;
use http::{HeaderMap, StatusCode, header};
use sea_orm::{EntityTrait, QueryOrder};
use testkit::{TestApp, fresh_resident_id};

use super::get;

fn value<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("<missing>")
}

/// The headers every answer carries, whatever produced it.
fn assert_browser_headers(what: &str, h: &HeaderMap) {
    let csp = value(h, "content-security-policy");
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "img-src 'self' blob: data:",
        "media-src 'self' blob:",
        "connect-src 'self'",
    ] {
        assert!(csp.contains(directive), "{what}: CSP lacks {directive:?}: {csp}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{what}: {csp}");
    assert_eq!(value(h, "x-content-type-options"), "nosniff", "{what}");
    assert_eq!(value(h, "x-frame-options"), "DENY", "{what}");
    assert_eq!(value(h, "referrer-policy"), "no-referrer", "{what}");
}

fn assert_not_stored(what: &str, h: &HeaderMap) {
    let cc = value(h, "cache-control");
    assert!(cc.contains("no-store") && cc.contains("private"), "issue 11 item 7: {what} has Cache-Control {cc:?}");
}

#[tokio::test]
async fn pages_json_and_static_files_carry_the_security_headers() {
    let mut t = TestApp::new().await;
    for path in ["/", "/login", "/healthz", "/api/v1/institutions", "/static/app.css", "/api/v1/me", "/no-such-page"] {
        let r = t.get(path, None).await;
        assert_browser_headers(path, &r.headers);
        assert!(r.headers.get(header::STRICT_TRANSPORT_SECURITY).is_none(), "{path}: no HSTS over plain HTTP");
    }
    let css = t.get("/static/app.css", None).await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(value(&css.headers, "cache-control").contains("max-age"), "static assets stay cacheable");

    // Behind TLS (`[server] secure_cookies = true`) browsers are told to keep to HTTPS.
    t.router = web::router(t.app.clone(), true);
    for path in ["/login", "/api/v1/institutions", "/static/app.css"] {
        let r = t.get(path, None).await;
        assert_browser_headers(path, &r.headers);
        assert_eq!(value(&r.headers, "strict-transport-security"), "max-age=31536000", "{path}");
    }
}

#[tokio::test]
async fn authenticated_pages_json_downloads_and_charts_are_not_stored() {
    let t = TestApp::new().await;
    let (inst, dept) = t.institution("No-store Hospital").await;
    let (doctor, _) = t.user_with_role("dr-no-cache", Role::Doctor, Some(inst.clone())).await;
    t.approve_doctor(&doctor, &inst, &dept).await;
    let patient = t.register_patient("no-cache", &fresh_resident_id()).await;
    let token = t.token("no-cache", None).await;
    // The record download needs a fresh step-up (B3); patients confirm with their password.
    let step_up = serde_json::json!({"password": testkit::PASSWORD});
    assert_eq!(t.post("/api/v1/auth/step-up", step_up, Some(&token)).await.status, StatusCode::OK);
    let consult = serde_json::json!({"doctor": doctor, "complaint": "头痛三天"});
    let r = t.post("/api/v1/consultations", consult, Some(&token)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let answers = [
        ("page", "/home".to_owned()),
        ("JSON", "/api/v1/me".to_owned()),
        ("PDF download", "/api/v1/me/health-record/pdf".to_owned()),
        ("FHIR download", format!("/consultations/{id}/export/fhir")),
        ("chart", format!("/api/v1/patients/{patient}/charts/blood-pressure")),
    ];
    for (what, path) in answers {
        let r = t.get(&path, Some(&token)).await;
        assert_eq!(r.status, StatusCode::OK, "{what} {path}: {}", r.text);
        assert_not_stored(what, &r.headers);
        assert_browser_headers(what, &r.headers);
    }
}

#[tokio::test]
async fn a_client_request_id_never_reaches_the_audit_trail() {
    let t = TestApp::new().await;
    t.register_patient("req-id", &fresh_resident_id()).await;
    // Issue 11 item 14: 6,000 characters of markup offered as the request id.
    let evil = "<script>alert(1)</script>".repeat(240);
    assert_eq!(evil.len(), 6000);
    let body = serde_json::json!({"login": "req-id", "password": testkit::PASSWORD}).to_string();
    let req = http::Request::builder()
        .method(http::Method::POST)
        .uri("/api/v1/auth/login")
        .header("content-type", "application/json")
        .header("x-request-id", &evil)
        .body(axum::body::Body::from(body))
        .unwrap();
    let r = t.raw(req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let answered = value(&r.headers, "x-request-id").to_owned();
    assert!(uuid::Uuid::parse_str(&answered).is_ok(), "the answer names a server-made id, not {answered:.40}");

    let events = store::entity::audit_event::Entity::find()
        .order_by_desc(store::entity::audit_event::Column::Seq)
        .all(&t.app.store.db)
        .await
        .unwrap();
    let login = events.iter().find(|e| e.action.contains("login")).expect("a login audit event");
    assert_eq!(login.request_id.as_deref(), Some(answered.as_str()), "the audit names the same server-made id");
    for e in &events {
        let id = e.request_id.as_deref().unwrap_or_default();
        assert!(id.len() <= 36 && !id.contains('<'), "event {} stores a client-chosen id", e.action);
    }

    // A page request too: the id comes back as a UUID whatever the client sent.
    let page = t.raw(get("/login", &[("x-request-id", "<b>mine</b>")])).await;
    assert!(uuid::Uuid::parse_str(value(&page.headers, "x-request-id")).is_ok());
}
