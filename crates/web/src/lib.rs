//! The HTTP face of Yiqiao: JSON API under `/api/v1` (with an OpenAPI document), server-rendered
//! pages in zh-CN and English, and embedded static assets. Handlers extract, authorize, call one
//! `app` function and render; every route is registered with a [`registry::Policy`] so that a route
//! without a policy cannot exist.

pub mod api;
pub mod assets;
pub mod auth;
pub mod cross_site;
pub mod error;
pub mod headers;
pub mod i18n;
pub mod input;
pub mod openapi;
pub mod pages;
pub mod redirect;
pub mod registry;

use std::sync::Arc;

use axum::{Json, Router, extract::State, http::StatusCode, response::IntoResponse};
use serde_json::json;
use tower_http::{
    limit::RequestBodyLimitLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
};

pub use registry::{Policy, RouteSpec};

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub app: app::App,
    /// Cookies carry `Secure` when the server sits behind TLS.
    pub secure_cookies: bool,
    pub routes: Arc<Vec<RouteSpec>>,
}

/// Builds the full router with its middleware.
pub fn router(app: app::App, secure_cookies: bool) -> Router {
    let (routes, specs) = registry::all_routes();
    let security = Arc::new(headers::SecurityHeaders::new(&app.config.public_url, secure_cookies));
    let state = AppState { app, secure_cookies, routes: Arc::new(specs) };
    // Outermost last: every answer, errors from inner layers included, gets the security headers
    // (issue 11 items 6, 7); a client's request id is dropped before one is made (item 14); the
    // cross-site check runs after the session is known (item 17).
    routes
        .route("/healthz", axum::routing::get(healthz))
        .layer(axum::middleware::from_fn_with_state(state.clone(), cross_site::guard))
        // Runs after the session is resolved (it answers pages in the caller's language).
        .layer(axum::middleware::from_fn(input::refuse_control_characters))
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::resolve_session))
        .layer(RequestBodyLimitLayer::new(12 * 1024 * 1024))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(axum::middleware::map_request(headers::drop_client_request_id))
        .layer(axum::middleware::from_fn_with_state(security, headers::apply))
        .with_state(state)
}

/// `GET /healthz`: 200 once migrations ran, 503 while the database is unreachable.
async fn healthz(State(s): State<AppState>) -> impl IntoResponse {
    let store = &s.app.store;
    let ok = store.ping().await.is_ok() && store.is_migrated().await.unwrap_or(false);
    let body = json!({
        "status": if ok { "ok" } else { "unavailable" },
        "database": store.backend.as_str(),
        "version": env!("CARGO_PKG_VERSION"),
    });
    let code = if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(body))
}
