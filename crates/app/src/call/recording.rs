//! Call recordings with consent (F3). The doctor's browser records the call (MediaRecorder) and
//! uploads a chunk every few seconds while the call runs, so a crash loses at most seconds. Each chunk
//! is an encrypted blob (S1); the recording is attached to the consultation as a timeline entry,
//! playable by the call's participants and the consultation's care team, every view audited, and kept
//! until `retain_until` (at least 3 years for audio/video consultation records), when a durable job
//! deletes it.

use chrono::{DateTime, Utc};
use sea_orm::DatabaseTransaction;
use serde::Serialize;
use serde_json::json;
use store::{
    entity::{call as k, call_recording as r, call_recording_chunk as rc},
    repo,
};

use super::{Party, Room, publish};
use crate::{App, AppError, Principal, RequestCtx, audit::Subject, bus::Event, consultation};

/// Largest chunk accepted (a few seconds of 720p video is well below).
pub const MAX_CHUNK_BYTES: usize = 16 * 1024 * 1024;
/// Containers MediaRecorder writes in the browsers we support.
const CONTAINERS: &[&str] = &["video/webm", "audio/webm", "video/mp4", "audio/mp4", "audio/ogg"];

#[derive(Debug, Clone, Serialize)]
pub struct RecordingView {
    pub id: String,
    pub call_id: String,
    pub consultation_id: String,
    pub content_type: String,
    /// `recording`, `complete`, `purged`.
    pub state: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub size_bytes: i64,
    /// Chunks stored so far; the next upload is chunk number `chunks`.
    pub chunks: i32,
    pub retain_until: DateTime<Utc>,
}

impl From<r::Model> for RecordingView {
    fn from(m: r::Model) -> Self {
        Self {
            id: m.id,
            call_id: m.call_id,
            consultation_id: m.consultation_id,
            content_type: m.content_type,
            state: m.state,
            started_at: m.started_at,
            ended_at: m.ended_at,
            size_bytes: m.size_bytes,
            chunks: m.chunks,
            retain_until: m.retain_until,
        }
    }
}

/// Starts a recording: only the consultation's doctor, in the call, after asking, and only once every
/// participant in the call has consented on screen.
/// A refusal (not found, forbidden) is audited too (issue 11 item 11).
pub async fn start_recording(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    call_id: &str,
    content_type: &str,
) -> Result<RecordingView, AppError> {
    let target = Subject { patient_id: None, resource: Some(call_id) };
    app.audit_denied(
        who,
        ctx,
        "call.recording.start",
        target,
        start_recording_inner(app, who, ctx, call_id, content_type),
    )
    .await
}

async fn start_recording_inner(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    call_id: &str,
    content_type: &str,
) -> Result<RecordingView, AppError> {
    let container = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if !CONTAINERS.contains(&container.as_str()) {
        return Err(AppError::invalid("recording_type", "Recordings are WebM, MP4 or Ogg media."));
    }
    let txn = app.store.begin_write().await?;
    let mut room = Room::lock_for(app, &txn, Party::User(who), call_id).await?;
    if !room.manager(&who.user_id) {
        return Err(AppError::Forbidden);
    }
    if room.call.recording_requested_at.is_none() {
        return Err(AppError::invalid("recording_consent_missing", "Ask everyone in the call to consent first."));
    }
    if room.people.iter().any(|m| m.state == "joined" && m.consent.as_deref() != Some("granted")) {
        return Err(AppError::invalid(
            "recording_consent_missing",
            "Everyone in the call must consent on their screen before recording starts.",
        ));
    }
    if room.recording.is_some() {
        return Err(AppError::invalid("recording_in_progress", "This call is already being recorded."));
    }
    let now = app.clock.now();
    let years = app.config.recording_retention_years.max(3);
    let retain_until =
        now.checked_add_months(chrono::Months::new(12 * years)).ok_or(AppError::Internal("retention date"))?;
    let row = r::Model {
        id: domain::FileId::new().to_string(),
        call_id: call_id.to_owned(),
        consultation_id: room.call.consultation_id.clone(),
        started_by: who.user_id.clone(),
        state: "recording".into(),
        content_type: container,
        started_at: now,
        ended_at: None,
        size_bytes: 0,
        chunks: 0,
        retain_until,
    };
    repo::call::insert_recording(&txn, row.clone()).await?;
    crate::jobs::schedule(
        &txn,
        crate::jobs::kind::RECORDING_PURGE,
        &format!("recording_purge:{}", row.id),
        &json!({"recording": row.id}),
        retain_until,
        now,
    )
    .await?;
    app.record(
        &txn,
        ctx,
        Some(who),
        "call.recording.start",
        Subject { patient_id: Some(&room.patient_id.clone()), resource: Some(&row.id) },
        call_id,
    )
    .await?;
    room.recording = Some(row.clone());
    let events = room.events(app);
    txn.commit().await?;
    publish(app, events);
    Ok(row.into())
}

