//! `/api/v1/me/*`: the caller's own account.

use app::account::{self, RegisterMinor};
use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    AppState,
    auth::{Auth, Caller},
    error::{ApiJson, ApiResult},
};

pub async fn me(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
) -> ApiResult<Json<account::ProfileView>> {
    Ok(Json(account::my_profile(&s.app, &who, &c.ctx).await?))
}

#[derive(Deserialize)]
pub struct LocaleBody {
    locale: String,
}

pub async fn set_locale(
    State(s): State<AppState>,
    Auth(who): Auth,
    ApiJson(b): ApiJson<LocaleBody>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"locale": account::set_locale(&s.app, &who, &b.locale).await?})))
}

pub async fn totp_enrol(State(s): State<AppState>, Caller(c): Caller, Auth(who): Auth) -> ApiResult<Json<Value>> {
    let e = account::begin_totp_enrolment(&s.app, &who, &c.ctx).await?;
    Ok(Json(json!({"secret": e.secret_base32, "otpauth_url": e.otpauth_url, "qr": e.qr_data_url})))
}

#[derive(Deserialize)]
pub struct CodeBody {
    totp: String,
}

pub async fn totp_confirm(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    ApiJson(b): ApiJson<CodeBody>,
) -> ApiResult<Json<Value>> {
    account::confirm_totp_enrolment(&s.app, &who, &c.ctx, &b.totp).await?;
    Ok(Json(json!({"totp_enabled": true})))
}

pub async fn consents(State(s): State<AppState>, Auth(who): Auth) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"items": account::list_consents(&s.app, &who).await?})))
}

pub async fn withdraw(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(kind): Path<String>,
) -> ApiResult<StatusCode> {
    account::withdraw_consent(&s.app, &who, &c.ctx, &kind).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct WardBody {
    name: String,
    id_kind: String,
    id_number: String,
}

pub async fn add_ward(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    ApiJson(b): ApiJson<WardBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let id = account::register_minor(
        &s.app,
        &who,
        &c.ctx,
        RegisterMinor { name: b.name, id_kind: b.id_kind, id_number: b.id_number },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!({"user_id": id}))))
}

#[derive(Deserialize)]
pub struct PatientIdentityBody {
    id_kind: String,
    id_number: String,
}

pub async fn add_patient(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    ApiJson(b): ApiJson<PatientIdentityBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    account::add_patient_identity(&s.app, &who, &c.ctx, &b.id_kind, &b.id_number).await?;
    Ok((StatusCode::CREATED, Json(json!({"patient": true}))))
}

#[derive(Deserialize)]
pub struct SaveArticleBody {
    slug: String,
    consultation_id: Option<String>,
}

pub async fn save_article(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    ApiJson(b): ApiJson<SaveArticleBody>,
) -> ApiResult<StatusCode> {
    app::health_record::save_article(&s.app, &who, &c.ctx, &b.slug, b.consultation_id.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn health_record(State(s): State<AppState>, Auth(who): Auth) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"articles": app::health_record::articles(&s.app, &who).await?})))
}

/// `POST /api/v1/me/invitations/{id}/{accept|decline}`: answer a staff-role invitation.
pub async fn decide_invitation(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path((id, action)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let accept = match action.as_str() {
        "accept" => true,
        "decline" => false,
        _ => return Err(app::AppError::NotFound.into()),
    };
    account::decide_invitation(&s.app, &who, &c.ctx, &id, accept).await?;
    Ok(StatusCode::NO_CONTENT)
}
