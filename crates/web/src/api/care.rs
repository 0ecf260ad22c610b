//! Chronic-care routes, second part (D1–D3, E3): tasks and follow-up visits, readings entered by
//! hand, trend charts (SVG), plan templates, completion rates, and notifications (inbox, channel
//! preferences, reach, SMS gateway receipts).

use app::{
    monitoring::{self, chart, plans, tasks, trend},
    notify,
};
use axum::{
    Json,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Duration, Utc};
use domain::reading::ReadingKind;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    AppState,
    auth::{Auth, Caller},
    error::{ApiJson, ApiResult},
};

#[derive(Deserialize, Default)]
pub struct Window {
    #[serde(default)]
    from: Option<DateTime<Utc>>,
    #[serde(default)]
    to: Option<DateTime<Utc>>,
    #[serde(default)]
    days: Option<i64>,
    #[serde(default)]
    lang: Option<String>,
    #[serde(default)]
    before: Option<DateTime<Utc>>,
    #[serde(default)]
    count_only: bool,
}

/// `GET /api/v1/patients/{id}/tasks?from=&to=`: default yesterday … a week ahead.
pub async fn tasks(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
    Query(w): Query<Window>,
) -> ApiResult<Json<Value>> {
    let now = s.app.clock.now();
    let from = w.from.unwrap_or(now - Duration::days(1));
    let to = w.to.unwrap_or(now + Duration::days(7));
    if to <= from || to - from > Duration::days(120) {
        return Err(app::AppError::invalid("date_range", "A task window is at most 120 days.").into());
    }
    Ok(Json(json!({"items": tasks::tasks(&s.app, &who, &c.ctx, &id, from, to).await?})))
}

/// `POST /api/v1/patients/{id}/readings`: a reading entered by hand.
pub async fn record_reading(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<monitoring::ManualReading>,
) -> ApiResult<(StatusCode, Json<monitoring::ObservationView>)> {
    Ok((StatusCode::CREATED, Json(monitoring::record_reading(&s.app, &who, &c.ctx, &id, b).await?)))
}

pub(crate) fn chart_lang(code: Option<&str>) -> chart::Lang {
    if code.is_some_and(|c| c.starts_with("en")) { chart::Lang::En } else { chart::Lang::Zh }
}

/// An SVG answer that no cache keeps (it shows health data).
pub(crate) fn svg(body: String) -> Response {
    ([(header::CONTENT_TYPE, "image/svg+xml; charset=utf-8"), (header::CACHE_CONTROL, "private, no-store")], body)
        .into_response()
}

/// `GET /api/v1/patients/{id}/charts/{kind}?days=90&lang=en`: the trend chart as SVG (audited).
pub async fn chart(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path((id, kind)): Path<(String, String)>,
    Query(w): Query<Window>,
) -> ApiResult<Response> {
    let kind: ReadingKind = kind
        .trim_end_matches(".svg")
        .parse()
        .map_err(|_| app::AppError::invalid("reading_type", "Unknown reading type."))?;
    let days = w.days.unwrap_or(90);
    let body = trend::chart(&s.app, &who, &c.ctx, &id, kind, days, chart_lang(w.lang.as_deref())).await?;
    Ok(svg(body))
}

/// `GET /api/v1/visits/due`: the caller's follow-up visits due today.
pub async fn due_visits(State(s): State<AppState>, Caller(c): Caller, Auth(who): Auth) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"items": tasks::due_visits(&s.app, &who, &c.ctx).await?})))
}

/// `POST /api/v1/tasks/{id}/start`: start a due follow-up visit as a consultation.
pub async fn start_visit(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let consultation = tasks::start_visit(&s.app, &who, &c.ctx, &id).await?;
    Ok((StatusCode::CREATED, Json(json!({"consultation": consultation}))))
}

