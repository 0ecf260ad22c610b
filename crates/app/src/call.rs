//! Voice and video calls inside a consultation (A1, F3). The browser does WebRTC; the server mints the
//! room (the call id, 128 random bits), rings the other side, relays signaling (offer/answer/ICE) over
//! the WebSocket to the call's two participants only, hands out ICE servers with short-lived TURN
//! credentials in coturn's `use-auth-secret` format, and keeps the call in the conversation timeline.
//!
//! States: `ringing` → `active` (accepted) → `ended`; or `ringing` → `declined` / `cancelled` (the
//! caller hung up) / `missed` (nobody answered within [`RING_SECS`], a durable job).

use base64::Engine as _;
use chrono::{DateTime, Utc};
use sea_orm::DatabaseTransaction;
use serde::Serialize;
use serde_json::{Value, json};
use store::{entity::call as k, repo};

use crate::{
    App, AppError, Principal, RequestCtx,
    audit::Subject,
    bus::Event,
    consultation::{self, scope_for},
};

/// How long a call rings before it counts as missed.
pub const RING_SECS: i64 = 45;
/// Largest signaling payload relayed (an SDP with many candidates stays far below).
const MAX_SIGNAL_BYTES: usize = 64 * 1024;

/// STUN/TURN configuration (`[calls]` in yiqiao.toml).
#[derive(Clone, Default)]
pub struct IceConfig {
    /// e.g. `stun:stun.example.org:3478`.
    pub stun_urls: Vec<String>,
    /// e.g. `turn:turn.example.org:3478?transport=udp`, `turns:turn.example.org:443?transport=tcp`.
    pub turn_urls: Vec<String>,
    /// The `static-auth-secret` shared with coturn (`use-auth-secret`).
    pub turn_secret: String,
    /// How long a TURN credential stays valid.
    pub turn_ttl_secs: i64,
}

impl std::fmt::Debug for IceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IceConfig")
            .field("stun_urls", &self.stun_urls)
            .field("turn_urls", &self.turn_urls)
            .field("turn_secret", &if self.turn_secret.is_empty() { "" } else { "***" })
            .field("turn_ttl_secs", &self.turn_ttl_secs)
            .finish()
    }
}

/// A TURN REST credential (coturn `use-auth-secret`): the username is `<expiry unix time>:<user id>`,
/// the password base64(HMAC-SHA1(secret, username)). coturn recomputes it; nothing is stored.
pub fn turn_credential(secret: &str, user_id: &str, now: DateTime<Utc>, ttl_secs: i64) -> (String, String) {
    let username = format!("{}:{user_id}", now.timestamp() + ttl_secs);
    let mac = crypto::hmac_sha1(secret.as_bytes(), username.as_bytes());
    (username, base64::engine::general_purpose::STANDARD.encode(mac))
}

/// The `iceServers` list for one user, as `RTCPeerConnection` takes it.
pub fn ice_servers(app: &App, user_id: &str) -> Value {
    let ice = &app.config.ice;
    let mut out = Vec::new();
    if !ice.stun_urls.is_empty() {
        out.push(json!({"urls": ice.stun_urls}));
    }
    if !ice.turn_urls.is_empty() && !ice.turn_secret.is_empty() {
        let ttl = if ice.turn_ttl_secs > 0 { ice.turn_ttl_secs } else { 3600 };
        let (username, credential) = turn_credential(&ice.turn_secret, user_id, app.clock.now(), ttl);
        out.push(json!({"urls": ice.turn_urls, "username": username, "credential": credential}));
    }
    Value::Array(out)
}

#[derive(Debug, Clone, Serialize)]
pub struct CallView {
    pub id: String,
    pub consultation_id: String,
    pub kind: String,
    pub state: String,
    pub caller_id: String,
    pub caller_name: String,
    pub callee_id: String,
    pub callee_name: String,
    pub created_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Whether the viewer placed the call (the caller makes the first offer).
    pub is_caller: bool,
    /// For the viewer only.
    pub ice_servers: Value,
}

async fn view(
    app: &App,
    db: &impl sea_orm::ConnectionTrait,
    row: &k::Model,
    viewer: &str,
) -> Result<CallView, AppError> {
    Ok(CallView {
        id: row.id.clone(),
        consultation_id: row.consultation_id.clone(),
        kind: row.kind.clone(),
        state: row.state.clone(),
        caller_name: consultation::display_name(app, db, &row.caller_id).await?,
        caller_id: row.caller_id.clone(),
        callee_name: consultation::display_name(app, db, &row.callee_id).await?,
        callee_id: row.callee_id.clone(),
        created_at: row.created_at,
        answered_at: row.answered_at,
        ended_at: row.ended_at,
        is_caller: row.caller_id == viewer,
        ice_servers: ice_servers(app, viewer),
    })
}

