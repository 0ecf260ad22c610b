//! Who may join a call room (F3): the consultation's doctor invites other doctors (they ring like any
//! call) and interpreters or family members through a one-time link that expires; a guest exchanges
//! the link for a cookie that is good for this call only. Recording consent is asked on screen of
//! every participant.

use chrono::{DateTime, Utc};
use serde::Serialize;
use store::repo;

use super::{Guest, MAX_PARTICIPANTS, Party, Room, new_member, publish, schedule_ring_timeout, settle};
use crate::{
    App, AppError, Principal, RequestCtx,
    account::{random_token, token_hash},
    audit::Subject,
    consultation::DoctorListing,
};

/// How long a guest link stays usable.
pub const GUEST_LINK_SECS: i64 = 30 * 60;

/// A guest invitation as the doctor sees it once: the link is shown now and never again.
#[derive(Debug, Clone, Serialize)]
pub struct GuestLink {
    pub participant_id: String,
    /// Path of the join page (`/join/<token>`); the page prefixes its own origin.
    pub path: String,
    pub expires_at: DateTime<Utc>,
}

/// What a guest sees before joining: who invited them to what.
#[derive(Debug, Clone, Serialize)]
pub struct GuestPreview {
    pub host_name: String,
    pub guest_name: String,
    pub role: String,
    pub kind: String,
    pub expires_at: DateTime<Utc>,
}

/// People who hold a seat (in the call or still invited).
fn seats(room: &Room) -> usize {
    room.count("joined") + room.count("invited")
}

fn check_manager(room: &Room, who: &Principal) -> Result<(), AppError> {
    if !room.is_live() {
        return Err(AppError::invalid("call_state", "The call has ended."));
    }
    if !room.manager(&who.user_id) {
        return Err(AppError::Forbidden);
    }
    if seats(room) >= MAX_PARTICIPANTS {
        return Err(AppError::invalid("call_full", "A call holds at most 6 people."));
    }
    Ok(())
}

/// Verified doctors the consultation's doctor may invite (not already in the call).
/// A refusal (not found, forbidden) is audited too (issue 11 item 11).
pub async fn invitable(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    call_id: &str,
    q: &str,
) -> Result<Vec<DoctorListing>, AppError> {
    let target = Subject { patient_id: None, resource: Some(call_id) };
    app.audit_denied(who, ctx, "call.invitable", target, invitable_inner(app, who, call_id, q)).await
}

async fn invitable_inner(app: &App, who: &Principal, call_id: &str, q: &str) -> Result<Vec<DoctorListing>, AppError> {
    let room = Room::for_party(app, &app.store.db, Party::User(who), call_id).await?;
    if !room.manager(&who.user_id) {
        return Err(AppError::Forbidden);
    }
    let taken = |id: &str| room.member(id).is_some_and(|m| matches!(m.state.as_str(), "joined" | "invited"));
    let mut out = crate::consultation::list_doctors(app, q, None).await?;
    out.retain(|d| !taken(&d.id));
    out.truncate(20);
    Ok(out)
}

/// Invites a verified doctor into the call: their pages ring like for any call.
/// A refusal (not found, forbidden) is audited too (issue 11 item 11).
pub async fn invite(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    call_id: &str,
    user_id: &str,
) -> Result<super::CallView, AppError> {
    let target = Subject { patient_id: None, resource: Some(call_id) };
    app.audit_denied(who, ctx, "call.invite", target, invite_inner(app, who, ctx, call_id, user_id)).await
}

async fn invite_inner(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    call_id: &str,
    user_id: &str,
) -> Result<super::CallView, AppError> {
    let txn = app.store.begin_write().await?;
    let mut room = Room::lock_for(app, &txn, Party::User(who), call_id).await?;
    check_manager(&room, who)?;
    if !repo::verification::list_approved(&txn).await?.iter().any(|v| v.user_id == user_id) {
        return Err(AppError::invalid("invitee_invalid", "Only verified doctors can be invited this way."));
    }
    let now = app.clock.now();
    match room.member_mut(user_id) {
        Some(m) if matches!(m.state.as_str(), "joined" | "invited") => {
            return Err(AppError::invalid("already_invited", "This doctor is already in the call."));
        }
        // Invited before and left, declined or missed: ring again.
        Some(m) => {
            m.state = "invited".into();
            m.invited_at = now;
            m.invited_by.clone_from(&who.user_id);
            m.consent = None;
            m.consent_at = None;
            let row = m.clone();
            repo::call::update_participant(&txn, row).await?;
        }
        None => {
            let row = new_member(call_id, user_id, "doctor", "invited", &who.user_id, now);
            repo::call::insert_participant(&txn, row).await?;
        }
    }
    schedule_ring_timeout(&txn, call_id, user_id, now + chrono::Duration::seconds(super::RING_SECS), now).await?;
    app.record(
        &txn,
        ctx,
        Some(who),
        "call.invite",
        Subject { patient_id: Some(&room.patient_id.clone()), resource: Some(call_id) },
        user_id,
    )
    .await?;
    let mut room = Room::load(app, &txn, room.call.clone()).await?;
    let events = settle(app, &txn, &mut room, &who.user_id).await?;
    let v = room.view_for(app, &who.user_id);
    txn.commit().await?;
    publish(app, events);
    Ok(v)
}

