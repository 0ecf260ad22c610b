//! S1: after a patient registers, neither the raw SQLite file (and its WAL) nor any PostgreSQL row
//! contains the ID number, phone number or name in plain text; nor, after a consultation with a red
//! flag closed with an ICD-10 code, a follow-up plan, a paired device, an alert and its notification
//! and a rejected doctor verification, any of that clinical text (issue 11 item 10).

#![allow(clippy::unwrap_used, reason = "a test: a failed step should stop it with its message")]

use domain::Role;
use http::StatusCode;
use serde_json::json;
use testkit::{PASSWORD, TestApp, fresh_resident_id};

#[tokio::test]
async fn identity_data_is_never_stored_in_plain_text() {
    let t = TestApp::new().await;
    let id_number = fresh_resident_id();
    let phone = "13912345678";
    let name = "欧阳明珠";
    let r = t
        .post(
            "/api/v1/auth/register/patient",
            serde_json::json!({
                "login": "plain-check", "password": PASSWORD, "name": name, "phone": phone,
                "id_kind": "resident_id", "id_number": id_number,
                "accept_privacy": true, "accept_sensitive": true
            }),
            None,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    // The data is really there (decryptable) …
    let token = t.token("plain-check", None).await;
    let me = t.get("/api/v1/me", Some(&token)).await.json();
    assert_eq!(me["patient"]["real_name"], name);
    assert_eq!(me["phone_masked"], "139****5678");
    let needles = [id_number.as_str(), &id_number[6..14], phone, name];

    // … but nowhere in plain text.
    let haystack = database_bytes(&t).await;
    assert_absent(&haystack, &needles);
}

/// Every byte the database holds: the raw SQLite file and its WAL, or every PostgreSQL row as JSON.
async fn database_bytes(t: &TestApp) -> Vec<u8> {
    if t.is_postgres() {
        use sea_orm::ConnectionTrait;
        let mut all = Vec::new();
        let tables = t
            .app
            .store
            .db
            .query_all_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
            ))
            .await
            .unwrap();
        for row in tables {
            let table: String = row.try_get("", "tablename").unwrap();
            let rows = t
                .app
                .store
                .db
                .query_all_raw(sea_orm::Statement::from_string(
                    sea_orm::DbBackend::Postgres,
                    format!("SELECT row_to_json(x)::text AS j FROM \"{table}\" x"),
                ))
                .await
                .unwrap();
            for r in rows {
                let j: String = r.try_get("", "j").unwrap();
                all.extend_from_slice(j.as_bytes());
            }
        }
        all
    } else {
        let path = t.db_url.trim_start_matches("sqlite://").split('?').next().unwrap().to_owned();
        let mut all = std::fs::read(&path).unwrap();
        if let Ok(wal) = std::fs::read(format!("{path}-wal")) {
            all.extend_from_slice(&wal);
        }
        all
    }
}

fn assert_absent(haystack: &[u8], needles: &[&str]) {
    assert!(haystack.len() > 1000, "read the database");
    for (i, n) in needles.iter().enumerate() {
        assert!(
            !haystack.windows(n.len()).any(|w| w == n.as_bytes()),
            "plain text found in the database: needle #{i}, a value of length {}",
            n.len()
        );
    }
}

