//! Voice messages over the API on both engines (A1, S1): recordings are accepted by content (WebM,
//! Ogg/Opus, MP4) as `voice` messages with their length, bounded in length and size, stored
//! encrypted, played back byte for byte with their audio type to participants only, and exported
//! to FHIR as an audio attachment.

#![allow(clippy::unwrap_used, reason = "a test: a failed step should stop it with its message")]

use domain::Role;
use http::StatusCode;
use serde_json::json;
use testkit::{PASSWORD, Resp, TestApp, fresh_resident_id};

struct World {
    t: TestApp,
    patient: String,
    other_patient: String,
    doctor: String,
    consultation: String,
}

/// A verified doctor, a patient with an open consultation with them, and another patient.
async fn world() -> World {
    let t = TestApp::new().await;
    let (inst, dept) = t.institution("Voice Hospital").await;
    let (doctor_id, secret) = t.user_with_role("dr-v", Role::Doctor, Some(inst.clone())).await;
    t.approve_doctor(&doctor_id, &inst, &dept).await;
    let doctor = t.token("dr-v", Some(&t.totp(&secret))).await;
    t.register_patient("pat-v", &fresh_resident_id()).await;
    t.register_patient("pat-w", &fresh_resident_id()).await;
    let patient = t.token("pat-v", None).await;
    let other_patient = t.token("pat-w", None).await;
    let r = t
        .post(
            "/api/v1/consultations",
            json!({"doctor": doctor_id, "complaint": "头晕，说话不方便打字"}),
            Some(&patient),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let consultation = r.json()["id"].as_str().unwrap().to_owned();
    World { t, patient, other_patient, doctor, consultation }
}

/// A WebM/Opus recording as Chrome's MediaRecorder writes it (issue 11 item 18: a whole container,
/// not just its first bytes).
fn webm() -> Vec<u8> {
    testkit::media::webm_opus(7_400)
}

/// An Ogg/Opus recording as Firefox writes it.
fn ogg_opus() -> Vec<u8> {
    testkit::media::ogg_opus(2_000)
}

fn multipart(fields: &[(&str, &str)], file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "voice-boundary";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"blob\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(w: &World, token: &str, fields: &[(&str, &str)], file: &[u8]) -> Resp {
    let (ct, body) = multipart(fields, file);
    let req = http::Request::builder()
        .method("POST")
        .uri(format!("/api/v1/consultations/{}/attachments", w.consultation))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", ct)
        .body(axum::body::Body::from(body))
        .unwrap();
    w.t.raw(req).await
}

#[tokio::test]
async fn a_recording_becomes_a_voice_message_that_only_participants_can_play() {
    let w = world().await;
    let t = &w.t;
    let audio = webm();
    let r = upload(&w, &w.patient, &[("client_id", "v-1"), ("duration_ms", "7400")], &audio).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let m = r.json();
    assert_eq!(m["kind"], "voice");
    assert_eq!(m["attachment"]["content_type"], "audio/webm");
    assert_eq!(m["attachment"]["duration_ms"], 7400);
    assert_eq!(m["attachment"]["name"], "voice.webm", "a recording is named by its type, not the client's name");
    let att = m["attachment"]["id"].as_str().unwrap().to_owned();

    // A resend after a dropped connection returns the same message.
    let again = upload(&w, &w.patient, &[("client_id", "v-1"), ("duration_ms", "7400")], &audio).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json()["id"], m["id"]);

    // The doctor plays exactly what was recorded, with its audio type.
    let got = t.get(&format!("/api/v1/attachments/{att}"), Some(&w.doctor)).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.headers["content-type"], "audio/webm");
    assert_eq!(got.bytes, audio);
    assert_eq!(got.headers["accept-ranges"], "bytes");
    // iOS Safari plays audio only through byte ranges (206 Partial Content).
    let ranged = |range: &str| {
        http::Request::builder()
            .uri(format!("/api/v1/attachments/{att}"))
            .header("authorization", format!("Bearer {}", w.doctor))
            .header("range", range)
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let part = t.raw(ranged("bytes=0-1")).await;
    assert_eq!(part.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.bytes, audio[..2]);
    assert_eq!(part.headers["content-range"], format!("bytes 0-1/{}", audio.len()));
    assert_eq!(part.headers["content-type"], "audio/webm");
    let tail = t.raw(ranged("bytes=100-")).await;
    assert_eq!(tail.bytes, audio[100..]);
    let beyond = t.raw(ranged(&format!("bytes={}-", audio.len()))).await;
    assert_eq!(beyond.status, StatusCode::RANGE_NOT_SATISFIABLE);
    // The conversation lists it with its length for both sides.
    for token in [&w.doctor, &w.patient] {
        let msgs = t.get(&format!("/api/v1/consultations/{}/messages", w.consultation), Some(token)).await.json();
        let items = msgs["items"].as_array().unwrap();
        let v = items.iter().find(|x| x["kind"] == "voice").unwrap();
        assert_eq!(v["attachment"]["duration_ms"], 7400);
        assert_eq!(items.iter().filter(|x| x["kind"] == "voice").count(), 1, "no duplicate from the resend");
    }
    // An outsider can neither play it nor add to the conversation.
    let other = t.get(&format!("/api/v1/attachments/{att}"), Some(&w.other_patient)).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    let r = upload(&w, &w.other_patient, &[("client_id", "v-x"), ("duration_ms", "2000")], &audio).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // At rest the blob is ciphertext (S1).
    let files: Vec<_> = walk(&t.blob_dir()).into_iter().filter(|p| p.to_string_lossy().contains(&att)).collect();
    assert_eq!(files.len(), 1, "one blob, no thumbnail for audio");
    let stored = std::fs::read(&files[0]).unwrap();
    assert!(!stored.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]), "no plain WebM on disk");
    assert!(!stored.windows(4).any(|x| x == b"webm"));
}

