//! Voice and video calls inside a consultation (A1, F3). The browser does WebRTC; the server mints the
//! room (the call id, 128 random bits), rings the people invited, relays signaling (offer/answer/ICE)
//! over the WebSocket between the room's joined participants only, hands out ICE servers with
//! short-lived TURN credentials in coturn's `use-auth-secret` format, and keeps the call in the
//! conversation timeline.
//!
//! A call is a room of up to [`MAX_PARTICIPANTS`] (a mesh: every pair of browsers has its own peer
//! connection). The caller is the host; the consultation's other side is invited first; the
//! consultation's doctor may invite other doctors, and interpreters or family members through a
//! one-time link that expires ([`room`]). Recording needs every joined participant's consent
//! ([`recording`]).
//!
//! Call states: `ringing` → `active` (someone besides the host joined) → `ended` (fewer than two
//! remain and nobody is still invited); or `ringing` → `declined` / `cancelled` (the host hung up) /
//! `missed` (nobody answered within [`RING_SECS`], a durable job per invitation).
//! Participant states: `invited` → `joined` → `left`; or `invited` → `declined` / `missed` /
//! `expired` (a guest link nobody used).

pub mod recording;
pub mod room;

use std::collections::HashMap;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseTransaction};
use serde::Serialize;
use serde_json::{Value, json};
use store::{
    entity::{call as k, call_participant as p, call_recording as r},
    repo,
};

pub use self::{
    recording::{RecordingView, append_chunk, fetch_recording, finish_recording, purge_recording, start_recording},
    room::{
        GuestLink, GuestPreview, consent, guest_join, guest_link, guest_preview, guest_session, invitable, invite,
        request_recording,
    },
};
use crate::{
    App, AppError, Principal, RequestCtx,
    audit::Subject,
    bus::Event,
    consultation::{self, scope_for},
};

/// How long a call rings before it counts as missed.
pub const RING_SECS: i64 = 45;
/// Largest room: a mesh of six browsers (each sends five streams) is what a phone can carry.
pub const MAX_PARTICIPANTS: usize = 6;
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

/// A guest in a call: came through a one-time link, holds a cookie for this call only.
#[derive(Debug, Clone)]
pub struct Guest {
    pub participant_id: String,
    pub call_id: String,
    pub name: String,
    /// Sent back in `X-CSRF-Token` by the guest's page.
    pub csrf: String,
}

/// Who acts in a call: a signed-in user or a guest.
#[derive(Debug, Clone, Copy)]
pub enum Party<'a> {
    User(&'a Principal),
    Guest(&'a Guest),
}

impl Party<'_> {
    /// The participant id: the user's id, or the guest's `guest-…` id.
    pub fn id(&self) -> &str {
        match self {
            Self::User(p) => &p.user_id,
            Self::Guest(g) => &g.participant_id,
        }
    }

    /// A guest's cookie names one call: any other room id does not exist for them.
    fn may_ask_for(&self, call_id: &str) -> Result<(), AppError> {
        match self {
            Self::Guest(g) if g.call_id != call_id => Err(AppError::NotFound),
            _ => Ok(()),
        }
    }

    /// Audit entry for this party's action.
    async fn record(
        &self,
        app: &App,
        txn: &DatabaseTransaction,
        ctx: &RequestCtx,
        action: &str,
        subject: Subject<'_>,
        outcome: &str,
    ) -> Result<(), AppError> {
        match self {
            Self::User(p) => app.record(txn, ctx, Some(p), action, subject, outcome).await,
            Self::Guest(g) => {
                app.record_as(txn, ctx, Some(&g.participant_id), Some("guest"), action, subject, outcome).await
            }
        }
    }
}