/// The call's participants are exactly its caller and callee.
fn participant(row: &k::Model, who: &Principal) -> bool {
    row.caller_id == who.user_id || row.callee_id == who.user_id
}

/// Starts a call from an open consultation to its other side (the patient or the assigned doctor).
pub async fn start(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    consultation_id: &str,
    kind: &str,
) -> Result<CallView, AppError> {
    if !matches!(kind, "voice" | "video") {
        return Err(AppError::invalid("call_kind", "A call is voice or video."));
    }
    let txn = app.store.begin_write().await?;
    let scope = scope_for(&txn, who).await?;
    let c = repo::consultation::lock_scoped(&txn, &scope, consultation_id).await?.ok_or(AppError::NotFound)?;
    if c.status == "closed" {
        return Err(AppError::invalid("consultation_closed", "This consultation is closed."));
    }
    let Some(doctor) = c.doctor_id.clone() else {
        return Err(AppError::invalid("call_needs_doctor", "A doctor must take this consultation before a call."));
    };
    let callee = if who.user_id == c.patient_id {
        doctor
    } else if who.user_id == doctor {
        c.patient_id.clone()
    } else {
        return Err(AppError::Forbidden);
    };
    if repo::call::live_in(&txn, consultation_id).await?.is_some() {
        return Err(AppError::invalid("call_in_progress", "A call is already ringing or running here."));
    }
    let now = app.clock.now();
    let mut id = [0_u8; 16];
    getrandom::fill(&mut id).map_err(|_| AppError::Internal("random"))?;
    let row = k::Model {
        id: hex::encode(id),
        consultation_id: consultation_id.to_owned(),
        kind: kind.to_owned(),
        caller_id: who.user_id.clone(),
        callee_id: callee.clone(),
        state: "ringing".into(),
        created_at: now,
        answered_at: None,
        ended_at: None,
        ended_by: None,
    };
    repo::call::insert(&txn, row.clone()).await?;
    crate::jobs::schedule(
        &txn,
        crate::jobs::kind::CALL_RING_TIMEOUT,
        &format!("ring_timeout:{}", row.id),
        &json!({"call": row.id}),
        now + chrono::Duration::seconds(RING_SECS),
        now,
    )
    .await?;
    app.record(
        &txn,
        ctx,
        Some(who),
        "call.start",
        Subject { patient_id: Some(&c.patient_id), resource: Some(&row.id) },
        kind,
    )
    .await?;
    let mine = view(app, &txn, &row, &who.user_id).await?;
    let theirs = view(app, &txn, &row, &callee).await?;
    txn.commit().await?;
    app.bus.publish(Event { recipients: vec![callee], payload: json!({"type": "call", "call": theirs}) });
    Ok(mine)
}

/// One call for a participant (the call page), with the viewer's ICE servers.
pub async fn get(app: &App, who: &Principal, id: &str) -> Result<CallView, AppError> {
    let db = &app.store.db;
    let row = repo::call::find(db, id).await?.filter(|r| participant(r, who)).ok_or(AppError::NotFound)?;
    view(app, db, &row, &who.user_id).await
}

/// Calls ringing for the caller right now (a page opened after the ring started still shows it).
pub async fn incoming(app: &App, who: &Principal) -> Result<Vec<CallView>, AppError> {
    let db = &app.store.db;
    let mut out = Vec::new();
    for row in repo::call::ringing_for(db, &who.user_id).await? {
        out.push(view(app, db, &row, &who.user_id).await?);
    }
    Ok(out)
}

