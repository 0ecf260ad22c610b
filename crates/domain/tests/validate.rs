//! Tests for field validation (B1 licence, B2 phone, B3 login/password,
//! P1 region codes).

use domain::ValidationError::{LicenceFormat, LoginFormat, PasswordWeak, PhoneFormat, RegionFormat};
use domain::{
    ValidationError, normalize_phone, validate_licence_number, validate_login, validate_password, validate_region_code,
};
use proptest::prelude::*;
use rstest::rstest;

#[rstest]
#[case::plain("13800138000", Ok("13800138000"))]
#[case::plus86("+8613800138000", Ok("13800138000"))]
#[case::plus86_spaced("+86 138 0013 8000", Ok("13800138000"))]
#[case::dashed("138-0013-8000", Ok("13800138000"))]
#[case::padded("  19912345678 ", Ok("19912345678"))]
#[case::second_digit_2("12800138000", Err(PhoneFormat))]
#[case::not_one("23800138000", Err(PhoneFormat))]
#[case::too_short("1380013800", Err(PhoneFormat))]
#[case::too_long("138001380001", Err(PhoneFormat))]
#[case::letters("1380013800a", Err(PhoneFormat))]
#[case::prefix_86_without_plus("8613800138000", Err(PhoneFormat))]
#[case::other_country("+4413800138000", Err(PhoneFormat))]
#[case::full_width("１３８００１３８０００", Err(PhoneFormat))]
#[case::empty("", Err(PhoneFormat))]
fn phone(#[case] raw: &str, #[case] expected: Result<&str, ValidationError>) {
    assert_eq!(normalize_phone(raw), expected.map(str::to_owned));
}

#[rstest]
#[case::ok("110440000012345", Ok("110440000012345"))]
#[case::trimmed(" 110440000012345 ", Ok("110440000012345"))]
#[case::fourteen("11044000001234", Err(LicenceFormat))]
#[case::sixteen("1104400000123456", Err(LicenceFormat))]
#[case::letter("11044000001234A", Err(LicenceFormat))]
#[case::inner_space("1104400 0012345", Err(LicenceFormat))]
fn licence(#[case] raw: &str, #[case] expected: Result<&str, ValidationError>) {
    assert_eq!(validate_licence_number(raw), expected.map(str::to_owned));
}

#[rstest]
#[case::three_classes("correct-horse7", "doctor", true)]
#[case::four_classes("Tr0ub4dor&3x", "doctor", true)]
#[case::upper_digit_symbol("ABCDEFG12!", "nurse", true)]
#[case::exactly_ten("Abcdefgh1!", "nurse", true)]
#[case::max_len(&format!("Aa1{}", "x".repeat(125)), "nurse", true)]
#[case::too_long(&format!("Aa1{}", "x".repeat(126)), "nurse", false)]
#[case::nine("Abcdefg1!", "nurse", false)]
#[case::two_classes("abcdefgh1234", "nurse", false)]
#[case::one_class("abcdefghijkl", "nurse", false)]
#[case::contains_login("Zhangsan#2026", "zhangsan", false)]
#[case::contains_login_case("xxZHANGSANxx1!", "ZhangSan", false)]
#[case::empty_login("Abcdefgh1!", "", true)]
#[case::chinese_as_symbol("密码Abcdefgh1", "nurse", true)]
fn password(#[case] pw: &str, #[case] login: &str, #[case] ok: bool) {
    let expected = if ok { Ok(()) } else { Err(PasswordWeak) };
    assert_eq!(validate_password(pw, login), expected);
}

#[rstest]
#[case::simple("zhangsan", Ok("zhangsan"))]
#[case::lowered("ZhangSan", Ok("zhangsan"))]
#[case::punct("dr.li_2-x", Ok("dr.li_2-x"))]
#[case::digit_first("3li", Ok("3li"))]
#[case::min("abc", Ok("abc"))]
#[case::max(&"a".repeat(32), Ok(&*"a".repeat(32)))]
#[case::trimmed(" abc ", Ok("abc"))]
#[case::too_short("ab", Err(LoginFormat))]
#[case::too_long(&"a".repeat(33), Err(LoginFormat))]
#[case::dot_first(".abc", Err(LoginFormat))]
#[case::dash_first("-abc", Err(LoginFormat))]
#[case::space("ab c", Err(LoginFormat))]
#[case::at("a@b.cn", Err(LoginFormat))]
#[case::chinese("张三丰", Err(LoginFormat))]
#[case::empty("", Err(LoginFormat))]
fn login(#[case] raw: &str, #[case] expected: Result<&str, ValidationError>) {
    assert_eq!(validate_login(raw), expected.map(str::to_owned));
}