impl App {
    /// [`App::audit_denied`] for a party in a call: a signed-in user or a guest (issue 11 item 11).
    pub(crate) fn audit_party_denied<'a, T: Send + 'a>(
        &'a self,
        party: Party<'a>,
        ctx: &'a RequestCtx,
        action: &'a str,
        target: Subject<'a>,
        use_case: impl Future<Output = Result<T, AppError>> + Send + 'a,
    ) -> impl Future<Output = Result<T, AppError>> + Send + 'a {
        let (id, role) = match party {
            Party::User(p) => (p.user_id.as_str(), p.primary_role().as_str()),
            Party::Guest(g) => (g.participant_id.as_str(), "guest"),
        };
        self.audit_denied_as(Some(id), Some(role), ctx, action, target, use_case)
    }
}

/// One person in the room as every participant sees them.
#[derive(Debug, Clone, Serialize)]
pub struct ParticipantView {
    pub id: String,
    pub name: String,
    /// `host`, `member`, `doctor`, `interpreter`, `family`.
    pub role: String,
    pub state: String,
    /// Recording consent: `granted`, `refused`, or none yet.
    pub consent: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CallView {
    pub id: String,
    pub consultation_id: String,
    pub kind: String,
    pub state: String,
    /// The host (who placed the call).
    pub caller_id: String,
    pub caller_name: String,
    /// The consultation's other side, invited first.
    pub callee_id: String,
    pub callee_name: String,
    pub created_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Whether the viewer placed the call.
    pub is_caller: bool,
    /// The viewer's participant id, role and state.
    pub me: String,
    pub my_role: String,
    pub my_state: String,
    /// Who invited the viewer (the ring says who is calling).
    pub invited_by_name: String,
    /// Whether the viewer may invite people and record (the consultation's doctor, in the call).
    pub can_manage: bool,
    pub participants: Vec<ParticipantView>,
    /// The host asked everyone to consent to recording.
    pub recording_requested: bool,
    /// The recording running now, if any.
    pub recording_id: Option<String>,
    /// For the viewer only.
    pub ice_servers: Value,
}

impl CallView {
    /// Whether the call is over.
    pub fn is_final(&self) -> bool {
        !matches!(self.state.as_str(), "ringing" | "active")
    }
}

/// A call with everyone in it, loaded once per change.
pub(crate) struct Room {
    call: k::Model,
    people: Vec<p::Model>,
    names: HashMap<String, String>,
    patient_id: String,
    doctor_id: Option<String>,
    /// The recording running now.
    recording: Option<r::Model>,
}

impl Room {
    async fn load(app: &App, db: &impl ConnectionTrait, call: k::Model) -> Result<Self, AppError> {
        let people = repo::call::participants(db, &call.id).await?;
        let mut names = HashMap::new();
        for m in &people {
            let name = match (&m.user_id, &m.name_enc) {
                (Some(u), _) => consultation::display_name(app, db, u).await?,
                (None, Some(sealed)) => app.open_str("call_participants", "name_enc", &m.id, sealed)?,
                (None, None) => String::new(),
            };
            names.insert(m.participant_id.clone(), name);
        }
        let c = repo::consultation::get(db, &call.consultation_id).await?;
        let recording = repo::call::recordings_of(db, &call.id).await?.into_iter().find(|r| r.state == "recording");
        Ok(Self { people, names, patient_id: c.patient_id, doctor_id: c.doctor_id, recording, call })
    }

    /// The room if `party` was ever part of it; not found otherwise (room ids are not confirmed).
    async fn for_party(app: &App, db: &impl ConnectionTrait, party: Party<'_>, id: &str) -> Result<Self, AppError> {
        party.may_ask_for(id)?;
        let call = repo::call::find(db, id).await?.ok_or(AppError::NotFound)?;
        Self::load(app, db, call).await?.with_member(party)
    }

    /// Like [`Room::for_party`] with the call row locked for a change.
    async fn lock_for(app: &App, txn: &DatabaseTransaction, party: Party<'_>, id: &str) -> Result<Self, AppError> {
        party.may_ask_for(id)?;
        let call = repo::call::lock(txn, id).await?.ok_or(AppError::NotFound)?;
        Self::load(app, txn, call).await?.with_member(party)
    }