#[tokio::test]
async fn clinical_text_is_never_stored_in_plain_text() {
    // Issue 11 item 10: notification texts, diagnosis codes, red-flag categories, plan titles and
    // lines, device labels, alert rules and review reasons are sealed like other clinical text.
    let t = TestApp::new().await;
    let (inst, dept) = t.institution("Seal Hospital").await;
    let (doctor_id, secret) = t.user_with_role("dr-seal", Role::Doctor, Some(inst.clone())).await;
    t.approve_doctor(&doctor_id, &inst, &dept).await;
    let doctor = t.token("dr-seal", Some(&t.totp(&secret))).await;
    let name = "司马青衫";
    let r = t
        .post(
            "/api/v1/auth/register/patient",
            json!({
                "login": "seal-pat", "password": PASSWORD, "name": name, "phone": null,
                "id_kind": "resident_id", "id_number": fresh_resident_id(),
                "accept_privacy": true, "accept_sensitive": true
            }),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let patient_id = r.json()["user_id"].as_str().unwrap().to_owned();
    let patient = t.token("seal-pat", None).await;

    // A consultation with a red flag, closed with an HIV code, then corrected.
    let r = t
        .post(
            "/api/v1/consultations",
            json!({"doctor": doctor_id, "complaint": "最近很低落，不想活了"}),
            Some(&patient),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(r.json()["red_flags"], json!(["mental_health"]));
    let close = json!({"summary": "抗病毒治疗中，转心理门诊", "diagnoses": ["B20.1"]});
    let r = t.post(&format!("/api/v1/consultations/{id}/close"), close, Some(&doctor)).await;
    assert!(r.status.is_success(), "{}", r.text);
    t.post("/api/v1/auth/step-up", json!({"totp": t.totp(&secret)}), Some(&doctor)).await;
    let correction = json!({"reason": "补充诊断", "summary": "抗病毒治疗中", "diagnoses": ["B20.1", "F32.2"]});
    let r = t.post(&format!("/api/v1/consultations/{id}/corrections"), correction, Some(&doctor)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let v = t.get(&format!("/api/v1/consultations/{id}"), Some(&patient)).await.json();
    assert_eq!(v["diagnoses"][0]["code"], "B20.1");
    assert_eq!(v["corrections"][0]["diagnoses"], json!(["B20.1", "F32.2"]));
    // Found again by code and by category, through blind indexes only.
    let hits = |q: &str| {
        let t = &t;
        let patient = &patient;
        let q = q.to_owned();
        async move {
            let r = t.get(&format!("/api/v1/search?icd={q}"), Some(patient)).await.json();
            r["items"].as_array().unwrap().iter().map(|x| x["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
        }
    };
    assert_eq!(hits("B20").await, vec![id.clone()]);
    assert_eq!(hits("b20.1").await, vec![id.clone()]);
    assert!(hits("B21").await.is_empty());
    assert!(hits("B20.2").await.is_empty());

    // A plan with its own title, a named device, and a reading that raises an urgent alert.
    let title = "司马青衫抗病毒随访";
    let r = t
        .post(
            &format!("/api/v1/patients/{patient_id}/plans"),
            json!({"template": "hypertension", "title": title}),
            Some(&doctor),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let label = "司马家客厅的血压计";
    let r = t
        .post(
            &format!("/api/v1/patients/{patient_id}/devices"),
            json!({"device_id": "seal-bp-1", "kind": "blood-pressure", "label": label}),
            Some(&patient),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let who = app::account::authenticate(&t.app, &doctor).await.unwrap();
    assert_eq!(
        app::monitoring::devices(&t.app, &who, &app::RequestCtx::default(), &patient_id).await.unwrap()[0].label,
        label
    );
    let reading = json!({"type": "blood-pressure", "values": {"systolic": 187, "diastolic": 113}});
    let r = t.post(&format!("/api/v1/patients/{patient_id}/readings"), reading, Some(&patient)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json()["alert"]["rule"], "bp_urgent");
    let plans = t.get(&format!("/api/v1/patients/{patient_id}/plans"), Some(&doctor)).await.json();
    assert_eq!(plans["items"][0]["title"], title);
    assert_eq!(plans["items"][0]["template"], "hypertension");
    // The doctor's inbox names the patient and the reading.
    let inbox = t.get("/api/v1/notifications", Some(&doctor)).await.json();
    let alert = inbox["items"].as_array().unwrap().iter().find(|n| n["kind"] == "alert").unwrap().clone();
    let (n_title, n_body) = (alert["title"].as_str().unwrap(), alert["body"].as_str().unwrap());
    assert!(n_title.contains(name) && n_body.contains("187/113"), "{alert}");

    // A doctor verification rejected with a reason.
    let (other_id, _) = t.user_with_role("dr-seal-2", Role::Doctor, None).await;
    let vid = t.pending_verification(&other_id, &inst, &dept).await;
    let (_, admin_secret) = t.user_with_role("ia-seal", Role::InstitutionAdmin, Some(inst.clone())).await;
    let admin = t.token("ia-seal", Some(&t.totp(&admin_secret))).await;
    let reason = "执业证书照片模糊无法辨认";
    let r = t
        .post(
            &format!("/api/v1/admin/verifications/{vid}/decision"),
            json!({"approve": false, "reason": reason}),
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    let needles = [
        "B20.1",
        "F32.2",
        "mental_health",
        title,
        "hypertension",
        "每月血压复查",
        label,
        "bp_urgent",
        n_title,
        n_body,
        reason,
    ];
    assert_absent(&database_bytes(&t).await, &needles);
}
