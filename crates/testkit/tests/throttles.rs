//! Throttles and lockout (issue 11 items 8, 12, 13): guessing is slowed where the guesser is, a
//! wrong password never locks out a member of staff, step-up guesses end the session, bounded
//! registrations, codes, pairings and exports answer `429` with `Retry-After`, and a registration
//! with a taken phone or document gets one generic answer while the owner is told.

#![allow(clippy::unwrap_used, reason = "a test: a failed step should stop it with its message")]

use domain::Role;
use http::{Method, StatusCode};
use serde_json::json;
use testkit::{PASSWORD, Resp, TestApp, fresh_resident_id};

async fn login_from(t: &TestApp, addr: &str, login: &str, password: &str, totp: Option<&str>) -> Resp {
    let body = json!({"login": login, "password": password, "totp": totp});
    t.send_from(addr, Method::POST, "/api/v1/auth/login", Some(body), None).await
}

fn assert_throttled(r: &Resp) {
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert_eq!(r.code(), "rate_limited");
    let after: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=3600).contains(&after), "Retry-After {after}");
}

#[tokio::test]
async fn five_failures_from_one_address_pause_that_address_for_that_account_only() {
    let t = TestApp::new().await;
    t.register_patient("thr-pair", &fresh_resident_id()).await;
    for _ in 0..5 {
        let r = login_from(&t, "203.0.113.1", "thr-pair", "Wrong-pass-2026", None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    assert_throttled(&login_from(&t, "203.0.113.1", "thr-pair", PASSWORD, None).await);
    let elsewhere = login_from(&t, "198.51.100.7", "thr-pair", PASSWORD, None).await;
    assert_eq!(elsewhere.status, StatusCode::OK, "the owner elsewhere still signs in: {}", elsewhere.text);
    t.clock.advance(chrono::Duration::minutes(16));
    assert_eq!(login_from(&t, "203.0.113.1", "thr-pair", PASSWORD, None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn one_address_spraying_many_accounts_is_paused() {
    let t = TestApp::new().await;
    t.register_patient("thr-spray", &fresh_resident_id()).await;
    for i in 0..20 {
        let r = login_from(&t, "203.0.113.2", &format!("someone-{i}"), "Guess-pass-2026", None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    assert_throttled(&login_from(&t, "203.0.113.2", "thr-spray", PASSWORD, None).await);
}

#[tokio::test]
async fn wrong_passwords_never_lock_out_staff_but_pile_up_on_accounts_without_a_second_factor() {
    let t = TestApp::new().await;
    let (inst, _) = t.institution("Lockout Hospital").await;
    let (_, secret) = t.user_with_role("thr-nurse", Role::Nurse, Some(inst)).await;
    t.register_patient("thr-patient", &fresh_resident_id()).await;
    // Many wrong passwords from many addresses, below each address's own limit.
    for i in 0..15 {
        let addr = format!("192.0.2.{i}");
        for login in ["thr-nurse", "thr-patient"] {
            for _ in 0..2 {
                assert_eq!(
                    login_from(&t, &addr, login, "Wrong-pass-2026", None).await.status,
                    StatusCode::UNAUTHORIZED
                );
            }
        }
    }
    let code = t.totp(&secret);
    let r = login_from(&t, "198.51.100.8", "thr-nurse", PASSWORD, Some(&code)).await;
    assert_eq!(r.status, StatusCode::OK, "the nurse still signs in with password and code: {}", r.text);
    let r = login_from(&t, "198.51.100.8", "thr-patient", PASSWORD, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "30 failures from 15 addresses lock a password-only account");
    assert_eq!(r.code(), "invalid_credentials", "with the same answer as any failure");
}

#[tokio::test]
async fn five_wrong_step_up_answers_end_the_session() {
    let t = TestApp::new().await;
    t.register_patient("thr-step", &fresh_resident_id()).await;
    let token = t.token("thr-step", None).await;
    for _ in 0..4 {
        let r = t.post("/api/v1/auth/step-up", json!({"password": "Wrong-pass-2026"}), Some(&token)).await;
        assert_eq!(r.code(), "step_up_failed");
    }
    let r = t.post("/api/v1/auth/step-up", json!({"password": "Wrong-pass-2026"}), Some(&token)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "the fifth wrong answer ends the session: {}", r.text);
    let r = t.post("/api/v1/auth/step-up", json!({"password": PASSWORD}), Some(&token)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "the right answer comes too late");
    assert_eq!(t.get("/api/v1/me", Some(&token)).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn registrations_per_address_are_bounded() {
    let t = TestApp::with_config(|c| c.throttles.registrations_per_address.max = 2).await;
    let register = |login: &str| {
        json!({
            "login": login, "password": PASSWORD, "name": "限流测试", "phone": null,
            "id_kind": "resident_id", "id_number": fresh_resident_id(),
            "accept_privacy": true, "accept_sensitive": true
        })
    };
    let path = "/api/v1/auth/register/patient";
    for login in ["thr-reg-1", "thr-reg-2"] {
        let r = t.send_from("203.0.113.3", Method::POST, path, Some(register(login)), None).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let r = t.send_from("203.0.113.3", Method::POST, path, Some(register("thr-reg-3")), None).await;
    assert_throttled(&r);
    assert!(store::repo::user::find_by_login(&t.app.store.db, "thr-reg-3").await.unwrap().is_none());
    let r = t.send_from("198.51.100.9", Method::POST, path, Some(register("thr-reg-4")), None).await;
    assert_eq!(r.status, StatusCode::CREATED, "another address registers: {}", r.text);
}

#[tokio::test]
async fn codes_pairings_and_exports_are_bounded_per_account() {
    let t = TestApp::with_config(|c| {
        c.throttles.codes_per_account.max = 1;
        c.throttles.pairings_per_account.max = 2;
        c.throttles.exports_per_account.max = 1;
    })
    .await;
    let id = t.register_patient("thr-acct", &fresh_resident_id()).await;
    let token = t.token("thr-acct", None).await;
    assert_eq!(t.post("/api/v1/me/totp/enrol", json!({}), Some(&token)).await.status, StatusCode::OK);
    assert_throttled(&t.post("/api/v1/me/totp/enrol", json!({}), Some(&token)).await);
    let devices = format!("/api/v1/patients/{id}/devices");
    for n in 0..2 {
        let r =
            t.post(&devices, json!({"device_id": format!("thr-bp-{n}"), "kind": "blood-pressure"}), Some(&token)).await;
        assert!(r.status.is_success(), "{}", r.text);
    }
    assert_throttled(&t.post(&devices, json!({"device_id": "thr-bp-9", "kind": "blood-pressure"}), Some(&token)).await);
    let r = t.post("/api/v1/auth/step-up", json!({"password": PASSWORD}), Some(&token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let first = t.get("/api/v1/me/health-record/pdf", Some(&token)).await;
    assert_ne!(first.status, StatusCode::TOO_MANY_REQUESTS, "{}", first.text);
    assert_throttled(&t.get("/api/v1/me/health-record/pdf", Some(&token)).await);
}

#[tokio::test]
async fn a_taken_phone_or_document_gets_one_generic_answer_and_its_owner_hears_of_it() {
    let t = TestApp::new().await;
    let document = fresh_resident_id();
    let body = |login: &str, phone: &str, id: &str| {
        json!({
            "login": login, "password": PASSWORD, "name": "王小明", "phone": phone,
            "id_kind": "resident_id", "id_number": id, "accept_privacy": true, "accept_sensitive": true
        })
    };
    let r = t.post("/api/v1/auth/register/patient", body("thr-owner", "13911112222", &document), None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let phone_taken =
        t.post("/api/v1/auth/register/patient", body("thr-copy-1", "13911112222", &fresh_resident_id()), None).await;
    let id_taken = t.post("/api/v1/auth/register/patient", body("thr-copy-2", "13933334444", &document), None).await;
    for r in [&phone_taken, &id_taken] {
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert_eq!(r.code(), "registration_refused");
    }
    assert_eq!(phone_taken.text, id_taken.text, "the answer does not say which detail is taken");
    for login in ["thr-copy-1", "thr-copy-2"] {
        assert!(store::repo::user::find_by_login(&t.app.store.db, login).await.unwrap().is_none());
    }
    let owner = t.token("thr-owner", None).await;
    let inbox = t.get("/api/v1/notifications", Some(&owner)).await.json();
    let notices: Vec<_> =
        inbox["items"].as_array().unwrap().iter().filter(|n| n["kind"] == "account.registration_attempt").collect();
    assert_eq!(notices.len(), 1, "the owner is told, once an hour at most: {inbox}");
}

#[tokio::test]
async fn the_sign_in_page_says_when_to_try_again() {
    let t = TestApp::new().await;
    t.register_patient("thr-page", &fresh_resident_id()).await;
    let attempt = |password: &str| {
        let mut req = http::Request::builder()
            .method(Method::POST)
            .uri("/login")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept-language", "zh-CN")
            .body(axum::body::Body::from(format!("login=thr-page&password={password}&next=%2Fhome")))
            .unwrap();
        let peer: std::net::SocketAddr = "203.0.113.4:40000".parse().unwrap();
        req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
        req
    };
    for _ in 0..5 {
        assert_eq!(t.raw(attempt("Wrong-pass-2026")).await.status, StatusCode::UNAUTHORIZED);
    }
    let r = t.raw(attempt(PASSWORD)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers.contains_key("retry-after"), "the page answer carries Retry-After too");
    assert!(r.text.contains("尝试次数过多"), "and says so in the viewer's language");
}
