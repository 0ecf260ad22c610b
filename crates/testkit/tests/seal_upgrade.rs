//! Issue 11 item 10 on both engines: a database written by the version before migration m0016 holds
//! notification texts, diagnosis codes, red-flag categories, plan titles/templates/lines, device and
//! task labels, alert rules and review reasons in clear. After the upgrade the migration has moved
//! them aside and dropped the clear columns; the start-up conversion seals them (resumable,
//! idempotent), and every reader — inbox, record, search by ICD code, plans, tasks, devices, alerts,
//! verification status — shows the same values as before.

#![allow(clippy::unwrap_used, reason = "a test: a failed step should stop it with its message")]

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use crypto::{Aad, CipherKind, KeyRing};
use domain::reading::{Reading, ReadingKind};
use http::StatusCode;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, Value,
    sea_query::{Alias, Expr, Query},
};
use sea_orm_migration::MigratorTrait;
use serde_json::json;
use store::{Store, entity, migration::Migrator};
use testkit::{TestApp, fresh_database_url};

/// Inserts a row by column name (tables whose shape m0016 changes have no entity for the old shape).
async fn put(db: &DatabaseConnection, table: &str, row: Vec<(&str, Value)>) {
    let mut q = Query::insert();
    q.into_table(Alias::new(table)).columns(row.iter().map(|(c, _)| Alias::new(*c)));
    q.values_panic(row.into_iter().map(|(_, v)| Expr::val(v)));
    db.execute(&q).await.unwrap();
}

fn seal(keys: &KeyRing, table: &str, column: &str, row_id: &str, text: &str) -> Vec<u8> {
    keys.encrypt(text.as_bytes(), &Aad { table, column, row_id }).unwrap()
}

fn s(v: &str) -> Value {
    v.into()
}

async fn user(db: &DatabaseConnection, keys: &KeyRing, id: &str, role: &str, name: &str, now: DateTime<Utc>) {
    store::repo::user::insert(
        db,
        entity::user::Model {
            id: id.into(),
            login: id.into(),
            password_hash: "x".into(),
            display_name_enc: seal(keys, "users", "display_name_enc", id, name),
            phone_enc: None,
            phone_bidx: None,
            locale: "zh-CN".into(),
            totp_secret_enc: None,
            totp_enabled: false,
            totp_last_step: None,
            failed_logins: 0,
            locked_until: None,
            status: "active".into(),
            created_at: now,
        },
    )
    .await
    .unwrap();
    store::repo::user::grant_role(db, id, role, None, now).await.unwrap();
}

