//! B1/B2/P1: real-name registration rules, guardians, doctor verification with review, and keys
//! (S1 rotation and fail-closed start).

use domain::Role;
use http::StatusCode;
use testkit::{PASSWORD, TestApp, fresh_resident_id, resident_id};

fn patient_body(login: &str, id: &str) -> serde_json::Value {
    serde_json::json!({"login": login, "password": PASSWORD, "name": "王五", "id_kind": "resident_id",
        "id_number": id, "accept_privacy": true, "accept_sensitive": true})
}

#[tokio::test]
async fn registration_checks_documents_consent_and_duplicates() {
    let t = TestApp::new().await;
    let id = fresh_resident_id();
    let mut bad = id.clone();
    let last = if bad.ends_with('0') { '1' } else { '0' };
    bad.pop();
    bad.push(last);
    let r = t.post("/api/v1/auth/register/patient", patient_body("bad-id", &bad), None).await;
    assert_eq!((r.status, r.code().as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "id_checksum"));
    assert!(!r.text.contains(&bad), "errors never echo the document number");

    let mut no_consent = patient_body("no-consent", &id);
    no_consent["accept_sensitive"] = false.into();
    assert_eq!(t.post("/api/v1/auth/register/patient", no_consent, None).await.code(), "consent_required");

    t.register_patient("first", &id.to_lowercase()).await;
    let dup = t.post("/api/v1/auth/register/patient", patient_body("second", &id), None).await;
    assert_eq!(dup.code(), "registration_refused", "the same number cannot register twice (blind index)");
    assert!(
        store::repo::user::find_by_login(&t.app.store.db, "no-consent").await.unwrap().is_none(),
        "failed registration changed nothing"
    );

    // A child under 6 is registered by a guardian, not alone.
    let child = resident_id("11010520230601001");
    let r = t.post("/api/v1/auth/register/patient", patient_body("toddler", &child), None).await;
    assert_eq!(r.code(), "guardian_required");
    let token = t.token("first", None).await;
    let r = t
        .post(
            "/api/v1/me/wards",
            serde_json::json!({"name": "王小宝", "id_kind": "resident_id", "id_number": child}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let me = t.get("/api/v1/me", Some(&token)).await.json();
    assert_eq!(me["wards"][0]["name_masked"], "王*宝");
    assert_eq!(me["patient"]["id_number_masked"].as_str().unwrap().len(), id.len());
    assert!(me["patient"]["id_number_masked"].as_str().unwrap().contains("********"));
}

fn multipart(fields: &[(&str, &str)], files: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "yiqiao-test-boundary";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes(),
        );
    }
    for (k, bytes) in files {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"; filename=\"x.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn doctor_verification_is_reviewed_and_gates_clinical_use() {
    let t = TestApp::new().await;
    let (inst, dept) = t.institution("Verify Hospital").await;
    let (other_inst, _) = t.institution("Other Hospital").await;
    let (doc_id, doc_secret) = t.user_with_role("dr-new", Role::Doctor, None).await;
    let (_, ia_secret) = t.user_with_role("ia-verify", Role::InstitutionAdmin, Some(inst.clone())).await;
    let (_, other_secret) = t.user_with_role("ia-other", Role::InstitutionAdmin, Some(other_inst)).await;
    let doc = t.token("dr-new", Some(&t.totp(&doc_secret))).await;
    let png: &[u8] = b"\x89PNG\r\n\x1a\n0000";
    let fields = [
        ("licence_number", "110101234567890"),
        ("title", "attending"),
        ("institution_id", inst.as_str()),
        ("department_id", dept.as_str()),
        ("specialties", "高血压"),
    ];
    let send = |files: Vec<(&'static str, &'static [u8])>| {
        let (ct, body) = multipart(&fields, &files);
        http::Request::builder()
            .method("POST")
            .uri("/api/v1/doctor/verification")
            .header("authorization", format!("Bearer {doc}"))
            .header("content-type", ct)
            .body(axum::body::Body::from(body))
            .unwrap()
    };
    let r = t.raw(send(vec![("licence_photo", b"GIF89a-not-allowed"), ("employment_proof", b"%PDF-1.4")])).await;
    assert_eq!(r.code(), "upload_type", "type is checked by content");
    // A 3 MB scan fits (the documents may be up to 5 MB each; axum's default body limit is 2 MB).
    let mut scan = b"%PDF-1.4 proof\n".to_vec();
    scan.resize(3 * 1024 * 1024, b' ');
    let scan: &'static [u8] = Box::leak(scan.into_boxed_slice());
    let r = t.raw(send(vec![("licence_photo", png), ("employment_proof", scan)])).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let vid = r.json()["id"].as_str().unwrap().to_owned();
    let me = app::account::authenticate(&t.app, &doc).await.unwrap();
    assert!(!me.doctor_verified);
    assert_eq!(me.require_verified_doctor().unwrap_err().code(), "doctor_not_verified");

    let other = t.token("ia-other", Some(&t.totp(&other_secret))).await;
    assert!(
        t.get("/api/v1/admin/verifications", Some(&other)).await.json()["items"].as_array().unwrap().is_empty(),
        "other institutions don't see it"
    );
    let admin = t.token("ia-verify", Some(&t.totp(&ia_secret))).await;
    let queue = t.get("/api/v1/admin/verifications", Some(&admin)).await.json();
    assert_eq!(queue["items"][0]["licence_number"], "110101234567890");
    let doc_png = t.get(&format!("/api/v1/admin/verifications/{vid}/documents/licence"), Some(&admin)).await;
    assert_eq!(doc_png.bytes, png);
    let path = format!("/api/v1/admin/verifications/{vid}/decision");
    assert_eq!(t.post(&path, serde_json::json!({"approve": false}), Some(&admin)).await.code(), "reason_required");
    let r = t.post(&path, serde_json::json!({"approve": true}), Some(&admin)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let me = app::account::authenticate(&t.app, &doc).await.unwrap();
    assert!(me.doctor_verified && me.require_verified_doctor().is_ok());
    let roles = store::repo::user::roles(&t.app.store.db, &doc_id).await.unwrap();
    assert_eq!(roles[0].institution_id.as_deref(), Some(inst.as_str()));
    let rows = store::repo::audit::list(
        &t.app.store.db,
        &store::repo::audit::AuditFilter { limit: 200, ..Default::default() },
    )
    .await
    .unwrap();
    assert!(rows.iter().any(|r| r.action == "verification.approve"));
    assert!(rows.iter().any(|r| r.action == "verification.document_view"));
}

#[tokio::test]
async fn rotation_reencrypts_old_rows_and_start_fails_closed_without_keys() {
    let t = TestApp::new().await;
    t.register_patient("rot-a", &fresh_resident_id()).await;
    t.register_patient("rot-b", &fresh_resident_id()).await;
    let mut keys = (*t.app.keys.current()).clone();
    let new_id = keys.rotate(crypto::CipherKind::Sm4Gcm);
    // The running router shares the key handle, so it sees the rotated ring without a restart.
    t.app.keys.replace(std::sync::Arc::new(keys));
    assert!(store::repo::reencrypt::pending(&t.app.store.db, &t.app.keys.current()).await.unwrap() > 0);
    let first = app::keys::reencrypt_all(&t.app).await.unwrap();
    assert!(first.rewritten >= 6, "{first:?}");
    assert_eq!(store::repo::reencrypt::pending(&t.app.store.db, &t.app.keys.current()).await.unwrap(), 0);
    let again = app::keys::reencrypt_all(&t.app).await.unwrap();
    assert_eq!(again.rewritten, 0, "idempotent");
    let u = store::repo::user::find_by_login(&t.app.store.db, "rot-a").await.unwrap().unwrap();
    assert_eq!(crypto::key_id_of(&u.display_name_enc).unwrap(), new_id);
    let token = t.token("rot-a", None).await;
    assert_eq!(t.get("/api/v1/me", Some(&token)).await.json()["patient"]["real_name"], "测试患者");

    // Fail closed: data present and no key ring → refuse; a foreign ring → refuse.
    assert!(app::keys::ensure_no_orphaned_data(&t.app.store).await.is_err());
    app::keys::check_binding(&t.app.store, &t.app.keys.current()).await.unwrap();
    let stranger = crypto::KeyRing::generate(crypto::CipherKind::Aes256Gcm).unwrap();
    assert!(app::keys::check_binding(&t.app.store, &stranger).await.is_err());
}

#[tokio::test]
async fn rotation_covers_every_sealed_column_in_the_schema() {
    // S1 (found with issue 11 item 10): a sealed column missing from `ENCRYPTED_COLUMNS` stays under
    // the old key after rotation; four did (call guest names, device secrets, readings, e-mails).
    use sea_orm::ConnectionTrait;
    let t = TestApp::new().await;
    let sql = if t.is_postgres() {
        "SELECT table_name AS t, column_name AS c FROM information_schema.columns \
         WHERE table_schema = 'public' AND column_name LIKE '%\\_enc' ESCAPE '\\'"
    } else {
        "SELECT m.name AS t, p.name AS c FROM sqlite_master m JOIN pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND p.name LIKE '%\\_enc' ESCAPE '\\'"
    };
    let db = &t.app.store.db;
    let rows = db.query_all_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
    assert!(rows.len() > 20, "read the schema");
    for row in rows {
        let (table, column): (String, String) = (row.try_get("", "t").unwrap(), row.try_get("", "c").unwrap());
        assert!(
            store::repo::reencrypt::ENCRYPTED_COLUMNS.iter().any(|(tb, _, c)| *tb == table && *c == column),
            "{table}.{column} is sealed but key rotation does not move it"
        );
    }
}

#[tokio::test]
async fn sm4_deployments_work_end_to_end() {
    let t = TestApp::with_cipher(crypto::CipherKind::Sm4Gcm).await;
    t.register_patient("sm-user", &fresh_resident_id()).await;
    let token = t.token("sm-user", None).await;
    assert_eq!(t.get("/api/v1/me", Some(&token)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_running_server_picks_up_a_ring_rotated_on_disk() {
    let t = TestApp::new().await;
    t.register_patient("disk-a", &fresh_resident_id()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring.json");
    t.app.keys.current().save(&path).unwrap();
    t.app.keys.watch(path.clone());
    assert!(!t.app.keys.reload_if_changed().unwrap(), "unchanged file is not reloaded");
    // `yiqiao keys rotate` in another process: new key on disk, rows re-encrypted under it.
    let mut rotated = (*t.app.keys.current()).clone();
    let new_id = rotated.rotate(crypto::CipherKind::Aes256Gcm);
    std::thread::sleep(std::time::Duration::from_millis(20));
    rotated.save(&path).unwrap();
    store::repo::reencrypt::run(&t.app.store, &rotated, 100).await.unwrap();
    // The server still holds the old ring, meets key `new_id`, reloads once and answers.
    let token = t.token("disk-a", None).await;
    let me = t.get("/api/v1/me", Some(&token)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(t.app.keys.current().active_key_id(), new_id);
    // A ring that drops keys is refused.
    let stranger = crypto::KeyRing::generate(crypto::CipherKind::Aes256Gcm).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    stranger.save(&path).unwrap();
    assert!(t.app.keys.reload_if_changed().is_err());
    assert_eq!(t.app.keys.current().active_key_id(), new_id);
}

#[tokio::test]
async fn a_doctor_can_also_be_a_patient() {
    let t = TestApp::new().await;
    let (doc, secret) = t.user_with_role("dr-patient", Role::Doctor, None).await;
    let token = t.token("dr-patient", Some(&t.totp(&secret))).await;
    let id = fresh_resident_id();
    let r = t
        .post("/api/v1/me/patient", serde_json::json!({"id_kind": "resident_id", "id_number": id}), Some(&token))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let roles: Vec<String> =
        store::repo::user::roles(&t.app.store.db, &doc).await.unwrap().into_iter().map(|r| r.role).collect();
    assert!(roles.contains(&"doctor".to_owned()) && roles.contains(&"patient".to_owned()));
    let me = t.get("/api/v1/me", Some(&token)).await.json();
    assert!(me["patient"]["id_number_masked"].is_string());
    let again = t
        .post(
            "/api/v1/me/patient",
            serde_json::json!({"id_kind": "resident_id", "id_number": fresh_resident_id()}),
            Some(&token),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
}