/// `POST /api/v1/plans/{id}/end`.
pub async fn end_plan(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<monitoring::PlanView>> {
    Ok(Json(monitoring::end_plan(&s.app, &who, &c.ctx, &id).await?))
}

/// `GET /api/v1/plans/{id}/completion`.
pub async fn plan_completion(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<tasks::Completion>> {
    Ok(Json(tasks::plan_completion(&s.app, &who, &c.ctx, &id).await?))
}

/// `GET /api/v1/institution/care-completion?days=30`.
pub async fn institution_completion(
    State(s): State<AppState>,
    Auth(who): Auth,
    Query(w): Query<Window>,
) -> ApiResult<Json<tasks::Completion>> {
    Ok(Json(tasks::institution_completion(&s.app, &who, w.days.unwrap_or(30).clamp(1, 366)).await?))
}

/// `GET /api/v1/plan-templates`.
pub async fn templates(State(s): State<AppState>, Auth(who): Auth) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"items": plans::templates(&s.app, &who).await?})))
}

/// `PUT /api/v1/plan-templates/{key}`.
pub async fn save_template(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(key): Path<String>,
    ApiJson(b): ApiJson<plans::TemplateInput>,
) -> ApiResult<Json<plans::Template>> {
    Ok(Json(plans::save_template(&s.app, &who, &c.ctx, &key, b).await?))
}

/// `GET /api/v1/notifications?before=`: the inbox, newest first, with the unread count;
/// `?count_only=true`: the unread count alone (every page's badge).
pub async fn inbox(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Query(w): Query<Window>,
) -> ApiResult<Json<Value>> {
    if w.count_only {
        return Ok(Json(json!({"items": [], "unread": notify::unread_count(&s.app, &who).await?})));
    }
    let (items, unread) = notify::inbox(&s.app, &who, &c.ctx, w.before).await?;
    Ok(Json(json!({"items": items, "unread": unread})))
}

/// `POST /api/v1/notifications/{id}/read`.
pub async fn read(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<notify::NotificationView>> {
    Ok(Json(notify::open(&s.app, &who, &c.ctx, &id, None).await?))
}

/// `POST /api/v1/notifications/read-all`.
pub async fn read_all(State(s): State<AppState>, Auth(who): Auth) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"read": notify::open_all(&s.app, &who).await?})))
}

#[derive(Deserialize)]
pub struct Ids {
    ids: Vec<String>,
}

/// `POST /api/v1/notifications/delivered {ids}`: the page received these live.
pub async fn delivered(State(s): State<AppState>, Auth(who): Auth, ApiJson(b): ApiJson<Ids>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"delivered": notify::mark_delivered(&s.app, &who, &b.ids).await?})))
}

/// `GET /api/v1/notification-prefs`: the caller's choices and the channels available here.
pub async fn prefs(State(s): State<AppState>, Auth(who): Auth) -> ApiResult<Json<Value>> {
    let p = notify::prefs::get(&s.app, &who).await?;
    Ok(Json(json!({"prefs": p, "available": s.app.outbound.names()})))
}

/// `PUT /api/v1/notification-prefs`.
pub async fn save_prefs(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    ApiJson(b): ApiJson<notify::PrefsInput>,
) -> ApiResult<Json<notify::Prefs>> {
    Ok(Json(notify::prefs::save(&s.app, &who, &c.ctx, b).await?))
}

/// `GET /api/v1/notify/reach?days=30`: reach per channel (E3 ≥ 95 %).
pub async fn reach(State(s): State<AppState>, Auth(who): Auth, Query(w): Query<Window>) -> ApiResult<Json<Value>> {
    let to = w.to.unwrap_or_else(|| s.app.clock.now());
    let from = w.from.unwrap_or(to - Duration::days(w.days.unwrap_or(30).clamp(1, 366)));
    Ok(Json(json!({"from": from, "to": to, "channels": notify::reach(&s.app, &who, from, to).await?})))
}

/// `POST /api/v1/notify/sms-receipts` (the SMS gateway; `Authorization: Bearer <[sms] receipt_token>`).
pub async fn sms_receipt(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiJson(b): ApiJson<Value>,
) -> ApiResult<StatusCode> {
    let token =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    notify::sms_receipt(&s.app, token.map(str::trim), &b).await?;
    Ok(StatusCode::NO_CONTENT)
}
