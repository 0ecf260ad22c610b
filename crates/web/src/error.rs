//! Turning `AppError` into HTTP answers: JSON `{"error":{"code","message"}}` for the API, a page for
//! the browser. Internal errors answer with a generic message and the request id; the cause goes to
//! the log only (never personal data, never database text).

use app::AppError;
use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;

/// An error from an API handler.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl<E: Into<AppError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

pub fn status_of(e: &AppError) -> StatusCode {
    match e {
        AppError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::InvalidCredentials | AppError::TotpRequired | AppError::Unauthenticated => StatusCode::UNAUTHORIZED,
        AppError::Forbidden
        | AppError::SecondFactorRequired
        | AppError::StepUpRequired
        | AppError::NotVerified
        | AppError::Csrf => StatusCode::FORBIDDEN,
        AppError::NotFound => StatusCode::NOT_FOUND,
        AppError::Conflict(_) => StatusCode::CONFLICT,
        AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        AppError::Busy => StatusCode::SERVICE_UNAVAILABLE,
        AppError::Internal(_) | AppError::Store(_) | AppError::Crypto(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Logs internal causes (without data) and returns the public message.
pub fn public_message(e: &AppError) -> String {
    if status_of(e) == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(error = ?e, "internal error");
        "Something went wrong on our side. Please try again; if it persists, contact support.".to_owned()
    } else {
        e.to_string()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = status_of(&self.0);
        let body = json!({"error": {"code": self.0.code(), "message": public_message(&self.0)}});
        with_retry_after((status, Json(body)).into_response(), &self.0)
    }
}

/// Adds `Retry-After` to a throttled answer (issue 11 item 8).
pub fn with_retry_after(mut resp: Response, e: &AppError) -> Response {
    if let AppError::RateLimited { retry_after_secs } = e {
        resp.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(*retry_after_secs));
    }
    resp
}

pub type ApiResult<T> = Result<T, ApiError>;

/// `Json` that answers malformed bodies with our error shape (`invalid_json`) instead of plain text.
pub struct ApiJson<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Self(v)),
            // The rejection text may quote the body; keep it out of the answer (no PHI in errors).
            Err(rejection) => Err(ApiError(AppError::invalid(
                "invalid_json",
                format!(
                    "The request body is not valid JSON for this endpoint (HTTP {}). See /api/docs.",
                    rejection.status().as_u16()
                ),
            ))),
        }
    }
}
