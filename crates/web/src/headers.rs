//! Browser security headers and request ids on every answer (issue 11 items 6, 7 and 14; B3, S3).
//!
//! - `Content-Security-Policy` without `'unsafe-inline'` for scripts or styles: pages load only our
//!   own files, so an injected `<script>`, `onclick=` or `style=` does nothing. Templates, the
//!   server-drawn SVG charts and the HTML the ES modules build keep to this (no inline script, event
//!   handler or style attribute); the browser suites fail on any violation.
//! - `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY` (with `frame-ancestors 'none'`),
//!   `Referrer-Policy: no-referrer` (a guest's `/join/<token>` link or a `?csrf=` query must never
//!   reach another site in a `Referer`), and HSTS when the server is reached over TLS.
//! - `Cache-Control: no-store, private` on every answer except the embedded static assets: pages,
//!   JSON, downloads and charts carry health data and must not stay in a browser or proxy cache.
//! - Request ids are always made here (UUID v4): a client's `X-Request-Id` is dropped before the id
//!   layer runs, so the audit trail never stores text a caller chose.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::{HeaderName, HeaderValue, header},
    middleware::Next,
    response::Response,
};

/// HSTS lifetime: one year, the usual preload minimum (no `includeSubDomains`: other hosts of the
/// hospital's domain may not speak TLS).
const HSTS: &str = "max-age=31536000";
const NO_STORE: &str = "no-store, private";

/// The sources each kind of content may come from, and why:
/// - `img-src blob: data:`: photo and annotation previews are `blob:` URLs; the TOTP QR code and the
///   favicon are `data:` URLs;
/// - `media-src blob:`: call recordings and voice messages play from `blob:` URLs (live call media
///   comes from `getUserMedia`/`RTCPeerConnection` as `srcObject`, which CSP does not govern);
/// - `connect-src`: `fetch` and the WebSocket at `/api/v1/ws` go to this origin; the `ws(s)://` form
///   of the public URL is listed too, as browsers before CSP 3 (older Safari) do not count `ws:` as
///   `'self'`;
/// - SVG charts are inline `<svg>` or `<img src="/api/v1/…/charts/…">` from this origin.
fn content_security_policy(public_url: &str) -> String {
    let mut connect = "'self'".to_owned();
    if let Some(ws) = websocket_origin(public_url) {
        connect.push(' ');
        connect.push_str(&ws);
    }
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; \
         media-src 'self' blob:; connect-src {connect}; font-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// `ws://host:port` for `http://host:port` (`wss` for `https`), if the URL is usable.
fn websocket_origin(public_url: &str) -> Option<String> {
    let u = url::Url::parse(public_url).ok()?;
    let scheme = match u.scheme() {
        "http" => "ws",
        "https" => "wss",
        _ => return None,
    };
    let host = u.host_str()?;
    if !host.bytes().all(|c| c.is_ascii_alphanumeric() || b".-:[]".contains(&c)) {
        return None;
    }
    Some(match u.port() {
        Some(p) => format!("{scheme}://{host}:{p}"),
        None => format!("{scheme}://{host}"),
    })
}

/// The header values, computed once when the router is built.
#[derive(Debug, Clone)]
pub struct SecurityHeaders {
    csp: HeaderValue,
    hsts: Option<HeaderValue>,
}

impl SecurityHeaders {
    /// `secure` is `[server] secure_cookies`: set when people reach the server over TLS.
    pub fn new(public_url: &str, secure: bool) -> Self {
        let csp = HeaderValue::from_str(&content_security_policy(public_url))
            .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'"));
        Self { csp, hsts: secure.then(|| HeaderValue::from_static(HSTS)) }
    }
}

/// Adds the security and cache headers to every answer, whichever layer produced it.
pub async fn apply(State(h): State<Arc<SecurityHeaders>>, req: Request, next: Next) -> Response {
    let cacheable = req.uri().path().starts_with("/static/");
    let mut resp = next.run(req).await;
    let hs = resp.headers_mut();
    hs.insert(header::CONTENT_SECURITY_POLICY, h.csp.clone());
    hs.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    hs.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    hs.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if let Some(v) = &h.hsts {
        hs.insert(header::STRICT_TRANSPORT_SECURITY, v.clone());
    }
    if !cacheable {
        hs.insert(header::CACHE_CONTROL, HeaderValue::from_static(NO_STORE));
    }
    resp
}

/// Drops a client's `X-Request-Id` so that the id layer makes a fresh one (issue 11 item 14).
pub async fn drop_client_request_id(mut req: Request) -> Request {
    req.headers_mut().remove(HeaderName::from_static("x-request-id"));
    req
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_websocket_origin_follows_the_public_url() {
        assert_eq!(websocket_origin("http://127.0.0.1:8080").as_deref(), Some("ws://127.0.0.1:8080"));
        assert_eq!(websocket_origin("https://yiqiao.example/").as_deref(), Some("wss://yiqiao.example"));
        assert_eq!(websocket_origin("ftp://x"), None);
        assert_eq!(websocket_origin("not a url"), None);
        let csp = content_security_policy("https://yiqiao.example");
        assert!(csp.contains("connect-src 'self' wss://yiqiao.example;"), "{csp}");
        assert!(!csp.contains("unsafe"), "{csp}");
    }
}
