//! B3 sessions and second factor: lockout, no user enumeration, idle/absolute timeouts, logout,
//! CSRF on cookie sessions, TOTP replay, and step-up for sensitive operations.

use axum::body::Body;
use chrono::Duration;
use domain::Role;
use http::{Method, Request, StatusCode};
use testkit::{PASSWORD, TestApp, fresh_resident_id};

#[tokio::test]
async fn repeated_failures_lock_a_password_only_account_for_fifteen_minutes_with_the_same_answer_as_unknown_users() {
    let t = TestApp::new().await;
    t.register_patient("lock-me", &fresh_resident_id()).await;
    let unknown = t.login("nobody-here", "Wrong-pass-2026", None).await;
    // In-process requests carry no address, so only the account-wide lockout acts here (per-address
    // throttles: tests/throttles.rs).
    for _ in 0..t.app.config.lockout_threshold {
        let r = t.login("lock-me", "Wrong-pass-2026", None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.text, unknown.text, "a wrong password must look exactly like an unknown account");
    }
    let locked = t.login("lock-me", PASSWORD, None).await;
    assert_eq!(locked.status, StatusCode::UNAUTHORIZED, "locked accounts refuse even the right password");
    assert_eq!(locked.text, unknown.text);
    t.clock.advance(Duration::minutes(16));
    assert_eq!(t.login("lock-me", PASSWORD, None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn sessions_end_after_idle_and_absolute_timeouts_and_on_logout() {
    let t = TestApp::new().await;
    t.register_patient("timeout", &fresh_resident_id()).await;
    let token = t.token("timeout", None).await;
    assert_eq!(t.get("/api/v1/me", Some(&token)).await.status, StatusCode::OK);
    t.clock.advance(Duration::minutes(31));
    assert_eq!(t.get("/api/v1/me", Some(&token)).await.status, StatusCode::UNAUTHORIZED, "idle timeout");

    let token = t.token("timeout", None).await;
    for _ in 0..30 {
        t.clock.advance(Duration::minutes(25));
        let r = t.get("/api/v1/me", Some(&token)).await;
        if r.status == StatusCode::UNAUTHORIZED {
            break;
        }
    }
    assert_eq!(t.get("/api/v1/me", Some(&token)).await.status, StatusCode::UNAUTHORIZED, "absolute timeout");

    let token = t.token("timeout", None).await;
    assert_eq!(t.send(Method::POST, "/api/v1/auth/logout", None, Some(&token)).await.status, StatusCode::NO_CONTENT);
    assert_eq!(t.get("/api/v1/me", Some(&token)).await.status, StatusCode::UNAUTHORIZED, "logout ends the session");
}

#[tokio::test]
async fn cookie_sessions_need_the_csrf_token_for_changes() {
    let t = TestApp::new().await;
    t.register_patient("csrf-user", &fresh_resident_id()).await;
    let token = t.token("csrf-user", None).await;
    let me = t.get("/api/v1/me", Some(&token)).await;
    assert_eq!(me.status, StatusCode::OK);
    let csrf: String = {
        use sea_orm::EntityTrait;
        let s = store::entity::session::Entity::find().all(&t.app.store.db).await.unwrap();
        s.into_iter().next().unwrap().csrf_token
    };
    let form = |extra: &str| {
        Request::builder()
            .method(Method::POST)
            .uri("/profile/consents/withdraw")
            .header("cookie", format!("yiqiao_session={token}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(format!("kind=privacy_notice{extra}")))
            .unwrap()
    };
    let r = t.raw(form("")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "no token");
    let r = t.raw(form("&csrf=not-the-token")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "wrong token");
    let r = t.raw(form(&format!("&csrf={csrf}"))).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "right token: {}", r.text);
    let consents = t.get("/api/v1/me/consents", Some(&token)).await.json();
    assert!(
        consents["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["kind"] == "privacy_notice" && !c["withdrawn_at"].is_null())
    );
}

#[tokio::test]
async fn staff_need_totp_and_a_code_is_accepted_only_once() {
    let t = TestApp::new().await;
    let (_, secret) = t.user_with_role("nurse-one", Role::Nurse, None).await;
    let r = t.login("nurse-one", PASSWORD, None).await;
    assert_eq!(r.code(), "totp_required");
    let code = t.totp(&secret);
    let r = t.login("nurse-one", PASSWORD, Some(&code)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["second_factor"], true);
    let replay = t.login("nurse-one", PASSWORD, Some(&code)).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED, "a replayed code is refused");
    t.clock.advance(Duration::seconds(30));
    let next = t.totp(&secret);
    assert_eq!(t.login("nurse-one", PASSWORD, Some(&next)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn totp_enrolment_via_the_api() {
    let t = TestApp::new().await;
    t.register_patient("enrol-me", &fresh_resident_id()).await;
    let token = t.token("enrol-me", None).await;
    let e = t.send(Method::POST, "/api/v1/me/totp/enrol", None, Some(&token)).await.json();
    assert!(e["otpauth_url"].as_str().unwrap().starts_with("otpauth://totp/"));
    assert!(e["qr"].as_str().unwrap().starts_with("data:image/svg+xml;base64,"));
    let secret = totp_rs::Secret::try_from_base32(e["secret"].as_str().unwrap()).unwrap();
    let wrong = t.post("/api/v1/me/totp/confirm", serde_json::json!({"totp": "000000"}), Some(&token)).await;
    assert_eq!(wrong.code(), "totp_invalid");
    let code = t.totp(secret.as_bytes());
    let ok = t.post("/api/v1/me/totp/confirm", serde_json::json!({"totp": code}), Some(&token)).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(t.login("enrol-me", PASSWORD, None).await.code(), "totp_required");
}

#[tokio::test]
async fn sensitive_operations_need_a_fresh_step_up() {
    let t = TestApp::new().await;
    let (inst, _) = t.institution("Step-up Hospital").await;
    let (_, secret) = t.user_with_role("ia-step", Role::InstitutionAdmin, Some(inst.clone())).await;
    t.register_patient("future-nurse", &fresh_resident_id()).await;
    let token = t.token("ia-step", Some(&t.totp(&secret))).await;
    let grant = serde_json::json!({"login": "future-nurse", "role": "nurse"});
    let path = format!("/api/v1/institutions/{inst}/staff");
    // Login counts as a fresh second factor for five minutes.
    t.clock.advance(Duration::minutes(6));
    let r = t.post(&path, grant.clone(), Some(&token)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.code(), "step_up_required");
    t.clock.advance(Duration::seconds(30));
    let r = t.post("/api/v1/auth/step-up", serde_json::json!({"totp": t.totp(&secret)}), Some(&token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = t.post(&path, grant.clone(), Some(&token)).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "a patient's account is invited (issue 11 item 1): {}", r.text);
    let staff = t.get(&path, Some(&token)).await.json();
    let invited = staff["invitations"].as_array().unwrap();
    assert!(invited.iter().any(|s| s["login"] == "future-nurse" && s["role"] == "nurse"), "{staff}");
    t.clock.advance(Duration::minutes(6));
    assert_eq!(t.post(&path, grant, Some(&token)).await.code(), "step_up_required");
}

#[tokio::test]
async fn patients_step_up_with_their_password() {
    let t = TestApp::new().await;
    t.register_patient("pw-step", &fresh_resident_id()).await;
    let token = t.token("pw-step", None).await;
    let bad = t.post("/api/v1/auth/step-up", serde_json::json!({"password": "Nope-nope-2026"}), Some(&token)).await;
    assert_eq!(bad.code(), "step_up_failed");
    let ok = t.post("/api/v1/auth/step-up", serde_json::json!({"password": PASSWORD}), Some(&token)).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
}

#[tokio::test]
async fn the_grant_form_asks_for_the_step_up_code_in_place() {
    let t = TestApp::new().await;
    let (inst, _) = t.institution("Inline Hospital").await;
    let (ia, secret) = t.user_with_role("ia-inline", Role::InstitutionAdmin, Some(inst.clone())).await;
    t.register_patient("inline-nurse", &fresh_resident_id()).await;
    let token = t.session_for(&ia).await;
    let post = |extra: String| {
        Request::builder()
            .method(Method::POST)
            .uri("/institution/staff")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(format!("institution_id={inst}&login=inline-nurse&role=pharmacist{extra}")))
            .unwrap()
    };
    let r = t.raw(post(String::new())).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.contains("name=\"totp\""), "the code field appears in the form");
    assert!(r.text.contains("value=\"inline-nurse\""), "input is kept");
    let r = t.raw(post(format!("&totp={}", t.totp(&secret)))).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let user = store::repo::user::find_by_login(&t.app.store.db, "inline-nurse").await.unwrap().unwrap();
    let invited =
        store::repo::invitation::list_pending_for_user(&t.app.store.db, &user.id, t.app.clock.now()).await.unwrap();
    assert!(invited.iter().any(|i| i.role == "pharmacist"), "the patient's account is invited, not made staff");
    let page = t.get(&format!("/institution?id={inst}"), Some(&token)).await;
    assert!(page.text.contains("pending-invitation"), "the admin's page lists the invitation");
}
