//! Input validation for account and credential fields.
//!
//! - Phone numbers: mainland mobile numbers, used for SMS login and real-name
//!   binding (B2).
//! - Practising licence numbers (执业证书编码) for doctor verification (B1).
//! - Login names and passwords for staff accounts (B3).
//! - Region codes (GB/T 2260) for institutions (P1) and addresses.
//! - Control characters in any text input (issue 11 item 15).
//!
//! Invariants: successful results are normalised (e.g. phone without
//! separators or `+86`, login lower-cased); a [`ValidationError`] never
//! contains the rejected value, only a stable code and a generic message,
//! so errors can be logged without leaking personal data.

use thiserror::Error;

/// Why an input field was rejected. Never carries the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ValidationError {
    /// Not a mainland mobile number.
    #[error("{}", self.message())]
    PhoneFormat,
    /// Not a 15-digit practising licence number.
    #[error("{}", self.message())]
    LicenceFormat,
    /// Password too short/long, too simple or containing the login.
    #[error("{}", self.message())]
    PasswordWeak,
    /// Login name has the wrong length or characters.
    #[error("{}", self.message())]
    LoginFormat,
    /// Not a 6-digit region code.
    #[error("{}", self.message())]
    RegionFormat,
    /// Text holds a control character (NUL, ESC, …), or a line break or tab outside multi-line text.
    #[error("{}", self.message())]
    ControlCharacters,
}

impl ValidationError {
    /// Stable machine-readable code (for APIs and translations).
    pub const fn code(self) -> &'static str {
        match self {
            Self::PhoneFormat => "phone_format",
            Self::LicenceFormat => "licence_format",
            Self::PasswordWeak => "password_weak",
            Self::LoginFormat => "login_format",
            Self::RegionFormat => "region_format",
            Self::ControlCharacters => "control_characters",
        }
    }

    /// Short English explanation, safe to show and to log.
    pub const fn message(self) -> &'static str {
        match self {
            Self::PhoneFormat => "phone number must be an 11-digit mainland China mobile number",
            Self::LicenceFormat => "practising licence number must be exactly 15 digits",
            Self::PasswordWeak => {
                "password must be 10-128 characters, mix at least three of lower-case, \
                 upper-case, digits and symbols, and must not contain the login name"
            }
            Self::LoginFormat => {
                "login must be 3-32 characters of a-z, 0-9, '.', '_' or '-', \
                 starting with a letter or digit"
            }
            Self::RegionFormat => "region code must be exactly 6 digits",
            Self::ControlCharacters => {
                "text must not contain control characters; line breaks and tabs are allowed \
                 only in multi-line text such as messages and notes"
            }
        }
    }
}

/// Refuses text holding a control character (Unicode `Cc`: U+0000–U+001F, U+007F–U+009F). In
/// `multiline` text (messages, complaints, notes) line feed, carriage return and tab are allowed.
/// Issue 11 item 15: PostgreSQL cannot store NUL in text (a 500 before), and no other control
/// character belongs in a name, id or label. The text is refused, never altered.
pub fn refuse_control_characters(text: &str, multiline: bool) -> Result<(), ValidationError> {
    let allowed = |c: char| multiline && matches!(c, '\n' | '\r' | '\t');
    if text.chars().any(|c| c.is_control() && !allowed(c)) { Err(ValidationError::ControlCharacters) } else { Ok(()) }
}

/// Minimum password length in characters.
pub const PASSWORD_MIN_CHARS: usize = 10;
/// Maximum password length in characters.
pub const PASSWORD_MAX_CHARS: usize = 128;

/// Normalises a mainland mobile number to 11 digits.
///
/// Spaces and dashes are removed, as is an optional `+86` prefix; the rest
/// must match `1[3-9]\d{9}`.
pub fn normalize_phone(raw: &str) -> Result<String, ValidationError> {
    let compact: String = raw.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
    let digits = compact.strip_prefix("+86").unwrap_or(&compact);
    let b = digits.as_bytes();
    let ok = b.len() == 11 && b.iter().all(u8::is_ascii_digit) && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]);
    if ok { Ok(digits.to_owned()) } else { Err(ValidationError::PhoneFormat) }
}

/// Validates a physician practising licence number (B1): exactly 15 digits
/// after trimming.
pub fn validate_licence_number(raw: &str) -> Result<String, ValidationError> {
    let s = raw.trim();
    if s.len() == 15 && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s.to_owned())
    } else {
        Err(ValidationError::LicenceFormat)
    }
}

/// Checks password strength for a staff or patient account (B3).
///
/// 10–128 characters; at least three of four classes (lower-case,
/// upper-case, ASCII digit, anything else counts as symbol); must not
/// contain `login` (case-insensitive) when `login` is non-empty.
pub fn validate_password(password: &str, login: &str) -> Result<(), ValidationError> {
    let len = password.chars().count();
    if !(PASSWORD_MIN_CHARS..=PASSWORD_MAX_CHARS).contains(&len) {
        return Err(ValidationError::PasswordWeak);
    }
    let (mut lower, mut upper, mut digit, mut symbol) = (false, false, false, false);
    for c in password.chars() {
        if c.is_ascii_digit() {
            digit = true;
        } else if c.is_lowercase() {
            lower = true;
        } else if c.is_uppercase() {
            upper = true;
        } else {
            symbol = true;
        }
    }
    let classes = [lower, upper, digit, symbol].into_iter().filter(|&x| x).count();
    if classes < 3 {
        return Err(ValidationError::PasswordWeak);
    }
    let login = login.trim().to_lowercase();
    if !login.is_empty() && password.to_lowercase().contains(&login) {
        return Err(ValidationError::PasswordWeak);
    }
    Ok(())
}

/// Validates and lower-cases a login name (B3).
///
/// After trimming: 3–32 characters of `[a-z0-9._-]` (upper-case ASCII is
/// accepted and lower-cased), starting with a letter or digit.
pub fn validate_login(raw: &str) -> Result<String, ValidationError> {
    let login = raw.trim().to_ascii_lowercase();
    let b = login.as_bytes();
    let ok = (3..=32).contains(&b.len())
        && b[0].is_ascii_alphanumeric()
        && b.iter().all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'_' | b'-'));
    if ok { Ok(login) } else { Err(ValidationError::LoginFormat) }
}

/// Validates an administrative region code (GB/T 2260): exactly 6 digits
/// after trimming.
pub fn validate_region_code(raw: &str) -> Result<String, ValidationError> {
    let s = raw.trim();
    if s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s.to_owned())
    } else {
        Err(ValidationError::RegionFormat)
    }
}