    fn with_member(self, party: Party<'_>) -> Result<Self, AppError> {
        if self.member(party.id()).is_none() {
            return Err(AppError::NotFound);
        }
        Ok(self)
    }

    fn member(&self, id: &str) -> Option<&p::Model> {
        self.people.iter().find(|m| m.participant_id == id)
    }

    fn member_mut(&mut self, id: &str) -> Option<&mut p::Model> {
        self.people.iter_mut().find(|m| m.participant_id == id)
    }

    fn count(&self, state: &str) -> usize {
        self.people.iter().filter(|m| m.state == state).count()
    }

    fn is_live(&self) -> bool {
        matches!(self.call.state.as_str(), "ringing" | "active")
    }

    /// The consultation's doctor, joined in this call: may invite and record.
    fn manager(&self, id: &str) -> bool {
        self.is_live() && self.doctor_id.as_deref() == Some(id) && self.member(id).is_some_and(|m| m.state == "joined")
    }

    fn name(&self, id: &str) -> String {
        self.names.get(id).cloned().unwrap_or_default()
    }

    fn view_for(&self, app: &App, viewer: &str) -> CallView {
        let me = self.member(viewer);
        CallView {
            id: self.call.id.clone(),
            consultation_id: self.call.consultation_id.clone(),
            kind: self.call.kind.clone(),
            state: self.call.state.clone(),
            caller_id: self.call.caller_id.clone(),
            caller_name: self.name(&self.call.caller_id),
            callee_id: self.call.callee_id.clone(),
            callee_name: self.name(&self.call.callee_id),
            created_at: self.call.created_at,
            answered_at: self.call.answered_at,
            ended_at: self.call.ended_at,
            is_caller: self.call.caller_id == viewer,
            me: viewer.to_owned(),
            my_role: me.map(|m| m.role.clone()).unwrap_or_default(),
            my_state: me.map(|m| m.state.clone()).unwrap_or_default(),
            invited_by_name: me.map(|m| self.name(&m.invited_by)).unwrap_or_default(),
            can_manage: self.manager(viewer),
            participants: self
                .people
                .iter()
                .map(|m| ParticipantView {
                    id: m.participant_id.clone(),
                    name: self.name(&m.participant_id),
                    role: m.role.clone(),
                    state: m.state.clone(),
                    consent: m.consent.clone(),
                })
                .collect(),
            recording_requested: self.call.recording_requested_at.is_some(),
            recording_id: self.recording.as_ref().map(|r| r.id.clone()),
            ice_servers: ice_servers(app, viewer),
        }
    }

    /// Every participant learns the room's new state, each with their own view.
    fn events(&self, app: &App) -> Vec<Event> {
        self.people
            .iter()
            .filter(|m| !matches!(m.state.as_str(), "declined" | "missed" | "expired") || !self.is_live())
            .map(|m| Event {
                recipients: vec![m.participant_id.clone()],
                payload: json!({"type": "call", "call": self.view_for(app, &m.participant_id)}),
            })
            .collect()
    }

