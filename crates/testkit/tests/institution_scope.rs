//! Roles are per institution (issue 11 item 1, B3/P1): every permission acts only at the institution
//! of the role row that grants it; admins grant roles only at their own institution, directly only
//! to people who already work there, and otherwise by an invitation its recipient must accept;
//! platform admins and auditors never receive institution roles.

#![allow(clippy::unwrap_used, reason = "a test: a failed step should stop it with its message")]

use domain::Role;
use http::{Method, StatusCode};
use serde_json::json;
use testkit::{TestApp, fresh_resident_id};

struct World {
    t: TestApp,
    a: String,
    b: String,
    admin_a: String,
    admin_b: String,
    doctor_b: String,
}

/// Hospital A with its admin; township centre B with its admin and a verified doctor.
async fn world() -> World {
    let t = TestApp::new().await;
    let (a, _) = t.institution("Hospital A").await;
    let (b, dept_b) = t.institution("Township B").await;
    let (admin_a, _) = t.user_with_role("admin-a", Role::InstitutionAdmin, Some(a.clone())).await;
    let (admin_b, _) = t.user_with_role("admin-b", Role::InstitutionAdmin, Some(b.clone())).await;
    let (doctor_b, _) = t.user_with_role("doctor-b", Role::Doctor, Some(b.clone())).await;
    t.approve_doctor(&doctor_b, &b, &dept_b).await;
    World { t, a, b, admin_a, admin_b, doctor_b }
}

async fn grant(t: &TestApp, token: &str, inst: &str, login: &str, role: &str) -> testkit::Resp {
    t.post(&format!("/api/v1/institutions/{inst}/staff"), json!({"login": login, "role": role}), Some(token)).await
}

async fn roles_of(t: &TestApp, user_id: &str) -> Vec<(String, Option<String>)> {
    let mut v: Vec<_> = store::repo::user::roles(&t.app.store.db, user_id)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.role, r.institution_id))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn an_admin_role_granted_at_one_hospital_does_not_act_at_the_doctors_own_centre() {
    let w = world().await;
    let t = &w.t;
    let admin_a = t.stepped_up_session(&w.admin_a).await;
    // The probe's steps: A's admin makes B's doctor an admin …
    let r = grant(t, &admin_a, &w.a, "doctor-b", "institution_admin").await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "someone else's staff member is invited, not granted: {}", r.text);
    assert_eq!(r.json()["outcome"], "invited");
    assert_eq!(roles_of(t, &w.doctor_b).await, vec![("doctor".into(), Some(w.b.clone()))], "nothing held yet");
    let doctor = t.stepped_up_session(&w.doctor_b).await;
    let me = t.get("/api/v1/me", Some(&doctor)).await.json();
    let invitation = me["invitations"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(me["invitations"][0]["role"], "institution_admin");
    let r = t.post(&format!("/api/v1/me/invitations/{invitation}/accept"), json!({}), Some(&doctor)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    // … who now administers A, and only A.
    assert_eq!(t.get(&format!("/api/v1/institutions/{}/staff", w.a), Some(&doctor)).await.status, StatusCode::OK);
    let r = t.get(&format!("/api/v1/institutions/{}/staff", w.b), Some(&doctor)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "the admin role from A does not open B's staff list");
    let r = t
        .send(
            Method::PUT,
            &format!("/api/v1/institutions/{}/sla", w.b),
            Some(json!({"priority_mins": 60, "normal_mins": 1440})),
            Some(&doctor),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "nor changes B's response-time limits");
    let b = store::repo::institution::get(&t.app.store.db, &w.b).await.unwrap();
    assert_eq!(b.sla_priority_secs, None);
    let patient2 = t.register_patient("patient-two", &fresh_resident_id()).await;
    let r = grant(t, &doctor, &w.b, "patient-two", "institution_admin").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "nor grants anything at B");
    assert_eq!(roles_of(t, &patient2).await, vec![("patient".into(), None)]);
    assert!(
        store::repo::invitation::list_pending_for_user(&t.app.store.db, &patient2, t.app.clock.now())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn admins_grant_at_once_only_to_their_own_staff_and_never_to_platform_accounts() {
    let w = world().await;
    let t = &w.t;
    let (nurse_a, _) = t.user_with_role("nurse-a", Role::Nurse, Some(w.a.clone())).await;
    let (platform, _) = t.user_with_role("platform", Role::PlatformAdmin, None).await;
    let (_auditor, _) = t.user_with_role("auditor-x", Role::Auditor, None).await;
    let admin_a = t.stepped_up_session(&w.admin_a).await;
    let r = grant(t, &admin_a, &w.a, "nurse-a", "pharmacist").await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "a member of A's staff gets the role at once: {}", r.text);
    assert_eq!(
        roles_of(t, &nurse_a).await,
        vec![("nurse".into(), Some(w.a.clone())), ("pharmacist".into(), Some(w.a.clone()))]
    );
    for login in ["platform", "auditor-x"] {
        let r = grant(t, &admin_a, &w.a, login, "institution_admin").await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{login}");
        assert_eq!(r.code(), "role_target_forbidden");
    }
    assert_eq!(roles_of(t, &platform).await, vec![("platform_admin".into(), None)]);
    let r = grant(t, &admin_a, &w.b, "nurse-a", "nurse").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "A's admin grants nothing at B");
}

