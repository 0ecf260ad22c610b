//! PDF downloads of consultation records (C3). Each handler extracts, calls one `app` export (which
//! checks step-up, scope and audits) and answers with the file; FHIR stays in `consultation.rs`.

use app::consultation::pdf::{self, PdfExport};
use axum::{
    extract::{Path, State},
    http::header,
    response::{IntoResponse, Response},
};

use crate::{
    AppState,
    auth::{Auth, Caller},
    error::ApiResult,
};

/// The download answer for a PDF export (never cached: it holds health data).
pub(crate) fn pdf_response(export: PdfExport) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}\"", export.filename)),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        export.bytes,
    )
        .into_response()
}

/// `GET /api/v1/consultations/{id}/pdf`: one consultation (participants; step-up required).
pub async fn consultation_pdf(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    Ok(pdf_response(pdf::consultation_pdf(&s.app, &who, &c.ctx, &id).await?))
}

/// `GET /api/v1/patients/{id}/record/pdf`: every consultation of the patient the caller may see.
pub async fn patient_record_pdf(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    Ok(pdf_response(pdf::record_pdf(&s.app, &who, &c.ctx, &id).await?))
}

/// `GET /api/v1/me/health-record/pdf`: the caller's own whole record.
pub async fn my_record_pdf(State(s): State<AppState>, Caller(c): Caller, Auth(who): Auth) -> ApiResult<Response> {
    Ok(pdf_response(pdf::record_pdf(&s.app, &who, &c.ctx, &who.user_id).await?))
}
