//! PDF export of consultation records (C3, B3, S3) on both engines: step-up first, participants
//! only (an outsider gets 404), one audit event per exported consultation, Chinese text extractable
//! through the embedded font's ToUnicode map, and photos embedded with the doctor's annotation drawn
//! over them.

#![allow(clippy::unwrap_used, reason = "a test: a failed step should stop it with its message")]

use chrono::Duration;
use domain::Role;
use http::StatusCode;
use lopdf::{Document, Object, content::Content};
use serde_json::json;
use testkit::{PASSWORD, TestApp, fresh_resident_id};

struct World {
    t: TestApp,
    patient: String,
    patient_id: String,
    other_patient: String,
    doctor: String,
    doctor_id: String,
}

async fn world() -> World {
    let t = TestApp::new().await;
    let (inst, dept) = t.institution("PDF Hospital").await;
    let (doctor_id, secret) = t.user_with_role("dr-p", Role::Doctor, Some(inst.clone())).await;
    t.approve_doctor(&doctor_id, &inst, &dept).await;
    // A TOTP login counts as a step-up for five minutes.
    let doctor = t.token("dr-p", Some(&t.totp(&secret))).await;
    let patient_id = t.register_patient("pat-p", &fresh_resident_id()).await;
    t.register_patient("pat-q", &fresh_resident_id()).await;
    let patient = t.token("pat-p", None).await;
    let other_patient = t.token("pat-q", None).await;
    World { t, patient, patient_id, other_patient, doctor, doctor_id }
}

