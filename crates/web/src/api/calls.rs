//! Calls (A1, F3): start from a consultation, accept/decline/hang up, and read one call with the
//! caller's ICE servers. Signaling itself travels over the WebSocket (`{"type":"signal",…}`).

use app::call::{self, CallView};
use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use serde::Deserialize;

use crate::{
    AppState,
    auth::{Auth, Caller},
    error::{ApiJson, ApiResult},
};

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
pub async fn incoming(State(s): State<AppState>, Auth(who): Auth) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(serde_json::json!({"items": call::incoming(&s.app, &who).await?})))
}

/// `GET /api/v1/calls/{id}`: participants only (404 otherwise).
pub async fn get(State(s): State<AppState>, Auth(who): Auth, Path(id): Path<String>) -> ApiResult<Json<CallView>> {
    Ok(Json(call::get(&s.app, &who, &id).await?))
}

/// `POST /api/v1/calls/{id}/{accept|decline|hangup}`.
pub async fn act(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path((id, action)): Path<(String, String)>,
) -> ApiResult<Json<CallView>> {
    if !matches!(action.as_str(), "accept" | "decline" | "hangup") {
        return Err(app::AppError::NotFound.into());
    }
    Ok(Json(call::act(&s.app, &who, &c.ctx, &id, &action).await?))
}