/// What the version before m0016 wrote, in clear, for one patient (P), her doctor (D) and a doctor
/// whose verification was rejected (D2).
async fn old_database(db: &DatabaseConnection, keys: &KeyRing, now: DateTime<Utc>) {
    store::repo::meta::put(db, "keyring_fingerprint", &app::keys::fingerprint(keys)).await.unwrap();
    let txn = sea_orm::TransactionTrait::begin(db).await.unwrap();
    let ev = store::repo::audit::NewAuditEvent {
        action: "account.register".into(),
        outcome: "ok".into(),
        ..Default::default()
    };
    store::repo::audit::append(&txn, keys, now, ev).await.unwrap();
    txn.commit().await.unwrap();
    user(db, keys, "P", "patient", "司马青衫", now).await;
    user(db, keys, "D", "doctor", "陈医生", now).await;
    user(db, keys, "D2", "doctor", "林医生", now).await;
    store::repo::institution::insert(
        db,
        entity::institution::Model {
            id: "I".into(),
            name_zh: "升级医院".into(),
            name_en: "Upgrade Hospital".into(),
            kind: "tertiary_hospital".into(),
            tier: 3,
            region_code: "110105".into(),
            created_at: now,
            sla_priority_secs: None,
            sla_normal_secs: None,
        },
    )
    .await
    .unwrap();
    store::repo::institution::insert_department(
        db,
        entity::department::Model {
            id: "DEP".into(),
            institution_id: "I".into(),
            code: "infectious".into(),
            name_zh: "感染科".into(),
            name_en: "Infectious diseases".into(),
            created_at: now,
        },
    )
    .await
    .unwrap();
    for (id, doctor, status, reason) in
        [("V1", "D", "approved", None), ("V2", "D2", "rejected", Some("执业证书照片模糊无法辨认"))]
    {
        put(
            db,
            "doctor_verifications",
            vec![
                ("id", s(id)),
                ("user_id", s(doctor)),
                (
                    "licence_number_enc",
                    seal(keys, "doctor_verifications", "licence_number_enc", id, "110101234567890").into(),
                ),
                ("licence_bidx", s(&format!("bidx-{id}"))),
                ("title", s("attending")),
                ("institution_id", s("I")),
                ("department_id", s("DEP")),
                ("specialties", s("")),
                ("licence_file_id", s("")),
                ("employment_file_id", s("")),
                ("status", s(status)),
                ("review_reason", reason.map(str::to_owned).into()),
                ("submitted_at", now.into()),
            ],
        )
        .await;
    }
    put(
        db,
        "consultations",
        vec![
            ("id", s("C")),
            ("patient_id", s("P")),
            ("doctor_id", s("D")),
            ("department_id", s("DEP")),
            ("institution_id", s("I")),
            ("status", s("closed")),
            ("kind", s("follow_up")),
            ("priority", true.into()),
            ("complaint_enc", seal(keys, "consultations", "complaint_enc", "C", "最近很低落，不想活了").into()),
            ("red_flags", s("mental_health")),
            ("created_at", now.into()),
            ("first_response_due_at", now.into()),
            ("closed_at", now.into()),
            ("summary_enc", seal(keys, "consultations", "summary_enc", "C", "抗病毒治疗中").into()),
            ("last_seq", 1_i64.into()),
            ("updated_at", now.into()),
        ],
    )
    .await;
    for code in ["I10", "B20.1"] {
        put(db, "consultation_diagnoses", vec![("consultation_id", s("C")), ("code", s(code))]).await;
    }
    put(
        db,
        "consultation_corrections",
        vec![
            ("id", s("K")),
            ("consultation_id", s("C")),
            ("version", 2_i32.into()),
            ("author_id", s("D")),
            ("reason_enc", seal(keys, "consultation_corrections", "reason_enc", "K", "补充诊断").into()),
            ("summary_enc", seal(keys, "consultation_corrections", "summary_enc", "K", "抗病毒治疗中").into()),
            ("diagnoses", s("B20.1,F32.2")),
            ("created_at", now.into()),
        ],
    )
    .await;
    let measures = serde_json::to_string(&app::monitoring::plans::builtin("diabetes").unwrap().measures).unwrap();
    put(
        db,
        "followup_plans",
        vec![
            ("id", s("PL")),
            ("patient_id", s("P")),
            ("doctor_id", s("D")),
            ("template", s("diabetes")),
            ("title", s("司马青衫的糖尿病随访")),
            ("measures", s(&measures)),
            ("thresholds", s("{}")),
            ("state", s("active")),
            ("created_at", now.into()),
        ],
    )
    .await;
    put(
        db,
        "devices",
        vec![
            ("id", s("old-bp-1")),
            ("patient_id", s("P")),
            ("kind", s("blood-pressure")),
            ("label", s("司马家客厅的血压计")),
            ("secret_enc", seal(keys, "devices", "secret_enc", "old-bp-1", "0123456789abcdef0123").into()),
            ("paired_by", s("D")),
            ("paired_at", now.into()),
        ],
    )
    .await;
    let values = BTreeMap::from([("systolic".to_owned(), 187.0), ("diastolic".to_owned(), 113.0)]);
    let reading = Reading::normalize(ReadingKind::BloodPressure, &values, "mmHg", None).unwrap();
    // By column name: the table gains `alert_id` later (m0017).
    let values_enc = keys
        .encrypt(
            &serde_json::to_vec(&reading).unwrap(),
            &Aad { table: "observations", column: "values_enc", row_id: "O" },
        )
        .unwrap();
    put(
        db,
        "observations",
        vec![
            ("id", s("O")),
            ("patient_id", s("P")),
            ("kind", s("blood-pressure")),
            ("code", s(ReadingKind::BloodPressure.loinc())),
            ("values_enc", values_enc.into()),
            ("measured_at", now.into()),
            ("received_at", now.into()),
            ("source", s("manual")),
            ("device_id", Value::String(None)),
            ("reading_id", Value::String(None)),
            ("above_target", true.into()),
        ],
    )
    .await;
    put(
        db,
        "alerts",
        vec![
            ("id", s("A")),
            ("patient_id", s("P")),
            ("plan_id", s("PL")),
            ("doctor_id", s("D")),
            ("observation_id", s("O")),
            ("severity", s("urgent")),
            ("rule", s("bp_urgent")),
            ("state", s("open")),
            ("created_at", now.into()),
        ],
    )
    .await;
    put(
        db,
        "care_tasks",
        vec![
            ("id", s("T")),
            ("plan_id", s("PL")),
            ("patient_id", s("P")),
            ("doctor_id", s("D")),
            ("slot", 3_i32.into()),
            ("kind", s("visit")),
            ("measure", s("")),
            ("label", s("季度糖化血红蛋白复查")),
            ("due_at", (now + Duration::hours(2)).into()),
            ("close_at", (now + Duration::days(7)).into()),
            ("state", s("pending")),
            ("created_at", now.into()),
        ],
    )
    .await;
    put(
        db,
        "notifications",
        vec![
            ("id", s("N")),
            ("user_id", s("P")),
            ("kind", s("alert")),
            ("title", s("紧急读数：司马青衫")),
            ("body", s("187/113 mmHg（血压达到紧急阈值）")),
            ("urgent", true.into()),
            ("created_at", now.into()),
        ],
    )
    .await;
}

