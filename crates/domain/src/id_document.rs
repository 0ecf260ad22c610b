//! Identity documents for real-name registration (B2).
//!
//! Patients and staff register under their real name with one of the
//! documents accepted for medical care in mainland China. This module checks
//! the *shape* of the document number offline; it does not prove that the
//! document exists (that is the job of an external verification service).
//!
//! Rules (see [`validate_id_document`]):
//! - Resident identity card (居民身份证, GB 11643-1999): 18 characters,
//!   17 digits plus an ISO 7064 MOD 11-2 check character; plausible region
//!   prefix; real, non-future birth date at most 130 years ago.
//! - Hong Kong / Macao / Taiwan residence permit (港澳台居民居住证): same
//!   structure, prefix `810000`, `820000` or `830000`.
//! - Foreign permanent residence card (外国人永久居留身份证): 2017 format
//!   (3 letters + 12 digits, shape only) or 2023 format (18 characters
//!   starting with `9`, GB 11643 checksum and birth date).
//! - Medical insurance card (医保卡): 6–32 ASCII alphanumerics.
//!
//! Invariants: a [`ValidId`] is always normalised (trimmed, upper-case), and
//! neither [`IdError`] nor `ValidId`'s `Debug` output reveals the full number.

use chrono::{Datelike, Months, NaiveDate};
use thiserror::Error;

use crate::mask::mask_id_number;

string_enum! {
    /// Kind of identity document (B2).
    pub enum IdDocumentKind("identity document kind") {
        /// 居民身份证.
        ResidentIdCard => "resident_id",
        /// 港澳台居民居住证.
        HkMacaoTaiwanResidencePermit => "hmt_permit",
        /// 外国人永久居留身份证.
        ForeignPermanentResidenceCard => "foreign_permanent",
        /// 医保卡 / 医保电子凭证 number.
        MedicalInsuranceCard => "medical_insurance",
    }
}

string_enum! {
    /// Sex as encoded in an identity number.
    pub enum Sex("sex") {
        /// Odd sequence digit.
        Male => "male",
        /// Even sequence digit.
        Female => "female",
    }
}

impl Sex {
    /// Chinese display name.
    pub const fn name_zh(self) -> &'static str {
        match self {
            Self::Male => "男",
            Self::Female => "女",
        }
    }
}

/// Why a document number was rejected. Never carries the number itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum IdError {
    /// Wrong length or characters for the document kind.
    #[error("identity document number has an invalid format")]
    Format,
    /// The check character does not match.
    #[error("identity document number has an invalid check character")]
    Checksum,
    /// The embedded birth date is impossible, in the future or too old.
    #[error("identity document number has an invalid birth date")]
    BirthDate,
    /// The region prefix is not plausible for the document kind.
    #[error("identity document number has an invalid region code")]
    Region,
}

impl IdError {
    /// Stable machine-readable code (for APIs and translations).
    pub const fn code(self) -> &'static str {
        match self {
            Self::Format => "id_format",
            Self::Checksum => "id_checksum",
            Self::BirthDate => "id_birth_date",
            Self::Region => "id_region",
        }
    }
}

/// A syntactically valid, normalised identity document number.
#[derive(Clone, PartialEq, Eq)]
pub struct ValidId {
    /// Document kind that was validated.
    pub kind: IdDocumentKind,
    /// Trimmed, upper-cased number. Personal data: store encrypted.
    pub normalized: String,
    /// Birth date encoded in the number, if the format carries one.
    pub birth_date: Option<NaiveDate>,
    /// Sex encoded in the number, if the format carries one.
    pub sex: Option<Sex>,
}

impl std::fmt::Debug for ValidId {
    /// Masks the number so that logging a `ValidId` does not leak it (B2).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidId")
            .field("kind", &self.kind)
            .field("normalized", &mask_id_number(&self.normalized))
            .field("birth_date", &self.birth_date.map(|_| "<redacted>"))
            .field("sex", &self.sex)
            .finish()
    }
}

/// GB 11643-1999 weights for the first 17 digits.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character indexed by `weighted sum mod 11`.
const CHECK_CHARS: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
/// Oldest accepted age, in years.
const MAX_AGE_YEARS: u32 = 130;

/// Computes the GB 11643-1999 (ISO 7064 MOD 11-2) check character for the
/// first 17 characters of an 18-character identity number.
///
/// Returns `None` unless `body` is exactly 17 ASCII digits.
pub fn gb11643_check_char(body: &str) -> Option<char> {
    if body.len() != 17 || !body.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sum: u32 = body.bytes().zip(WEIGHTS).map(|(b, w)| u32::from(b - b'0') * w).sum();
    usize::try_from(sum % 11).ok().and_then(|i| CHECK_CHARS.get(i).copied())
}

