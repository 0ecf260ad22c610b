//! Single byte ranges for attachment downloads (A1): iOS Safari plays `<audio>` only from a server
//! that answers `Range: bytes=…` with 206 Partial Content, and every browser seeks that way.
//! Multi-range requests are answered with the whole file (allowed by RFC 9110).

use std::ops::RangeInclusive;

/// What to send for a `Range` header and a body of `len` bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Ranged {
    /// No usable range: the whole body, 200.
    Full,
    /// One satisfiable range: 206 with `Content-Range`.
    Part(RangeInclusive<usize>),
    /// A range outside the body: 416 with `Content-Range: bytes */len`.
    Unsatisfiable,
}

/// Interprets a `Range` header value (`bytes=a-b`, `bytes=a-`, `bytes=-n`).
pub fn parse(header: Option<&str>, len: usize) -> Ranged {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Ranged::Full;
    };
    if spec.contains(',') {
        return Ranged::Full;
    }
    let Some((start, end)) = spec.split_once('-') else {
        return Ranged::Full;
    };
    let (start, end) = (start.trim(), end.trim());
    let number = |s: &str| s.parse::<usize>().ok();
    let range = match (start.is_empty(), end.is_empty()) {
        // The last n bytes.
        (true, false) => match number(end) {
            Some(0) => return Ranged::Unsatisfiable,
            Some(n) => len.saturating_sub(n)..=len.saturating_sub(1),
            None => return Ranged::Full,
        },
        (false, _) => match (number(start), if end.is_empty() { Some(usize::MAX) } else { number(end) }) {
            (Some(a), Some(b)) if a <= b => a..=b.min(len.saturating_sub(1)),
            _ => return Ranged::Full,
        },
        (true, true) => return Ranged::Full,
    };
    if len == 0 || *range.start() >= len { Ranged::Unsatisfiable } else { Ranged::Part(range) }
}

/// A private media body (attachment, recording) answering a single `Range` with 206 (A1: voice
/// messages and recordings play and seek through byte ranges; iOS needs them).
pub fn media_response(headers: &axum::http::HeaderMap, ct: String, bytes: Vec<u8>) -> axum::response::Response {
    use axum::{
        http::{StatusCode, header},
        response::IntoResponse,
    };
    let common = [
        (header::CONTENT_TYPE, ct),
        (header::CACHE_CONTROL, "private, no-store".to_owned()),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        (header::ACCEPT_RANGES, "bytes".to_owned()),
    ];
    let len = bytes.len();
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    match parse(range, len) {
        Ranged::Full => (common, bytes).into_response(),
        Ranged::Part(r) => {
            let content_range = format!("bytes {}-{}/{len}", r.start(), r.end());
            let part = bytes.get(r).map(<[u8]>::to_vec).unwrap_or_default();
            (StatusCode::PARTIAL_CONTENT, common, [(header::CONTENT_RANGE, content_range)], part).into_response()
        }
        Ranged::Unsatisfiable => {
            (StatusCode::RANGE_NOT_SATISFIABLE, common, [(header::CONTENT_RANGE, format!("bytes */{len}"))])
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(parse(None, 100), Ranged::Full);
        assert_eq!(parse(Some("bytes=0-1"), 100), Ranged::Part(0..=1));
        assert_eq!(parse(Some("bytes=10-"), 100), Ranged::Part(10..=99));
        assert_eq!(parse(Some("bytes=90-500"), 100), Ranged::Part(90..=99));
        assert_eq!(parse(Some("bytes=-10"), 100), Ranged::Part(90..=99));
        assert_eq!(parse(Some("bytes=-500"), 100), Ranged::Part(0..=99));
        assert_eq!(parse(Some("bytes=100-"), 100), Ranged::Unsatisfiable);
        assert_eq!(parse(Some("bytes=-0"), 100), Ranged::Unsatisfiable);
        for ignored in ["bytes=5-1", "bytes=0-1,5-6", "items=0-1", "bytes=x-", "bytes=-"] {
            assert_eq!(parse(Some(ignored), 100), Ranged::Full, "{ignored}");
        }
    }
}