async fn start(w: &World, token: &str, complaint: &str) -> String {
    let r =
        w.t.post("/api/v1/consultations", json!({"doctor": w.doctor_id, "complaint": complaint}), Some(token)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.json()["id"].as_str().unwrap().to_owned()
}

async fn step_up(t: &TestApp, token: &str) {
    let r = t.post("/api/v1/auth/step-up", json!({"password": PASSWORD}), Some(token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

fn photo() -> Vec<u8> {
    let img = image::RgbImage::from_fn(480, 360, |x, y| image::Rgb([(x % 200) as u8 + 40, (y % 200) as u8 + 40, 150]));
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img).write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

async fn upload(w: &World, id: &str, name: &str, bytes: &[u8]) -> String {
    let boundary = "pdf-boundary";
    let mut body =
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"client_id\"\r\n\r\nphoto-1\r\n").into_bytes();
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let req = http::Request::builder()
        .method("POST")
        .uri(format!("/api/v1/consultations/{id}/attachments"))
        .header("authorization", format!("Bearer {}", w.patient))
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(axum::body::Body::from(body))
        .unwrap();
    let r = w.t.raw(req).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.json()["attachment"]["id"].as_str().unwrap().to_owned()
}

/// All text of the document, decoded through the fonts' ToUnicode maps.
fn text_of(doc: &Document) -> String {
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    doc.extract_text(&pages).unwrap()
}

/// Successful exports (a refused one is recorded with outcome `denied`, issue 11 item 11).
async fn export_events(t: &TestApp) -> Vec<store::entity::audit_event::Model> {
    export_events_with(t, |o| o != "denied").await
}

async fn export_events_with(t: &TestApp, outcome: impl Fn(&str) -> bool) -> Vec<store::entity::audit_event::Model> {
    let filter =
        store::repo::audit::AuditFilter { action: Some("record.export_pdf".into()), limit: 50, ..Default::default() };
    let all = store::repo::audit::list(&t.app.store.db, &filter).await.unwrap();
    all.into_iter().filter(|e| outcome(&e.outcome)).collect()
}

#[tokio::test]
async fn a_consultation_exports_as_a_pdf_with_chinese_text_and_the_annotated_photo() {
    let w = world().await;
    let t = &w.t;
    let id = start(&w, &w.patient, "头晕乏力两周").await;
    let msg = format!("/api/v1/consultations/{id}/messages");
    t.post(&msg, json!({"client_id": "d1", "text": "请上传血压记录的照片。"}), Some(&w.doctor)).await;
    let att = upload(&w, &id, "血压记录.jpg", &photo()).await;
    let shapes = json!({"shapes": [
        {"type": "circle", "x": 0.4, "y": 0.5, "r": 0.1},
        {"type": "arrow", "x1": 0.1, "y1": 0.1, "x2": 0.35, "y2": 0.45},
        {"type": "line", "points": [[0.6, 0.6], [0.7, 0.65], [0.8, 0.6]]},
        {"type": "text", "x": 0.5, "y": 0.2, "text": "偏高"}
    ]});
    let r = t
        .send(http::Method::PUT, &format!("/api/v1/attachments/{att}/annotations"), Some(shapes), Some(&w.doctor))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let plan = json!({"client_id": "plan-1", "type": "medication_plan", "rows": [
        {"drug": "氨氯地平片", "dose": "5 mg", "times": ["morning"], "days": 30, "note": "饭后"}
    ]});
    assert_eq!(
        t.post(&format!("/api/v1/consultations/{id}/cards"), plan, Some(&w.doctor)).await.status,
        StatusCode::CREATED
    );
    let calc = json!({"client_id": "calc-1", "type": "calculator",
        "input": {"calculator": "blood_pressure", "systolic": 168, "diastolic": 102}});
    assert_eq!(
        t.post(&format!("/api/v1/consultations/{id}/cards"), calc, Some(&w.doctor)).await.status,
        StatusCode::CREATED
    );
    let r = t
        .post(
            &format!("/api/v1/consultations/{id}/close"),
            json!({"summary": "原发性高血压，血压控制欠佳", "diagnoses": ["I10"]}),
            Some(&w.doctor),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = t
        .post(
            &format!("/api/v1/consultations/{id}/corrections"),
            json!({"reason": "补充诊断", "summary": "高血压伴头晕", "diagnoses": ["I10", "R42"]}),
            Some(&w.doctor),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

    let r = t
        .post(
            &format!("/api/v1/consultations/{id}/rating"),
            json!({"stars": 4, "comment": "回复很及时"}),
            Some(&w.patient),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);

    let path = format!("/api/v1/consultations/{id}/pdf");
    t.clock.advance(Duration::minutes(6));
    assert_eq!(t.get(&path, Some(&w.patient)).await.code(), "step_up_required");
    // The page asks for step-up and comes back to the download.
    let page = t.get(&format!("/consultations/{id}/export/pdf"), Some(&w.patient)).await;
    assert!(page.status.is_redirection(), "{}", page.status);
    assert!(page.location().unwrap().starts_with("/step-up?next=%2Fconsultations%2F"), "{:?}", page.location());
    step_up(t, &w.other_patient).await;
    assert_eq!(t.get(&path, Some(&w.other_patient)).await.status, StatusCode::NOT_FOUND, "outsiders learn nothing");
    assert!(export_events(t).await.is_empty(), "refused exports leave no export event");
    let refused = export_events_with(t, |o| o == "denied").await;
    assert_eq!(refused.len(), 1, "the refusal itself is audited (issue 11 item 11)");
    assert_eq!(refused[0].resource.as_deref(), Some(id.as_str()));

    step_up(t, &w.patient).await;
    let r = t.get(&path, Some(&w.patient)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.headers["content-type"], "application/pdf");
    assert_eq!(r.headers["cache-control"], "no-store, private", "issue 11 item 7");
    assert!(r.headers["content-disposition"].to_str().unwrap().contains(&format!("consultation-{id}.pdf")));
    assert!(r.bytes.starts_with(b"%PDF"));
    let page = t.get(&format!("/consultations/{id}/export/pdf"), Some(&w.patient)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.bytes.starts_with(b"%PDF"));

    let doc = Document::load_mem(&r.bytes).unwrap();
    let text = text_of(&doc);
    for expected in [
        "医桥",
        "测试患者",
        "头晕乏力两周",
        "请上传血压记录的照片",
        "血压记录.jpg",
        "氨氯地平片",
        "血压分级",
        "2级高血压（中度）",
        "高血压伴头晕",
        "补充诊断",
        "原发性高血压，血压控制欠佳",
        "R42",
        "★★★★☆",
        "回复很及时",
    ] {
        assert!(text.contains(expected), "{expected} missing from the PDF text:\n{text}");
    }
    // The font is embedded (subset), not referenced from the reader's system.
    let fonts: Vec<_> = doc
        .objects
        .values()
        .filter_map(|o| o.as_dict().ok())
        .filter(|d| d.has(b"FontFile2") || d.has(b"FontFile3"))
        .collect();
    assert!(!fonts.is_empty(), "no embedded font file");
    // The photo is an image XObject, drawn before the annotation's strokes on the same page.
    let images = doc
        .objects
        .values()
        .filter_map(|o| if let Object::Stream(s) = o { Some(s) } else { None })
        .filter(|s| s.dict.get(b"Subtype").and_then(Object::as_name).is_ok_and(|n| n == b"Image"))
        .count();
    assert_eq!(images, 1, "the photo is embedded once");
    let drawn_over = doc.get_pages().values().any(|page| {
        let ops = Content::decode(&doc.get_page_content(*page)).unwrap().operations;
        let ops: Vec<&str> = ops.iter().map(|o| o.operator.as_str()).collect();
        ops.iter().position(|o| *o == "Do").is_some_and(|i| {
            let after = &ops[i..];
            after.contains(&"c") && after.contains(&"S")
        })
    });
    assert!(drawn_over, "the annotation's circle is drawn over the photo");
    let events = export_events(t).await;
    assert_eq!(events.len(), 2, "one event per successful export (API and page)");
    assert!(events.iter().all(|e| e.resource.as_deref() == Some(id.as_str())));
}

#[tokio::test]
async fn the_whole_record_holds_every_consultation_the_caller_may_see() {
    let w = world().await;
    let t = &w.t;
    let first = start(&w, &w.patient, "咳嗽一周").await;
    let second = start(&w, &w.patient, "皮肤瘙痒三天").await;
    start(&w, &w.other_patient, "另一位患者的牙痛").await;

    t.clock.advance(Duration::minutes(6));
    assert_eq!(t.get("/api/v1/me/health-record/pdf", Some(&w.patient)).await.code(), "step_up_required");
    step_up(t, &w.patient).await;
    let r = t.get("/api/v1/me/health-record/pdf", Some(&w.patient)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let text = text_of(&Document::load_mem(&r.bytes).unwrap());
    assert!(text.contains("咳嗽一周") && text.contains("皮肤瘙痒三天"), "{text}");
    assert!(!text.contains("牙痛"), "another patient's record never appears");
    let events = export_events(t).await;
    let mut resources: Vec<_> = events.iter().filter_map(|e| e.resource.clone()).collect();
    resources.sort();
    let mut expected = vec![first.clone(), second.clone()];
    expected.sort();
    assert_eq!(resources, expected, "one audit event per exported consultation");

    // The doctor in the care relationship exports the same patient's record by id.
    let by_id = format!("/api/v1/patients/{}/record/pdf", w.patient_id);
    assert_eq!(t.get(&by_id, Some(&w.doctor)).await.code(), "step_up_required", "the login's step-up expired");
    let secret = b"secret-for-dr-p".to_vec();
    let r = t.post("/api/v1/auth/step-up", json!({"totp": t.totp(&secret)}), Some(&w.doctor)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = t.get(&by_id, Some(&w.doctor)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let text = text_of(&Document::load_mem(&r.bytes).unwrap());
    assert!(text.contains("咳嗽一周") && text.contains("皮肤瘙痒三天"), "{text}");
    // Another patient sees nothing of it, nor learns whether it exists.
    step_up(t, &w.other_patient).await;
    assert_eq!(t.get(&by_id, Some(&w.other_patient)).await.status, StatusCode::NOT_FOUND);
    assert_eq!(t.get("/api/v1/patients/nobody/record/pdf", Some(&w.patient)).await.status, StatusCode::NOT_FOUND);
    // The page route for the whole record downloads too.
    let page = t.get(&format!("/patients/{}/export/pdf", w.patient_id), Some(&w.patient)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.bytes.starts_with(b"%PDF"));
}
