//! Call recordings with consent (F3) on both engines: a recording starts only once everyone in the call
//! consented, is stored encrypted in chunks, lands in the timeline, is readable by the call's people and
//! the care team only, survives the call ending mid-recording, and is purged after its retention.

#![allow(clippy::unwrap_used, reason = "a test: a failed step should stop it with its message")]

mod call_support;

#[allow(clippy::wildcard_imports, reason = "the shared fixtures")]
use call_support::*;
use chrono::{Duration, Months};
use http::{Method, StatusCode, header};
use serde_json::json;

#[tokio::test]
async fn recording_needs_everyones_consent_and_is_kept_encrypted() {
    let w = world().await;
    let t = &w.t;
    let (_, other_doc) = other_doctor(t, "dr-nosy", "Nosy Hospital", true).await;
    let (second_id, second) = other_doctor(t, "dr-consult", "Consulting Hospital", true).await;
    let (decliner_id, decliner) = other_doctor(t, "dr-busy", "Busy Hospital", true).await;
    let id = live_call(&w).await;
    // Four people in the call: the doctor, the patient, a consulting doctor and a family member;
    // one more doctor was rung but declined.
    for user in [&second_id, &decliner_id] {
        assert_eq!(invite(&w, &w.doctor, &id, user).await.status, StatusCode::OK);
    }
    assert_eq!(act(&w, &second, &id, "accept").await.0, StatusCode::OK);
    assert_eq!(act(&w, &decliner, &id, "decline").await.1["my_state"], "declined");
    let (guest_id, path) = guest_link(&w, &id, "钱家属", "family").await;
    let secret = join_as_guest(t, &path).await;
    let guest = app::call::guest_session(&t.app, &secret).await.unwrap();
    let webm = json!({"content_type": "video/webm;codecs=vp8,opus"});

    // Not before asking, and asking is the doctor's.
    let r = call_post(&w, &w.doctor, &id, "recordings", webm.clone()).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "recording_consent_missing".to_owned()));
    assert_eq!(call_post(&w, &w.patient, &id, "recording-request", json!({})).await.status, StatusCode::FORBIDDEN);
    assert_eq!(call_post(&w, &w.patient, &id, "recordings", webm.clone()).await.status, StatusCode::FORBIDDEN);
    let r = call_post(&w, &w.doctor, &id, "recording-request", json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let v = r.json();
    assert_eq!(v["recording_requested"], true);
    assert_eq!(member(&v, &w.doctor_id)["consent"], "granted", "asking implies the doctor's own consent");
    assert!(member(&v, &w.patient_id)["consent"].is_null());
    assert_eq!(view(&w, &w.patient, &id).await["recording_requested"], true);
    // Nobody else consented yet.
    assert_eq!(call_post(&w, &w.doctor, &id, "recordings", webm.clone()).await.code(), "recording_consent_missing");
    // The patient refuses, the guest agrees: still no recording.
    let r = call_post(&w, &w.patient, &id, "consent", json!({"allow": false})).await;
    assert_eq!((r.status, member(&r.json(), &w.patient_id)["consent"].as_str()), (StatusCode::OK, Some("refused")));
    let r = guest_api(
        t,
        Method::POST,
        "/api/v1/guest/call/consent",
        &secret,
        Some(&guest.csrf),
        Some(json!({"allow": true})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = call_post(&w, &w.doctor, &id, "recordings", webm.clone()).await;
    assert_eq!(r.code(), "recording_consent_missing", "a refusal keeps it refused: {}", r.text);
    // Outsiders cannot answer for the room.
    assert_eq!(call_post(&w, &w.stranger, &id, "consent", json!({"allow": true})).await.status, StatusCode::NOT_FOUND);
    // Someone who is not in the call cannot answer.
    let r = call_post(&w, &decliner, &id, "consent", json!({"allow": true})).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "call_state".to_owned()));
    // The patient changes their mind; the consulting doctor has not answered yet.
    let r = call_post(&w, &w.patient, &id, "consent", json!({"allow": true})).await;
    assert_eq!(member(&r.json(), &w.patient_id)["consent"], "granted");
    assert_eq!(call_post(&w, &w.doctor, &id, "recordings", webm.clone()).await.code(), "recording_consent_missing");
    assert_eq!(call_post(&w, &second, &id, "recordings", webm.clone()).await.status, StatusCode::FORBIDDEN);
    let r = call_post(&w, &second, &id, "consent", json!({"allow": true})).await;
    assert_eq!(member(&r.json(), &second_id)["consent"], "granted");
    let bad = call_post(&w, &w.doctor, &id, "recordings", json!({"content_type": "text/html"})).await;
    assert_eq!((bad.status, bad.code()), (StatusCode::UNPROCESSABLE_ENTITY, "recording_type".to_owned()));
    let started = t.app.clock.now();
    let r = call_post(&w, &w.doctor, &id, "recordings", webm.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let rec = r.json();
    let rid = rec["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (rec["state"].as_str(), rec["chunks"].as_i64(), rec["size_bytes"].as_i64()),
        (Some("recording"), Some(0), Some(0))
    );
    assert_eq!(time(&rec["started_at"]), started);
    assert!(time(&rec["retain_until"]) >= started.checked_add_months(Months::new(36)).unwrap(), "{rec}");
    assert_eq!(view(&w, &w.patient, &id).await["recording_id"], rid.as_str());
    assert_eq!(call_post(&w, &w.doctor, &id, "recordings", webm.clone()).await.code(), "recording_in_progress");

    // Chunks in order; a retry of a stored chunk changes nothing; a gap is refused.
    let chunk0 = b"\x1a\x45\xdf\xa3 EBML chunk zero: the patient says the wound is healing well".to_vec();
    let chunk1 = b"chunk one: no fever since Tuesday, the dressing was changed twice".to_vec();
    let chunk2 = b"chunk two: follow-up in two weeks, keep the incision dry".to_vec();
    let r = put_chunk(t, &w.doctor, &rid, 0, &chunk0).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["chunks"], 1);
    let r = put_chunk(t, &w.doctor, &rid, 0, b"a different retry body").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!((r.json()["chunks"].as_i64(), r.json()["size_bytes"].as_i64()), (Some(1), Some(len(&chunk0))));
    let r = put_chunk(t, &w.doctor, &rid, 2, &chunk2).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "recording_gap".to_owned()));
    assert_eq!(put_chunk(t, &w.patient, &rid, 1, &chunk1).await.status, StatusCode::FORBIDDEN);
    assert_eq!(put_chunk(t, &other_doc, &rid, 1, &chunk1).await.status, StatusCode::NOT_FOUND);
    assert_eq!(put_chunk(t, &w.doctor, &rid, 1, b"").await.code(), "recording_chunk");
    assert_eq!(put_chunk(t, &w.doctor, &rid, 1, &chunk1).await.json()["chunks"], 2);
    let r = put_chunk(t, &w.doctor, &rid, 2, &chunk2).await;
    let total = chunk0.len() + chunk1.len() + chunk2.len();
    assert_eq!(
        (r.json()["chunks"].as_i64(), r.json()["size_bytes"].as_i64()),
        (Some(3), Some(i64::try_from(total).unwrap()))
    );

    // Finishing puts it into the conversation.
    assert_eq!(
        t.post(&format!("/api/v1/recordings/{rid}/finish"), json!({}), Some(&other_doc)).await.status,
        StatusCode::NOT_FOUND
    );
    let r = t.post(&format!("/api/v1/recordings/{rid}/finish"), json!({}), Some(&w.doctor)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!((r.json()["state"].as_str(), r.json()["chunks"].as_i64()), (Some("complete"), Some(3)));
    assert!(view(&w, &w.doctor, &id).await["recording_id"].is_null());
    assert_eq!(put_chunk(t, &w.doctor, &rid, 3, b"too late").await.code(), "recording_state");
    let recs = timeline(&w, "recording").await;
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["recording"]["recording_id"], rid.as_str());
    assert_eq!(recs[0]["recording"]["size_bytes"], total);

    // The patient and the doctor get exactly the uploaded bytes; a stranger gets nothing.
    let whole = [chunk0.clone(), chunk1.clone(), chunk2.clone()].concat();
    for token in [&w.patient, &w.doctor] {
        let r = get_recording(t, token, &rid, None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.bytes, whole);
        assert_eq!(r.headers[header::CONTENT_TYPE], "video/webm");
    }
    let r = get_recording(t, &w.patient, &rid, Some("bytes=0-3")).await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.bytes, whole[..4].to_vec());
    assert_eq!(r.headers[header::CONTENT_RANGE], format!("bytes 0-3/{}", whole.len()).as_str());
    assert_eq!(get_recording(t, &w.stranger, &rid, None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(get_recording(t, &other_doc, &rid, None).await.status, StatusCode::NOT_FOUND);
    // The consulting doctor was in the call: they may play it; the doctor who declined may not.
    let r = get_recording(t, &second, &rid, None).await;
    assert_eq!((r.status, r.bytes.clone()), (StatusCode::OK, whole.clone()), "{}", r.text);
    assert_eq!(get_recording(t, &decliner, &rid, None).await.status, StatusCode::NOT_FOUND);

    // At rest: every chunk is a ciphertext blob.
    let stored = store::repo::call::chunks(&t.app.store.db, &rid).await.unwrap();
    assert_eq!(stored.iter().map(|c| c.seq).collect::<Vec<_>>(), vec![0, 1, 2]);
    for (c, plain) in stored.iter().zip([&chunk0, &chunk1, &chunk2]) {
        let raw = t.app.blobs.raw(&c.blob_key).await.unwrap();
        assert!(raw.len() >= plain.len());
        assert!(!contains(&raw, plain), "chunk {} is stored in plain text", c.seq);
        assert!(!contains(&raw, &plain[4..20]), "chunk {} leaks plaintext", c.seq);
    }

    // Audited: every answer, the start, every view.
    let (refused, consents): (Vec<_>, Vec<_>) =
        audit(t, "call.recording.consent").await.into_iter().partition(|e| e.outcome == "denied");
    assert_eq!(refused.len(), 1, "the stranger's refused answer is audited (issue 11 item 11)");
    let mut outcomes: Vec<String> = consents.iter().map(|e| e.outcome.clone()).collect();
    outcomes.sort();
    assert_eq!(outcomes, vec!["granted", "granted", "granted", "refused"]);
    assert!(consents.iter().any(|e| e.actor_user_id.as_deref() == Some(guest_id.as_str())));
    assert!(consents.iter().all(|e| e.subject_patient_id.as_deref() == Some(w.patient_id.as_str())));
    let done = |events: Vec<store::entity::audit_event::Model>| -> Vec<_> {
        events.into_iter().filter(|e| e.outcome != "denied").collect()
    };
    let starts = done(audit(t, "call.recording.start").await);
    assert_eq!(starts.len(), 1);
    assert_eq!(starts[0].resource.as_deref(), Some(rid.as_str()));
    assert_eq!(starts[0].actor_user_id.as_deref(), Some(w.doctor_id.as_str()));
    let views = done(audit(t, "call.recording.view").await);
    assert_eq!(views.len(), 4, "three full reads and one range read");
    assert!(views.iter().all(|e| e.resource.as_deref() == Some(rid.as_str())));
    assert!(t.audit_report().await.broken.is_none());
}

#[tokio::test]
async fn a_recording_running_when_the_call_ends_keeps_what_was_uploaded() {
    let w = world().await;
    let t = &w.t;
    let (id, rid) = recording_call(&w).await;
    let chunk = b"OggS the only chunk uploaded before everyone hung up".to_vec();
    assert_eq!(put_chunk(t, &w.doctor, &rid, 0, &chunk).await.status, StatusCode::OK);
    t.clock.advance(Duration::seconds(42));
    // Everyone hangs up (the doctor's browser never sent "finish").
    assert_eq!(act(&w, &w.patient, &id, "hangup").await.1["state"], "ended");
    assert_eq!(act(&w, &w.doctor, &id, "hangup").await.0, StatusCode::OK);
    let rec = store::repo::call::find_recording(&t.app.store.db, &rid).await.unwrap().unwrap();
    assert_eq!((rec.state.as_str(), rec.chunks, rec.size_bytes), ("complete", 1, len(&chunk)));
    let recs = timeline(&w, "recording").await;
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["recording"]["recording_id"], rid.as_str());
    assert_eq!(recs[0]["recording"]["size_bytes"], chunk.len());
    assert_eq!(recs[0]["recording"]["duration_secs"], 42);
    let r = get_recording(t, &w.patient, &rid, None).await;
    assert_eq!((r.status, r.bytes.clone()), (StatusCode::OK, chunk.clone()));
    // A late upload is refused; a late "finish" changes nothing.
    assert_eq!(put_chunk(t, &w.doctor, &rid, 1, b"late").await.code(), "recording_state");
    let r = t.post(&format!("/api/v1/recordings/{rid}/finish"), json!({}), Some(&w.doctor)).await;
    assert_eq!((r.status, r.json()["state"].as_str()), (StatusCode::OK, Some("complete")));
    assert_eq!(timeline(&w, "recording").await.len(), 1);
    assert_eq!(timeline(&w, "call").await.len(), 1);
}