/// Creates a one-time guest link (an interpreter or a family member) that expires in
/// [`GUEST_LINK_SECS`]. Only a hash of the token is stored.
/// A refusal (not found, forbidden) is audited too (issue 11 item 11).
pub async fn guest_link(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    call_id: &str,
    name: &str,
    role: &str,
) -> Result<GuestLink, AppError> {
    let target = Subject { patient_id: None, resource: Some(call_id) };
    app.audit_denied(who, ctx, "call.guest_link", target, guest_link_inner(app, who, ctx, call_id, name, role)).await
}

async fn guest_link_inner(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    call_id: &str,
    name: &str,
    role: &str,
) -> Result<GuestLink, AppError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 40 {
        return Err(AppError::invalid("guest_name", "Enter the guest's name (up to 40 characters)."));
    }
    if !matches!(role, "family" | "interpreter") {
        return Err(AppError::invalid("guest_role", "A guest is a family member or an interpreter."));
    }
    let txn = app.store.begin_write().await?;
    let room = Room::lock_for(app, &txn, Party::User(who), call_id).await?;
    check_manager(&room, who)?;
    let now = app.clock.now();
    let mut raw = [0_u8; 8];
    getrandom::fill(&mut raw).map_err(|_| AppError::Internal("random"))?;
    let participant_id = format!("guest-{}", hex::encode(raw));
    let token = random_token()?;
    let expires_at = now + chrono::Duration::seconds(GUEST_LINK_SECS);
    let mut row = new_member(call_id, &participant_id, role, "invited", &who.user_id, now);
    row.name_enc = Some(app.seal("call_participants", "name_enc", &row.id, name.as_bytes())?);
    row.token_hash = Some(token_hash(&token));
    row.token_expires_at = Some(expires_at);
    repo::call::insert_participant(&txn, row).await?;
    schedule_ring_timeout(&txn, call_id, &participant_id, expires_at, now).await?;
    app.record(
        &txn,
        ctx,
        Some(who),
        "call.guest_link",
        Subject { patient_id: Some(&room.patient_id), resource: Some(call_id) },
        &format!("{role} {participant_id}"),
    )
    .await?;
    let room = Room::load(app, &txn, room.call.clone()).await?;
    let events = room.events(app);
    txn.commit().await?;
    publish(app, events);
    Ok(GuestLink { participant_id, path: format!("/join/{token}"), expires_at })
}

/// The open invitation a link token names: unused, unexpired, and its call still live.
async fn open_invitation(
    app: &App,
    db: &impl sea_orm::ConnectionTrait,
    token: &str,
) -> Result<store::entity::call_participant::Model, AppError> {
    let m = repo::call::guest_by_token(db, &token_hash(token)).await?.ok_or(AppError::NotFound)?;
    if m.token_used_at.is_some() {
        return Err(AppError::invalid(
            "guest_link_used",
            "This link has already been used. Ask the doctor for a new one.",
        ));
    }
    if m.state == "expired" || m.token_expires_at.is_none_or(|t| t <= app.clock.now()) {
        return Err(AppError::invalid("guest_link_expired", "This link has expired. Ask the doctor for a new one."));
    }
    if m.state != "invited" {
        return Err(AppError::invalid("call_state", "The call has ended."));
    }
    Ok(m)
}

/// What the join page shows before the guest clicks "Join" (viewing changes nothing, so link
/// previews in chat apps do not use the link up).
pub async fn guest_preview(app: &App, token: &str) -> Result<GuestPreview, AppError> {
    let db = &app.store.db;
    let m = open_invitation(app, db, token).await?;
    let call = repo::call::find(db, &m.call_id).await?.ok_or(AppError::NotFound)?;
    let room = Room::load(app, db, call).await?;
    if !room.is_live() {
        return Err(AppError::invalid("call_state", "The call has ended."));
    }
    Ok(GuestPreview {
        host_name: room.name(&m.invited_by),
        guest_name: room.name(&m.participant_id),
        role: m.role,
        kind: room.call.kind.clone(),
        expires_at: m.token_expires_at.unwrap_or_default(),
    })
}

