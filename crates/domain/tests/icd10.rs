//! Tests for ICD-10 normalisation and the bundled catalogue (C2).
#![allow(clippy::unwrap_used, reason = "tests")]

use std::collections::HashSet;

use domain::{ICD10_COMMON, Icd10Error, lookup, normalize_icd10, search};
use proptest::prelude::*;
use rstest::rstest;

#[rstest]
#[case::lower_dotted("e11.9", Ok("E11.9"))]
#[case::missing_dot("E119", Ok("E11.9"))]
#[case::missing_dot_lower("e119", Ok("E11.9"))]
#[case::category("I10", Ok("I10"))]
#[case::trimmed("  j06.9 \t", Ok("J06.9"))]
#[case::four_after_dot("S72.0001", Ok("S72.0001"))]
#[case::letter_after_dot("U07.1", Ok("U07.1"))]
#[case::alnum_extension("I10.X00", Ok("I10.X00"))]
#[case::alnum_extension_no_dot("i10x00", Ok("I10.X00"))]
#[case::well_formed_not_in_catalogue("Q99.9", Ok("Q99.9"))]
#[case::no_letter("11.9", Err(Icd10Error::Format))]
#[case::too_short("E1", Err(Icd10Error::Format))]
#[case::five_after_dot("E11.12345", Err(Icd10Error::Format))]
#[case::five_no_dot("E1112345", Err(Icd10Error::Format))]
#[case::trailing_dot("E11.", Err(Icd10Error::Format))]
#[case::double_dot("E11..9", Err(Icd10Error::Format))]
#[case::inner_space("E11 .9", Err(Icd10Error::Format))]
#[case::letter_second("EE1.9", Err(Icd10Error::Format))]
#[case::dash("E11-9", Err(Icd10Error::Format))]
#[case::full_width("Ｅ１１.9", Err(Icd10Error::Format))]
#[case::empty("", Err(Icd10Error::Format))]
fn normalisation(#[case] raw: &str, #[case] expected: Result<&str, Icd10Error>) {
    assert_eq!(normalize_icd10(raw), expected.map(str::to_owned));
}

#[test]
fn error_code_and_no_echo() {
    let err = normalize_icd10("secret-diagnosis").unwrap_err();
    assert_eq!(err.code(), "icd10_format");
    assert_eq!(err.to_string(), err.message());
    assert!(!err.to_string().contains("secret"));
}

#[test]
fn catalogue_is_normalised_unique_named_and_sorted() {
    assert!(ICD10_COMMON.len() >= 80, "catalogue has {} entries", ICD10_COMMON.len());
    let mut seen = HashSet::new();
    for entry in ICD10_COMMON {
        assert_eq!(normalize_icd10(entry.code).as_deref(), Ok(entry.code), "{}", entry.code);
        assert!(seen.insert(entry.code), "duplicate {}", entry.code);
        assert!(!entry.name_zh.trim().is_empty(), "{}", entry.code);
        assert!(!entry.name_en.trim().is_empty(), "{}", entry.code);
        assert!(entry.name_en.is_ascii(), "{}", entry.code);
        assert!(!entry.name_zh.is_ascii(), "{}", entry.code);
    }
    assert!(ICD10_COMMON.windows(2).all(|w| w[0].code < w[1].code), "catalogue must be ordered by code");
}

#[rstest]
#[case("I10", "原发性高血压", "Essential (primary) hypertension")]
#[case("E11", "2型糖尿病", "Type 2 diabetes mellitus")]
#[case("J06.9", "急性上呼吸道感染", "Acute upper respiratory infection, unspecified")]
#[case("J18.9", "肺炎", "Pneumonia, unspecified")]
#[case("R51", "头痛", "Headache")]
#[case("R50.9", "发热", "Fever, unspecified")]
fn known_names(#[case] code: &str, #[case] zh: &str, #[case] en: &str) {
    let entry = lookup(code).unwrap();
    assert_eq!((entry.code, entry.name_zh, entry.name_en), (code, zh, en));
}

#[rstest]
#[case("I10")]
#[case("E11")]
#[case("E11.9")]
#[case("J06.9")]
#[case("J18.9")]
#[case("I25.1")]
#[case("I48")]
#[case("I63.9")]
#[case("E78.5")]
#[case("K21.9")]
#[case("K29.7")]
#[case("M54.5")]
#[case("N39.0")]
#[case("J45.9")]
#[case("J44.9")]
#[case("F32.9")]
#[case("G43.9")]
#[case("R51")]
#[case("R50.9")]
#[case("Z00.0")]
fn requested_codes_present(#[case] code: &str) {
    assert!(lookup(code).is_some(), "{code} missing");
}

#[rstest]
#[case::lower_no_dot("e119", Some("E11.9"))]
#[case::not_in_catalogue("Q99.9", None)]
#[case::malformed("hello", None)]
fn lookup_normalises(#[case] code: &str, #[case] expected: Option<&str>) {
    assert_eq!(lookup(code).map(|e| e.code), expected);
}

#[rstest]
#[case::code_prefix("e11", 10, &["E11", "E11.2", "E11.3", "E11.4", "E11.9"])]
#[case::code_prefix_no_dot("E119", 10, &["E11.9"])]
#[case::code_prefix_dotted("e11.", 10, &["E11", "E11.2", "E11.3", "E11.4", "E11.9"])]
#[case::limit("e11", 2, &["E11", "E11.2"])]
#[case::zero_limit("e11", 0, &[])]
#[case::zh_substring("高血压", 10, &["I10", "I11.9"])]
#[case::en_case_insensitive("HYPERTENSION", 10, &["I10"])]
#[case::en_substring("asthma", 10, &["J45.9"])]
#[case::blank("  ", 10, &[])]
#[case::nothing("zzzz", 10, &[])]
fn search_cases(#[case] query: &str, #[case] limit: usize, #[case] expected: &[&str]) {
    let codes: Vec<&str> = search(query, limit).iter().map(|e| e.code).collect();
    assert_eq!(codes, expected);
}

proptest! {
    #[test]
    fn normalize_is_idempotent_and_well_formed(raw in "\\PC{0,12}") {
        if let Ok(code) = normalize_icd10(&raw) {
            prop_assert_eq!(normalize_icd10(&code), Ok(code.clone()));
            let b = code.as_bytes();
            prop_assert!(b[0].is_ascii_uppercase() && b[1].is_ascii_digit() && b[2].is_ascii_digit());
            prop_assert!(code.len() == 3 || (b[3] == b'.' && (5..=8).contains(&code.len())));
        }
    }

    #[test]
    fn generated_codes_accepted(letter in "[A-Za-z]", digits in "[0-9]{2}", tail in "([.]?[0-9A-Za-z]{1,4})?") {
        let raw = format!("{letter}{digits}{tail}");
        prop_assert!(normalize_icd10(&raw).is_ok());
    }
}