#[tokio::test]
async fn rows_stored_in_clear_before_the_upgrade_are_sealed_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(dir.path()).await;
    let keys = KeyRing::generate(CipherKind::Aes256Gcm).unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 25, 8, 0, 0).single().unwrap();
    // The schema as the version before m0016 left it, with its rows.
    {
        let store = Store::connect(&url).await.unwrap();
        let before = Migrator::migrations().iter().position(|m| m.name() == "m0016_seal_clinical_text").unwrap();
        Migrator::up(&store.db, Some(u32::try_from(before).unwrap())).await.unwrap();
        old_database(&store.db, &keys, now).await;
    }
    // The new version starts: migrations, key binding, then the conversion, as `yiqiao serve` does.
    let t = TestApp::on_database(url, keys.clone(), dir).await;
    let db = &t.app.store.db;
    // 13 values moved aside: 2 diagnosis codes, 2 notification texts, plan template/title/lines, and
    // one each of red flags, correction codes, device label, task label, alert rule, review reason.
    assert_eq!(store::repo::seal::pending(db).await.unwrap(), 13);
    let m = sea_orm_migration::SchemaManager::new(db);
    for (table, column) in [("notifications", "title"), ("alerts", "rule"), ("consultation_diagnoses", "code")] {
        assert!(!m.has_column(table, column).await.unwrap(), "{table}.{column} is gone");
    }
    assert_eq!(app::seal::convert_backlog(&t.app.store, &keys, 3).await.unwrap(), 13);
    assert_eq!(store::repo::seal::pending(db).await.unwrap(), 0);
    assert_eq!(app::seal::convert_backlog(&t.app.store, &keys, 3).await.unwrap(), 0, "nothing twice");

    // Every reader shows what was stored.
    let patient = t.session_for("P").await;
    let doctor = t.session_for("D").await;
    let inbox = t.get("/api/v1/notifications", Some(&patient)).await.json();
    assert_eq!(inbox["items"][0]["title"], "紧急读数：司马青衫");
    assert_eq!(inbox["items"][0]["body"], "187/113 mmHg（血压达到紧急阈值）");
    let r = t.get("/api/v1/consultations/C", Some(&patient)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let v = r.json();
    assert_eq!(v["red_flags"], json!(["mental_health"]));
    assert_eq!(v["diagnoses"][0]["code"], "B20.1");
    assert_eq!(v["diagnoses"][1]["code"], "I10");
    assert_eq!(v["corrections"][0]["diagnoses"], json!(["B20.1", "F32.2"]));
    for icd in ["B20", "B20.1", "I10"] {
        let r = t.get(&format!("/api/v1/search?icd={icd}"), Some(&patient)).await.json();
        assert_eq!(r["items"][0]["id"], "C", "search by {icd}: {r}");
    }
    let plans = t.get("/api/v1/patients/P/plans", Some(&doctor)).await.json();
    assert_eq!(plans["items"][0]["title"], "司马青衫的糖尿病随访");
    assert_eq!(plans["items"][0]["template"], "diabetes");
    assert_eq!(plans["items"][0]["measures"].as_array().unwrap().len(), 4);
    let tasks = t.get("/api/v1/patients/P/tasks", Some(&doctor)).await.json();
    assert_eq!(tasks["items"][0]["label"], "季度糖化血红蛋白复查", "{tasks}");
    let alerts = t.get("/api/v1/alerts", Some(&doctor)).await.json();
    assert_eq!(alerts["items"][0]["rule"], "bp_urgent");
    let who = app::account::authenticate(&t.app, &doctor).await.unwrap();
    assert_eq!(
        app::monitoring::devices(&t.app, &who, &app::RequestCtx::default(), "P").await.unwrap()[0].label,
        "司马家客厅的血压计"
    );
    let rejected = t.session_for("D2").await;
    let mine = t.get("/api/v1/doctor/verification", Some(&rejected)).await.json();
    assert_eq!(mine["verification"]["review_reason"], "执业证书照片模糊无法辨认", "{mine}");

    // The values sit sealed under their own row and column.
    let row = store::repo::care::notification(db, "N").await.unwrap().unwrap();
    let title = row.title_enc.unwrap();
    assert!(keys.decrypt(&title, &Aad { table: "notifications", column: "title_enc", row_id: "N" }).is_ok());
    assert!(keys.decrypt(&title, &Aad { table: "notifications", column: "body_enc", row_id: "N" }).is_err());
    // The audit chain that the old version began was anchored by the start and verifies.
    assert!(t.audit_report().await.broken.is_none());
}
