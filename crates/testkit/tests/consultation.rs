//! Consultations over the API on both engines (A1, A2, A7, C1, S2): access (another patient → 404,
//! unverified doctor → 403), idempotent sends, catch-up by sequence without gaps or duplicates,
//! team claim, response clocks and escalation to the second, closing and rating.

#![allow(clippy::unwrap_used, reason = "a test: a failed step should stop it with its message")]

use chrono::Duration;
use domain::Role;
use http::StatusCode;
use sea_orm::{ConnectionTrait, EntityTrait};
use serde_json::json;
use testkit::{TestApp, fresh_resident_id};

struct World {
    t: TestApp,
    patient: String,
    other_patient: String,
    doctor: String,
    doctor_id: String,
    department: String,
}

/// A hospital with one verified doctor in cardiology and two patients.
async fn world() -> World {
    let t = TestApp::new().await;
    let (inst, dept) = t.institution("Consult Hospital").await;
    let (doctor_id, secret) = t.user_with_role("dr-c", Role::Doctor, Some(inst.clone())).await;
    t.approve_doctor(&doctor_id, &inst, &dept).await;
    let doctor = t.token("dr-c", Some(&t.totp(&secret))).await;
    t.register_patient("pat-c", &fresh_resident_id()).await;
    t.register_patient("pat-d", &fresh_resident_id()).await;
    let patient = t.token("pat-c", None).await;
    let other_patient = t.token("pat-d", None).await;
    World { t, patient, other_patient, doctor, doctor_id, department: dept }
}

