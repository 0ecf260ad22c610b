//! Tests for red-flag screening (Q1: "call 120" notice) and text
//! normalisation.

use std::collections::HashSet;

use domain::{RED_FLAG_NOTICE_EN, RED_FLAG_NOTICE_ZH, RedFlagHit, RedFlagLexicon, normalize_for_matching};
use proptest::prelude::*;
use rstest::rstest;

fn categories(text: &str) -> Vec<String> {
    let mut cats: Vec<String> = RedFlagLexicon::default().scan(text).into_iter().map(|h| h.category).collect();
    cats.dedup();
    cats
}

fn terms(text: &str) -> Vec<String> {
    RedFlagLexicon::default().scan(text).into_iter().map(|h| h.term).collect()
}

#[rstest]
#[case::full_width_ascii("ＡＢＣ１２３！～", "abc123!~")]
#[case::ideographic_space("胸\u{3000}\u{3000}痛", "胸 痛")]
#[case::zero_width("a\u{200B}b\u{200C}c\u{200D}d\u{FEFF}e\u{2060}f", "abcdef")]
#[case::collapse_and_trim("  Chest \t\n PAIN  ", "chest pain")]
#[case::curly_apostrophe("Can\u{2019}t", "can't")]
#[case::chinese_unchanged("我有点头晕", "我有点头晕")]
#[case::empty("", "")]
#[case::only_space(" \u{3000}\u{200B} ", "")]
fn normalisation(#[case] raw: &str, #[case] expected: &str) {
    assert_eq!(normalize_for_matching(raw), expected);
}

#[rstest]
#[case::zh_chest_pain("医生，我从昨晚开始胸痛", &["cardiac"])]
#[case::full_width_mixed_case("ＣＨＥＳＴ pain since morning", &["cardiac"])]
#[case::zero_width_zh("胸\u{200b}痛", &["cardiac"])]
#[case::spaced_zh("胸 痛", &["cardiac"])]
#[case::mixed_case_en("Sudden CHEST Pain and Shortness Of Breath", &["cardiac", "respiratory"])]
#[case::curly_apostrophe("I can\u{2019}t breathe", &["respiratory"])]
#[case::breathing_zh("走几步就喘不上气", &["respiratory"])]
#[case::unconscious("我爸刚才晕厥了一次", &["neuro"])]
#[case::bleeding("今天吐血了", &["bleeding"])]
#[case::stroke_zh("早上起来口角歪斜，说话不清", &["stroke"])]
#[case::stroke_en("Face drooping, slurred speech", &["stroke"])]
#[case::mental_zh("最近总觉得不想活了", &["mental_health"])]
#[case::mental_en("sometimes I want to kill myself", &["mental_health"])]
#[case::punctuated_en("stroke?", &["stroke"])]
fn red_flags_found(#[case] text: &str, #[case] expected: &[&str]) {
    assert_eq!(categories(text), expected);
}

#[rstest]
#[case::dizzy("我有点头晕")]
#[case::headache("头痛两天了，有点发热")]
#[case::cough("咳嗽，流鼻涕，嗓子疼")]
#[case::bp("血压控制得不错，想复诊开药")]
#[case::stroked_cat("I stroked the cat and sneezed")]
#[case::en_cold("mild sore throat and runny nose")]
#[case::empty("")]
fn benign_text_has_no_flags(#[case] text: &str) {
    assert_eq!(RedFlagLexicon::default().scan(text), vec![]);
}

#[test]
fn hits_are_deduplicated_and_carry_term() {
    let hits = RedFlagLexicon::default().scan("胸痛，胸痛，还是胸痛");
    assert_eq!(hits, vec![RedFlagHit { term: "胸痛".into(), category: "cardiac".into() }]);
    // Overlapping terms are reported separately, each once.
    assert_eq!(terms("我想自杀"), vec!["想自杀", "自杀"]);
}

#[test]
fn default_terms_are_normalised_unique_and_categorised() {
    let allowed: HashSet<&str> =
        ["cardiac", "respiratory", "neuro", "bleeding", "stroke", "mental_health"].into_iter().collect();
    let defaults = RedFlagLexicon::default_terms();
    let mut seen = HashSet::new();
    for (term, cat) in &defaults {
        assert_eq!(&normalize_for_matching(term), term);
        assert!(allowed.contains(cat), "{cat}");
        assert!(seen.insert(*term), "duplicate {term}");
    }
    assert_eq!(RedFlagLexicon::default().len(), defaults.len());
    for cat in allowed {
        assert!(defaults.iter().any(|(_, c)| *c == cat), "no term for {cat}");
    }
}

#[test]
fn custom_lexicon_normalises_and_drops_junk() {
    let lex = RedFlagLexicon::new([
        ("  ＣＨＥＳＴ   Pain ".to_owned(), " cardiac ".to_owned()),
        ("chest pain".to_owned(), "cardiac".to_owned()),
        ("\u{200B} ".to_owned(), "neuro".to_owned()),
        ("过敏性休克".to_owned(), "allergy".to_owned()),
    ]);
    let pairs: Vec<(&str, &str)> = lex.terms().collect();
    assert_eq!(pairs, vec![("chest pain", "cardiac"), ("过敏性休克", "allergy")]);
    assert_eq!(lex.scan("疑似过敏性休克").len(), 1);
    assert!(RedFlagLexicon::new(Vec::new()).is_empty());
    assert_eq!(RedFlagLexicon::new(Vec::new()).scan("胸痛"), vec![]);
}

#[test]
fn notices_mention_120() {
    assert!(RED_FLAG_NOTICE_ZH.contains("120"));
    assert!(RED_FLAG_NOTICE_EN.contains("120"));
}

#[test]
fn normalisation_is_idempotent_for_every_char() {
    for c in (0..=0x10_FFFF_u32).filter_map(char::from_u32) {
        let once = normalize_for_matching(&c.to_string());
        assert_eq!(normalize_for_matching(&once), once, "U+{:04X}", u32::from(c));
    }
}

proptest! {
    #[test]
    fn normalize_is_idempotent(s in any::<String>()) {
        let once = normalize_for_matching(&s);
        prop_assert_eq!(normalize_for_matching(&once), once.clone());
        prop_assert!(!once.starts_with(' ') && !once.ends_with(' ') && !once.contains("  "));
    }

    #[test]
    fn normalize_is_idempotent_on_tricky_chars(
        s in proptest::collection::vec(
            prop_oneof![
                Just('\u{3000}'), Just('\u{200B}'), Just('\u{FEFF}'), Just(' '), Just('\n'),
                Just('Ａ'), Just('ｚ'), Just('İ'), Just('ß'), Just('胸'), Just('\u{2019}'), any::<char>(),
            ],
            0..40,
        ).prop_map(|v| v.into_iter().collect::<String>())
    ) {
        let once = normalize_for_matching(&s);
        prop_assert_eq!(normalize_for_matching(&once), once);
    }

    #[test]
    fn scan_never_panics_and_hits_are_unique(s in any::<String>()) {
        let hits = RedFlagLexicon::default().scan(&s);
        let unique: HashSet<_> = hits.iter().collect();
        prop_assert_eq!(unique.len(), hits.len());
    }

    #[test]
    fn red_flag_survives_noise(
        prefix in "[a-z ]{0,10}",
        zw in prop_oneof![Just(""), Just("\u{200B}"), Just("\u{FEFF}")],
    ) {
        let text = format!("{prefix} 胸{zw}痛");
        prop_assert!(RedFlagLexicon::default().scan(&text).iter().any(|h| h.category == "cardiac"));
    }
}
