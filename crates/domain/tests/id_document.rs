//! Tests for identity-document validation (B2 real-name registration).
#![allow(clippy::unwrap_used, reason = "tests")]

use chrono::NaiveDate;
use domain::{IdDocumentKind, IdError, Sex, age_on, gb11643_check_char, validate_id_document};
use proptest::prelude::*;
use rstest::rstest;

use IdDocumentKind::{
    ForeignPermanentResidenceCard as Foreign, HkMacaoTaiwanResidencePermit as Hmt, MedicalInsuranceCard as Insurance,
    ResidentIdCard as Resident,
};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn today() -> NaiveDate {
    date(2026, 6, 1)
}

/// Appends the correct GB 11643 check character to a 17-digit body.
fn with_check(body: &str) -> String {
    format!("{body}{}", gb11643_check_char(body).unwrap())
}

/// Appends a check character that is guaranteed to be wrong.
fn wrong_check(body: &str) -> String {
    let right = gb11643_check_char(body).unwrap();
    format!("{body}{}", if right == '0' { '1' } else { '0' })
}

#[test]
fn reference_example_is_valid() {
    let id = validate_id_document(Resident, "11010519491231002X", today()).unwrap();
    assert_eq!(id.kind, Resident);
    assert_eq!(id.normalized, "11010519491231002X");
    assert_eq!(id.birth_date, Some(date(1949, 12, 31)));
    assert_eq!(id.sex, Some(Sex::Female));
}

#[rstest]
#[case::lower_x("11010519491231002x")]
#[case::padded("  11010519491231002X\t")]
fn resident_normalises(#[case] raw: &str) {
    let id = validate_id_document(Resident, raw, today()).unwrap();
    assert_eq!(id.normalized, "11010519491231002X");
}

#[rstest]
#[case::male(with_check("44030419900101001"), Sex::Male, date(1990, 1, 1))]
#[case::female(with_check("44030420000229002"), Sex::Female, date(2000, 2, 29))]
#[case::born_today(with_check("44030420260601003"), Sex::Male, date(2026, 6, 1))]
#[case::exactly_130(with_check("44030418960601004"), Sex::Female, date(1896, 6, 1))]
fn resident_valid_cases(#[case] raw: String, #[case] sex: Sex, #[case] birth: NaiveDate) {
    let id = validate_id_document(Resident, &raw, today()).unwrap();
    assert_eq!(id.sex, Some(sex));
    assert_eq!(id.birth_date, Some(birth));
}

#[rstest]
#[case::wrong_check("110105194912310021", IdError::Checksum)]
#[case::wrong_check_digit("110105194912310020", IdError::Checksum)]
#[case::swapped_digits("11010519491213002X", IdError::Checksum)]
#[case::too_short("11010519491231002", IdError::Format)]
#[case::too_long("11010519491231002X1", IdError::Format)]
#[case::bad_check_char("11010519491231002Y", IdError::Format)]
#[case::x_inside("1101051949123100XX", IdError::Format)]
#[case::empty("", IdError::Format)]
#[case::full_width("１１０１０５１９４９１２３１００２Ｘ", IdError::Format)]
#[case::region_nine(with_check("91010519491231002"), IdError::Region)]
#[case::region_zero(with_check("00000019491231002"), IdError::Region)]
#[case::future(with_check("11010520991231002"), IdError::BirthDate)]
#[case::tomorrow(with_check("11010520260602002"), IdError::BirthDate)]
#[case::feb_30(with_check("11010519900230002"), IdError::BirthDate)]
#[case::feb_29_common_year(with_check("11010519900229002"), IdError::BirthDate)]
#[case::month_13(with_check("11010519901301002"), IdError::BirthDate)]
#[case::too_old(with_check("11010518960531002"), IdError::BirthDate)]
#[case::future_unchecked("11010520991231002X", IdError::BirthDate)]
fn resident_invalid_cases(#[case] raw: String, #[case] expected: IdError) {
    assert_eq!(validate_id_document(Resident, &raw, today()), Err(expected));
}

#[rstest]
#[case::hong_kong(with_check("81000019900101001"))]
#[case::macao(with_check("82000019900101002"))]
#[case::taiwan(with_check("83000019900101003"))]
fn hmt_valid(#[case] raw: String) {
    let id = validate_id_document(Hmt, &raw, today()).unwrap();
    assert_eq!(id.birth_date, Some(date(1990, 1, 1)));
    assert!(id.sex.is_some());
}

#[rstest]
#[case::mainland_prefix(with_check("11010519900101001"), IdError::Region)]
#[case::near_prefix(with_check("81000119900101001"), IdError::Region)]
#[case::bad_checksum(wrong_check("81000019900101001"), IdError::Checksum)]
#[case::bad_date(with_check("81000019900230001"), IdError::BirthDate)]
#[case::short("8100001990", IdError::Format)]
fn hmt_invalid(#[case] raw: String, #[case] expected: IdError) {
    assert_eq!(validate_id_document(Hmt, &raw, today()), Err(expected));
}

#[rstest]
#[case::format_2017("USA123456789012", "USA123456789012", None)]
#[case::format_2017_lower(" gbr110019800101 ", "GBR110019800101", None)]
#[case::format_2023(with_check("93184019850615001"), with_check("93184019850615001"), Some(date(1985, 6, 15)))]
fn foreign_valid(#[case] raw: String, #[case] normalized: String, #[case] birth: Option<NaiveDate>) {
    let id = validate_id_document(Foreign, &raw, today()).unwrap();
    assert_eq!(id.normalized, normalized);
    assert_eq!(id.birth_date, birth);
}

