//! Login CSRF (issue 11 item 17; B3): forms posted before a session exists — sign-in, registration,
//! a guest joining a call — carry no session CSRF token, so another site could post them in the
//! victim's browser (e.g. sign the victim into the attacker's account, whose records they then fill).
//! Browsers say where a request comes from: `Sec-Fetch-Site` (every current browser) or, failing
//! that, `Origin`. A state-changing request that no session authenticates is refused with 403
//! `csrf_cross_site` when either names another site. Requests with neither header (API clients,
//! curl, devices, gateways) and requests carrying `Authorization` (bearer, device credentials: a
//! foreign page cannot set them) pass. Cookie sessions are left to the session CSRF token (auth.rs).

use axum::{
    Json,
    extract::{Request, State},
    http::{HeaderMap, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::{
    AppState,
    auth::Authed,
    pages::{Chrome, ErrorPage, render},
};

/// The stable error code of a refused cross-site request.
pub const CODE: &str = "csrf_cross_site";

/// Refuses cross-site state changes that no session authenticates.
pub async fn guard(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let safe_method = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let has_session = req.extensions().get::<Authed>().is_some_and(|a| a.principal.is_some());
    let headers = req.headers();
    if safe_method
        || has_session
        || headers.contains_key(header::AUTHORIZATION)
        || !from_elsewhere(headers, &s.app.config.public_url)
    {
        return next.run(req).await;
    }
    refuse(&req)
}

/// Whether the browser says the request was made by a page of another site.
fn from_elsewhere(headers: &HeaderMap, public_url: &str) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        // `none`: the user typed or bookmarked it; `same-site` is a sibling host, still foreign here.
        return !matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let Ok(origin) = origin.to_str() else {
        return true;
    };
    // `Origin: null` (sandboxed frames, redirects across sites) is foreign too.
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    !(same_origin(origin, public_url)
        || host.is_some_and(|h| origin_host(origin).is_some_and(|o| o.eq_ignore_ascii_case(h))))
}

/// `host[:port]` of an origin such as `https://host:8443`.
fn origin_host(origin: &str) -> Option<&str> {
    origin.split_once("://").map(|(_, rest)| rest.trim_end_matches('/'))
}

/// Whether `origin` is the origin of the configured public URL.
fn same_origin(origin: &str, public_url: &str) -> bool {
    match (url::Url::parse(origin), url::Url::parse(public_url)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin() && a.origin().is_tuple(),
        _ => false,
    }
}

fn refuse(req: &Request) -> Response {
    let authed = req.extensions().get::<Authed>().cloned().unwrap_or_default();
    let c = Chrome::new(&authed, "");
    let message = c.t.t("err.csrf_cross_site");
    if req.uri().path().starts_with("/api/") {
        let body = json!({"error": {"code": CODE, "message": message}});
        return (StatusCode::FORBIDDEN, Json(body)).into_response();
    }
    let c = Chrome { error: Some(message.to_owned()), ..c };
    let mut resp = render(&ErrorPage { c, status: StatusCode::FORBIDDEN.as_u16() });
    *resp.status_mut() = StatusCode::FORBIDDEN;
    resp
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn browsers_name_the_site_a_request_comes_from() {
        let public = "https://yiqiao.example";
        let host = ("host", "127.0.0.1:8080");
        for (h, foreign) in [
            (headers(&[]), false),
            (headers(&[host]), false),
            (headers(&[("sec-fetch-site", "same-origin"), ("origin", "https://evil.example")]), false),
            (headers(&[("sec-fetch-site", "none")]), false),
            (headers(&[("sec-fetch-site", "cross-site")]), true),
            (headers(&[("sec-fetch-site", "same-site")]), true),
            (headers(&[host, ("origin", "http://127.0.0.1:8080")]), false),
            (headers(&[host, ("origin", "https://yiqiao.example")]), false),
            (headers(&[host, ("origin", "https://evil.example")]), true),
            (headers(&[host, ("origin", "null")]), true),
            (headers(&[host, ("origin", "https://yiqiao.example.evil.example")]), true),
        ] {
            assert_eq!(from_elsewhere(&h, public), foreign, "{h:?}");
        }
    }
}
