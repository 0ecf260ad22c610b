//! `/api/v1/doctors` and `/api/v1/consultations/*` (A1–A7): the consultation contract that outside
//! systems rely on.

use app::consultation::{self, StartConsultation};
use axum::{
    Json,
    extract::{Path, Query, State},
    http::StatusCode,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    AppState,
    auth::{Auth, Caller},
    error::{ApiJson, ApiResult},
};

#[derive(Deserialize, Default)]
pub struct DoctorQuery {
    #[serde(default)]
    q: String,
    department: Option<String>,
}

pub async fn doctors(State(s): State<AppState>, Query(q): Query<DoctorQuery>) -> ApiResult<Json<Value>> {
    let items = consultation::list_doctors(&s.app, &q.q, q.department.as_deref().filter(|d| !d.is_empty())).await?;
    let items: Vec<Value> = items
        .into_iter()
        .map(|d| {
            json!({"id": d.id, "name": d.name, "title": d.title, "department": d.department,
                   "department_id": d.department_id, "institution": d.institution, "specialties": d.specialties})
        })
        .collect();
    Ok(Json(json!({ "items": items })))
}

#[derive(Deserialize)]
pub struct StartBody {
    doctor: Option<String>,
    department: Option<String>,
    complaint: String,
    #[serde(default)]
    priority: bool,
    prior_diagnosis: Option<String>,
    #[serde(default)]
    has_proof: bool,
    patient: Option<String>,
}

pub async fn start(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    ApiJson(b): ApiJson<StartBody>,
) -> ApiResult<(StatusCode, Json<consultation::ConsultationView>)> {
    let input = StartConsultation {
        doctor: b.doctor,
        department: b.department,
        complaint: b.complaint,
        priority: b.priority,
        prior_diagnosis: b.prior_diagnosis,
        has_proof: b.has_proof,
        patient: b.patient,
    };
    Ok((StatusCode::CREATED, Json(consultation::start(&s.app, &who, &c.ctx, input).await?)))
}

pub async fn list(State(s): State<AppState>, Auth(who): Auth) -> ApiResult<Json<Value>> {
    let (mine, queue) = consultation::list_mine(&s.app, &who).await?;
    let mut items = mine;
    items.extend(queue);
    Ok(Json(json!({ "items": items })))
}

pub async fn get(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let v = consultation::get(&s.app, &who, &c.ctx, &id).await?;
    Ok(Json(serde_json::to_value(v).unwrap_or_default()))
}

#[derive(Deserialize)]
pub struct MessageBody {
    client_id: String,
    text: String,
}

pub async fn send(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<MessageBody>,
) -> ApiResult<(StatusCode, Json<consultation::MessageView>)> {
    let (m, created) = consultation::send_message(&s.app, &who, &c.ctx, &id, &b.client_id, &b.text).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(m)))
}

#[derive(Deserialize, Default)]
pub struct AfterQuery {
    #[serde(default)]
    after: i64,
}

pub async fn messages(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
    Query(q): Query<AfterQuery>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"items": consultation::messages(&s.app, &who, &c.ctx, &id, q.after).await?})))
}

#[derive(Deserialize)]
pub struct ReadBody {
    seq: i64,
}

pub async fn read(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ReadBody>,
) -> ApiResult<StatusCode> {
    consultation::mark_read(&s.app, &who, &c.ctx, &id, b.seq).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn claim(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    consultation::claim(&s.app, &who, &c.ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct CloseBody {
    summary: String,
    #[serde(default)]
    diagnoses: Vec<String>,
}

pub async fn close(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<CloseBody>,
) -> ApiResult<Json<Value>> {
    consultation::close(&s.app, &who, &c.ctx, &id, &b.summary, &b.diagnoses).await?;
    Ok(Json(json!({"id": id, "status": "closed"})))
}

#[derive(Deserialize)]
pub struct RatingBody {
    stars: u8,
    #[serde(default)]
    comment: String,
}

pub async fn rate(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<RatingBody>,
) -> ApiResult<StatusCode> {
    consultation::rate(&s.app, &who, &c.ctx, &id, b.stars, &b.comment).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn history(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"items": consultation::patient_history(&s.app, &who, &c.ctx, &id).await?})))
}

#[derive(Deserialize)]
pub struct HandoverBody {
    to: String,
    #[serde(default)]
    note: String,
}

pub async fn handover(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<HandoverBody>,
) -> ApiResult<StatusCode> {
    consultation::handover(&s.app, &who, &c.ctx, &id, &b.to, &b.note).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default)]
pub struct SearchParams {
    #[serde(default)]
    q: String,
    from: Option<String>,
    to: Option<String>,
    icd: Option<String>,
}

/// Parses an optional `YYYY-MM-DD`.
pub(crate) fn date_param(v: Option<&str>) -> Result<Option<chrono::NaiveDate>, app::AppError> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| app::AppError::invalid("date_format", "Dates are YYYY-MM-DD.")),
    }
}

pub async fn search(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Query(p): Query<SearchParams>,
) -> ApiResult<Json<Value>> {
    let input = consultation::SearchInput {
        from: date_param(p.from.as_deref())?,
        to: date_param(p.to.as_deref())?,
        q: p.q,
        icd: p.icd,
    };
    Ok(Json(json!({"items": consultation::search(&s.app, &who, &c.ctx, input).await?})))
}

/// Upload routes take bodies up to the attachment limit plus room for the multipart framing: the
/// extractors' 2 MB default would cut off phone photos and longer voice messages (A1).
pub(crate) fn upload_body_limit() -> axum::extract::DefaultBodyLimit {
    axum::extract::DefaultBodyLimit::max(consultation::attachment::MAX_ATTACHMENT_BYTES + 256 * 1024)
}