/// Full years between `birth` and `today` (0 if `today` is before `birth`).
///
/// Someone born on 29 February turns a year older on 1 March in common
/// years.
pub fn age_on(birth: NaiveDate, today: NaiveDate) -> u32 {
    if today <= birth {
        return 0;
    }
    let mut years = today.year() - birth.year();
    if (today.month(), today.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    u32::try_from(years).unwrap_or(0)
}

/// Validates and normalises `raw` as a document of `kind` (B2).
///
/// `today` is the reference date for birth-date plausibility. For the
/// 18-character formats the checks run in the order format → region prefix
/// (a 2023 foreign card not starting with `9` is a region error) → birth
/// date → check character, so the most specific error is reported.
pub fn validate_id_document(kind: IdDocumentKind, raw: &str, today: NaiveDate) -> Result<ValidId, IdError> {
    let normalized = raw.trim().to_ascii_uppercase();
    let (birth_date, sex) = match kind {
        IdDocumentKind::ResidentIdCard => {
            let (birth, sex) =
                check_gb11643(&normalized, today, |n| matches!(n.as_bytes().first(), Some(b'1'..=b'8')))?;
            (Some(birth), Some(sex))
        }
        IdDocumentKind::HkMacaoTaiwanResidencePermit => {
            let (birth, sex) = check_gb11643(&normalized, today, |n| {
                ["810000", "820000", "830000"].iter().any(|prefix| n.starts_with(prefix))
            })?;
            (Some(birth), Some(sex))
        }
        IdDocumentKind::ForeignPermanentResidenceCard => match normalized.len() {
            15 => {
                check_foreign_2017(&normalized)?;
                (None, None)
            }
            18 => {
                let (birth, sex) = check_gb11643(&normalized, today, |n| n.starts_with('9'))?;
                (Some(birth), Some(sex))
            }
            _ => return Err(IdError::Format),
        },
        IdDocumentKind::MedicalInsuranceCard => {
            let len_ok = (6..=32).contains(&normalized.len());
            if !len_ok || !normalized.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(IdError::Format);
            }
            (None, None)
        }
    };
    Ok(ValidId { kind, normalized, birth_date, sex })
}

/// Checks an 18-character GB 11643 number (already upper-cased).
///
/// Order: format, region (`region_ok`), birth date, check character.
fn check_gb11643(id: &str, today: NaiveDate, region_ok: impl Fn(&str) -> bool) -> Result<(NaiveDate, Sex), IdError> {
    let bytes = id.as_bytes();
    let shape_ok = bytes.len() == 18
        && bytes[..17].iter().all(u8::is_ascii_digit)
        && (bytes[17].is_ascii_digit() || bytes[17] == b'X');
    if !shape_ok {
        return Err(IdError::Format);
    }
    if !region_ok(id) {
        return Err(IdError::Region);
    }
    let birth = parse_birth_date(&id[6..14]).ok_or(IdError::BirthDate)?;
    let oldest = today.checked_sub_months(Months::new(MAX_AGE_YEARS * 12)).unwrap_or(NaiveDate::MIN);
    if birth > today || birth < oldest {
        return Err(IdError::BirthDate);
    }
    if gb11643_check_char(&id[..17]) != Some(char::from(bytes[17])) {
        return Err(IdError::Checksum);
    }
    let sex = if (bytes[16] - b'0') % 2 == 1 { Sex::Male } else { Sex::Female };
    Ok((birth, sex))
}

/// Parses `YYYYMMDD` (ASCII digits) into a calendar date.
fn parse_birth_date(digits: &str) -> Option<NaiveDate> {
    let year = digits.get(0..4)?.parse::<i32>().ok()?;
    let month = digits.get(4..6)?.parse::<u32>().ok()?;
    let day = digits.get(6..8)?.parse::<u32>().ok()?;
    NaiveDate::from_ymd_opt(year, month, day)
}

/// 2017 foreign permanent residence card: 3 letters + 12 digits.
fn check_foreign_2017(id: &str) -> Result<(), IdError> {
    let bytes = id.as_bytes();
    let ok =
        bytes.len() == 15 && bytes[..3].iter().all(u8::is_ascii_uppercase) && bytes[3..].iter().all(u8::is_ascii_digit);
    if ok { Ok(()) } else { Err(IdError::Format) }
}
