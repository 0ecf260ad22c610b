//! The web edge (issue 11 items 4, 6, 7, 14, 17) on both engines: return targets that cannot leave
//! the site, browser security headers and `Cache-Control` on every kind of answer, server-made
//! request ids in the audit trail, and cross-site refusal of forms posted before a session exists.

#![allow(clippy::unwrap_used, reason = "a test: a failed step should stop it with its message")]

#[path = "web_edge/cross_site.rs"]
mod cross_site;
#[path = "web_edge/headers.rs"]
mod headers;
#[path = "web_edge/redirect.rs"]
mod redirect;

use axum::body::Body;
use http::{Method, Request};

/// A request with a form body (`application/x-www-form-urlencoded`) and extra headers.
pub fn form(method: Method, uri: &str, body: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(uri).header("content-type", "application/x-www-form-urlencoded");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Body::from(body.to_owned())).unwrap()
}

/// A GET with extra headers.
pub fn get(uri: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut b = Request::builder().method(Method::GET).uri(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Body::empty()).unwrap()
}

/// Percent-encodes every byte of a form or query value that is not a letter or digit.
pub fn enc(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { char::from(b).to_string() } else { format!("%{b:02X}") }).collect()
}
