//! Calls (A1, F3): start from a consultation, accept/decline/hang up, invite doctors and guests,
//! consent to and make recordings, and read one call with the caller's ICE servers. Signaling itself
//! travels over the WebSocket (`{"type":"signal",…}`). Guests (a one-time link) use the
//! `/api/v1/guest/…` routes with the cookie their link was exchanged for.

use app::call::{self, CallView, Guest, Party, RecordingView};
use axum::{
    Json,
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::Response,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    AppState,
    auth::{Auth, Caller, cookie},
    error::{ApiJson, ApiResult},
};

/// The cookie a guest's one-time link is exchanged for (this call only).
pub const GUEST_COOKIE: &str = "yiqiao_guest";

#[derive(Deserialize)]
pub struct StartBody {
    /// `voice` or `video`.
    kind: String,
}

/// `POST /api/v1/consultations/{id}/calls`: rings the other side.
pub async fn start(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<StartBody>,
) -> ApiResult<(StatusCode, Json<CallView>)> {
    Ok((StatusCode::CREATED, Json(call::start(&s.app, &who, &c.ctx, &id, &b.kind).await?)))
}

/// `GET /api/v1/calls`: calls ringing for the caller (`{"items":[…]}`).
pub async fn incoming(State(s): State<AppState>, Caller(c): Caller, Auth(who): Auth) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"items": call::incoming(&s.app, &who, &c.ctx).await?})))
}

/// `GET /api/v1/calls/{id}`: participants only (404 otherwise).
pub async fn get(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<CallView>> {
    Ok(Json(call::get(&s.app, Party::User(&who), &c.ctx, &id).await?))
}

/// `POST /api/v1/calls/{id}/{accept|decline|hangup|end}`.
pub async fn act(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path((id, action)): Path<(String, String)>,
) -> ApiResult<Json<CallView>> {
    if !matches!(action.as_str(), "accept" | "decline" | "hangup" | "end") {
        return Err(app::AppError::NotFound.into());
    }
    Ok(Json(call::act(&s.app, Party::User(&who), &c.ctx, &id, &action).await?))
}

#[derive(Deserialize)]
pub struct InviteBody {
    user_id: String,
}

/// `POST /api/v1/calls/{id}/invite`: the consultation's doctor rings another verified doctor in.
pub async fn invite(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<InviteBody>,
) -> ApiResult<Json<CallView>> {
    Ok(Json(call::invite(&s.app, &who, &c.ctx, &id, &b.user_id).await?))
}

#[derive(Deserialize, Default)]
pub struct InvitableQuery {
    #[serde(default)]
    q: String,
}

/// `GET /api/v1/calls/{id}/invitable?q=`: verified doctors who could be invited.
pub async fn invitable(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
    Query(q): Query<InvitableQuery>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"items": call::invitable(&s.app, &who, &c.ctx, &id, &q.q).await?})))
}

#[derive(Deserialize)]
pub struct GuestBody {
    name: String,
    /// `family` or `interpreter`.
    role: String,
}

/// `POST /api/v1/calls/{id}/guests`: a one-time link for a family member or an interpreter.
pub async fn guest_link(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<GuestBody>,
) -> ApiResult<(StatusCode, Json<call::GuestLink>)> {
    Ok((StatusCode::CREATED, Json(call::guest_link(&s.app, &who, &c.ctx, &id, &b.name, &b.role).await?)))
}

#[derive(Deserialize)]
pub struct ConsentBody {
    allow: bool,
}

/// `POST /api/v1/calls/{id}/consent`: the caller's answer to the recording question.
pub async fn consent(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ConsentBody>,
) -> ApiResult<Json<CallView>> {
    Ok(Json(call::consent(&s.app, Party::User(&who), &c.ctx, &id, b.allow).await?))
}

/// `POST /api/v1/calls/{id}/recording-request`: ask everyone in the call to consent.
pub async fn request_recording(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<CallView>> {
    Ok(Json(call::request_recording(&s.app, &who, &c.ctx, &id).await?))
}

#[derive(Deserialize)]
pub struct RecordingBody {
    /// The recorder's `mimeType`, e.g. `video/webm;codecs=vp8,opus`.
    content_type: String,
}

/// `POST /api/v1/calls/{id}/recordings`: starts a recording once everyone consented.
pub async fn start_recording(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<RecordingBody>,
) -> ApiResult<(StatusCode, Json<RecordingView>)> {
    Ok((StatusCode::CREATED, Json(call::start_recording(&s.app, &who, &c.ctx, &id, &b.content_type).await?)))
}

/// `PUT /api/v1/recordings/{id}/chunks/{seq}`: one piece of the recording (raw bytes), in order.
pub async fn chunk(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path((id, seq)): Path<(String, i32)>,
    body: Bytes,
) -> ApiResult<Json<RecordingView>> {
    Ok(Json(call::append_chunk(&s.app, &who, &c.ctx, &id, seq, body.to_vec()).await?))
}

pub(crate) fn chunk_body_limit() -> axum::extract::DefaultBodyLimit {
    axum::extract::DefaultBodyLimit::max(call::recording::MAX_CHUNK_BYTES)
}

/// `POST /api/v1/recordings/{id}/finish`: the recorder stopped; the recording joins the conversation.
pub async fn finish_recording(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<RecordingView>> {
    Ok(Json(call::finish_recording(&s.app, &who, &c.ctx, &id).await?))
}

/// `GET /api/v1/recordings/{id}`: the media (byte ranges); participants and care team, audited.
pub async fn recording(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (ct, bytes) = call::fetch_recording(&s.app, &who, &c.ctx, &id).await?;
    Ok(super::range::media_response(&headers, ct, bytes))
}

/// The guest behind the request's cookie; state changes must also carry the guest's CSRF token.
pub(crate) async fn guest_of(s: &AppState, headers: &HeaderMap, changes: bool) -> Result<Guest, app::AppError> {
    let secret = cookie(headers, GUEST_COOKIE).ok_or(app::AppError::Unauthenticated)?;
    let guest = call::guest_session(&s.app, &secret).await?;
    if changes && headers.get("x-csrf-token").and_then(|v| v.to_str().ok()) != Some(guest.csrf.as_str()) {
        return Err(app::AppError::Csrf);
    }
    Ok(guest)
}

/// `GET /api/v1/guest/call`: the guest's call.
pub async fn guest_call(State(s): State<AppState>, Caller(c): Caller, headers: HeaderMap) -> ApiResult<Json<CallView>> {
    let g = guest_of(&s, &headers, false).await?;
    Ok(Json(call::get(&s.app, Party::Guest(&g), &c.ctx, &g.call_id).await?))
}

#[derive(Deserialize, Default)]
pub struct GuestActBody {
    #[serde(default)]
    allow: Option<bool>,
}

/// `POST /api/v1/guest/call/{hangup|consent}` (consent: `{"allow":bool}`).
pub async fn guest_act(
    State(s): State<AppState>,
    Caller(c): Caller,
    headers: HeaderMap,
    Path(action): Path<String>,
    body: Option<Json<GuestActBody>>,
) -> ApiResult<Json<CallView>> {
    let g = guest_of(&s, &headers, true).await?;
    let party = Party::Guest(&g);
    Ok(Json(match action.as_str() {
        "hangup" => call::act(&s.app, party, &c.ctx, &g.call_id, "hangup").await?,
        "consent" => {
            let allow = body.and_then(|b| b.0.allow).unwrap_or(false);
            call::consent(&s.app, party, &c.ctx, &g.call_id, allow).await?
        }
        _ => return Err(app::AppError::NotFound.into()),
    }))
}