    /// Writes the participant rows that changed.
    async fn save_member(&self, txn: &DatabaseTransaction, id: &str) -> Result<(), AppError> {
        if let Some(m) = self.member(id) {
            repo::call::update_participant(txn, m.clone()).await?;
        }
        Ok(())
    }
}

/// A new participant row (not yet written).
fn new_member(call_id: &str, participant_id: &str, role: &str, state: &str, by: &str, now: DateTime<Utc>) -> p::Model {
    p::Model {
        id: format!("{call_id}:{participant_id}"),
        call_id: call_id.to_owned(),
        participant_id: participant_id.to_owned(),
        user_id: (!participant_id.starts_with("guest-")).then(|| participant_id.to_owned()),
        name_enc: None,
        role: role.to_owned(),
        state: state.to_owned(),
        invited_by: by.to_owned(),
        invited_at: now,
        joined_at: (state == "joined").then_some(now),
        left_at: None,
        consent: None,
        consent_at: None,
        token_hash: None,
        token_expires_at: None,
        token_used_at: None,
        secret_hash: None,
        csrf: None,
    }
}

/// Starts a call from an open consultation to its other side (the patient or the assigned doctor).
/// A refusal (not found, forbidden) is audited too (issue 11 item 11).
pub async fn start(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    consultation_id: &str,
    kind: &str,
) -> Result<CallView, AppError> {
    let target = Subject { patient_id: None, resource: Some(consultation_id) };
    app.audit_denied(who, ctx, "call.start", target, start_inner(app, who, ctx, consultation_id, kind)).await
}

async fn start_inner(
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
        recording_requested_at: None,
    };
    repo::call::insert(&txn, row.clone()).await?;
    repo::call::insert_participant(&txn, new_member(&row.id, &who.user_id, "host", "joined", &who.user_id, now))
        .await?;
    repo::call::insert_participant(&txn, new_member(&row.id, &callee, "member", "invited", &who.user_id, now)).await?;
    schedule_ring_timeout(&txn, &row.id, &callee, now + chrono::Duration::seconds(RING_SECS), now).await?;
    app.record(
        &txn,
        ctx,
        Some(who),
        "call.start",
        Subject { patient_id: Some(&c.patient_id), resource: Some(&row.id) },
        kind,
    )
    .await?;
    let room = Room::load(app, &txn, row).await?;
    let mine = room.view_for(app, &who.user_id);
    let events = room.events(app);
    txn.commit().await?;
    publish(app, events);
    Ok(mine)
}

fn publish(app: &App, events: Vec<Event>) {
    for e in events {
        app.bus.publish(e);
    }
}

/// An invitation rings (or a guest link stays open) until `due`; then a durable job closes it.
async fn schedule_ring_timeout(
    txn: &DatabaseTransaction,
    call_id: &str,
    participant_id: &str,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    crate::jobs::schedule(
        txn,
        crate::jobs::kind::CALL_RING_TIMEOUT,
        &format!("ring_timeout:{call_id}:{participant_id}:{}", due.timestamp()),
        &json!({"call": call_id, "participant": participant_id}),
        due,
        now,
    )
    .await?;
    Ok(())
}

/// One call for a participant (the call page), with the viewer's ICE servers. A refusal is audited
/// (issue 11 item 11).
pub async fn get(app: &App, party: Party<'_>, ctx: &RequestCtx, id: &str) -> Result<CallView, AppError> {
    let target = Subject { patient_id: None, resource: Some(id) };
    let view = async {
        let room = Room::for_party(app, &app.store.db, party, id).await?;
        Ok(room.view_for(app, party.id()))
    };
    app.audit_party_denied(party, ctx, "call.view", target, view).await
}

/// Calls ringing for the caller right now (a page opened after the ring started still shows it).
/// A ringing call names who calls, so showing the list is audited (issue 11 item 11).
pub async fn incoming(app: &App, who: &Principal, ctx: &RequestCtx) -> Result<Vec<CallView>, AppError> {
    let db = &app.store.db;
    let mut out = Vec::new();
    for row in repo::call::ringing_for(db, &who.user_id).await? {
        out.push(Room::load(app, db, row).await?.view_for(app, &who.user_id));
    }
    app.record_view(who, ctx, "call.list", Subject { patient_id: None, resource: None }, out.len()).await?;
    Ok(out)
}

/// `accept`, `decline`, `hangup` (leave) or `end` (the consultation's doctor ends it for everyone).
/// A refusal is audited (issue 11 item 11).
pub async fn act(app: &App, party: Party<'_>, ctx: &RequestCtx, id: &str, action: &str) -> Result<CallView, AppError> {
    let target = Subject { patient_id: None, resource: Some(id) };
    app.audit_party_denied(party, ctx, "call.act", target, act_inner(app, party, ctx, id, action)).await
}

