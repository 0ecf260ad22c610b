//! Session resolution and CSRF (B3). A session comes from the `yiqiao_session` cookie (web) or an
//! `Authorization: Bearer` token (API). Cookie-authenticated requests that change state must carry
//! the session's CSRF token (form field `csrf` of a url-encoded form, or header `X-CSRF-Token`, which
//! uploads use); bearer requests carry no ambient credential and need none. Never in the URL, where
//! it would end up in logs, history and `Referer` headers (issue 11 item 18).

use std::net::SocketAddr;

use app::{AppError, Principal, RequestCtx};
use axum::{
    body::{Body, to_bytes},
    extract::{ConnectInfo, FromRequestParts, Request, State},
    http::{Method, header, request::Parts},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{AppState, error::ApiError, i18n::Lang, pages::PageError};

pub const SESSION_COOKIE: &str = "yiqiao_session";
pub const LANG_COOKIE: &str = "yiqiao_lang";

/// What the session middleware found, stored in request extensions.
#[derive(Debug, Clone, Default)]
pub struct Authed {
    pub principal: Option<Principal>,
    pub via_cookie: bool,
    pub lang: Lang,
    pub ctx: RequestCtx,
}

pub fn cookie(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

fn bearer(headers: &axum::http::HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    v.strip_prefix("Bearer ").map(|t| t.trim().to_owned())
}

/// Resolves the caller, picks the language, checks CSRF, and records the request context.
pub async fn resolve_session(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let ctx = RequestCtx {
        client_addr: parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string()),
        request_id: parts.headers.get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned),
    };
    let (token, via_cookie) = match bearer(&parts.headers) {
        Some(t) => (Some(t), false),
        None => (cookie(&parts.headers, SESSION_COOKIE), true),
    };
    let principal = match token {
        Some(t) => match app::account::authenticate(&s.app, &t).await {
            Ok(p) => Some(p),
            Err(AppError::Unauthenticated) => None,
            Err(e) => return ApiError(e).into_response(),
        },
        None => None,
    };
    let lang = principal
        .as_ref()
        .map(|p| Lang::from_code(&p.locale))
        .or_else(|| cookie(&parts.headers, LANG_COOKIE).map(|c| Lang::from_code(&c)))
        .unwrap_or_else(|| Lang::from_accept(parts.headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok())));
    let mut body = body;
    let unsafe_method = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    if let (Some(p), true, true) = (&principal, via_cookie, unsafe_method) {
        let mut supplied = parts.headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let is_form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
        if supplied.is_none() && is_form {
            let Ok(bytes) = to_bytes(body, 1024 * 1024).await else {
                return ApiError(AppError::invalid("body_too_large", "The form is too large.")).into_response();
            };
            supplied = form_urlencoded::parse(&bytes).find(|(k, _)| k == "csrf").map(|(_, v)| v.into_owned());
            body = Body::from(bytes);
        }
        if supplied.as_deref() != Some(p.csrf_token.as_str()) {
            return if parts.uri.path().starts_with("/api/") {
                ApiError(AppError::Csrf).into_response()
            } else {
                PageError::plain(AppError::Csrf, lang).into_response()
            };
        }
    }
    parts.extensions.insert(Authed { principal, via_cookie, lang, ctx });
    next.run(Request::from_parts(parts, body)).await
}

/// The signed-in caller (the route's policy already guaranteed one).
pub struct Auth(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Auth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Authed>()
            .and_then(|a| a.principal.clone())
            .map(Auth)
            .ok_or(ApiError(AppError::Unauthenticated))
    }
}

/// The caller if signed in, their language and the request context.
pub struct Caller(pub Authed);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Caller(parts.extensions.get::<Authed>().cloned().unwrap_or_default()))
    }
}