/// Stores chunk `seq` of a running recording (its recorder only). Chunks arrive in order; sending a
/// stored chunk again (a retry) changes nothing.
/// A refusal (not found, forbidden) is audited too (issue 11 item 11).
pub async fn append_chunk(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    recording_id: &str,
    seq: i32,
    bytes: Vec<u8>,
) -> Result<RecordingView, AppError> {
    let target = Subject { patient_id: None, resource: Some(recording_id) };
    app.audit_denied(who, ctx, "call.recording.chunk", target, append_chunk_inner(app, who, recording_id, seq, bytes))
        .await
}

async fn append_chunk_inner(
    app: &App,
    who: &Principal,
    recording_id: &str,
    seq: i32,
    bytes: Vec<u8>,
) -> Result<RecordingView, AppError> {
    if bytes.is_empty() || bytes.len() > MAX_CHUNK_BYTES {
        return Err(AppError::invalid("recording_chunk", "A recording chunk holds 1 byte to 16 MB."));
    }
    let db = &app.store.db;
    let found = repo::call::find_recording(db, recording_id).await?.filter(|r| r.started_by == who.user_id);
    let rec = found.ok_or(AppError::NotFound)?;
    if seq < rec.chunks {
        return Ok(rec.into());
    }
    if rec.state != "recording" {
        return Err(AppError::invalid("recording_state", "This recording has finished."));
    }
    if seq != rec.chunks {
        return Err(AppError::invalid("recording_gap", "Send the recording's chunks in order."));
    }
    // The blob first: a row only ever names a stored blob. Same key on a retry: same bytes.
    let blob_key = format!("recordings/{}/{recording_id}/{seq:06}", rec.call_id);
    app.blobs.put(&app.keys.current(), &blob_key, &bytes).await?;
    let txn = app.store.begin_write().await?;
    let mut rec = repo::call::lock_recording(&txn, recording_id).await?.ok_or(AppError::NotFound)?;
    if seq < rec.chunks {
        return Ok(rec.into());
    }
    if rec.state != "recording" || seq != rec.chunks {
        return Err(AppError::invalid("recording_state", "This recording has finished."));
    }
    let size = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
    repo::call::insert_chunk(
        &txn,
        rc::Model {
            id: format!("{recording_id}:{seq}"),
            recording_id: recording_id.to_owned(),
            seq,
            blob_key,
            size_bytes: size,
            created_at: app.clock.now(),
        },
    )
    .await?;
    rec.chunks += 1;
    rec.size_bytes += size;
    repo::call::update_recording(&txn, rec.clone()).await?;
    txn.commit().await?;
    Ok(rec.into())
}

/// The recorder stops: the recording is complete and appears in the conversation.
/// A refusal (not found, forbidden) is audited too (issue 11 item 11).
pub async fn finish_recording(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    recording_id: &str,
) -> Result<RecordingView, AppError> {
    let target = Subject { patient_id: None, resource: Some(recording_id) };
    app.audit_denied(who, ctx, "call.recording.finish", target, finish_recording_inner(app, who, ctx, recording_id))
        .await
}

async fn finish_recording_inner(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    recording_id: &str,
) -> Result<RecordingView, AppError> {
    let txn = app.store.begin_write().await?;
    let found = repo::call::find_recording(&txn, recording_id).await?.filter(|r| r.started_by == who.user_id);
    let call_id = found.ok_or(AppError::NotFound)?.call_id;
    // The call first, then the recording: the order a hang-up that ends the call takes too.
    let call = repo::call::lock(&txn, &call_id).await?.ok_or(AppError::NotFound)?;
    let rec = repo::call::lock_recording(&txn, recording_id).await?.ok_or(AppError::NotFound)?;
    if rec.state != "recording" {
        txn.commit().await?;
        return Ok(rec.into());
    }
    let c = repo::consultation::get(&txn, &rec.consultation_id).await?;
    app.record(
        &txn,
        ctx,
        Some(who),
        "call.recording.finish",
        Subject { patient_id: Some(&c.patient_id), resource: Some(recording_id) },
        &rec.chunks.to_string(),
    )
    .await?;
    let mut events = complete(app, &txn, &call, rec).await?;
    let room = Room::load(app, &txn, call).await?;
    events.extend(room.events(app));
    let done = repo::call::find_recording(&txn, recording_id).await?.ok_or(AppError::NotFound)?;
    txn.commit().await?;
    publish(app, events);
    Ok(done.into())
}