#[rstest]
#[case::beijing("110105", Ok("110105"))]
#[case::trimmed(" 440304 ", Ok("440304"))]
#[case::five("11010", Err(RegionFormat))]
#[case::seven("1101051", Err(RegionFormat))]
#[case::letter("11010A", Err(RegionFormat))]
fn region(#[case] raw: &str, #[case] expected: Result<&str, ValidationError>) {
    assert_eq!(validate_region_code(raw), expected.map(str::to_owned));
}

#[rstest]
#[case(PhoneFormat, "phone_format")]
#[case(LicenceFormat, "licence_format")]
#[case(PasswordWeak, "password_weak")]
#[case(LoginFormat, "login_format")]
#[case(RegionFormat, "region_format")]
fn error_codes_and_messages(#[case] err: ValidationError, #[case] code: &str) {
    assert_eq!(err.code(), code);
    assert!(!err.message().is_empty());
    assert_eq!(err.to_string(), err.message());
}

proptest! {
    #[test]
    fn errors_never_echo_input(raw in "[a-zA-Z0-9]{1,20}#[a-zA-Z0-9@]{1,20}") {
        let errors = [
            normalize_phone(&raw).err(),
            validate_licence_number(&raw).err(),
            validate_password(&raw, "someone").err(),
            validate_login(&format!("@{raw}")).err(),
            validate_region_code(&raw).err(),
        ];
        for err in errors.into_iter().flatten() {
            prop_assert!(!err.to_string().contains(&raw));
            let debug = format!("{err:?}");
            prop_assert!(!debug.contains(&raw));
        }
    }

    #[test]
    fn valid_mobiles_normalise(second in 3u8..=9, rest in "[0-9]{9}", sep in prop::sample::select(&["", " ", "-"][..]), plus in any::<bool>()) {
        let digits = format!("1{second}{rest}");
        let raw = format!("{}{}{sep}{}", if plus { "+86" } else { "" }, &digits[..3], &digits[3..]);
        prop_assert_eq!(normalize_phone(&raw), Ok(digits));
    }

    #[test]
    fn login_output_is_canonical(raw in "[A-Za-z0-9][A-Za-z0-9._-]{2,31}") {
        let login = validate_login(&raw).unwrap_or_default();
        prop_assert_eq!(&login, &raw.to_ascii_lowercase());
        prop_assert_eq!(validate_login(&login), Ok(login.clone()));
    }

    #[test]
    fn functions_never_panic(raw in any::<String>(), login in any::<String>()) {
        let _ = normalize_phone(&raw);
        let _ = validate_licence_number(&raw);
        let _ = validate_password(&raw, &login);
        let _ = validate_login(&raw);
        let _ = validate_region_code(&raw);
    }
}

// Issue 11 item 15: control characters are refused, never stripped; line breaks and tabs only in
// multi-line text.
#[rstest]
#[case::plain("王小明 blood pressure 140/90", false, true)]
#[case::nul("abc\0def", false, false)]
#[case::nul_multiline("abc\0def", true, false)]
#[case::escape("\u{1b}[31m", true, false)]
#[case::delete("a\u{7f}", false, false)]
#[case::c1("a\u{85}b", true, false)]
#[case::newline_single("two\nlines", false, false)]
#[case::newline_multiline("two\r\nlines\tand a tab", true, true)]
#[case::zero_width_is_not_control("a\u{200b}b", false, true)]
fn control_characters(#[case] text: &str, #[case] multiline: bool, #[case] ok: bool) {
    let got = domain::validate::refuse_control_characters(text, multiline);
    assert_eq!(got.is_ok(), ok, "{text:?}");
    if let Err(e) = got {
        assert_eq!(e.code(), "control_characters");
    }
}