async fn act_inner(
    app: &App,
    party: Party<'_>,
    ctx: &RequestCtx,
    id: &str,
    action: &str,
) -> Result<CallView, AppError> {
    let txn = app.store.begin_write().await?;
    let mut room = Room::lock_for(app, &txn, party, id).await?;
    let me = party.id().to_owned();
    let now = app.clock.now();
    let mine = room.member(&me).map(|m| m.state.clone()).unwrap_or_default();
    let live = room.is_live();
    let next = match (mine.as_str(), action) {
        ("invited", "accept") if live && matches!(party, Party::User(_)) => "joined",
        ("invited", "decline" | "hangup") if live => "declined",
        ("joined", "hangup") if live => "left",
        ("joined", "end") if room.manager(&me) => "left",
        // Hanging up twice (two tabs, a retry) or after the call ended changes nothing.
        (_, "hangup" | "decline") if !live || matches!(mine.as_str(), "left" | "declined" | "missed" | "expired") => {
            let v = room.view_for(app, &me);
            txn.commit().await?;
            return Ok(v);
        }
        _ => return Err(AppError::invalid("call_state", "The call cannot do that now.")),
    };
    let targets: Vec<String> = if action == "end" {
        room.people.iter().filter(|m| m.state == "joined").map(|m| m.participant_id.clone()).collect()
    } else {
        vec![me.clone()]
    };
    for t in &targets {
        if let Some(m) = room.member_mut(t) {
            m.state = next.into();
            if next == "joined" {
                m.joined_at = Some(now);
            } else {
                m.left_at = Some(now);
            }
        }
        room.save_member(&txn, t).await?;
    }
    party
        .record(
            app,
            &txn,
            ctx,
            &format!("call.{action}"),
            Subject { patient_id: Some(&room.patient_id.clone()), resource: Some(id) },
            next,
        )
        .await?;
    let events = settle(app, &txn, &mut room, &me).await?;
    let v = room.view_for(app, &me);
    txn.commit().await?;
    publish(app, events);
    Ok(v)
}

/// Moves the call to the state its participants imply, closes what a final state closes, and returns
/// the events to send after commit (everyone's new view, the timeline entry).
async fn settle(app: &App, txn: &DatabaseTransaction, room: &mut Room, by: &str) -> Result<Vec<Event>, AppError> {
    let now = app.clock.now();
    let host = room.call.caller_id.clone();
    let joined = room.count("joined");
    let pending = room.count("invited");
    let others_joined = room.people.iter().any(|m| m.participant_id != host && m.state == "joined");
    let host_in = room.member(&host).is_some_and(|m| m.state == "joined");
    let next = match room.call.state.as_str() {
        "ringing" if others_joined => Some("active"),
        "ringing" if !host_in => Some("cancelled"),
        "ringing" if pending == 0 => Some(if room.count("declined") > 0 { "declined" } else { "missed" }),
        "active" if joined == 0 || (joined == 1 && pending == 0) => Some("ended"),
        _ => None,
    };
    let mut events = Vec::new();
    if let Some(next) = next {
        room.call.state = next.into();
        if next == "active" {
            room.call.answered_at = Some(now);
        } else {
            room.call.ended_at = Some(now);
            room.call.ended_by = Some(by.to_owned());
            // Whoever is still in or still invited is out now.
            for m in &mut room.people {
                let closed = match m.state.as_str() {
                    "joined" => "left",
                    "invited" if m.user_id.is_none() => "expired",
                    "invited" => "missed",
                    _ => continue,
                };
                m.state = closed.into();
                if closed == "left" {
                    m.left_at = Some(now);
                }
                repo::call::update_participant(txn, m.clone()).await?;
            }
            if let Some(running) = room.recording.take() {
                // Fresh and locked: an upload may have committed since the room was read.
                if let Some(rec) = repo::call::lock_recording(txn, &running.id).await?
                    && rec.state == "recording"
                {
                    events.extend(recording::complete(app, txn, &room.call, rec).await?);
                }
            }
        }
        repo::call::update(txn, room.call.clone()).await?;
        if next != "active" {
            // The timeline line is written in a user's name: a guest who ended it is not one.
            let author = if room.member(by).is_some_and(|m| m.user_id.is_some()) { by.to_owned() } else { host };
            events.extend(timeline_entry(app, txn, &room.call, &author).await?);
        }
    }
    let mut out = room.events(app);
    out.extend(events);
    Ok(out)
}