/// Marks a recording complete and adds it to the conversation (also when the call ends while the
/// recorder is still running: what was uploaded is kept).
pub(super) async fn complete(
    app: &App,
    txn: &DatabaseTransaction,
    call: &k::Model,
    mut rec: r::Model,
) -> Result<Vec<Event>, AppError> {
    let now = app.clock.now();
    rec.state = "complete".into();
    rec.ended_at = Some(now);
    repo::call::update_recording(txn, rec.clone()).await?;
    if rec.chunks == 0 {
        return Ok(Vec::new());
    }
    let body = json!({
        "recording_id": rec.id,
        "call_id": rec.call_id,
        "kind": call.kind,
        "content_type": rec.content_type,
        "duration_secs": (now - rec.started_at).num_seconds().max(0),
        "size_bytes": rec.size_bytes,
    });
    consultation::system_entry(
        app,
        txn,
        &rec.consultation_id,
        &rec.started_by,
        "recording",
        &body.to_string(),
        &format!("recording-{}", rec.id),
    )
    .await
}

/// A recording's media for someone who was in the call or may see the consultation; audited.
/// A refusal (not found, forbidden) is audited too (issue 11 item 11).
pub async fn fetch_recording(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    id: &str,
) -> Result<(String, Vec<u8>), AppError> {
    let target = Subject { patient_id: None, resource: Some(id) };
    app.audit_denied(who, ctx, "call.recording.view", target, fetch_recording_inner(app, who, ctx, id)).await
}

async fn fetch_recording_inner(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    id: &str,
) -> Result<(String, Vec<u8>), AppError> {
    let txn = app.store.begin_write().await?;
    let rec = repo::call::find_recording(&txn, id).await?.ok_or(AppError::NotFound)?;
    let was_in_call =
        repo::call::participant(&txn, &rec.call_id, &who.user_id).await?.is_some_and(|m| m.joined_at.is_some());
    let scope = consultation::scope_for(&txn, who).await?;
    let c = repo::consultation::find_scoped(&txn, &scope, &rec.consultation_id).await?;
    let patient_id = match (c, was_in_call) {
        (Some(c), _) => c.patient_id,
        (None, true) => repo::consultation::get(&txn, &rec.consultation_id).await?.patient_id,
        (None, false) => return Err(AppError::NotFound),
    };
    if rec.state == "purged" {
        return Err(AppError::invalid("recording_purged", "This recording was deleted after its retention period."));
    }
    app.record(
        &txn,
        ctx,
        Some(who),
        "call.recording.view",
        Subject { patient_id: Some(&patient_id), resource: Some(id) },
        "ok",
    )
    .await?;
    let chunks = repo::call::chunks(&txn, id).await?;
    txn.commit().await?;
    let keys = app.keys.current();
    let mut out = Vec::with_capacity(usize::try_from(rec.size_bytes).unwrap_or(0));
    for ch in chunks {
        out.extend(app.blobs.get(&keys, &ch.blob_key).await?);
    }
    Ok((rec.content_type, out))
}

/// The retention job: a recording past `retain_until` is deleted (blobs and chunk rows); the row stays
/// as a tombstone and the deletion is audited.
pub async fn purge_recording(app: &App, txn: &DatabaseTransaction, id: &str) -> Result<Vec<Event>, AppError> {
    let Some(mut rec) = repo::call::lock_recording(txn, id).await? else { return Ok(Vec::new()) };
    let now = app.clock.now();
    if rec.state == "purged" || rec.retain_until > now {
        return Ok(Vec::new());
    }
    for ch in repo::call::chunks(txn, id).await? {
        app.blobs.delete(&ch.blob_key).await?;
    }
    repo::call::delete_chunks(txn, id).await?;
    rec.state = "purged".into();
    repo::call::update_recording(txn, rec.clone()).await?;
    let c = repo::consultation::get(txn, &rec.consultation_id).await?;
    app.record_as(
        txn,
        &RequestCtx::default(),
        None,
        Some("system"),
        "call.recording.purge",
        Subject { patient_id: Some(&c.patient_id), resource: Some(id) },
        "retention",
    )
    .await?;
    Ok(Vec::new())
}