/// Reads `file`, an optional `client_id` and, for a voice recording, `duration_ms` (A1) from a
/// multipart body.
pub(crate) async fn read_upload(
    mut form: axum::extract::Multipart,
) -> Result<consultation::attachment::CreateAttachment, app::AppError> {
    // Issue 11 item 18: a file over the route's body limit is `attachment_too_large`, as documented,
    // not an interrupted upload.
    let bad = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            app::AppError::invalid("attachment_too_large", "Files must be under 10 MB.")
        } else {
            app::AppError::invalid("upload_failed", "The upload was interrupted; please try again.")
        }
    };
    let mut up = consultation::attachment::CreateAttachment::default();
    while let Some(field) = form.next_field().await.map_err(bad)? {
        match field.name().unwrap_or_default() {
            "file" => {
                field.file_name().unwrap_or_default().clone_into(&mut up.name);
                up.bytes = field.bytes().await.map_err(bad)?.to_vec();
            }
            "client_id" => up.client_id = field.text().await.map_err(bad)?,
            "duration_ms" => up.duration_ms = Some(field.text().await.map_err(bad)?),
            _ => {}
        }
    }
    // Issue 11 item 15: multipart text fields pass the same check as every other text input.
    crate::input::check_field("client_id", &up.client_id)?;
    crate::input::check_field("duration_ms", up.duration_ms.as_deref().unwrap_or_default())?;
    if up.client_id.is_empty() {
        up.client_id = uuid::Uuid::new_v4().simple().to_string();
    }
    Ok(up)
}

pub async fn upload(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
    form: axum::extract::Multipart,
) -> ApiResult<(StatusCode, Json<consultation::MessageView>)> {
    let up = read_upload(form).await?;
    let (m, created) = consultation::attachment::upload(&s.app, &who, &c.ctx, &id, up).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(m)))
}

#[derive(Deserialize, Default)]
pub struct ThumbQuery {
    #[serde(default)]
    thumb: Option<String>,
}

pub async fn attachment(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
    Query(q): Query<ThumbQuery>,
    headers: axum::http::HeaderMap,
) -> ApiResult<axum::response::Response> {
    let thumb = q.thumb.is_some_and(|t| t == "1" || t == "true");
    let (ct, bytes) = consultation::attachment::fetch(&s.app, &who, &c.ctx, &id, thumb).await?;
    Ok(super::range::media_response(&headers, ct, bytes))
}

#[derive(Deserialize)]
pub struct CardBody {
    client_id: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    rows: Vec<domain::card::MedicationRow>,
    #[serde(default)]
    slug: String,
    /// For `calculator`: the inputs, tagged by `calculator` (`bmi`, `egfr`, `blood_pressure`, `due_date`).
    #[serde(default)]
    input: Option<domain::calculator::CalcInput>,
}

pub async fn card(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<CardBody>,
) -> ApiResult<(StatusCode, Json<consultation::MessageView>)> {
    let (m, created) = match b.kind.as_str() {
        "medication_plan" => {
            let plan = domain::card::MedicationPlan { rows: b.rows };
            consultation::send_medication_plan(&s.app, &who, &c.ctx, &id, &b.client_id, plan).await?
        }
        "article" => consultation::send_article(&s.app, &who, &c.ctx, &id, &b.client_id, &b.slug).await?,
        "calculator" => {
            let input = b.input.ok_or_else(|| {
                app::AppError::invalid(
                    domain::calculator::CalcError::OutOfRange.code(),
                    "Give the calculator's inputs.",
                )
            })?;
            consultation::send_calculator(&s.app, &who, &c.ctx, &id, &b.client_id, &input).await?
        }
        _ => {
            return Err(app::AppError::invalid(
                "card_type",
                "Unknown card type (medication_plan, article, calculator).",
            )
            .into());
        }
    };
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(m)))
}

/// The download answer for a FHIR export.
pub(crate) fn fhir_response(id: &str, bundle: &serde_json::Value) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [
            (axum::http::header::CONTENT_TYPE, "application/fhir+json; charset=utf-8".to_owned()),
            (axum::http::header::CONTENT_DISPOSITION, format!("attachment; filename=\"consultation-{id}.fhir.json\"")),
            (axum::http::header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        bundle.to_string(),
    )
        .into_response()
}

/// `GET /api/v1/consultations/{id}/fhir`: the record as a FHIR R4 Bundle (step-up required).
pub async fn fhir(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> ApiResult<axum::response::Response> {
    let bundle = consultation::export::fhir_bundle(&s.app, &who, &c.ctx, &id).await?;
    Ok(fhir_response(&id, &bundle))
}

pub async fn annotations(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<consultation::annotation::AnnotationView>> {
    Ok(Json(consultation::annotation::get(&s.app, &who, &c.ctx, &id).await?))
}

#[derive(Deserialize)]
pub struct AnnotationBody {
    shapes: Vec<domain::annotation::Shape>,
}

pub async fn save_annotations(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<AnnotationBody>,
) -> ApiResult<StatusCode> {
    consultation::annotation::save(&s.app, &who, &c.ctx, &id, b.shapes).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct CorrectionBody {
    reason: String,
    summary: String,
    #[serde(default)]
    diagnoses: Vec<String>,
}

pub async fn correct(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<CorrectionBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let version =
        consultation::correction::correct(&s.app, &who, &c.ctx, &id, &b.reason, &b.summary, &b.diagnoses).await?;
    Ok((StatusCode::CREATED, Json(json!({"id": id, "version": version}))))
}