/// Relays a signaling payload (SDP offer/answer, ICE candidate, `hello`) from a joined participant
/// to one other joined participant (`to`), or to all of them. A refusal is audited (issue 11 item 11).
pub async fn signal(
    app: &App,
    party: Party<'_>,
    ctx: &RequestCtx,
    id: &str,
    to: Option<&str>,
    data: Value,
) -> Result<(), AppError> {
    let target = Subject { patient_id: None, resource: Some(id) };
    app.audit_party_denied(party, ctx, "call.signal", target, relay(app, party, id, to, data)).await
}

async fn relay(app: &App, party: Party<'_>, id: &str, to: Option<&str>, data: Value) -> Result<(), AppError> {
    if !data.is_object() || data.to_string().len() > MAX_SIGNAL_BYTES {
        return Err(AppError::invalid("signal_invalid", "A signal is a JSON object under 64 KiB."));
    }
    party.may_ask_for(id)?;
    // One read per frame: nobody is `joined` in a call that is over (`settle` moves them to `left`).
    let people = repo::call::participants(&app.store.db, id).await?;
    let me = party.id();
    match people.iter().find(|m| m.participant_id == me).map(|m| m.state.as_str()) {
        None => return Err(AppError::NotFound),
        Some("joined") => {}
        Some(_) => return Err(AppError::invalid("call_state", "You are not in this call.")),
    }
    let recipients: Vec<String> = people
        .into_iter()
        .filter(|m| m.state == "joined" && m.participant_id != me)
        .map(|m| m.participant_id)
        .filter(|pid| to.is_none_or(|t| t == pid))
        .collect();
    if to.is_some() && recipients.is_empty() {
        return Err(AppError::invalid("signal_recipient", "That person is not in this call."));
    }
    if !recipients.is_empty() {
        app.bus
            .publish(Event { recipients, payload: json!({"type": "signal", "call_id": id, "from": me, "data": data}) });
    }
    Ok(())
}

/// The ring-timeout job: an invitation still open becomes `missed` (a guest link `expired`), and the
/// call follows (a call nobody answered is `missed`).
pub async fn ring_timeout(
    app: &App,
    txn: &DatabaseTransaction,
    id: &str,
    participant: Option<&str>,
) -> Result<Vec<Event>, AppError> {
    let Some(call) = repo::call::lock(txn, id).await? else { return Ok(Vec::new()) };
    let mut room = Room::load(app, txn, call).await?;
    let who = participant.map_or_else(|| room.call.callee_id.clone(), str::to_owned);
    let now = app.clock.now();
    let Some(m) = room.member_mut(&who) else { return Ok(Vec::new()) };
    // Only the invitation this job was scheduled for: one rung again later rings its full time.
    let due = match m.token_expires_at {
        Some(expiry) => expiry,
        None => m.invited_at + chrono::Duration::seconds(RING_SECS),
    };
    if m.state != "invited" || due > now {
        return Ok(Vec::new());
    }
    m.state = if m.user_id.is_none() { "expired" } else { "missed" }.into();
    room.save_member(txn, &who).await?;
    let host = room.call.caller_id.clone();
    settle(app, txn, &mut room, &host).await
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