#[tokio::test]
async fn a_patient_becomes_staff_only_by_accepting_and_may_decline() {
    let w = world().await;
    let t = &w.t;
    let patient = t.register_patient("pat-staff", &fresh_resident_id()).await;
    let admin_a = t.stepped_up_session(&w.admin_a).await;
    let r = grant(t, &admin_a, &w.a, "pat-staff", "nurse").await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let invitation = r.json()["invitation_id"].as_str().unwrap().to_owned();
    let again = grant(t, &admin_a, &w.a, "pat-staff", "nurse").await;
    assert_eq!(again.json()["invitation_id"], invitation.as_str(), "asking twice keeps one invitation");
    let staff = t.get(&format!("/api/v1/institutions/{}/staff", w.a), Some(&admin_a)).await.json();
    assert_eq!(staff["invitations"][0]["login"], "pat-staff", "the admin sees whom they are waiting on");
    // The invitation reached the patient's inbox.
    let token = t.token("pat-staff", None).await;
    let inbox = t.get("/api/v1/notifications", Some(&token)).await.json();
    assert!(inbox["items"].as_array().unwrap().iter().any(|n| n["kind"] == "staff.invitation"), "{inbox}");
    // Someone else cannot answer it.
    let other = t.session_for(&w.admin_b).await;
    let r = t.post(&format!("/api/v1/me/invitations/{invitation}/accept"), json!({}), Some(&other)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = t.post(&format!("/api/v1/me/invitations/{invitation}/decline"), json!({}), Some(&token)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(roles_of(t, &patient).await, vec![("patient".into(), None)], "declined: still only a patient");
    let r = t.post(&format!("/api/v1/me/invitations/{invitation}/accept"), json!({}), Some(&token)).await;
    assert_eq!(r.code(), "invitation_closed");
    assert_eq!(roles_of(t, &patient).await, vec![("patient".into(), None)]);
}

#[tokio::test]
async fn one_person_holds_roles_at_two_institutions_each_acting_only_there() {
    let w = world().await;
    let t = &w.t;
    let (nurse, _) = t.user_with_role("two-places", Role::Nurse, Some(w.a.clone())).await;
    let admin_b = t.stepped_up_session(&w.admin_b).await;
    let r = grant(t, &admin_b, &w.b, "two-places", "institution_admin").await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let id = r.json()["invitation_id"].as_str().unwrap().to_owned();
    let token = t.session_for(&nurse).await;
    let r = t.post(&format!("/api/v1/me/invitations/{id}/accept"), json!({}), Some(&token)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        roles_of(t, &nurse).await,
        vec![("institution_admin".into(), Some(w.b.clone())), ("nurse".into(), Some(w.a.clone()))],
        "the nurse role at A did not move to B"
    );
    assert_eq!(t.get(&format!("/api/v1/institutions/{}/staff", w.b), Some(&token)).await.status, StatusCode::OK);
    let r = t.get(&format!("/api/v1/institutions/{}/staff", w.a), Some(&token)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "a nurse at A is not A's admin");
}
