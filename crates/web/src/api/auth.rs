//! `/api/v1/auth/*`: login, logout, step-up, registration.

use app::account::{self, LoginInput, RegisterDoctor, RegisterPatient};
use axum::{Json, extract::State, http::StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    AppState,
    auth::{Auth, Caller},
    error::{ApiJson, ApiResult},
};

#[derive(Deserialize)]
pub struct LoginBody {
    login: String,
    password: String,
    #[serde(default)]
    totp: Option<String>,
}

pub async fn login(
    State(s): State<AppState>,
    Caller(c): Caller,
    ApiJson(b): ApiJson<LoginBody>,
) -> ApiResult<Json<Value>> {
    let out = account::login(
        &s.app,
        &c.ctx,
        LoginInput { login: b.login, password: b.password, totp: b.totp, kind: "api".into() },
    )
    .await?;
    Ok(Json(json!({
        "token": out.token,
        "user_id": out.user_id,
        "expires_at": out.expires_at,
        "second_factor": out.second_factor,
        "needs_totp_enrolment": out.needs_totp_enrolment,
    })))
}

pub async fn logout(State(s): State<AppState>, Caller(c): Caller, Auth(who): Auth) -> ApiResult<StatusCode> {
    account::logout(&s.app, &who, &c.ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct StepUpBody {
    #[serde(default)]
    totp: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

pub async fn step_up(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    ApiJson(b): ApiJson<StepUpBody>,
) -> ApiResult<Json<Value>> {
    account::step_up(&s.app, &who, &c.ctx, b.totp.as_deref(), b.password).await?;
    Ok(Json(json!({"step_up_valid_secs": s.app.config.step_up_secs})))
}

#[derive(Deserialize)]
pub struct PatientBody {
    login: String,
    password: String,
    name: String,
    #[serde(default)]
    phone: Option<String>,
    id_kind: String,
    id_number: String,
    #[serde(default)]
    accept_privacy: bool,
    #[serde(default)]
    accept_sensitive: bool,
    #[serde(default)]
    locale: Option<String>,
}

pub async fn register_patient(
    State(s): State<AppState>,
    Caller(c): Caller,
    ApiJson(b): ApiJson<PatientBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let id = account::register_patient(
        &s.app,
        &c.ctx,
        RegisterPatient {
            login: b.login,
            password: b.password,
            name: b.name,
            phone: b.phone,
            id_kind: b.id_kind,
            id_number: b.id_number,
            accept_privacy: b.accept_privacy,
            accept_sensitive: b.accept_sensitive,
            locale: b.locale.unwrap_or_else(|| c.lang.code().into()),
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!({"user_id": id}))))
}

#[derive(Deserialize)]
pub struct DoctorBody {
    login: String,
    password: String,
    name: String,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    accept_privacy: bool,
    #[serde(default)]
    accept_sensitive: bool,
    #[serde(default)]
    locale: Option<String>,
}

pub async fn register_doctor(
    State(s): State<AppState>,
    Caller(c): Caller,
    ApiJson(b): ApiJson<DoctorBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let id = account::register_doctor(
        &s.app,
        &c.ctx,
        RegisterDoctor {
            login: b.login,
            password: b.password,
            name: b.name,
            phone: b.phone,
            accept_privacy: b.accept_privacy,
            accept_sensitive: b.accept_sensitive,
            locale: b.locale.unwrap_or_else(|| c.lang.code().into()),
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!({"user_id": id}))))
}
