//! Platform basics: health check, database URL schemes, error shapes, the OpenAPI document, and
//! "if the audit write fails, the action fails" (S3).

use domain::Role;
use http::{Method, StatusCode};
use testkit::{PASSWORD, TestApp, fresh_resident_id};

#[tokio::test]
async fn healthz_reports_the_engine_and_503_when_the_database_is_gone() {
    let t = TestApp::new().await;
    let r = t.get("/healthz", None).await;
    assert_eq!(r.status, StatusCode::OK);
    let j = r.json();
    assert_eq!(j["status"], "ok");
    assert_eq!(j["database"], if t.is_postgres() { "postgres" } else { "sqlite" });
    assert!(j["version"].is_string());
    t.app.store.db.clone().close().await.unwrap();
    let r = t.get("/healthz", None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
}

#[tokio::test]
async fn unknown_database_schemes_are_refused() {
    let err = store::Store::connect("mysql://localhost/x").await.unwrap_err();
    assert!(matches!(err, store::StoreError::UnknownScheme));
    assert!(store::Store::connect("sqlite3:///tmp/x.db").await.is_err());
}

#[tokio::test]
async fn malformed_json_gets_the_error_shape_and_openapi_lists_every_api_route() {
    let t = TestApp::new().await;
    let req = http::Request::builder()
        .method(Method::POST)
        .uri("/api/v1/auth/login")
        .header("content-type", "application/json")
        .body(axum::body::Body::from("{not json"))
        .unwrap();
    let r = t.raw(req).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.code(), "invalid_json");
    let doc = t.get("/api/v1/openapi.json", None).await.json();
    assert_eq!(doc["openapi"], "3.0.3");
    let (_, specs) = web::registry::all_routes();
    for s in specs.iter().filter(|s| s.is_api()) {
        let op = &doc["paths"][s.path][s.method.as_str().to_lowercase()];
        assert!(op["x-policy"].is_string(), "{} {} missing from OpenAPI", s.method, s.path);
    }
    let page = t.get("/api/docs", None).await;
    assert!(page.text.contains("/api/v1/auth/login"));
}

#[tokio::test]
async fn an_action_whose_audit_write_fails_changes_nothing() {
    let t = TestApp::new().await;
    // Break the audit chain head so that appending fails.
    t.exec("DELETE FROM audit_head").await;
    let r = t
        .post(
            "/api/v1/auth/register/patient",
            serde_json::json!({"login": "no-audit", "password": PASSWORD, "name": "赵六", "id_kind": "resident_id",
                "id_number": fresh_resident_id(), "accept_privacy": true, "accept_sensitive": true}),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!r.text.contains("audit_head"), "no database text in errors");
    assert!(store::repo::user::find_by_login(&t.app.store.db, "no-audit").await.unwrap().is_none());
}

#[tokio::test]
async fn platform_admins_create_institutions_from_the_page() {
    let t = TestApp::new().await;
    let (id, _) = t.user_with_role("pa-page", Role::PlatformAdmin, None).await;
    let token = t.session_for(&id).await;
    let req = http::Request::builder()
        .method(Method::POST)
        .uri("/institution/create")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(axum::body::Body::from("name_zh=%E6%9D%91%E5%8D%AB%E7%94%9F%E5%AE%A4&name_en=Village+Clinic&kind=village_clinic&region_code=130123"))
        .unwrap();
    let r = t.raw(req).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let list = t.get("/api/v1/institutions", None).await.json();
    let inst = list["items"].as_array().unwrap().iter().find(|i| i["name_en"] == "Village Clinic").cloned().unwrap();
    assert_eq!(inst["tier"], 0);
    let bad = http::Request::builder()
        .method(Method::POST)
        .uri("/institution/create")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(axum::body::Body::from("name_zh=x&name_en=Keep+me&kind=village_clinic&region_code=12"))
        .unwrap();
    let r = t.raw(bad).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.text.contains("alert error") && r.text.contains("Keep me"),
        "the form re-renders with the message and the input"
    );
}