#[tokio::test]
async fn a_consultation_is_seen_only_by_its_participants() {
    let w = world().await;
    let t = &w.t;
    let r = t
        .post(
            "/api/v1/consultations",
            json!({"doctor": w.doctor_id, "complaint": "血压控制不好，头晕两天"}),
            Some(&w.patient),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(r.json()["status"], "waiting");
    assert!(r.json()["first_response_due_at"].is_string());
    assert_eq!(t.get(&format!("/api/v1/consultations/{id}"), Some(&w.patient)).await.status, StatusCode::OK);
    assert_eq!(t.get(&format!("/api/v1/consultations/{id}"), Some(&w.doctor)).await.status, StatusCode::OK);
    let other = t.get(&format!("/api/v1/consultations/{id}"), Some(&w.other_patient)).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND, "another patient must not learn it exists");
    let other = t
        .post(
            &format!("/api/v1/consultations/{id}/messages"),
            json!({"client_id": "x1", "text": "hi"}),
            Some(&w.other_patient),
        )
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    let list = t.get("/api/v1/consultations", Some(&w.other_patient)).await.json();
    assert!(list["items"].as_array().unwrap().is_empty());

    // An unverified doctor gets 403, not data.
    let (_, s2) = t.user_with_role("dr-unverified", Role::Doctor, None).await;
    let unverified = t.token("dr-unverified", Some(&t.totp(&s2))).await;
    let r = t.post(&format!("/api/v1/consultations/{id}/claim"), json!({}), Some(&unverified)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.code(), "doctor_not_verified");
    assert_eq!(t.get(&format!("/api/v1/consultations/{id}"), Some(&unverified)).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn resends_are_idempotent_and_catch_up_has_no_gaps_or_duplicates() {
    let w = world().await;
    let t = &w.t;
    let id = t
        .post("/api/v1/consultations", json!({"doctor": w.doctor_id, "complaint": "复诊：高血压"}), Some(&w.patient))
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/consultations/{id}/messages");
    let first = t.post(&path, json!({"client_id": "c-1", "text": "今天 150/95"}), Some(&w.patient)).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let again = t.post(&path, json!({"client_id": "c-1", "text": "今天 150/95"}), Some(&w.patient)).await;
    assert_eq!(again.status, StatusCode::OK, "a resend answers with the stored message");
    assert_eq!(first.json()["id"], again.json()["id"]);
    for i in 0..5 {
        let who = if i % 2 == 0 { &w.doctor } else { &w.patient };
        let r = t.post(&path, json!({"client_id": format!("m-{i}"), "text": format!("message {i}")}), Some(who)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let all = t.get(&format!("{path}?after=0"), Some(&w.patient)).await.json();
    let seqs: Vec<i64> = all["items"].as_array().unwrap().iter().map(|m| m["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=7).collect::<Vec<_>>(), "complaint + 6 messages, gap-free, once each");
    let missed = t.get(&format!("{path}?after=4"), Some(&w.doctor)).await.json();
    let seqs: Vec<i64> = missed["items"].as_array().unwrap().iter().map(|m| m["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, vec![5, 6, 7], "reconnect replays exactly the missed messages, in order");
    assert_eq!(t.get(&format!("/api/v1/consultations/{id}"), Some(&w.patient)).await.json()["status"], "active");
}

/// A2: the response clocks are durable jobs. After two hours of downtime, two workers starting at
/// once run each overdue clock exactly once (on PostgreSQL they claim with SKIP LOCKED).
#[tokio::test]
async fn clocks_are_durable_jobs_that_fire_once_after_downtime_with_two_workers() {
    let w = world().await;
    let t = &w.t;
    let mut ids = Vec::new();
    for i in 0..4 {
        let r = t
            .post(
                "/api/v1/consultations",
                json!({"department": w.department, "complaint": format!("血糖复查 {i}")}),
                Some(&w.patient),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        ids.push(r.json()["id"].as_str().unwrap().to_owned());
    }
    // The doctor answers one in time: its job runs but escalates nothing.
    let answered = &ids[0];
    let r = t.post(&format!("/api/v1/consultations/{answered}/claim"), json!({}), Some(&w.doctor)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = t
        .post(
            &format!("/api/v1/consultations/{answered}/messages"),
            json!({"client_id": "a1", "text": "您好"}),
            Some(&w.doctor),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    for id in &ids {
        let job = store::repo::job::find_by_key(&t.app.store.db, &format!("first_response:{id}")).await.unwrap();
        assert!(
            job.is_some_and(|j| j.done_at.is_none()),
            "each clock is a pending job, committed with its consultation"
        );
    }
    t.clock.advance(Duration::hours(2));
    let (a, b) = tokio::join!(app::jobs::run_due(&t.app), app::jobs::run_due(&t.app));
    assert_eq!(a.unwrap() + b.unwrap(), 4, "every overdue clock runs, none twice");
    assert_eq!(app::jobs::run_due(&t.app).await.unwrap(), 0);
    // Two hours on, the doctor's session has ended: sign in again to look.
    let doctor = t.token("dr-c", Some(&t.totp(b"secret-for-dr-c"))).await;
    for id in &ids {
        let job =
            store::repo::job::find_by_key(&t.app.store.db, &format!("first_response:{id}")).await.unwrap().unwrap();
        assert_eq!((job.attempts, job.outcome.as_deref()), (1, Some("done")));
        let v = t.get(&format!("/api/v1/consultations/{id}"), Some(&doctor)).await.json();
        assert_eq!(v["escalated"], id != answered, "{id}: {v}");
    }
}

#[tokio::test]
async fn team_consultations_are_claimed_and_clocks_escalate_to_the_second() {
    let w = world().await;
    let t = &w.t;
    let r = t
        .post(
            "/api/v1/consultations",
            json!({"department": w.department, "complaint": "突然胸痛，出汗"}),
            Some(&w.patient),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let v = r.json();
    assert_eq!(v["priority"], true, "red-flag words force priority");
    assert!(v["red_flags"].as_array().unwrap().iter().any(|f| f == "cardiac"));
    let id = v["id"].as_str().unwrap().to_owned();
    // The department's doctor sees it in the queue before anyone claims it.
    let queue = t.get("/api/v1/consultations", Some(&w.doctor)).await.json();
    assert!(queue["items"].as_array().unwrap().iter().any(|c| c["id"] == id.as_str()));
    // Priority: 15 minutes. At 15:00 it is still on time; one second later it is escalated once.
    t.clock.advance(Duration::minutes(15));
    assert_eq!(app::jobs::run_due(&t.app).await.unwrap(), 0, "on time at the deadline itself");
    assert_eq!(t.get(&format!("/api/v1/consultations/{id}"), Some(&w.doctor)).await.json()["escalated"], false);
    t.clock.advance(Duration::seconds(1));
    assert_eq!(app::jobs::run_due(&t.app).await.unwrap(), 1, "the clock's job fires one second late");
    assert_eq!(app::jobs::run_due(&t.app).await.unwrap(), 0, "escalated exactly once");
    let v = t.get(&format!("/api/v1/consultations/{id}"), Some(&w.doctor)).await.json();
    assert_eq!(v["escalated"], true);
    assert_eq!(v["sla"]["state"], "breached");
    // Claim, answer, close, rate.
    assert_eq!(
        t.post(&format!("/api/v1/consultations/{id}/claim"), json!({}), Some(&w.doctor)).await.status,
        StatusCode::NO_CONTENT
    );
    t.post(
        &format!("/api/v1/consultations/{id}/messages"),
        json!({"client_id": "d1", "text": "请立即拨打120"}),
        Some(&w.doctor),
    )
    .await;
    let close = format!("/api/v1/consultations/{id}/close");
    assert_eq!(
        t.post(&close, json!({"summary": "疑似急性冠脉综合征，已建议急诊", "diagnoses": ["bad"]}), Some(&w.doctor))
            .await
            .code(),
        "icd10_format"
    );
    let r = t
        .post(
            &close,
            json!({"summary": "疑似急性冠脉综合征，已建议急诊", "diagnoses": ["i20.0", "R07.4"]}),
            Some(&w.doctor),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let after = t
        .post(
            &format!("/api/v1/consultations/{id}/messages"),
            json!({"client_id": "p9", "text": "谢谢"}),
            Some(&w.patient),
        )
        .await;
    assert_eq!(after.code(), "consultation_closed", "a closed record is immutable");
    let rate = format!("/api/v1/consultations/{id}/rating");
    assert_eq!(t.post(&rate, json!({"stars": 9}), Some(&w.patient)).await.code(), "rating_invalid");
    assert_eq!(
        t.post(&rate, json!({"stars": 5, "comment": "很及时"}), Some(&w.patient)).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(t.post(&rate, json!({"stars": 4}), Some(&w.patient)).await.code(), "already_rated");
    let v = t.get(&format!("/api/v1/consultations/{id}"), Some(&w.patient)).await.json();
    assert_eq!(v["diagnoses"][0]["code"], "I20.0");
    assert_eq!(v["rating"], 5);
}

#[tokio::test]
async fn consultation_text_is_encrypted_at_rest() {
    let w = world().await;
    let secret_words = "左下腹隐痛三周伴便秘";
    let r =
        w.t.post("/api/v1/consultations", json!({"doctor": w.doctor_id, "complaint": secret_words}), Some(&w.patient))
            .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let rows = store::entity::consultation_message::Entity::find().all(&w.t.app.store.db).await.unwrap();
    assert!(!rows.is_empty());
    for row in rows {
        assert!(!row.body_enc.windows(secret_words.len()).any(|x| x == secret_words.as_bytes()));
    }
}

#[tokio::test]
async fn the_doctor_sees_the_patients_history_and_nobody_else_does() {
    let w = world().await;
    let t = &w.t;
    let first = t
        .post(
            "/api/v1/consultations",
            json!({"doctor": w.doctor_id, "complaint": "高血压复诊，头晕"}),
            Some(&w.patient),
        )
        .await
        .json();
    let first = first["id"].as_str().unwrap().to_owned();
    t.post(
        &format!("/api/v1/consultations/{first}/close"),
        json!({"summary": "调整氨氯地平剂量", "diagnoses": ["I10"]}),
        Some(&w.doctor),
    )
    .await;
    let second = t
        .post("/api/v1/consultations", json!({"doctor": w.doctor_id, "complaint": "又开始头晕"}), Some(&w.patient))
        .await
        .json();
    let second = second["id"].as_str().unwrap().to_owned();
    let h = t.get(&format!("/api/v1/consultations/{second}/history"), Some(&w.doctor)).await;
    assert_eq!(h.status, StatusCode::OK, "{}", h.text);
    let items = h.json()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], first.as_str());
    assert_eq!(items[0]["summary"], "调整氨氯地平剂量");
    assert_eq!(items[0]["diagnoses"][0], "I10");
    // A verified doctor of another department has no care relationship: 404.
    let (inst2, dept2) = t.institution("Elsewhere").await;
    let (other, secret) = t.user_with_role("dr-other", Role::Doctor, Some(inst2.clone())).await;
    t.approve_doctor(&other, &inst2, &dept2).await;
    let other = t.token("dr-other", Some(&t.totp(&secret))).await;
    assert_eq!(
        t.get(&format!("/api/v1/consultations/{second}/history"), Some(&other)).await.status,
        StatusCode::NOT_FOUND
    );
    // Patients don't call it.
    assert_eq!(
        t.get(&format!("/api/v1/consultations/{second}/history"), Some(&w.patient)).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn admins_edit_the_red_flag_words_and_screening_follows() {
    let w = world().await;
    let t = &w.t;
    let (admin, _) = t.user_with_role("pa-flags", Role::PlatformAdmin, None).await;
    let admin = t.session_for(&admin).await;
    let who = app::account::authenticate(&t.app, &admin).await.unwrap();
    let ctx = app::RequestCtx::default();
    let (terms, builtin) = app::consultation::red_flag::list_terms(&t.app, &who).await.unwrap();
    assert!(builtin && terms.iter().any(|x| x.term == "胸痛"));
    app::consultation::red_flag::add_term(&t.app, &who, &ctx, "抽搐", "neuro").await.unwrap();
    app::consultation::red_flag::delete_term(&t.app, &who, &ctx, "胸痛").await.unwrap();
    let (terms, builtin) = app::consultation::red_flag::list_terms(&t.app, &who).await.unwrap();
    assert!(!builtin && terms.iter().any(|x| x.term == "抽搐") && !terms.iter().any(|x| x.term == "胸痛"));
    let r = t
        .post("/api/v1/consultations", json!({"doctor": w.doctor_id, "complaint": "孩子发烧后抽搐"}), Some(&w.patient))
        .await
        .json();
    assert_eq!(r["priority"], true);
    assert_eq!(r["red_flags"][0], "neuro");
    let bad = app::consultation::red_flag::add_term(&t.app, &who, &ctx, "x", "nonsense").await.unwrap_err();
    assert_eq!(bad.code(), "category_invalid");
    let patient = app::account::authenticate(&t.app, &w.patient).await.unwrap();
    assert_eq!(app::consultation::red_flag::list_terms(&t.app, &patient).await.unwrap_err().code(), "forbidden");
}

#[tokio::test]
async fn a_doctor_hands_a_consultation_over_with_a_note() {
    let w = world().await;
    let t = &w.t;
    let (inst2, dept2) = t.institution("Second Hospital").await;
    let (colleague, secret) = t.user_with_role("dr-colleague", Role::Doctor, Some(inst2.clone())).await;
    t.approve_doctor(&colleague, &inst2, &dept2).await;
    let colleague_token = t.token("dr-colleague", Some(&t.totp(&secret))).await;
    let id = t
        .post("/api/v1/consultations", json!({"doctor": w.doctor_id, "complaint": "血糖偏高"}), Some(&w.patient))
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/consultations/{id}/handover");
    assert_eq!(
        t.post(&path, json!({"to": colleague, "note": "请内分泌科看"}), Some(&w.patient)).await.status,
        StatusCode::FORBIDDEN
    );
    let r = t.post(&path, json!({"to": colleague, "note": "请内分泌科看"}), Some(&w.doctor)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(t.get(&format!("/api/v1/consultations/{id}"), Some(&colleague_token)).await.status, StatusCode::OK);
    assert_eq!(
        t.get(&format!("/api/v1/consultations/{id}"), Some(&w.doctor)).await.status,
        StatusCode::NOT_FOUND,
        "the old doctor hands off access"
    );
    let msgs = t.get(&format!("/api/v1/consultations/{id}/messages"), Some(&w.patient)).await.json();
    let last = msgs["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["kind"], "handover");
    assert!(last["text"].as_str().unwrap().contains("请内分泌科看"));
}

#[tokio::test]
async fn records_are_found_by_keyword_date_and_diagnosis_without_plaintext_in_the_index() {
    let w = world().await;
    let t = &w.t;
    let a = t
        .post(
            "/api/v1/consultations",
            json!({"doctor": w.doctor_id, "complaint": "血压控制不好，早上头晕"}),
            Some(&w.patient),
        )
        .await
        .json();
    let a = a["id"].as_str().unwrap().to_owned();
    t.post(
        &format!("/api/v1/consultations/{a}/messages"),
        json!({"client_id": "s1", "text": "Amlodipine 5mg daily"}),
        Some(&w.doctor),
    )
    .await;
    t.post(
        &format!("/api/v1/consultations/{a}/close"),
        json!({"summary": "继续服药，每周测量", "diagnoses": ["I10"]}),
        Some(&w.doctor),
    )
    .await;
    let ids = |r: &testkit::Resp| -> Vec<String> {
        r.json()["items"].as_array().unwrap().iter().map(|x| x["id"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(
        ids(&t.get("/api/v1/search?q=AMLODIPINE", Some(&w.doctor)).await),
        vec![a.clone()],
        "doctor side, case-insensitive"
    );
    t.clock.advance(Duration::days(40));
    // Sessions have expired meanwhile: sign in again.
    let patient = t.token("pat-c", None).await;
    let other_patient = t.token("pat-d", None).await;
    let b = t
        .post("/api/v1/consultations", json!({"doctor": w.doctor_id, "complaint": "血糖偏高，口渴"}), Some(&patient))
        .await
        .json();
    let b = b["id"].as_str().unwrap().to_owned();
    let r = t.get("/api/v1/search?q=%E8%A1%80%E5%8E%8B", Some(&patient)).await; // 血压
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(ids(&r), vec![a.clone()]);
    assert_eq!(
        ids(&t.get("/api/v1/search?q=%E8%A1%80", Some(&patient)).await).len(),
        0,
        "a single character inside words is no token"
    );
    assert_eq!(ids(&t.get("/api/v1/search?icd=I10", Some(&patient)).await), vec![a.clone()]);
    let today = (t.app.clock.now() + Duration::hours(8)).format("%Y-%m-%d").to_string();
    assert_eq!(ids(&t.get(&format!("/api/v1/search?from={today}"), Some(&patient)).await), vec![b.clone()]);
    assert_eq!(t.get("/api/v1/search?from=2026-13-01", Some(&patient)).await.code(), "date_format");
    // Another patient finds nothing of it.
    assert!(ids(&t.get("/api/v1/search?q=%E8%A1%80%E5%8E%8B", Some(&other_patient)).await).is_empty());
    // The index holds keyed hashes only.
    let rows = t
        .app
        .store
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            t.app.store.db.get_database_backend(),
            "SELECT token FROM search_tokens",
        ))
        .await
        .unwrap();
    assert!(rows.len() > 10);
    for row in rows {
        let token: String = row.try_get("", "token").unwrap();
        assert!(token.len() == 64 && token.chars().all(|c| c.is_ascii_hexdigit()), "token is a hash");
    }
}

/// A small JPEG with an EXIF segment that contains a GPS marker.
fn jpeg_with_gps() -> Vec<u8> {
    use img_parts::ImageEXIF;
    let img = image::RgbImage::from_fn(400, 300, |x, y| image::Rgb([(x % 255) as u8, (y % 255) as u8, 128]));
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img).write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    let mut jpeg = img_parts::jpeg::Jpeg::from_bytes(bytes::Bytes::from(out.into_inner())).unwrap();
    jpeg.set_exif(Some(bytes::Bytes::from_static(b"Exif\0\0MM\0*GPSLatitude=39.9042;GPSLongitude=116.4074")));
    jpeg.encoder().bytes().to_vec()
}

fn multipart_file(name: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "att-boundary";
    let mut body =
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"client_id\"\r\n\r\nup-1\r\n").into_bytes();
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn photos_are_stripped_of_location_thumbnailed_encrypted_and_private() {
    let w = world().await;
    let t = &w.t;
    let id = t
        .post(
            "/api/v1/consultations",
            json!({"doctor": w.doctor_id, "complaint": "皮疹三天，附照片"}),
            Some(&w.patient),
        )
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let photo = jpeg_with_gps();
    assert!(photo.windows(11).any(|x| x == b"GPSLatitude"));
    let upload = |token: &str, name: &str, bytes: &[u8]| {
        let (ct, body) = multipart_file(name, bytes);
        http::Request::builder()
            .method("POST")
            .uri(format!("/api/v1/consultations/{id}/attachments"))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", ct)
            .body(axum::body::Body::from(body))
            .unwrap()
    };
    let r = t.raw(upload(&w.patient, "rash.jpg", b"GIF89a-not-allowed")).await;
    assert_eq!(r.code(), "upload_type", "type is checked by content, not name");
    let r = t.raw(upload(&w.other_patient, "rash.jpg", &photo)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "outsiders cannot attach");
    let r = t.raw(upload(&w.patient, "rash.jpg", &photo)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let m = r.json();
    assert_eq!(m["kind"], "image");
    let att = m["attachment"]["id"].as_str().unwrap().to_owned();
    // The doctor gets the photo without its location, and a thumbnail.
    let full = t.get(&format!("/api/v1/attachments/{att}"), Some(&w.doctor)).await;
    assert_eq!(full.status, StatusCode::OK);
    assert_eq!(full.headers["content-type"], "image/jpeg");
    assert!(!full.bytes.windows(11).any(|x| x == b"GPSLatitude"), "EXIF location removed");
    assert!(image::load_from_memory(&full.bytes).is_ok(), "still a valid image");
    let thumb = t.get(&format!("/api/v1/attachments/{att}?thumb=1"), Some(&w.doctor)).await;
    let thumb = image::load_from_memory(&thumb.bytes).unwrap();
    assert!(thumb.width() <= 320 && thumb.height() <= 320);
    // Nobody else can fetch it.
    assert_eq!(
        t.get(&format!("/api/v1/attachments/{att}"), Some(&w.other_patient)).await.status,
        StatusCode::NOT_FOUND
    );
    // At rest, the blob is ciphertext.
    let row = {
        use sea_orm::EntityTrait;
        store::entity::attachment::Entity::find_by_id(att.clone()).one(&t.app.store.db).await.unwrap().unwrap()
    };
    let raw_files: Vec<_> = walk(&t.blob_dir()).into_iter().filter(|p| p.to_string_lossy().contains(&row.id)).collect();
    assert!(!raw_files.is_empty());
    for p in raw_files {
        let bytes = std::fs::read(p).unwrap();
        assert!(!bytes.starts_with(&[0xFF, 0xD8, 0xFF]), "no plain JPEG on disk");
    }
    // The message lists as an image for both sides.
    let msgs = t.get(&format!("/api/v1/consultations/{id}/messages"), Some(&w.doctor)).await.json();
    assert!(msgs["items"].as_array().unwrap().iter().any(|m| m["attachment"]["name"] == "rash.jpg"));
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test]
async fn the_doctor_sends_a_medication_plan_as_a_table() {
    let w = world().await;
    let t = &w.t;
    let id = t
        .post(
            "/api/v1/consultations",
            json!({"doctor": w.doctor_id, "complaint": "高血压复诊，想调药"}),
            Some(&w.patient),
        )
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/consultations/{id}/cards");
    let plan = json!({"client_id": "plan-1", "type": "medication_plan", "rows": [
        {"drug": "氨氯地平片", "dose": "5 mg", "times": ["morning"], "days": 30},
        {"drug": "阿司匹林肠溶片", "dose": "100 mg", "times": ["evening"], "days": 30, "note": "饭后"}
    ]});
    assert_eq!(
        t.post(&path, plan.clone(), Some(&w.patient)).await.status,
        StatusCode::FORBIDDEN,
        "patients don't prescribe"
    );
    let bad = json!({"client_id": "plan-0", "type": "medication_plan", "rows": [{"drug": "x", "dose": "1", "times": [], "days": 3}]});
    assert_eq!(t.post(&path, bad, Some(&w.doctor)).await.code(), "plan_row_invalid");
    let r = t.post(&path, plan, Some(&w.doctor)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let msgs = t.get(&format!("/api/v1/consultations/{id}/messages"), Some(&w.patient)).await.json();
    let last = msgs["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["kind"], "medication_plan");
    assert_eq!(last["plan"]["rows"][1]["note"], "饭后");
    assert_eq!(last["plan"]["rows"][0]["times"][0], "morning");
    // The plan is searchable by drug name.
    let hits = t.get("/api/v1/search?q=%E6%B0%A8%E6%B0%AF%E5%9C%B0%E5%B9%B3", Some(&w.patient)).await.json(); // 氨氯地平
    assert_eq!(hits["items"].as_array().unwrap().len(), 1);
}

/// A6: calculator cards are computed by the server from the inputs; impossible inputs change nothing.
#[tokio::test]
async fn the_doctor_sends_a_calculator_result_computed_by_the_server() {
    let w = world().await;
    let t = &w.t;
    let id = t
        .post(
            "/api/v1/consultations",
            json!({"doctor": w.doctor_id, "complaint": "想了解体重是否超标"}),
            Some(&w.patient),
        )
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/consultations/{id}/cards");
    let bmi = json!({"client_id": "calc-1", "type": "calculator", "input": {"calculator": "bmi", "height_cm": 170, "weight_kg": 72}});
    assert_eq!(t.post(&path, bmi.clone(), Some(&w.patient)).await.status, StatusCode::FORBIDDEN);
    let bad = json!({"client_id": "calc-0", "type": "calculator", "input": {"calculator": "bmi", "height_cm": 1.7, "weight_kg": 72}});
    let r = t.post(&path, bad, Some(&w.doctor)).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "calc_input_invalid".to_owned()),
        "metres are not centimetres"
    );
    let missing = json!({"client_id": "calc-0", "type": "calculator"});
    assert_eq!(t.post(&path, missing, Some(&w.doctor)).await.code(), "calc_input_invalid");
    let r = t.post(&path, bmi.clone(), Some(&w.doctor)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(t.post(&path, bmi, Some(&w.doctor)).await.status, StatusCode::OK, "same client id: same message");
    let msgs = t.get(&format!("/api/v1/consultations/{id}/messages"), Some(&w.patient)).await.json();
    let items = msgs["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "complaint + one card: the refused inputs left nothing behind");
    let card = &items[1]["calculator"];
    assert_eq!(items[1]["kind"], "calculator");
    assert_eq!((card["value"].as_str(), card["band"].as_str()), (Some("24.9"), Some("overweight")));
    assert_eq!(card["band_zh"], "超重");
    assert_eq!(card["basis"], "WS/T 428-2013");
}

#[tokio::test]
async fn a_closed_consultation_exports_as_a_valid_fhir_bundle_after_step_up() {
    let w = world().await;
    let t = &w.t;
    let id = t
        .post("/api/v1/consultations", json!({"doctor": w.doctor_id, "complaint": "头痛三天"}), Some(&w.patient))
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    t.post(
        &format!("/api/v1/consultations/{id}/messages"),
        json!({"client_id": "d1", "text": "有没有发热？"}),
        Some(&w.doctor),
    )
    .await;
    t.post(
        &format!("/api/v1/consultations/{id}/close"),
        json!({"summary": "紧张性头痛可能性大", "diagnoses": ["G44.2", "R51"]}),
        Some(&w.doctor),
    )
    .await;
    let path = format!("/api/v1/consultations/{id}/fhir");
    // Patients confirm with their password; the session is older than five minutes.
    t.clock.advance(Duration::minutes(6));
    let patient = t.token("pat-c", None).await;
    t.clock.advance(Duration::minutes(6));
    assert_eq!(t.get(&path, Some(&patient)).await.code(), "step_up_required");
    assert_eq!(
        t.get(&path, Some(&w.other_patient)).await.status,
        StatusCode::FORBIDDEN,
        "no step-up, no export (and no existence leak after it)"
    );
    let r = t.post("/api/v1/auth/step-up", json!({"password": testkit::PASSWORD}), Some(&patient)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = t.get(&path, Some(&patient)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.headers["content-type"].to_str().unwrap().starts_with("application/fhir+json"));
    let b = r.json();
    assert_eq!(b["resourceType"], "Bundle");
    let kinds: Vec<&str> =
        b["entry"].as_array().unwrap().iter().map(|e| e["resource"]["resourceType"].as_str().unwrap()).collect();
    for k in ["Patient", "Practitioner", "Encounter", "Communication", "Condition", "DocumentReference"] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    assert!(b["entry"].as_array().unwrap().iter().any(|e| e["resource"]["code"]["coding"][0]["code"] == "G44.2"));
    let audit = store::repo::audit::list(
        &t.app.store.db,
        &store::repo::audit::AuditFilter { action: Some("record.export_fhir".into()), limit: 5, ..Default::default() },
    )
    .await
    .unwrap();
    assert_eq!(audit.len(), 1);
    validate_fhir(&r.text);
}

/// A real validator checks a bundle's structure when the test script provides it (scripts/test does).
fn validate_fhir(text: &str) {
    if std::env::var("YIQIAO_FHIR_VALIDATE").is_ok_and(|v| v == "1") {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fhir/validate.py");
        let out = std::process::Command::new("python3").arg(script).arg(file.path()).output().unwrap();
        assert!(
            out.status.success(),
            "FHIR validation failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[tokio::test]
async fn the_doctor_annotates_a_photo_and_the_patient_sees_it() {
    let w = world().await;
    let t = &w.t;
    let id = t
        .post("/api/v1/consultations", json!({"doctor": w.doctor_id, "complaint": "背部皮疹"}), Some(&w.patient))
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (ct, body) = multipart_file("back.jpg", &jpeg_with_gps());
    let req = http::Request::builder()
        .method("POST")
        .uri(format!("/api/v1/consultations/{id}/attachments"))
        .header("authorization", format!("Bearer {}", w.patient))
        .header("content-type", ct)
        .body(axum::body::Body::from(body))
        .unwrap();
    let att = t.raw(req).await.json()["attachment"]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/attachments/{att}/annotations");
    let shapes = json!({"shapes": [
        {"type": "circle", "x": 0.4, "y": 0.5, "r": 0.1},
        {"type": "arrow", "x1": 0.1, "y1": 0.1, "x2": 0.35, "y2": 0.45},
        {"type": "text", "x": 0.5, "y": 0.2, "text": "此处"}
    ]});
    let put = |token: String, body: serde_json::Value| {
        let path = path.clone();
        async move { t.send(http::Method::PUT, &path, Some(body), Some(&token)).await }
    };
    assert_eq!(put(w.patient.clone(), shapes.clone()).await.status, StatusCode::FORBIDDEN, "patients don't draw");
    assert_eq!(
        put(w.doctor.clone(), json!({"shapes": [{"type": "circle", "x": 2.0, "y": 0.5, "r": 0.1}]})).await.code(),
        "annotation_invalid"
    );
    assert_eq!(put(w.doctor.clone(), shapes.clone()).await.status, StatusCode::NO_CONTENT);
    let seen = t.get(&path, Some(&w.patient)).await.json();
    assert_eq!(seen["shapes"].as_array().unwrap().len(), 3);
    assert_eq!(seen["shapes"][2]["text"], "此处");
    assert_eq!(seen["editable"], false);
    assert_eq!(t.get(&path, Some(&w.doctor)).await.json()["editable"], true);
    assert_eq!(t.get(&path, Some(&w.other_patient)).await.status, StatusCode::NOT_FOUND);
    // The original is untouched: the same bytes as before annotating.
    let original = t.get(&format!("/api/v1/attachments/{att}"), Some(&w.patient)).await;
    assert!(image::load_from_memory(&original.bytes).is_ok());
    // Closed records no longer change.
    t.post(
        &format!("/api/v1/consultations/{id}/close"),
        json!({"summary": "湿疹", "diagnoses": ["L30.9"]}),
        Some(&w.doctor),
    )
    .await;
    assert_eq!(put(w.doctor.clone(), shapes).await.code(), "consultation_closed");
}

#[tokio::test]
async fn a_closed_record_is_corrected_as_a_new_version_after_step_up() {
    let w = world().await;
    let t = &w.t;
    let id = t
        .post("/api/v1/consultations", json!({"doctor": w.doctor_id, "complaint": "咳嗽一周"}), Some(&w.patient))
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/consultations/{id}/corrections");
    let body = json!({"reason": "诊断编码录入错误", "summary": "急性支气管炎", "diagnoses": ["J20.9"]});
    assert_eq!(t.post(&path, body.clone(), Some(&w.doctor)).await.code(), "not_closed");
    t.post(
        &format!("/api/v1/consultations/{id}/close"),
        json!({"summary": "上呼吸道感染", "diagnoses": ["J06.9"]}),
        Some(&w.doctor),
    )
    .await;
    t.clock.advance(Duration::minutes(6));
    assert_eq!(t.post(&path, body.clone(), Some(&w.doctor)).await.code(), "step_up_required");
    assert_eq!(t.post(&path, body.clone(), Some(&w.patient)).await.status, StatusCode::FORBIDDEN);
    let secret = b"secret-for-dr-c".to_vec();
    let r = t.post("/api/v1/auth/step-up", json!({"totp": t.totp(&secret)}), Some(&w.doctor)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = t.post(&path, body, Some(&w.doctor)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json()["version"], 2);
    let v = t.get(&format!("/api/v1/consultations/{id}"), Some(&w.patient)).await.json();
    assert_eq!(v["summary_text"], "上呼吸道感染", "the original stays");
    assert_eq!(v["diagnoses"][0]["code"], "J06.9");
    assert_eq!(v["corrections"][0]["version"], 2);
    assert_eq!(v["corrections"][0]["reason"], "诊断编码录入错误");
    assert_eq!(v["corrections"][0]["diagnoses"][0], "J20.9");
    // The export carries both versions: the correction replaces the original, which is superseded;
    // the removed code stays, marked entered-in-error.
    let r = t.get(&format!("/api/v1/consultations/{id}/fhir"), Some(&w.doctor)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let b = r.json();
    let entries = b["entry"].as_array().unwrap();
    let docs: Vec<&serde_json::Value> =
        entries.iter().filter(|e| e["resource"]["resourceType"] == "DocumentReference").collect();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0]["resource"]["status"], "superseded");
    assert_eq!(docs[1]["resource"]["status"], "current");
    assert_eq!(docs[1]["resource"]["docStatus"], "amended");
    assert_eq!(docs[1]["resource"]["relatesTo"][0]["target"]["reference"], docs[0]["fullUrl"]);
    let condition = |code: &str| {
        entries.iter().find(|e| e["resource"]["code"]["coding"][0]["code"] == code).map(|e| e["resource"].clone())
    };
    assert!(condition("J20.9").unwrap()["verificationStatus"].is_null());
    assert_eq!(condition("J06.9").unwrap()["verificationStatus"]["coding"][0]["code"], "entered-in-error");
    validate_fhir(&r.text);
}

#[tokio::test]
async fn institutions_set_their_own_response_limits() {
    let w = world().await;
    let t = &w.t;
    let inst = t.get("/api/v1/institutions", None).await.json()["items"][0]["id"].as_str().unwrap().to_owned();
    let (admin, secret) = t.user_with_role("ia-sla", Role::InstitutionAdmin, Some(inst.clone())).await;
    let _ = admin;
    let admin = t.token("ia-sla", Some(&t.totp(&secret))).await;
    let path = format!("/api/v1/institutions/{inst}/sla");
    assert_eq!(
        t.send(http::Method::PUT, &path, Some(json!({"priority_mins": 90, "normal_mins": 120})), Some(&admin))
            .await
            .code(),
        "sla_invalid"
    );
    assert_eq!(
        t.send(http::Method::PUT, &path, Some(json!({"priority_mins": 10, "normal_mins": 20})), Some(&admin))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let v = t
        .post("/api/v1/consultations", json!({"doctor": w.doctor_id, "complaint": "复诊咨询用药"}), Some(&w.patient))
        .await
        .json();
    let created = chrono::DateTime::parse_from_rfc3339(v["created_at"].as_str().unwrap()).unwrap();
    let due = chrono::DateTime::parse_from_rfc3339(v["first_response_due_at"].as_str().unwrap()).unwrap();
    assert_eq!((due - created).num_minutes(), 20, "normal consultations now get 20 minutes");
}

#[tokio::test]
async fn the_doctor_sends_an_article_and_the_patient_saves_it_to_the_record() {
    let w = world().await;
    let t = &w.t;
    let id = t
        .post("/api/v1/consultations", json!({"doctor": w.doctor_id, "complaint": "血压偏高怎么吃"}), Some(&w.patient))
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/consultations/{id}/cards");
    assert_eq!(
        t.post(&path, json!({"client_id": "a0", "type": "article", "slug": "nope"}), Some(&w.doctor)).await.code(),
        "article_unknown"
    );
    let r =
        t.post(&path, json!({"client_id": "a1", "type": "article", "slug": "low-salt-diet"}), Some(&w.doctor)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json()["article"]["slug"], "low-salt-diet");
    let save = json!({"slug": "low-salt-diet", "consultation_id": id});
    assert_eq!(
        t.post("/api/v1/me/health-record/articles", save.clone(), Some(&w.patient)).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        t.post("/api/v1/me/health-record/articles", save, Some(&w.patient)).await.status,
        StatusCode::NO_CONTENT,
        "saving twice is fine"
    );
    let record = t.get("/api/v1/me/health-record", Some(&w.patient)).await.json();
    assert_eq!(record["articles"].as_array().unwrap().len(), 1);
    assert_eq!(record["articles"][0]["title_zh"], "高血压患者的低盐饮食");
    assert!(
        t.get("/api/v1/me/health-record", Some(&w.other_patient)).await.json()["articles"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let page = t.get("/articles/low-salt-diet", None).await;
    assert!(page.text.contains("5克"));
}
