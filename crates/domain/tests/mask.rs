//! Tests for masking of personal data (B2, PIPL).

use domain::mask::COMPOUND_SURNAMES;
use domain::{mask_id_number, mask_name, mask_phone};
use proptest::prelude::*;
use rstest::rstest;

#[rstest]
#[case::empty("", "")]
#[case::one("张", "*")]
#[case::two("张三", "张*")]
#[case::three("张小三", "张*三")]
#[case::four_plain("王小二明", "王**明")]
#[case::five_plain("爱新觉罗溥", "爱***溥")]
#[case::compound_four("欧阳娜娜", "欧阳**")]
#[case::compound_five("司马相如儿", "司马***")]
#[case::compound_three("欧阳娜", "欧*娜")]
#[case::compound_two("诸葛", "诸*")]
#[case::latin("John Smith", "J*** S****")]
#[case::latin_single("Alice", "A****")]
#[case::latin_three_words("Mary Ann Lee", "M*** A** L**")]
#[case::latin_initials("A B", "A *")]
#[case::latin_letter("A", "*")]
#[case::latin_two("Al", "A*")]
#[case::mixed_script("李 Lee", "李 L**")]
#[case::uyghur_dot("买买提·艾力", "买****力")]
fn name_cases(#[case] input: &str, #[case] expected: &str) {
    assert_eq!(mask_name(input), expected);
}

#[test]
fn all_compound_surnames_are_kept() {
    for surname in COMPOUND_SURNAMES {
        assert_eq!(surname.chars().count(), 2);
        let masked = mask_name(&format!("{surname}一二"));
        assert_eq!(masked, format!("{surname}**"));
    }
}

#[rstest]
#[case::resident_id("11010519491231002X", "110105********002X")]
#[case::eleven("12345678901", "123456*8901")]
#[case::fifteen("USA123456789012", "USA123*****9012")]
#[case::ten("1234567890", "12******90")]
#[case::five("12345", "12*45")]
#[case::four("1234", "****")]
#[case::one("1", "*")]
#[case::empty("", "")]
#[case::unicode("身份证号码一二三四五六", "身份证号码一*三四五六")]
fn id_cases(#[case] input: &str, #[case] expected: &str) {
    assert_eq!(mask_id_number(input), expected);
}

#[rstest]
#[case::mobile("13800138000", "138****8000")]
#[case::with_prefix("+8613800138000", "+86*******8000")]
#[case::landline("01012345678", "010****5678")]
#[case::eight("12345678", "123*5678")]
#[case::seven("1234567", "*******")]
#[case::empty("", "")]
fn phone_cases(#[case] input: &str, #[case] expected: &str) {
    assert_eq!(mask_phone(input), expected);
}

/// Every output char is either the input char at that position or `*`;
/// returns how many positions were left visible (neither `*` nor space).
fn visible_positions(input: &str, output: &str) -> Option<usize> {
    let (i, o): (Vec<char>, Vec<char>) = (input.chars().collect(), output.chars().collect());
    if i.len() != o.len() {
        return None;
    }
    let mut visible = 0;
    for (a, b) in i.iter().zip(&o) {
        if *b == '*' {
            continue;
        }
        if b != a {
            return None;
        }
        if *b != ' ' {
            visible += 1;
        }
    }
    Some(visible)
}

proptest! {
    #[test]
    fn never_panics_and_keeps_length(s in any::<String>()) {
        let n = s.chars().count();
        for out in [mask_name(&s), mask_id_number(&s), mask_phone(&s)] {
            prop_assert_eq!(out.chars().count(), n);
            prop_assert!(visible_positions(&s, &out).is_some());
        }
    }

    #[test]
    fn cjk_names_are_masked(name in "[\u{4e00}-\u{9fa5}]{1,12}") {
        let out = mask_name(&name);
        let n = name.chars().count();
        prop_assert_eq!(out.chars().count(), n);
        if n > 2 {
            prop_assert_ne!(&out, &name);
        }
        let visible = visible_positions(&name, &out).unwrap_or(usize::MAX);
        prop_assert!(visible <= 2 && visible < n.max(1));
    }

    #[test]
    fn latin_names_hide_all_but_initials(name in "[A-Za-z]{1,10}( [A-Za-z]{1,10}){0,3}") {
        let out = mask_name(&name);
        let words = name.split(' ').count();
        let visible = visible_positions(&name, &out).unwrap_or(usize::MAX);
        prop_assert!(visible <= words);
        if name.chars().count() > 2 {
            prop_assert_ne!(&out, &name);
        }
        // Word boundaries are preserved.
        prop_assert_eq!(out.split(' ').count(), words);
    }

    #[test]
    fn id_middle_is_fully_masked(id in "[0-9A-Z]{1,40}") {
        let out = mask_id_number(&id);
        let chars: Vec<char> = out.chars().collect();
        let n = chars.len();
        prop_assert_eq!(n, id.len());
        prop_assert_ne!(&out, &id);
        let (head, tail) = match n {
            11.. => (6, 4),
            5..=10 => (2, 2),
            _ => (0, 0),
        };
        prop_assert!(chars[head..n - tail].iter().all(|&c| c == '*'));
        prop_assert_eq!(visible_positions(&id, &out), Some(head + tail));
    }

    #[test]
    fn phone_middle_is_fully_masked(phone in "[0-9+]{1,20}") {
        let out = mask_phone(&phone);
        let chars: Vec<char> = out.chars().collect();
        let n = chars.len();
        prop_assert_ne!(&out, &phone);
        let (head, tail) = if n >= 8 { (3, 4) } else { (0, 0) };
        prop_assert!(chars[head..n - tail].iter().all(|&c| c == '*'));
        prop_assert_eq!(visible_positions(&phone, &out), Some(head + tail));
    }
}