#[tokio::test]
async fn ogg_and_mp4_recordings_are_accepted_with_their_type() {
    let w = world().await;
    let r = upload(&w, &w.doctor, &[("client_id", "v-ogg"), ("duration_ms", "300")], &ogg_opus()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json()["kind"], "voice");
    assert_eq!(r.json()["attachment"]["content_type"], "audio/ogg");
    let m4a = testkit::media::m4a(300_000, true);
    let r = upload(&w, &w.patient, &[("client_id", "v-m4a"), ("duration_ms", "300000")], &m4a).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json()["attachment"]["content_type"], "audio/mp4");
    assert_eq!(r.json()["attachment"]["name"], "voice.m4a");
    let got =
        w.t.get(&format!("/api/v1/attachments/{}", r.json()["attachment"]["id"].as_str().unwrap()), Some(&w.doctor))
            .await;
    assert_eq!(got.headers["content-type"], "audio/mp4");
}

#[tokio::test]
async fn bad_lengths_sizes_and_types_are_refused() {
    let w = world().await;
    for duration in [None, Some("299"), Some("300001"), Some("0"), Some("seven")] {
        let mut fields = vec![("client_id", "v-bad")];
        if let Some(d) = duration {
            fields.push(("duration_ms", d));
        }
        let r = upload(&w, &w.patient, &fields, &webm()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{duration:?}: {}", r.text);
        assert_eq!(r.code(), "voice_duration", "{duration:?}");
    }
    let mut big = webm();
    big.resize(5 * 1024 * 1024 + 1, 0x55);
    assert_eq!(upload(&w, &w.patient, &[("duration_ms", "60000")], &big).await.code(), "voice_too_large");
    let noise: Vec<u8> = (0..4096u32).map(|i| u8::try_from(i.wrapping_mul(2_654_435_761) >> 24).unwrap()).collect();
    assert_eq!(upload(&w, &w.patient, &[("duration_ms", "2000")], &noise).await.code(), "upload_type");
    // An Ogg stream that is not Opus (here Theora video) is not a voice message.
    let mut theora = b"OggS\0\x02".to_vec();
    theora.extend_from_slice(&[0; 22]);
    theora.extend_from_slice(b"\x80theora");
    assert_eq!(upload(&w, &w.patient, &[("duration_ms", "2000")], &theora).await.code(), "upload_type");
    // Nothing was posted.
    let msgs = w.t.get(&format!("/api/v1/consultations/{}/messages", w.consultation), Some(&w.patient)).await.json();
    assert!(msgs["items"].as_array().unwrap().iter().all(|m| m["kind"] != "voice"));
}

/// Issue 11 item 18: first bytes that look like a recording are not enough. Each container is parsed
/// to its last byte and must hold an audio track with a length; otherwise 422 `voice_invalid` and
/// nothing is posted.
#[tokio::test]
async fn magic_bytes_followed_by_junk_are_not_a_voice_message() {
    let w = world().await;
    let junk: Vec<u8> = (0..4096u32).map(|i| u8::try_from(i.wrapping_mul(2_654_435_761) >> 24).unwrap()).collect();
    let webm_magic = [&[0x1A, 0x45, 0xDF, 0xA3, 0x84][..], b"webm", &junk].concat();
    let ogg_magic = [&b"OggS\0\x02"[..], &[0; 22], b"OpusHead\x01\x01", &junk].concat();
    let m4a_magic = [&b"\0\0\0\x14ftypM4A \0\0\0\0M4A "[..], &junk].concat();
    let mut truncated = ogg_opus();
    truncated.truncate(truncated.len() - 7);
    let mut flipped = ogg_opus();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x40;
    let cases = [
        ("webm magic + junk", webm_magic),
        ("ogg magic + junk", ogg_magic),
        ("mp4 magic + junk", m4a_magic),
        ("webm + trailing junk", [webm(), junk.clone()].concat()),
        ("ogg + trailing junk", [ogg_opus(), junk.clone()].concat()),
        ("m4a + trailing junk", [testkit::media::m4a(2_000, false), junk[..5].to_vec()].concat()),
        ("truncated ogg", truncated),
        ("ogg with a flipped bit", flipped),
        ("webm without an audio track", testkit::media::webm_track(2_000, 1)),
        ("webm without frames", testkit::media::webm_opus(0)),
    ];
    for (what, file) in cases {
        let r = upload(&w, &w.patient, &[("client_id", "v-junk"), ("duration_ms", "2000")], &file).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {}", r.text);
        assert_eq!(r.code(), "voice_invalid", "{what}");
    }
    // A container that says it runs far over five minutes is refused whatever the client claims.
    let long = testkit::media::ogg_opus(330_000);
    let r = upload(&w, &w.patient, &[("client_id", "v-long"), ("duration_ms", "60000")], &long).await;
    assert_eq!(r.code(), "voice_duration", "{}", r.text);
    let msgs = w.t.get(&format!("/api/v1/consultations/{}/messages", w.consultation), Some(&w.patient)).await.json();
    assert!(msgs["items"].as_array().unwrap().iter().all(|m| m["kind"] != "voice"), "nothing was posted");
}

#[test]
fn each_container_yields_its_length() {
    use domain::audio::{Container, probe};
    let cases = [
        (testkit::media::webm_opus(7_400), Container::Webm, 7_380),
        (testkit::media::ogg_opus(2_000), Container::Ogg, 2_000),
        (testkit::media::m4a(60_000, false), Container::Mp4, 60_000),
        (testkit::media::m4a(60_000, true), Container::Mp4, 59_989),
    ];
    for (bytes, container, ms) in cases {
        let info = probe(&bytes).unwrap();
        assert_eq!(info.container, container);
        assert_eq!(info.duration_ms, ms, "{container:?}");
    }
}

#[test]
fn identity_documents_still_refuse_audio() {
    // Audio is recognised for consultations only; the verification sniffer is unchanged.
    assert_eq!(app::verification::sniff_document(&webm()), None);
    assert_eq!(app::verification::sniff_document(&ogg_opus()), None);
}

#[tokio::test]
async fn the_fhir_export_lists_a_voice_message_as_an_audio_attachment() {
    let w = world().await;
    let t = &w.t;
    let r = upload(&w, &w.patient, &[("client_id", "v-f"), ("duration_ms", "2500")], &webm()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let att = r.json()["attachment"]["id"].as_str().unwrap().to_owned();
    let step = t.post("/api/v1/auth/step-up", json!({"password": PASSWORD}), Some(&w.patient)).await;
    assert_eq!(step.status, StatusCode::OK, "{}", step.text);
    let bundle = t.get(&format!("/api/v1/consultations/{}/fhir", w.consultation), Some(&w.patient)).await;
    assert_eq!(bundle.status, StatusCode::OK, "{}", bundle.text);
    let bundle = bundle.json();
    let voice = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .find(|r| r["resourceType"] == "Communication" && r["payload"][0]["contentAttachment"].is_object())
        .unwrap();
    let a = &voice["payload"][0]["contentAttachment"];
    assert_eq!(a["contentType"], "audio/webm");
    assert_eq!(a["title"], "voice.webm");
    assert_eq!(a["url"], format!("/api/v1/attachments/{att}"));
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