#[tokio::test]
async fn recording_is_purged_after_retention() {
    let w = world().await;
    let t = &w.t;
    let (_, rid) = recording_call(&w).await;
    let chunk = b"voice of the consultation that must go after three years".to_vec();
    assert_eq!(put_chunk(t, &w.doctor, &rid, 0, &chunk).await.status, StatusCode::OK);
    let r = t.post(&format!("/api/v1/recordings/{rid}/finish"), json!({}), Some(&w.doctor)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let retain_until = time(&r.json()["retain_until"]);
    let started = time(&r.json()["started_at"]);
    assert!(retain_until >= started.checked_add_months(Months::new(36)).unwrap());
    let keys: Vec<String> =
        store::repo::call::chunks(&t.app.store.db, &rid).await.unwrap().into_iter().map(|c| c.blob_key).collect();
    assert_eq!(keys.len(), 1);

    // A day before three years are up: nothing is deleted.
    let three_years = started.checked_add_months(Months::new(36)).unwrap();
    t.clock.advance(three_years - Duration::days(1) - t.app.clock.now());
    app::jobs::run_due(&t.app).await.unwrap();
    assert!(t.app.blobs.raw(&keys[0]).await.is_ok());
    let patient = t.token("pat-room", None).await;
    let r = get_recording(t, &patient, &rid, None).await;
    assert_eq!((r.status, r.bytes.clone()), (StatusCode::OK, chunk.clone()), "{}", r.text);

    // Three years and a day: the retention job deletes the media and keeps a tombstone.
    t.clock.advance(Duration::days(2));
    app::jobs::run_due(&t.app).await.unwrap();
    let patient = t.token("pat-room", None).await;
    let doctor = t.token("dr-room", Some(&t.totp(&w.doctor_secret))).await;
    for token in [&patient, &doctor] {
        let r = get_recording(t, token, &rid, None).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "recording_purged".to_owned()),
            "{}",
            r.text
        );
    }
    let stranger = t.token("pat-stranger", None).await;
    assert_eq!(get_recording(t, &stranger, &rid, None).await.status, StatusCode::NOT_FOUND);
    assert!(t.app.blobs.raw(&keys[0]).await.is_err(), "the blob is gone");
    assert!(store::repo::call::chunks(&t.app.store.db, &rid).await.unwrap().is_empty());
    let rec = store::repo::call::find_recording(&t.app.store.db, &rid).await.unwrap().unwrap();
    assert_eq!(rec.state, "purged");
    let purges = audit(t, "call.recording.purge").await;
    assert_eq!(purges.len(), 1);
    assert_eq!(purges[0].resource.as_deref(), Some(rid.as_str()));
    assert_eq!(purges[0].subject_patient_id.as_deref(), Some(w.patient_id.as_str()));
    // Running the jobs again finds nothing more to do.
    app::jobs::run_due(&t.app).await.unwrap();
    assert_eq!(audit(t, "call.recording.purge").await.len(), 1);
}
