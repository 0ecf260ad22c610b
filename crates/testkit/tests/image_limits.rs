//! Bounded image decoding (A1 photos, C3 exports; issue 11 item 3) on both engines: a small PNG
//! that declares 12000×12000 pixels is refused from its header with `image_too_large` and nothing
//! is stored; the pixel budget is configurable; decodes (uploads and PDF exports) wait for one of a
//! bounded number of slots, and answer `busy` when none comes free in time.

#![allow(clippy::unwrap_used, reason = "a test: a failed step should stop it with its message")]

use std::{io::Write as _, sync::Arc, time::Duration};

use domain::Role;
use http::StatusCode;
use serde_json::json;
use testkit::{Resp, TestApp, fresh_resident_id};

/// A one-colour RGB PNG of `w`×`h`, streamed row by row (its pixels are never all in memory).
fn png(w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::High);
    let mut writer = enc.write_header().unwrap();
    let mut stream = writer.stream_writer().unwrap();
    let row = vec![90u8; usize::try_from(w).unwrap() * 3];
    for _ in 0..h {
        stream.write_all(&row).unwrap();
    }
    stream.finish().unwrap();
    writer.finish().unwrap();
    out
}

struct World {
    t: TestApp,
    patient: String,
    doctor: String,
    consultation: String,
}

async fn world() -> World {
    let t = TestApp::new().await;
    let (inst, dept) = t.institution("Image Limits Hospital").await;
    let (doctor_id, secret) = t.user_with_role("dr-img", Role::Doctor, Some(inst.clone())).await;
    t.approve_doctor(&doctor_id, &inst, &dept).await;
    let doctor = t.token("dr-img", Some(&t.totp(&secret))).await;
    t.register_patient("pat-img", &fresh_resident_id()).await;
    let patient = t.token("pat-img", None).await;
    let r = t
        .post("/api/v1/consultations", json!({"doctor": doctor_id, "complaint": "皮疹，附照片"}), Some(&patient))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let consultation = r.json()["id"].as_str().unwrap().to_owned();
    World { t, patient, doctor, consultation }
}

impl World {
    /// Uploads `bytes` as the patient through the API (or the page's form: `page`).
    async fn upload(&self, bytes: &[u8], page: bool) -> Resp {
        let boundary = "img-boundary";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"photo.png\"\r\nContent-Type: image/png\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let prefix = if page { "" } else { "/api/v1" };
        let req = http::Request::builder()
            .method("POST")
            .uri(format!("{prefix}/consultations/{}/attachments", self.consultation))
            .header("authorization", format!("Bearer {}", self.patient))
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(axum::body::Body::from(body))
            .unwrap();
        self.t.raw(req).await
    }

    async fn images(&self) -> usize {
        let r = self.t.get(&format!("/api/v1/consultations/{}/messages", self.consultation), Some(&self.patient)).await;
        r.json()["items"].as_array().unwrap().iter().filter(|m| m["kind"] == "image").count()
    }

    fn stored_blobs(&self) -> usize {
        fn count(dir: &std::path::Path) -> usize {
            std::fs::read_dir(dir)
                .map_or(0, |rd| rd.flatten().map(|e| if e.path().is_dir() { count(&e.path()) } else { 1 }).sum())
        }
        count(&self.t.blob_dir())
    }

    /// The same app with other limits (and a router over it).
    fn with_limits(&mut self, change: impl FnOnce(&mut app::Limits)) {
        let mut config = (*self.t.app.config).clone();
        change(&mut config.limits);
        self.t.app.config = Arc::new(config);
        self.t.router = web::router(self.t.app.clone(), false);
    }
}

/// Issue 11 item 3: the probe's 410 KiB PNG of 12000×12000 pixels was accepted and decoded whole
/// (~410 MiB each).
#[tokio::test]
async fn a_12000_by_12000_png_is_refused_from_its_header_and_nothing_is_stored() {
    let w = world().await;
    let bomb = png(12_000, 12_000);
    assert!(bomb.len() < 1024 * 1024, "a one-colour PNG is small: {} bytes", bomb.len());
    let r = w.upload(&bomb, false).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "image_too_large".to_owned()), "{}", r.text);
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("40 megapixels"), "{}", r.text);
    assert_eq!((w.images().await, w.stored_blobs()), (0, 0), "nothing stored");
    // The page's form says it in the patient's language (zh-CN).
    let page = w.upload(&bomb, true).await;
    assert!(page.text.contains("图片像素过多"), "the page shows the refusal in Chinese");
    assert_eq!((w.images().await, w.stored_blobs()), (0, 0), "nothing stored");
}

#[tokio::test]
async fn the_pixel_budget_is_configurable_and_photos_within_it_are_stored() {
    let mut w = world().await;
    let photo = png(6000, 4000);
    w.with_limits(|l| l.image_max_pixels = 20_000_000);
    assert_eq!(w.upload(&photo, false).await.code(), "image_too_large", "24 MP over a 20 MP budget");
    w.with_limits(|l| l.image_max_pixels = 40_000_000);
    let r = w.upload(&photo, false).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let att = r.json()["attachment"]["id"].as_str().unwrap().to_owned();
    let thumb = w.t.get(&format!("/api/v1/attachments/{att}?thumb=1"), Some(&w.doctor)).await;
    let thumb = image::load_from_memory(&thumb.bytes).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (320, 213));
}

/// Decodes take one of `image_decode_slots`; a request waits for one (at most
/// `image_decode_wait_secs`) and then answers `busy`. PDF exports, which decode photos, take a
/// slot too.
#[tokio::test]
async fn uploads_and_exports_wait_for_a_decode_slot_and_answer_busy_when_none_comes() {
    let mut w = world().await;
    w.with_limits(|l| l.image_decode_wait_secs = 1);
    let photo = png(64, 48);
    let slots = u32::try_from(w.t.app.config.limits.image_decode_slots).unwrap();
    let held = w.t.app.decode_slots.clone().acquire_many_owned(slots).await.unwrap();
    let r = w.upload(&photo, false).await;
    assert_eq!((r.status, r.code()), (StatusCode::SERVICE_UNAVAILABLE, "busy".to_owned()), "{}", r.text);
    assert_eq!(w.images().await, 0);
    let pdf = format!("/api/v1/consultations/{}/pdf", w.consultation);
    assert_eq!(w.t.get(&pdf, Some(&w.doctor)).await.code(), "busy");
    // A slot that comes free in time lets the waiting upload through.
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        drop(held);
    });
    let r = w.upload(&photo, false).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    release.await.unwrap();
    let r = w.t.get(&pdf, Some(&w.doctor)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(w.t.app.decode_slots.available_permits(), usize::try_from(slots).unwrap(), "slots are given back");
}
