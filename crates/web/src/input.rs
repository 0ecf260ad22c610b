//! Refusing control characters in text input (issue 11 item 15). Every request passes
//! [`refuse_control_characters`] before its handler: the decoded path segments, the query string,
//! and JSON or url-encoded form bodies are checked, and text holding a control character is answered
//! with 422 `control_characters` before it can reach the database (PostgreSQL cannot store NUL in
//! text: it answered 500). Line feed, carriage return and tab are allowed only in fields whose text
//! is naturally multi-line ([`MULTILINE_FIELDS`]). Nothing is ever stripped or changed: the request
//! goes on byte for byte, or is refused. Multipart text fields are checked where they are read
//! ([`check_field`]), and WebSocket frames in `api::ws`.

use app::AppError;
use axum::{
    body::{Body, to_bytes},
    extract::Request,
    http::{StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use domain::validate::refuse_control_characters as refuse;
use serde_json::{Value, json};

use crate::{auth::Authed, error::ApiError, pages::PageError};

/// Fields (JSON keys or form names) whose text may span lines: message text, complaints, closing
/// summaries, handover and plan notes, rating comments, correction and rejection reasons.
pub const MULTILINE_FIELDS: &[&str] = &["text", "complaint", "summary", "note", "notes", "comment", "reason"];

fn multiline(field: &str) -> bool {
    MULTILINE_FIELDS.contains(&field)
}

/// Checks one named text value (a multipart field, a WebSocket frame's field).
pub fn check_field(name: &str, value: &str) -> Result<(), AppError> {
    refuse(name, false)?;
    Ok(refuse(value, multiline(name))?)
}

/// Checks every string in a JSON document, keys included; a string takes the rule of the key it
/// stands under (array items that of their array's key).
pub fn check_json(v: &Value, field: &str) -> Result<(), AppError> {
    match v {
        Value::String(s) => Ok(refuse(s, multiline(field))?),
        Value::Array(items) => items.iter().try_for_each(|item| check_json(item, field)),
        Value::Object(map) => map.iter().try_for_each(|(k, item)| {
            refuse(k, false)?;
            check_json(item, k)
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

/// Checks url-encoded pairs (a query string or a form body), decoded.
fn check_pairs(raw: &[u8]) -> Result<(), AppError> {
    form_urlencoded::parse(raw).try_for_each(|(k, v)| check_field(&k, &v))
}

/// Checks each path segment as the router will decode it (`%00` is a NUL).
fn check_path(path: &str) -> Result<(), AppError> {
    for segment in path.split('/') {
        let bytes = percent_decode(segment);
        refuse(&String::from_utf8_lossy(&bytes), false)?;
    }
    Ok(())
}

/// Decodes `%XX` escapes; anything else (including a malformed escape) stays as it is.
fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| char::from(c).to_digit(16);
        if b[i] == b'%'
            && let (Some(hi), Some(lo)) = (b.get(i + 1).copied().and_then(hex), b.get(i + 2).copied().and_then(hex))
        {
            out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'%'));
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// The bodies that carry text fields: JSON (`application/json`, `application/*+json`) and
/// url-encoded forms. Multipart and raw media bodies are not buffered here.
#[derive(Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    Json,
    Form,
}

fn body_kind(headers: &axum::http::HeaderMap) -> Option<BodyKind> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let mime = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if mime == "application/x-www-form-urlencoded" {
        Some(BodyKind::Form)
    } else if mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json")) {
        Some(BodyKind::Json)
    } else {
        None
    }
}

fn check_body(kind: BodyKind, bytes: &[u8]) -> Result<(), AppError> {
    match kind {
        BodyKind::Form => check_pairs(bytes),
        // A body that is not JSON at all is the handler's to refuse (`invalid_json`).
        BodyKind::Json => serde_json::from_slice::<Value>(bytes).map_or(Ok(()), |v| check_json(&v, "")),
    }
}

/// The middleware: refuses a request whose text input holds control characters (422
/// `control_characters`; a page for browser routes), and passes everything else on unchanged.
pub async fn refuse_control_characters(req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let lang = parts.extensions.get::<Authed>().map(|a| a.lang).unwrap_or_default();
    let api = parts.uri.path().starts_with("/api/");
    let refused = |e: AppError| {
        if api { ApiError(e).into_response() } else { PageError::plain(e, lang).into_response() }
    };
    let head = check_path(parts.uri.path()).and_then(|()| check_pairs(parts.uri.query().unwrap_or("").as_bytes()));
    if let Err(e) = head {
        return refused(e);
    }
    let body = match body_kind(&parts.headers) {
        None => body,
        Some(kind) => {
            // The body limit layer outside bounds what is buffered here.
            let Ok(bytes) = to_bytes(body, usize::MAX).await else {
                let e = json!({"error": {"code": "body_too_large", "message": "The request body is too large."}});
                return (StatusCode::PAYLOAD_TOO_LARGE, axum::Json(e)).into_response();
            };
            if let Err(e) = check_body(kind, &bytes) {
                return refused(e);
            }
            Body::from(bytes)
        }
    };
    next.run(Request::from_parts(parts, body)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_take_the_rule_of_their_key() {
        assert!(check_json(&json!({"text": "two\nlines", "client_id": "a1"}), "").is_ok());
        assert!(check_json(&json!({"title": "two\nlines"}), "").is_err());
        assert!(check_json(&json!({"text": "nul\u{0}"}), "").is_err());
        assert!(check_json(&json!({"rows": [{"drug": "a\u{1}"}]}), "").is_err());
        assert!(check_json(&json!({"rows": [{"note": "line\nline"}]}), "").is_ok());
        assert!(check_json(&json!({"bad\u{0}key": 1}), "").is_err());
        assert!(check_json(&json!(["x", "y\u{7}"]), "").is_err());
    }

    #[test]
    fn paths_and_queries_are_checked_decoded() {
        assert!(check_path("/api/v1/consultations/0192abcd").is_ok());
        assert!(check_path("/api/v1/consultations/ab%00cd").is_err());
        assert!(check_path("/api/v1/consultations/%0A").is_err());
        assert!(check_path("/api/v1/x/%C2%85").is_err(), "C1 control in UTF-8");
        assert!(check_path("/api/v1/x/100%25").is_ok());
        assert!(check_path("/api/v1/x/%zz").is_ok(), "a malformed escape is the router's business");
        assert!(check_pairs(b"actor=abc&action=auth.login").is_ok());
        assert!(check_pairs(b"actor=a%00b").is_err());
        assert!(check_pairs(b"text=two%0Alines").is_ok());
        assert!(check_pairs(b"login=two%0Alines").is_err());
    }
}
