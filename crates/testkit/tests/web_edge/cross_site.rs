//! Issue 11 item 17 (login CSRF): sign-in, registration and the guest join refuse a cross-site
//! post (403 `csrf_cross_site`, nothing happens), while same-origin browsers, API clients without
//! `Origin`/`Sec-Fetch-Site`, and bearer requests keep working.

use http::{Method, StatusCode};
use serde_json::json;
use testkit::{PASSWORD, TestApp, fresh_resident_id};

use super::{enc, form};

const CROSS_SITE: &[(&str, &str)] = &[("sec-fetch-site", "cross-site"), ("origin", "https://evil.example")];
/// A browser that sends `Origin` but not `Sec-Fetch-Site` (older Safari).
const OLD_BROWSER: &[(&str, &str)] = &[("host", "localhost"), ("origin", "https://evil.example")];
const SAME_ORIGIN: &[(&str, &str)] =
    &[("host", "localhost"), ("sec-fetch-site", "same-origin"), ("origin", "http://localhost")];

fn json_post(uri: &str, body: &serde_json::Value, headers: &[(&str, &str)]) -> http::Request<axum::body::Body> {
    let mut b = http::Request::builder().method(Method::POST).uri(uri).header("content-type", "application/json");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(axum::body::Body::from(body.to_string())).unwrap()
}

fn patient_json(login: &str) -> serde_json::Value {
    json!({
        "login": login, "password": PASSWORD, "name": "跨站测试", "id_kind": "resident_id",
        "id_number": fresh_resident_id(), "accept_privacy": true, "accept_sensitive": true
    })
}

fn patient_form(login: &str) -> String {
    format!(
        "login={login}&password={PASSWORD}&name={}&id_kind=resident_id&id_number={}&accept_privacy=on&accept_sensitive=on",
        enc("跨站测试"),
        fresh_resident_id()
    )
}

#[tokio::test]
async fn sign_in_from_another_site_is_refused_on_the_page_and_the_api() {
    let t = TestApp::new().await;
    t.register_patient("victim-signin", &fresh_resident_id()).await;
    let page_body = format!("login=victim-signin&password={PASSWORD}&next=%2Fhome");
    for headers in [CROSS_SITE, OLD_BROWSER, &[("sec-fetch-site", "same-site")], &[("origin", "null")]] {
        let r = t.raw(form(Method::POST, "/login", &page_body, headers)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "page sign-in with {headers:?}: {}", r.location().unwrap_or(""));
        assert!(r.headers.get("set-cookie").is_none(), "no session from a cross-site sign-in");
        let api_body = json!({"login": "victim-signin", "password": PASSWORD});
        let r = t.raw(json_post("/api/v1/auth/login", &api_body, headers)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "API sign-in with {headers:?}");
        assert_eq!(r.code(), "csrf_cross_site");
        assert!(r.json()["token"].is_null());
    }
    // The same browser on our own page, and API clients that send neither header, sign in.
    let r = t.raw(form(Method::POST, "/login", &page_body, SAME_ORIGIN)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.headers.get("set-cookie").is_some());
    let r =
        t.raw(form(Method::POST, "/login", &page_body, &[("host", "localhost"), ("origin", "http://localhost")])).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "Origin naming this host is same-origin");
    assert_eq!(t.login("victim-signin", PASSWORD, None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn registration_from_another_site_is_refused_and_creates_nothing() {
    let t = TestApp::new().await;
    let r = t.raw(form(Method::POST, "/register", &patient_form("xs-page"), CROSS_SITE)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let doctor = format!("login=xs-doctor&password={PASSWORD}&name=x&accept_privacy=on&accept_sensitive=on");
    let r = t.raw(form(Method::POST, "/register/doctor", &doctor, OLD_BROWSER)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = t.raw(json_post("/api/v1/auth/register/patient", &patient_json("xs-api"), CROSS_SITE)).await;
    assert_eq!((r.status, r.code().as_str()), (StatusCode::FORBIDDEN, "csrf_cross_site"));
    for login in ["xs-page", "xs-doctor", "xs-api"] {
        assert!(store::repo::user::find_by_login(&t.app.store.db, login).await.unwrap().is_none(), "{login} exists");
    }
    // Same-origin browsers and plain API clients register as before.
    let r = t.raw(form(Method::POST, "/register", &patient_form("same-page"), SAME_ORIGIN)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let r = t.raw(json_post("/api/v1/auth/register/patient", &patient_json("plain-api"), &[])).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

#[tokio::test]
async fn a_guest_join_from_another_site_is_refused_and_bearer_calls_are_unaffected() {
    let t = TestApp::new().await;
    let r = t.raw(form(Method::POST, "/join/some-guest-token", "", CROSS_SITE)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "the guest join POST is checked before the link is looked at");
    let r = t.raw(json_post("/api/v1/guest/call/hangup", &json!({}), CROSS_SITE)).await;
    assert_eq!(r.code(), "csrf_cross_site");

    // Bearer requests carry no ambient credential: the headers do not matter.
    t.register_patient("bearer-xs", &fresh_resident_id()).await;
    let token = t.token("bearer-xs", None).await;
    let auth = format!("Bearer {token}");
    let mut headers = CROSS_SITE.to_vec();
    headers.push(("authorization", &auth));
    let r = t.raw(json_post("/api/v1/auth/logout", &json!({}), &headers)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
}
