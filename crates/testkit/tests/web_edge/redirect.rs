//! Issue 11 item 4: every place that takes a return target (`/login`, `/step-up`, `/lang/{code}`)
//! follows only same-origin paths; the usual tricks land on `/home` instead.

use http::{Method, StatusCode};
use testkit::{PASSWORD, TestApp, fresh_resident_id};

use super::{enc, form, get};

/// Targets that reach evil.example in some browser or proxy (the probe confirmed `/%09/…` in
/// Chromium: the tab is dropped and `//evil.example` remains).
const TRICKS: &[&str] = &[
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "/%09/evil.example",
    "/\r\n/evil.example",
    "/%2f%2fevil.example",
    "/%5cevil.example",
    "/.//evil.example",
    "https://evil.example",
    "http:evil.example",
    "javascript:alert(1)",
    " //evil.example",
    "/\u{0}/evil.example",
    "／／evil.example",
];

fn location(r: &testkit::Resp) -> &str {
    r.location().unwrap_or("<none>")
}

/// A target holding control characters never gets this far: input with them is refused whole
/// (issue 11 item 15), which also keeps it from being followed.
fn refused_as_input(r: &testkit::Resp) -> bool {
    r.status == StatusCode::UNPROCESSABLE_ENTITY && r.location().is_none()
}

#[tokio::test]
async fn the_language_switch_returns_only_to_our_own_pages() {
    let t = TestApp::new().await;
    for trick in TRICKS {
        let r = t.raw(get(&format!("/lang/en?next={}", enc(trick)), &[])).await;
        if refused_as_input(&r) {
            continue;
        }
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{trick:?}");
        assert_eq!(location(&r), "/home", "issue 11 item 4: /lang followed {trick:?}");
    }
    let r = t.raw(get("/lang/en?next=%2Fconsultations%3Fstatus%3Dopen", &[])).await;
    assert_eq!(location(&r), "/consultations?status=open", "our own pages still work");
}

#[tokio::test]
async fn sign_in_returns_only_to_our_own_pages() {
    let t = TestApp::new().await;
    t.register_patient("next-login", &fresh_resident_id()).await;
    for trick in TRICKS {
        let page = t.raw(get(&format!("/login?next={}", enc(trick)), &[])).await;
        assert!(
            refused_as_input(&page) || page.text.contains(r#"name="next" value="/home""#),
            "the form must not carry {trick:?}"
        );
        let body = format!("login=next-login&password={PASSWORD}&next={}", enc(trick));
        let r = t.raw(form(Method::POST, "/login", &body, &[])).await;
        if refused_as_input(&r) {
            continue;
        }
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{trick:?}: {}", r.text);
        assert_eq!(location(&r), "/home", "issue 11 item 4: /login followed {trick:?}");
    }
    let body = format!("login=next-login&password={PASSWORD}&next={}", enc("/consultations/abc"));
    let r = t.raw(form(Method::POST, "/login", &body, &[])).await;
    assert_eq!(location(&r), "/consultations/abc", "our own pages still work");
}

#[tokio::test]
async fn step_up_returns_only_to_our_own_pages() {
    let t = TestApp::new().await;
    let id = t.register_patient("next-step", &fresh_resident_id()).await;
    let token = t.session_for(&id).await;
    let auth = format!("Bearer {token}");
    for trick in TRICKS {
        let page = t.raw(get(&format!("/step-up?next={}", enc(trick)), &[("authorization", &auth)])).await;
        assert!(
            refused_as_input(&page) || page.text.contains(r#"name="next" value="/home""#),
            "the form must not carry {trick:?}"
        );
        let body = format!("password={PASSWORD}&next={}", enc(trick));
        let r = t.raw(form(Method::POST, "/step-up", &body, &[("authorization", &auth)])).await;
        if refused_as_input(&r) {
            continue;
        }
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{trick:?}: {}", r.text);
        assert_eq!(location(&r), "/home", "issue 11 item 4: /step-up followed {trick:?}");
    }
    let body = format!("password={PASSWORD}&next={}", enc("/patients/x/export/pdf"));
    let r = t.raw(form(Method::POST, "/step-up", &body, &[("authorization", &auth)])).await;
    assert_eq!(location(&r), "/patients/x/export/pdf", "our own pages still work");
}