/// `accept`, `decline` or `hangup` by a participant.
pub async fn act(app: &App, who: &Principal, ctx: &RequestCtx, id: &str, action: &str) -> Result<CallView, AppError> {
    let txn = app.store.begin_write().await?;
    let mut row = repo::call::lock(&txn, id).await?.filter(|r| participant(r, who)).ok_or(AppError::NotFound)?;
    let now = app.clock.now();
    let is_caller = row.caller_id == who.user_id;
    let next = match (row.state.as_str(), action, is_caller) {
        ("ringing", "accept", false) => "active",
        ("ringing", "decline", false) => "declined",
        ("ringing", "hangup", true) => "cancelled",
        ("active", "hangup", _) => "ended",
        // Hanging up twice (two tabs, a retry) changes nothing.
        ("ended" | "declined" | "cancelled" | "missed", "hangup", _) => {
            let v = view(app, &txn, &row, &who.user_id).await?;
            txn.commit().await?;
            return Ok(v);
        }
        _ => return Err(AppError::invalid("call_state", "The call cannot do that now.")),
    };
    row.state = next.into();
    if next == "active" {
        row.answered_at = Some(now);
    } else {
        row.ended_at = Some(now);
        row.ended_by = Some(who.user_id.clone());
    }
    repo::call::update(&txn, row.clone()).await?;
    let c = repo::consultation::get_for_update(&txn, &row.consultation_id).await?;
    app.record(
        &txn,
        ctx,
        Some(who),
        &format!("call.{action}"),
        Subject { patient_id: Some(&c.patient_id), resource: Some(id) },
        next,
    )
    .await?;
    let mut events = state_events(app, &txn, &row).await?;
    if next != "active" {
        events.extend(timeline_entry(app, &txn, &row, &who.user_id).await?);
    }
    let v = view(app, &txn, &row, &who.user_id).await?;
    txn.commit().await?;
    for e in events {
        app.bus.publish(e);
    }
    Ok(v)
}

/// Relays a signaling payload (SDP offer/answer, ICE candidate) to the call's other participant.
pub async fn signal(app: &App, who: &Principal, id: &str, data: Value) -> Result<(), AppError> {
    if !data.is_object() || data.to_string().len() > MAX_SIGNAL_BYTES {
        return Err(AppError::invalid("signal_invalid", "A signal is a JSON object under 64 KiB."));
    }
    let row = repo::call::find(&app.store.db, id).await?.filter(|r| participant(r, who)).ok_or(AppError::NotFound)?;
    if !matches!(row.state.as_str(), "ringing" | "active") {
        return Err(AppError::invalid("call_state", "The call has ended."));
    }
    let other = if row.caller_id == who.user_id { row.callee_id } else { row.caller_id };
    app.bus.publish(Event {
        recipients: vec![other],
        payload: json!({"type": "signal", "call_id": id, "from": who.user_id, "data": data}),
    });
    Ok(())
}

/// The ring-timeout job: a call still ringing becomes `missed`.
pub async fn ring_timeout(app: &App, txn: &DatabaseTransaction, id: &str) -> Result<Vec<Event>, AppError> {
    let Some(mut row) = repo::call::lock(txn, id).await? else { return Ok(Vec::new()) };
    if row.state != "ringing" {
        return Ok(Vec::new());
    }
    row.state = "missed".into();
    row.ended_at = Some(app.clock.now());
    repo::call::update(txn, row.clone()).await?;
    let mut events = state_events(app, txn, &row).await?;
    events.extend(timeline_entry(app, txn, &row, &row.caller_id).await?);
    Ok(events)
}

/// Both participants learn the new state (each with their own view).
async fn state_events(app: &App, txn: &DatabaseTransaction, row: &k::Model) -> Result<Vec<Event>, AppError> {
    let mut out = Vec::new();
    for user in [&row.caller_id, &row.callee_id] {
        let v = view(app, txn, row, user).await?;
        out.push(Event { recipients: vec![user.clone()], payload: json!({"type": "call", "call": v}) });
    }
    Ok(out)
}

/// The call in the conversation (A1): kind, outcome and duration, as a `call` message.
async fn timeline_entry(
    app: &App,
    txn: &DatabaseTransaction,
    row: &k::Model,
    by: &str,
) -> Result<Vec<Event>, AppError> {
    let secs = match (row.answered_at, row.ended_at) {
        (Some(a), Some(e)) => (e - a).num_seconds().max(0),
        _ => 0,
    };
    let body = json!({
        "call_id": row.id,
        "kind": row.kind,
        "state": row.state,
        "duration_secs": secs,
        "started_at": row.created_at,
    });
    consultation::system_entry(
        app,
        txn,
        &row.consultation_id,
        by,
        "call",
        &body.to_string(),
        &format!("call-{}", row.id),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::turn_credential;

    #[test]
    fn turn_credentials_follow_coturn_use_auth_secret() {
        // What coturn computes for `static-auth-secret=north`: base64(HMAC-SHA1(secret, username)).
        let now = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let (user, pass) = turn_credential("north", "alice", now, 3600);
        assert_eq!(user, "1700003600:alice", "expiry first, then the user");
        assert_eq!(pass, "wjwSXO2ch1B6VaLTLMy2Avn5O9o=");
    }
}
