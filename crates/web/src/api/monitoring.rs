//! Chronic-care monitoring routes (D2, D4, D5) and the device contract (docs/DEVICES.md):
//! `POST /api/v1/device-readings` with `Authorization: Device <device_id>:<secret>`, alerts and their
//! acknowledgement, plans, device pairing, and a patient's observations.

use app::monitoring;
use axum::{
    Json,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode, header},
};
use chrono::{DateTime, NaiveDate, Utc};
use domain::reading::ReadingKind;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    AppState,
    auth::{Auth, Caller},
    error::{ApiJson, ApiResult},
};

/// `Authorization: Device <device_id>:<secret>`.
fn device_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (id, secret) = v.strip_prefix("Device ")?.trim().split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// `POST /api/v1/device-readings`: 201 with what was stored; 200 when every reading was a duplicate
/// (the stored readings). A batch (JSON array) answers `{"items":[…]}`.
pub async fn device_readings(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (id, secret) = device_credentials(&headers).ok_or(app::AppError::Unauthenticated)?;
    let device = monitoring::authenticate_device(&s.app, &id, &secret).await?;
    let (items, batch) = monitoring::ingest(&s.app, &device, &body).await?;
    let created = items.iter().any(|(_, c)| *c);
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    let mut views: Vec<Value> =
        items.into_iter().map(|(v, c)| json!({"created": c, "observation": v})).collect::<Vec<_>>();
    let body = if batch { json!({"items": views}) } else { views.pop().unwrap_or(Value::Null) };
    Ok((status, Json(body)))
}

/// `GET /api/v1/alerts`: the caller's open alerts.
pub async fn alerts(State(s): State<AppState>, Caller(c): Caller, Auth(who): Auth) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"items": monitoring::open_alerts(&s.app, &who, &c.ctx).await?})))
}

/// `POST /api/v1/alerts/{id}/ack`.
pub async fn acknowledge(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<monitoring::AlertView>> {
    Ok(Json(monitoring::acknowledge(&s.app, &who, &c.ctx, &id).await?))
}

#[derive(Deserialize, Default)]
pub struct ObservationQuery {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
}

/// `from`/`to`: RFC 3339 or a China-time date (`2026-12-01` = from its midnight, +08:00).
fn instant(v: Option<&str>) -> Result<Option<DateTime<Utc>>, app::AppError> {
    let Some(v) = v.filter(|v| !v.is_empty()) else { return Ok(None) };
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    let d = NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .map_err(|_| app::AppError::invalid("date_format", "Dates are YYYY-MM-DD or RFC 3339 times."))?;
    let midnight = d.and_hms_opt(0, 0, 0).ok_or(app::AppError::Internal("date"))?;
    Ok(Some(midnight.and_utc() - chrono::Duration::hours(8)))
}

/// `GET /api/v1/patients/{id}/observations?code=&from=&to=`.
pub async fn observations(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
    Query(q): Query<ObservationQuery>,
) -> ApiResult<Json<Value>> {
    let items = monitoring::observations(
        &s.app,
        &who,
        &c.ctx,
        &id,
        q.code.as_deref().filter(|c| !c.is_empty()),
        instant(q.from.as_deref())?,
        instant(q.to.as_deref())?,
    )
    .await?;
    Ok(Json(json!({"items": items})))
}

/// `POST /api/v1/patients/{id}/plans`.
pub async fn create_plan(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<monitoring::PlanInput>,
) -> ApiResult<(StatusCode, Json<monitoring::PlanView>)> {
    let plan = monitoring::create_plan(&s.app, &who, &c.ctx, &id, b).await?;
    Ok((StatusCode::CREATED, Json(plan)))
}

/// `GET /api/v1/patients/{id}/plans`.
pub async fn plans(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"items": monitoring::plans(&s.app, &who, &c.ctx, &id).await?})))
}

#[derive(Deserialize)]
pub struct DeviceBody {
    device_id: String,
    kind: ReadingKind,
    #[serde(default)]
    label: String,
}

/// `POST /api/v1/patients/{id}/devices`: pairs a device; the secret is in the answer, once.
pub async fn pair_device(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<DeviceBody>,
) -> ApiResult<(StatusCode, Json<monitoring::PairedDevice>)> {
    let paired = monitoring::pair_device(&s.app, &who, &c.ctx, &id, &b.device_id, b.kind, &b.label, None).await?;
    Ok((StatusCode::CREATED, Json(paired)))
}