/// Uses the link: the guest joins the call and gets a cookie secret good for this call only.
pub async fn guest_join(app: &App, ctx: &RequestCtx, token: &str) -> Result<(String, Guest), AppError> {
    let txn = app.store.begin_write().await?;
    let m = open_invitation(app, &txn, token).await?;
    let call = repo::call::lock(&txn, &m.call_id).await?.ok_or(AppError::NotFound)?;
    let mut room = Room::load(app, &txn, call).await?;
    // Re-read under the call's lock: two clicks on the same link race here.
    let m = open_invitation(app, &txn, token).await?;
    if !room.is_live() {
        return Err(AppError::invalid("call_state", "The call has ended."));
    }
    let now = app.clock.now();
    let secret = random_token()?;
    let csrf = random_token()?;
    let pid = m.participant_id.clone();
    if let Some(row) = room.member_mut(&pid) {
        row.state = "joined".into();
        row.joined_at = Some(now);
        row.token_used_at = Some(now);
        row.secret_hash = Some(token_hash(&secret));
        row.csrf = Some(csrf.clone());
    }
    room.save_member(&txn, &pid).await?;
    app.record_as(
        &txn,
        ctx,
        Some(&pid),
        Some("guest"),
        "call.guest_join",
        Subject { patient_id: Some(&room.patient_id.clone()), resource: Some(&m.call_id) },
        &m.role,
    )
    .await?;
    let events = settle(app, &txn, &mut room, &pid).await?;
    let guest = Guest { name: room.name(&pid), participant_id: pid, call_id: m.call_id, csrf };
    txn.commit().await?;
    publish(app, events);
    Ok((secret, guest))
}

/// The guest behind a cookie secret, while they are in a live call.
pub async fn guest_session(app: &App, secret: &str) -> Result<Guest, AppError> {
    let db = &app.store.db;
    let m = repo::call::guest_by_secret(db, &token_hash(secret)).await?.ok_or(AppError::Unauthenticated)?;
    let call = repo::call::find(db, &m.call_id).await?.ok_or(AppError::Unauthenticated)?;
    if m.state != "joined" || !matches!(call.state.as_str(), "ringing" | "active") {
        return Err(AppError::Unauthenticated);
    }
    let name = match &m.name_enc {
        Some(sealed) => app.open_str("call_participants", "name_enc", &m.id, sealed)?,
        None => String::new(),
    };
    Ok(Guest { participant_id: m.participant_id, call_id: m.call_id, name, csrf: m.csrf.unwrap_or_default() })
}

/// A participant answers the recording question on their screen; audited either way.
/// A refusal (not found, forbidden) is audited too (issue 11 item 11).
pub async fn consent(
    app: &App,
    party: Party<'_>,
    ctx: &RequestCtx,
    call_id: &str,
    allow: bool,
) -> Result<super::CallView, AppError> {
    let target = Subject { patient_id: None, resource: Some(call_id) };
    app.audit_party_denied(party, ctx, "call.recording.consent", target, consent_inner(app, party, ctx, call_id, allow))
        .await
}

async fn consent_inner(
    app: &App,
    party: Party<'_>,
    ctx: &RequestCtx,
    call_id: &str,
    allow: bool,
) -> Result<super::CallView, AppError> {
    let txn = app.store.begin_write().await?;
    let mut room = Room::lock_for(app, &txn, party, call_id).await?;
    let me = party.id().to_owned();
    if !room.is_live() || room.member(&me).is_none_or(|m| m.state != "joined") {
        return Err(AppError::invalid("call_state", "You are not in this call."));
    }
    let now = app.clock.now();
    let answer = if allow { "granted" } else { "refused" };
    if let Some(m) = room.member_mut(&me) {
        m.consent = Some(answer.into());
        m.consent_at = Some(now);
    }
    room.save_member(&txn, &me).await?;
    party
        .record(
            app,
            &txn,
            ctx,
            "call.recording.consent",
            Subject { patient_id: Some(&room.patient_id.clone()), resource: Some(call_id) },
            answer,
        )
        .await?;
    let events = room.events(app);
    let v = room.view_for(app, &me);
    txn.commit().await?;
    publish(app, events);
    Ok(v)
}

/// The consultation's doctor asks everyone in the call to consent to recording (their own consent is
/// implied by asking).
/// A refusal (not found, forbidden) is audited too (issue 11 item 11).
pub async fn request_recording(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    call_id: &str,
) -> Result<super::CallView, AppError> {
    let target = Subject { patient_id: None, resource: Some(call_id) };
    app.audit_denied(who, ctx, "call.recording.request", target, request_recording_inner(app, who, ctx, call_id)).await
}

async fn request_recording_inner(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    call_id: &str,
) -> Result<super::CallView, AppError> {
    let txn = app.store.begin_write().await?;
    let mut room = Room::lock_for(app, &txn, Party::User(who), call_id).await?;
    if !room.manager(&who.user_id) {
        return Err(AppError::Forbidden);
    }
    let now = app.clock.now();
    room.call.recording_requested_at = Some(now);
    repo::call::update(&txn, room.call.clone()).await?;
    if let Some(m) = room.member_mut(&who.user_id) {
        m.consent = Some("granted".into());
        m.consent_at = Some(now);
    }
    room.save_member(&txn, &who.user_id).await?;
    app.record(
        &txn,
        ctx,
        Some(who),
        "call.recording.request",
        Subject { patient_id: Some(&room.patient_id.clone()), resource: Some(call_id) },
        "ok",
    )
    .await?;
    let events = room.events(app);
    let v = room.view_for(app, &who.user_id);
    txn.commit().await?;
    publish(app, events);
    Ok(v)
}
