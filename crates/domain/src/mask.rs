//! Masking of personal data for display and logs (B2, PIPL).
//!
//! The single place that decides how names, identity numbers and phone
//! numbers are partially hidden in lists, receipts, audit views and logs.
//!
//! Invariants (property-tested):
//! - The output has exactly as many `char`s as the input (layout is stable,
//!   the length itself is not considered secret).
//! - Every output position is either the input character or `*`.
//! - Only the documented positions stay visible; everything else is `*`.
//! - The functions are total: any Unicode input, no panics.

const MASK: char = '*';

/// Compound (two-character) Chinese surnames kept visible by [`mask_name`].
pub const COMPOUND_SURNAMES: [&str; 20] = [
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "长孙", "宇文", "司徒", "夏侯",
    "轩辕", "端木", "独孤", "南宫", "西门", "百里",
];

/// Masks a personal name.
///
/// - Names containing ASCII letters (Latin script): keep the first character
///   of every space-separated word (`"John Smith"` → `"J*** S****"`). If that
///   would hide nothing, only the very first character is kept (nothing at
///   all for a single letter).
/// - Otherwise, by character count: 1 → `*`; 2 → first + `*` (`张*`);
///   3 → first + `*` + last (`张*三`); 4+ starting with a compound surname
///   → surname + `*` per remaining char (`欧阳**`); other 4+ → first +
///   `*`… + last.
pub fn mask_name(name: &str) -> String {
    if name.chars().any(|c| c.is_ascii_alphabetic()) {
        return mask_latin_name(name);
    }
    let chars: Vec<char> = name.chars().collect();
    let n = chars.len();
    match n {
        0 => String::new(),
        1 => MASK.to_string(),
        2 => keep_ends(&chars, 1, 0),
        3 => keep_ends(&chars, 1, 1),
        _ if COMPOUND_SURNAMES.iter().any(|s| name.starts_with(s)) => keep_ends(&chars, 2, 0),
        _ => keep_ends(&chars, 1, 1),
    }
}

/// Masks an identity-document number.
///
/// Length ≥ 11: first 6 + `*` × (len − 10) + last 4
/// (`11010519491231002X` → `110105********002X`). Length 5–10: first 2 and
/// last 2 visible. Length ≤ 4: all `*`.
pub fn mask_id_number(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    match chars.len() {
        n if n >= 11 => keep_ends(&chars, 6, 4),
        n if n >= 5 => keep_ends(&chars, 2, 2),
        n => MASK.to_string().repeat(n),
    }
}

/// Masks a phone number.
///
/// Length ≥ 8: first 3 and last 4 visible (`13800138000` → `138****8000`).
/// Shorter: all `*`.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    match chars.len() {
        n if n >= 8 => keep_ends(&chars, 3, 4),
        n => MASK.to_string().repeat(n),
    }
}

/// Keeps `head` leading and `tail` trailing chars, masks the rest.
/// Callers guarantee `head + tail < chars.len()` or an empty middle.
fn keep_ends(chars: &[char], head: usize, tail: usize) -> String {
    let n = chars.len();
    chars.iter().enumerate().map(|(i, &c)| if i < head || i + tail >= n { c } else { MASK }).collect()
}

fn mask_latin_name(name: &str) -> String {
    let mut at_word_start = true;
    let masked: String = name
        .chars()
        .map(|c| {
            if c == ' ' {
                at_word_start = true;
                c
            } else if at_word_start {
                at_word_start = false;
                c
            } else {
                MASK
            }
        })
        .collect();
    if masked != name {
        return masked;
    }
    // Only one-letter words (e.g. "A B"): keep just the first visible char,
    // or nothing at all for a single letter.
    let visible = name.chars().filter(|&c| c != ' ').count();
    let mut kept_first = visible < 2;
    name.chars()
        .map(|c| {
            if c == ' ' {
                c
            } else if kept_first {
                MASK
            } else {
                kept_first = true;
                c
            }
        })
        .collect()
}