#[rstest]
#[case::digits_first("123USA456789012", IdError::Format)]
#[case::two_letters("US1234567890123", IdError::Format)]
#[case::letter_in_digits("USA12345678901A", IdError::Format)]
#[case::length_16("USA1234567890123", IdError::Format)]
#[case::not_nine(with_check("11010519491231002"), IdError::Region)]
#[case::bad_checksum(wrong_check("93184019850615001"), IdError::Checksum)]
#[case::future(with_check("93184020990615001"), IdError::BirthDate)]
fn foreign_invalid(#[case] raw: String, #[case] expected: IdError) {
    assert_eq!(validate_id_document(Foreign, &raw, today()), Err(expected));
}

#[rstest]
#[case::min("abc123", Ok("ABC123"))]
#[case::max(&"a".repeat(32), Ok(&*"A".repeat(32)))]
#[case::trimmed(" 1234567890 ", Ok("1234567890"))]
#[case::too_short("ab123", Err(IdError::Format))]
#[case::too_long(&"1".repeat(33), Err(IdError::Format))]
#[case::dash("abc-123", Err(IdError::Format))]
#[case::inner_space("abc 123", Err(IdError::Format))]
#[case::non_ascii("医保卡123456", Err(IdError::Format))]
fn medical_insurance(#[case] raw: &str, #[case] expected: Result<&str, IdError>) {
    let got = validate_id_document(Insurance, raw, today());
    if let Ok(v) = &got {
        assert_eq!((v.birth_date, v.sex), (None, None));
    }
    assert_eq!(got.map(|v| v.normalized), expected.map(str::to_owned));
}

#[rstest]
#[case(IdError::Format, "id_format")]
#[case(IdError::Checksum, "id_checksum")]
#[case(IdError::BirthDate, "id_birth_date")]
#[case(IdError::Region, "id_region")]
fn error_codes(#[case] err: IdError, #[case] code: &str) {
    assert_eq!(err.code(), code);
    assert!(!err.to_string().is_empty());
}

#[test]
fn debug_does_not_leak_number() {
    let id = validate_id_document(Resident, "11010519491231002X", today()).unwrap();
    let dbg = format!("{id:?}");
    assert!(!dbg.contains("11010519491231002X"), "{dbg}");
    assert!(!dbg.contains("1949"), "{dbg}");
    assert!(dbg.contains("110105********002X"), "{dbg}");
}

#[rstest]
#[case::birthday_today(date(1990, 6, 1), date(2026, 6, 1), 36)]
#[case::day_before(date(1990, 6, 2), date(2026, 6, 1), 35)]
#[case::newborn(date(2026, 6, 1), date(2026, 6, 1), 0)]
#[case::future_birth(date(2027, 1, 1), date(2026, 6, 1), 0)]
#[case::leap_feb_28(date(2000, 2, 29), date(2023, 2, 28), 22)]
#[case::leap_mar_1(date(2000, 2, 29), date(2023, 3, 1), 23)]
#[case::leap_leap(date(2000, 2, 29), date(2024, 2, 29), 24)]
fn age_on_cases(#[case] birth: NaiveDate, #[case] on: NaiveDate, #[case] age: u32) {
    assert_eq!(age_on(birth, on), age);
}

#[rstest]
#[case::short("1234567890123456")]
#[case::letter("1234567890123456A")]
#[case::eighteen("123456789012345678")]
#[case::empty("")]
fn check_char_needs_17_digits(#[case] body: &str) {
    assert_eq!(gb11643_check_char(body), None);
}

/// 17-digit bodies with a plausible region and a birth date in range.
fn valid_body() -> impl Strategy<Value = String> {
    (1u8..=8, 0u32..100_000, 0i64..(125 * 365), 0u32..1000).prop_map(|(first, rest, days_ago, seq)| {
        let birth = today() - chrono::Days::new(u64::try_from(days_ago).unwrap());
        format!("{first}{rest:05}{}{seq:03}", birth.format("%Y%m%d"))
    })
}

proptest! {
    #[test]
    fn computed_check_char_validates(body in valid_body()) {
        let id = with_check(&body);
        let valid = validate_id_document(Resident, &id, today()).unwrap();
        prop_assert_eq!(valid.normalized, id);
        let seq_digit = body.as_bytes()[16] - b'0';
        prop_assert_eq!(valid.sex, Some(if seq_digit % 2 == 1 { Sex::Male } else { Sex::Female }));
        prop_assert_eq!(age_on(valid.birth_date.unwrap(), today()) <= 130, true);
    }

    #[test]
    fn any_single_substitution_fails(
        body in valid_body(),
        pos in 0usize..18,
        replacement in prop::sample::select(&['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'X'][..]),
    ) {
        let id = with_check(&body);
        let mut chars: Vec<char> = id.chars().collect();
        prop_assume!(chars[pos] != replacement);
        chars[pos] = replacement;
        let changed: String = chars.into_iter().collect();
        prop_assert!(validate_id_document(Resident, &changed, today()).is_err());
    }

    #[test]
    fn never_panics(raw in any::<String>(), kind in prop::sample::select(&IdDocumentKind::ALL[..])) {
        let _ = validate_id_document(kind, &raw, today());
    }

    #[test]
    fn age_is_monotonic(birth_days in 0u64..60_000, a in 0u64..60_000, b in 0u64..60_000) {
        let birth = date(1900, 1, 1) + chrono::Days::new(birth_days);
        let (lo, hi) = (a.min(b), a.max(b));
        let d1 = date(1900, 1, 1) + chrono::Days::new(lo);
        let d2 = date(1900, 1, 1) + chrono::Days::new(hi);
        prop_assert!(age_on(birth, d1) <= age_on(birth, d2));
    }
}
