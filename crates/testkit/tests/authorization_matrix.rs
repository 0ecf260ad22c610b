//! B3 authorization matrix: every route of the router × every role (+ anonymous, + staff without a
//! second factor) has an expected outcome in one table. A route missing from the table, or a table
//! row without a route, fails the test.

use domain::Role;
use http::{Method, StatusCode};
use testkit::TestApp;

#[derive(Clone, Copy, Debug)]
enum Who {
    /// Anyone, including anonymous callers.
    Anyone,
    /// Any signed-in user.
    SignedIn,
    /// Only these roles (staff must have passed a second factor).
    Only(&'static [Role]),
    /// Only a call's guest (the cookie from a one-time link, F3): no user session gets in.
    GuestOnly,
    /// Only a paired device (`Authorization: Device …`, D5): no user session gets in.
    DeviceOnly,
}

use Who::{Anyone, DeviceOnly, GuestOnly, Only, SignedIn};

const ADMINS: &[Role] = &[Role::InstitutionAdmin, Role::PlatformAdmin];
const AUDIT: &[Role] = &[Role::Auditor, Role::PlatformAdmin];

/// The expected policy of every route, written independently of the router.
const TABLE: &[(&str, &str, Who)] = &[
    ("POST", "/api/v1/auth/login", Anyone),
    ("POST", "/api/v1/auth/logout", SignedIn),
    ("POST", "/api/v1/auth/step-up", SignedIn),
    ("POST", "/api/v1/auth/register/patient", Anyone),
    ("POST", "/api/v1/auth/register/doctor", Anyone),
    ("GET", "/api/v1/me", SignedIn),
    ("PUT", "/api/v1/me/locale", SignedIn),
    ("POST", "/api/v1/me/totp/enrol", SignedIn),
    ("POST", "/api/v1/me/totp/confirm", SignedIn),
    ("GET", "/api/v1/me/consents", SignedIn),
    ("POST", "/api/v1/me/invitations/{id}/{action}", SignedIn),
    ("POST", "/api/v1/me/consents/{kind}/withdraw", SignedIn),
    ("POST", "/api/v1/me/patient", SignedIn),
    ("GET", "/api/v1/me/health-record", Only(&[Role::Patient])),
    ("POST", "/api/v1/me/health-record/articles", Only(&[Role::Patient])),
    ("GET", "/api/v1/me/health-record/pdf", Only(&[Role::Patient])),
    ("GET", "/articles/{slug}", Anyone),
    ("GET", "/health-record", Only(&[Role::Patient])),
    ("POST", "/health-record/articles", Only(&[Role::Patient])),
    ("POST", "/consultations/{id}/article", Only(&[Role::Doctor])),
    ("POST", "/consultations/{id}/calculator", Only(&[Role::Doctor])),
    ("POST", "/consultations/{id}/call", SignedIn),
    ("GET", "/calls/{id}", SignedIn),
    ("GET", "/calls/check", SignedIn),
    ("POST", "/api/v1/consultations/{id}/calls", SignedIn),
    ("GET", "/api/v1/calls/{id}", SignedIn),
    ("GET", "/api/v1/calls", SignedIn),
    ("POST", "/api/v1/calls/{id}/{action}", SignedIn),
    ("POST", "/api/v1/calls/{id}/invite", Only(&[Role::Doctor])),
    ("GET", "/api/v1/calls/{id}/invitable", Only(&[Role::Doctor])),
    ("POST", "/api/v1/calls/{id}/guests", Only(&[Role::Doctor])),
    ("POST", "/api/v1/calls/{id}/consent", SignedIn),
    ("POST", "/api/v1/calls/{id}/recording-request", Only(&[Role::Doctor])),
    ("POST", "/api/v1/calls/{id}/recordings", Only(&[Role::Doctor])),
    ("PUT", "/api/v1/recordings/{id}/chunks/{seq}", Only(&[Role::Doctor])),
    ("POST", "/api/v1/recordings/{id}/finish", Only(&[Role::Doctor])),
    ("GET", "/api/v1/recordings/{id}", SignedIn),
    ("GET", "/api/v1/guest/call", GuestOnly),
    ("POST", "/api/v1/guest/call/{action}", GuestOnly),
    ("GET", "/api/v1/guest/ws", Anyone),
    ("GET", "/join/{token}", Anyone),
    ("POST", "/join/{token}", Anyone),
    ("GET", "/guest/call", Anyone),
    ("POST", "/api/v1/device-readings", DeviceOnly),
    ("GET", "/api/v1/alerts", SignedIn),
    ("POST", "/api/v1/alerts/{id}/ack", Only(&[Role::Doctor, Role::Nurse])),
    ("GET", "/api/v1/patients/{id}/observations", SignedIn),
    ("POST", "/api/v1/patients/{id}/plans", Only(&[Role::Doctor])),
    ("GET", "/api/v1/patients/{id}/plans", SignedIn),
    ("POST", "/api/v1/patients/{id}/devices", SignedIn),
    ("GET", "/api/v1/patients/{id}/tasks", SignedIn),
    ("POST", "/api/v1/patients/{id}/readings", SignedIn),
    ("GET", "/api/v1/patients/{id}/charts/{kind}", SignedIn),
    ("GET", "/api/v1/visits/due", Only(&[Role::Doctor])),
    ("POST", "/api/v1/tasks/{id}/start", Only(&[Role::Doctor])),
    ("POST", "/api/v1/plans/{id}/end", Only(&[Role::Doctor])),
    ("GET", "/api/v1/plans/{id}/completion", SignedIn),
    ("GET", "/api/v1/institution/care-completion", Only(&[Role::InstitutionAdmin])),
    ("GET", "/api/v1/plan-templates", Only(&[Role::InstitutionAdmin, Role::Doctor, Role::Nurse])),
    ("PUT", "/api/v1/plan-templates/{key}", Only(&[Role::InstitutionAdmin])),
    ("GET", "/api/v1/notifications", SignedIn),
    ("POST", "/api/v1/notifications/{id}/read", SignedIn),
    ("POST", "/api/v1/notifications/read-all", SignedIn),
    ("POST", "/api/v1/notifications/delivered", SignedIn),
    ("GET", "/api/v1/notification-prefs", SignedIn),
    ("PUT", "/api/v1/notification-prefs", SignedIn),
    ("GET", "/api/v1/notify/reach", Only(ADMINS)),
    ("POST", "/api/v1/notify/sms-receipts", Anyone),
    ("POST", "/api/v1/me/wards", Only(&[Role::Patient])),
    ("GET", "/api/v1/institutions", Anyone),
    ("POST", "/api/v1/institutions", Only(&[Role::PlatformAdmin])),
    ("POST", "/api/v1/institutions/{id}/departments", Only(ADMINS)),
    ("GET", "/api/v1/institutions/{id}/staff", Only(ADMINS)),
    ("POST", "/api/v1/institutions/{id}/staff", Only(ADMINS)),
    ("GET", "/api/v1/doctor/verification", Only(&[Role::Doctor])),
    ("POST", "/api/v1/doctor/verification", Only(&[Role::Doctor])),
    ("GET", "/api/v1/admin/verifications", Only(ADMINS)),
    ("POST", "/api/v1/admin/verifications/{id}/decision", Only(ADMINS)),
    ("GET", "/api/v1/admin/verifications/{id}/documents/{which}", Only(ADMINS)),
    ("GET", "/api/v1/audit/events", Only(AUDIT)),
    ("GET", "/api/v1/openapi.json", Anyone),
    ("GET", "/api/v1/doctors", Anyone),
    ("POST", "/api/v1/consultations", Only(&[Role::Patient])),
    ("GET", "/api/v1/consultations", SignedIn),
    ("GET", "/api/v1/consultations/{id}", SignedIn),
    ("POST", "/api/v1/consultations/{id}/messages", SignedIn),
    ("GET", "/api/v1/consultations/{id}/messages", SignedIn),
    ("POST", "/api/v1/consultations/{id}/read", SignedIn),
    ("POST", "/api/v1/consultations/{id}/claim", Only(&[Role::Doctor])),
    ("POST", "/api/v1/consultations/{id}/close", Only(&[Role::Doctor])),
    ("POST", "/api/v1/consultations/{id}/rating", Only(&[Role::Patient])),
    ("GET", "/api/v1/consultations/{id}/history", Only(&[Role::Doctor])),
    ("POST", "/api/v1/consultations/{id}/handover", Only(&[Role::Doctor])),
    ("POST", "/consultations/{id}/handover", Only(&[Role::Doctor])),
    ("GET", "/api/v1/ws", SignedIn),
    ("GET", "/api/v1/search", SignedIn),
    ("POST", "/api/v1/consultations/{id}/attachments", SignedIn),
    ("GET", "/api/v1/attachments/{id}", SignedIn),
    ("POST", "/consultations/{id}/attachments", SignedIn),
    ("POST", "/api/v1/consultations/{id}/cards", Only(&[Role::Doctor])),
    ("POST", "/consultations/{id}/plan", Only(&[Role::Doctor])),
    ("GET", "/api/v1/consultations/{id}/fhir", SignedIn),
    ("GET", "/api/v1/consultations/{id}/pdf", SignedIn),
    ("GET", "/api/v1/patients/{id}/record/pdf", SignedIn),
    ("GET", "/api/v1/attachments/{id}/annotations", SignedIn),
    ("PUT", "/api/v1/attachments/{id}/annotations", Only(&[Role::Doctor])),
    ("GET", "/attachments/{id}", SignedIn),
    ("POST", "/api/v1/consultations/{id}/corrections", Only(&[Role::Doctor])),
    ("POST", "/consultations/{id}/correct", Only(&[Role::Doctor])),
    ("GET", "/consultations/{id}/export/fhir", SignedIn),
    ("GET", "/consultations/{id}/export/pdf", SignedIn),
    ("GET", "/patients/{id}/export/pdf", SignedIn),
    ("GET", "/search", SignedIn),
    ("GET", "/admin/red-flags", Only(&[Role::PlatformAdmin])),
    ("POST", "/admin/red-flags", Only(&[Role::PlatformAdmin])),
    ("POST", "/admin/red-flags/delete", Only(&[Role::PlatformAdmin])),
    ("GET", "/consultations", SignedIn),
    ("GET", "/consultations/new", Only(&[Role::Patient])),
    ("POST", "/consultations", Only(&[Role::Patient])),
    ("GET", "/consultations/{id}", SignedIn),
    ("POST", "/consultations/{id}/messages", SignedIn),
    ("POST", "/consultations/{id}/claim", Only(&[Role::Doctor])),
    ("POST", "/consultations/{id}/close", Only(&[Role::Doctor])),
    ("POST", "/consultations/{id}/rating", Only(&[Role::Patient])),
    ("GET", "/", Anyone),
    ("GET", "/login", Anyone),
    ("POST", "/login", Anyone),
    ("POST", "/logout", SignedIn),
    ("GET", "/register", Anyone),
    ("POST", "/register", Anyone),
    ("POST", "/register/doctor", Anyone),
    ("GET", "/totp", SignedIn),
    ("POST", "/totp", SignedIn),
    ("GET", "/step-up", SignedIn),
    ("POST", "/step-up", SignedIn),
    ("GET", "/lang/{code}", Anyone),
    ("GET", "/home", SignedIn),
    ("GET", "/profile", SignedIn),
    ("POST", "/profile/patient", SignedIn),
    ("POST", "/profile/wards", Only(&[Role::Patient])),
    ("POST", "/profile/consents/withdraw", SignedIn),
    ("POST", "/profile/invitations/{id}/{action}", SignedIn),
    ("GET", "/doctor/verification", SignedIn),
    ("POST", "/doctor/verification", Only(&[Role::Doctor])),
    ("GET", "/admin/verifications", Only(ADMINS)),
    ("POST", "/admin/verifications/{id}/decision", Only(ADMINS)),
    ("GET", "/admin/verifications/{id}/documents/{which}", Only(ADMINS)),
    ("GET", "/institution", Only(ADMINS)),
    ("POST", "/institution/create", Only(&[Role::PlatformAdmin])),
    ("POST", "/institution/departments", Only(ADMINS)),
    ("POST", "/institution/sla", Only(ADMINS)),
    ("PUT", "/api/v1/institutions/{id}/sla", Only(ADMINS)),
    ("POST", "/institution/staff", Only(ADMINS)),
    ("GET", "/audit", Only(AUDIT)),
    ("GET", "/api/docs", Anyone),
    ("GET", "/care", Only(&[Role::Patient])),
    ("POST", "/care/readings", Only(&[Role::Patient])),
    ("POST", "/care/devices", Only(&[Role::Patient])),
    ("GET", "/care/patients", Only(&[Role::Doctor, Role::Nurse])),
    ("GET", "/patients/{id}/care", Only(&[Role::Doctor, Role::Nurse])),
    ("POST", "/patients/{id}/care/plans", Only(&[Role::Doctor])),
    ("POST", "/plans/{id}/end", Only(&[Role::Doctor])),
    ("POST", "/tasks/{id}/start", Only(&[Role::Doctor])),
    ("GET", "/inbox", SignedIn),
    ("GET", "/inbox/{id}", SignedIn),
    ("POST", "/inbox/read-all", SignedIn),
    ("GET", "/settings/notifications", SignedIn),
    ("POST", "/settings/notifications", SignedIn),
    ("GET", "/institution/care", Only(&[Role::InstitutionAdmin])),
    ("POST", "/institution/care/templates/{key}", Only(&[Role::InstitutionAdmin])),
    ("GET", "/static/{*path}", Anyone),
];

fn concrete(path: &str) -> String {
    path.replace("{id}", "01900000-0000-7000-8000-000000000000")
        .replace("{which}", "licence")
        .replace("{kind}", "privacy_notice")
        .replace("{code}", "en")
        .replace("{*path}", "app.css")
        .replace("{slug}", "stroke-signs")
        .replace("{key}", "hypertension")
}

/// Whether the policy layer let the request through. A step-up demand means it did: the route
/// is allowed for the caller, who must only confirm their identity again (tested on its own).
fn denied(r: &testkit::Resp) -> bool {
    if r.code() == "step_up_required" {
        return false;
    }
    let redirect_to_gate = r.location().is_some_and(|l| l.starts_with("/login") || l == "/totp");
    r.status == StatusCode::UNAUTHORIZED
        || r.status == StatusCode::FORBIDDEN
        || (r.status.is_redirection() && redirect_to_gate)
}

#[tokio::test]
async fn every_route_has_an_expected_outcome_for_every_role() {
    let t = TestApp::new().await;
    let (routes_router, specs) = web::registry::all_routes();
    drop(routes_router);
    let registered: Vec<(String, &str)> = specs.iter().map(|s| (s.method.to_string(), s.path)).collect();
    for (m, p) in &registered {
        assert!(
            TABLE.iter().any(|(tm, tp, _)| tm == m && tp == p),
            "route {m} {p} is missing from the authorization table"
        );
    }
    for (m, p, _) in TABLE {
        assert!(registered.iter().any(|(rm, rp)| rm == m && rp == p), "table row {m} {p} has no route");
    }

    let (inst, dept) = t.institution("Matrix Hospital").await;
    let mut users = Vec::new();
    for role in Role::ALL {
        let (id, _) =
            t.user_with_role(&format!("m-{}", role.as_str().replace('_', "-")), role, Some(inst.clone())).await;
        if role == Role::Doctor {
            // The matrix is about route policy; verification gates are tested on their own.
            t.approve_doctor(&id, &inst, &dept).await;
        }
        users.push((role, id));
    }
    let mut failures = Vec::new();
    for (m, p, who) in TABLE {
        let method: Method = m.parse().unwrap();
        let path = concrete(p);
        let body = (method != Method::GET).then(|| serde_json::json!({}));
        // Anonymous.
        let r = t.send(method.clone(), &path, body.clone(), None).await;
        let expect_allowed = matches!(who, Anyone);
        if denied(&r) == expect_allowed {
            failures.push(format!("anonymous {m} {p}: {} (expected allowed={expect_allowed})", r.status));
        }
        for (role, id) in &users {
            let token = t.session_for(id).await;
            let r = t.send(method.clone(), &path, body.clone(), Some(&token)).await;
            let expect_allowed = match who {
                Anyone | SignedIn => true,
                Only(rs) => rs.contains(role),
                GuestOnly | DeviceOnly => false,
            };
            if denied(&r) == expect_allowed {
                failures.push(format!(
                    "{} {m} {p}: {} {} (expected allowed={expect_allowed})",
                    role.as_str(),
                    r.status,
                    r.text.chars().take(120).collect::<String>()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "authorization matrix mismatches:\n{}", failures.join("\n"));
}

#[tokio::test]
async fn staff_without_second_factor_reach_only_their_own_account() {
    let t = TestApp::new().await;
    let (inst, _) = t.institution("2FA Hospital").await;
    let (id, _) = t.user_with_role("nofactor-admin", Role::InstitutionAdmin, Some(inst)).await;
    // A session that has not passed TOTP: log in without a code while TOTP is not yet enabled.
    let mut u = store::repo::user::get(&t.app.store.db, &id).await.unwrap();
    u.totp_enabled = false;
    store::repo::user::update(&t.app.store.db, u).await.unwrap();
    let token = t.token("nofactor-admin", None).await;
    let r = t.get("/api/v1/admin/verifications", Some(&token)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.code(), "second_factor_required");
    let r = t.get("/api/v1/me", Some(&token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = t.get("/admin/verifications", Some(&token)).await;
    assert_eq!(r.location(), Some("/totp"));
}

/// Issue 11 item 1: the cells of the routes that act on one institution. Each caller's admin role
/// counts only at the institution where it was granted — also for a person who is a doctor at one
/// place and an admin at another.
#[tokio::test]
async fn institution_routes_act_only_where_the_admin_role_was_granted() {
    let t = TestApp::new().await;
    let (a, _) = t.institution("Scope A").await;
    let (b, dept_b) = t.institution("Scope B").await;
    let (admin_a, _) = t.user_with_role("scope-admin-a", Role::InstitutionAdmin, Some(a.clone())).await;
    let (doctor_b, _) = t.user_with_role("scope-doctor-b", Role::Doctor, Some(b.clone())).await;
    t.approve_doctor(&doctor_b, &b, &dept_b).await;
    // B's doctor also administers A (accepted, as the invitation flow would leave it).
    store::repo::user::grant_role(&t.app.store.db, &doctor_b, "institution_admin", Some(a.clone()), t.app.clock.now())
        .await
        .unwrap();
    let (nurse_a, _) = t.user_with_role("scope-nurse-a", Role::Nurse, Some(a.clone())).await;
    let (platform, _) = t.user_with_role("scope-platform", Role::PlatformAdmin, None).await;

    let routes: &[(&str, &str, serde_json::Value)] = &[
        ("GET", "/api/v1/institutions/{inst}/staff", serde_json::Value::Null),
        ("POST", "/api/v1/institutions/{inst}/staff", serde_json::json!({"login": "nobody-here", "role": "nurse"})),
        (
            "POST",
            "/api/v1/institutions/{inst}/departments",
            serde_json::json!({"code": "scope", "name_zh": "科室", "name_en": "Dept"}),
        ),
        ("PUT", "/api/v1/institutions/{inst}/sla", serde_json::json!({"priority_mins": 30, "normal_mins": 600})),
        ("GET", "/institution?id={inst}", serde_json::Value::Null),
    ];
    // (caller, institution, allowed)
    let cells = [
        ("admin of A", &admin_a, &a, true),
        ("admin of A", &admin_a, &b, false),
        ("doctor of B, admin of A", &doctor_b, &a, true),
        ("doctor of B, admin of A", &doctor_b, &b, false),
        ("nurse of A", &nurse_a, &a, false),
        ("platform admin", &platform, &b, true),
    ];
    let mut failures = Vec::new();
    for (who, id, inst, allowed) in cells {
        for (m, p, body) in routes {
            let token = t.stepped_up_session(id).await;
            let path = p.replace("{inst}", inst);
            let body = (!body.is_null()).then(|| body.clone());
            let r = t.send(m.parse().unwrap(), &path, body, Some(&token)).await;
            let refused = matches!(r.status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND | StatusCode::UNAUTHORIZED);
            if refused == allowed {
                failures.push(format!(
                    "{who} {m} {path}: {} {}",
                    r.status,
                    r.text.chars().take(100).collect::<String>()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "institution-scoped cells:\n{}", failures.join("\n"));
}
