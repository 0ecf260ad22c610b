//! Institutions, doctor verification and audit endpoints.

use app::{
    AppError,
    audit::{self, AuditQuery},
    institution::{self, CreateInstitution},
    verification::{self, SubmitVerification, Upload},
};
use axum::{
    Json,
    extract::{Multipart, Path, Query, State},
    http::{StatusCode, header},
    response::IntoResponse,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    AppState,
    auth::{Auth, Caller},
    error::{ApiJson, ApiResult},
};

pub async fn institutions(State(s): State<AppState>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"items": institution::list(&s.app).await?})))
}

#[derive(Deserialize)]
pub struct InstitutionBody {
    name_zh: String,
    name_en: String,
    kind: String,
    region_code: String,
}

pub async fn create_institution(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    ApiJson(b): ApiJson<InstitutionBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let input = CreateInstitution { name_zh: b.name_zh, name_en: b.name_en, kind: b.kind, region_code: b.region_code };
    let id = institution::create(&s.app, &who, &c.ctx, input).await?;
    Ok((StatusCode::CREATED, Json(json!({"id": id}))))
}

#[derive(Deserialize)]
pub struct DepartmentBody {
    code: String,
    name_zh: String,
    name_en: String,
}

pub async fn add_department(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<DepartmentBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let dept = institution::add_department(&s.app, &who, &c.ctx, &id, &b.code, &b.name_zh, &b.name_en).await?;
    Ok((StatusCode::CREATED, Json(json!({"id": dept}))))
}

pub async fn staff(State(s): State<AppState>, Auth(who): Auth, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(json!(institution::staff(&s.app, &who, &id).await?)))
}

#[derive(Deserialize)]
pub struct GrantBody {
    login: String,
    role: String,
}

pub async fn grant_role(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<GrantBody>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    // 204: the role is held now; 202: the account's owner was invited and must accept (issue 11 item 1).
    Ok(match app::account::grant_staff_role(&s.app, &who, &c.ctx, &id, &b.login, &b.role).await? {
        app::account::GrantOutcome::Granted => StatusCode::NO_CONTENT.into_response(),
        invited @ app::account::GrantOutcome::Invited { .. } => (StatusCode::ACCEPTED, Json(invited)).into_response(),
    })
}

pub async fn my_verification(State(s): State<AppState>, Auth(who): Auth) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"verification": verification::my_status(&s.app, &who).await?})))
}

/// Verification forms carry two documents of up to 5 MB each plus fields (B1); axum's default
/// 2 MB body limit would cut them off.
pub(crate) fn verification_body_limit() -> axum::extract::DefaultBodyLimit {
    axum::extract::DefaultBodyLimit::max(2 * app::verification::MAX_UPLOAD_BYTES + 256 * 1024)
}

/// Reads the verification form (fields and two files) from a multipart body.
pub(crate) async fn read_verification(mut form: Multipart) -> Result<SubmitVerification, AppError> {
    let mut v = SubmitVerification::default();
    // Issue 11 item 18: documents over the route's body limit are `upload_too_large`, as documented.
    let bad = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::invalid("upload_too_large", "Each document must be under 5 MB.")
        } else {
            AppError::invalid("upload_failed", "The upload was interrupted; please try again.")
        }
    };
    while let Some(field) = form.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "licence_photo" => v.licence_photo = Upload { bytes: field.bytes().await.map_err(bad)?.to_vec() },
            "employment_proof" => v.employment_proof = Upload { bytes: field.bytes().await.map_err(bad)?.to_vec() },
            _ => {
                let text = field.text().await.map_err(bad)?;
                // Issue 11 item 15: multipart text fields pass the same check as any text input.
                crate::input::check_field(&name, &text)?;
                match name.as_str() {
                    "licence_number" => v.licence_number = text,
                    "title" => v.title = text,
                    "institution_id" => v.institution_id = text,
                    "department_id" => v.department_id = text,
                    "specialties" => v.specialties = text,
                    _ => {}
                }
            }
        }
    }
    Ok(v)
}

pub async fn submit_verification(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    form: Multipart,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let input = read_verification(form).await?;
    let id = verification::submit(&s.app, &who, &c.ctx, input).await?;
    Ok((StatusCode::CREATED, Json(json!({"id": id, "status": "pending"}))))
}

pub async fn queue(State(s): State<AppState>, Caller(c): Caller, Auth(who): Auth) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"items": verification::queue(&s.app, &who, &c.ctx).await?})))
}

#[derive(Deserialize)]
pub struct DecisionBody {
    approve: bool,
    #[serde(default)]
    reason: String,
}

pub async fn decide(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<DecisionBody>,
) -> ApiResult<Json<Value>> {
    verification::decide(&s.app, &who, &c.ctx, &id, b.approve, &b.reason).await?;
    Ok(Json(json!({"id": id, "status": if b.approve { "approved" } else { "rejected" }})))
}

pub async fn document(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path((id, which)): Path<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    let (ct, bytes) = verification::document(&s.app, &who, &c.ctx, &id, &which).await?;
    Ok(([(header::CONTENT_TYPE, ct), (header::CACHE_CONTROL, "no-store".to_owned())], bytes))
}

#[derive(Deserialize, Default)]
pub struct AuditParams {
    actor: Option<String>,
    patient: Option<String>,
    action: Option<String>,
    /// `denied`: refused reads only (issue 11 item 11).
    outcome: Option<String>,
    before: Option<i64>,
}

pub async fn audit_events(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Query(q): Query<AuditParams>,
) -> ApiResult<Json<Value>> {
    let items = audit::list_events(
        &s.app,
        &who,
        &c.ctx,
        AuditQuery {
            actor_login: q.actor,
            subject_patient_id: q.patient,
            action: q.action,
            outcome: q.outcome,
            before_seq: q.before,
        },
    )
    .await?;
    let next = items.last().map(|e| e.seq);
    Ok(Json(json!({"items": items, "next_before": next})))
}

#[derive(Deserialize)]
pub struct SlaBody {
    priority_mins: i64,
    normal_mins: i64,
}

pub async fn set_sla(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<SlaBody>,
) -> ApiResult<StatusCode> {
    institution::set_sla(&s.app, &who, &c.ctx, &id, b.priority_mins, b.normal_mins).await?;
    Ok(StatusCode::NO_CONTENT)
}
