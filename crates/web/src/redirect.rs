//! Where a page may send the browser next (`next=` after sign-in, step-up and the language switch;
//! issue 11 item 4: no open redirects). A target is accepted only when it is a same-origin path made
//! of safe characters: browsers silently drop tabs and newlines, read `\` as `/` and resolve
//! `//host` as another site, so a prefix check on the raw text is not enough. The target is also
//! resolved the way a browser does (WHATWG URL parsing) against a placeholder origin and must stay
//! on it.

/// Where a rejected target goes instead.
pub const FALLBACK: &str = "/home";

/// Longer targets are not ours: our own links are far shorter.
const MAX_LEN: usize = 2048;

/// `next` when it is a safe same-origin path, else [`FALLBACK`].
pub fn safe_next(next: &str) -> &str {
    if is_local_path(next) { next } else { FALLBACK }
}

/// Whether `next` is a path on this origin that no browser can read as another site.
pub fn is_local_path(next: &str) -> bool {
    let b = next.as_bytes();
    // One leading slash, then something other than a second slash or a backslash.
    if next.len() > MAX_LEN || b.first() != Some(&b'/') || matches!(b.get(1), Some(b'/' | b'\\')) {
        return false;
    }
    // Printable ASCII from the URL grammar only: no controls, spaces, backslashes, quotes or
    // non-ASCII look-alikes (e.g. full-width solidus).
    let allowed = |c: u8| c.is_ascii_alphanumeric() || b"/-._~%!$&()*+,;=:@?#".contains(&c);
    if !b.iter().all(|&c| allowed(c)) || !escapes_are_harmless(next) {
        return false;
    }
    stays_on_origin(next)
}

/// Percent escapes must be well formed and hide no control character anywhere, and no `/` or `\`
/// in the path (a proxy or framework that decodes them would see `//host`).
fn escapes_are_harmless(next: &str) -> bool {
    let path_end = next.find(['?', '#']).unwrap_or(next.len());
    let b = next.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let Some(v) = b.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok()).and_then(hex_byte) else {
                return false;
            };
            if v < 0x20 || v == 0x7f || (i < path_end && matches!(v, b'/' | b'\\')) {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

fn hex_byte(h: &str) -> Option<u8> {
    if h.bytes().all(|c| c.is_ascii_hexdigit()) { u8::from_str_radix(h, 16).ok() } else { None }
}

/// Resolves `next` as a browser would and checks that it stays on the origin with a normal path.
fn stays_on_origin(next: &str) -> bool {
    let Ok(base) = url::Url::parse("https://origin.invalid/") else {
        return false;
    };
    match base.join(next) {
        Ok(u) => u.origin() == base.origin() && !u.path().starts_with("//"),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_targets_pass() {
        for ok in [
            "/home",
            "/consultations/0190c3a2-7e1b-7cc0-8a2e-3f4b5c6d7e8f",
            "/consultations/abc/export/pdf",
            "/step-up?next=%2Fconsultations%2Fabc%2Fexport%2Ffhir",
            "/search?q=%E5%A4%B4%E7%97%9B",
            "/inbox/abc?via=email",
            "/profile#family",
            "/",
        ] {
            assert_eq!(safe_next(ok), ok, "{ok:?} should be accepted");
        }
    }

    #[test]
    fn tricks_that_leave_the_site_fall_back_home() {
        // issue 11 item 4: each of these reaches evil.example in some browser or proxy, or carries
        // characters that have no business in our own links.
        for bad in [
            "//evil.example",
            "///evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/\t/evil.example",
            "/%09/evil.example",
            "/\n/evil.example",
            "/\r\n/evil.example",
            "/%0d%0a/evil.example",
            "/%2f%2fevil.example",
            "/%2F%2Fevil.example",
            "/%5cevil.example",
            "/%5Cevil.example",
            "/.//evil.example",
            "https://evil.example",
            "http:evil.example",
            "https:/evil.example",
            "javascript:alert(1)",
            " //evil.example",
            "\u{0}//evil.example",
            "/\u{0}/evil.example",
            "/%00/evil.example",
            "/\u{7f}/evil.example",
            "／／evil.example",
            "/ /evil.example",
            "/a\"onmouseover=x",
            "/%zz",
            "/%2",
            "evil.example",
            "",
        ] {
            assert_eq!(safe_next(bad), FALLBACK, "{bad:?} must not be followed");
        }
        assert_eq!(safe_next(&format!("/{}", "a".repeat(MAX_LEN))), FALLBACK, "overlong");
    }
}
