//! Search tokens for encrypted text (C2). Text is never stored in plain form, so keyword search works
//! on blind-index tokens: the text is normalised (full-width → half-width, lower-case, zero-width
//! characters removed), Chinese runs are cut into overlapping character bigrams (every word of two or
//! more characters is then found without a dictionary), and Latin/digit runs into words. The same
//! function tokenises queries; a query matches when all its tokens are present.

use std::collections::BTreeSet;

use crate::screening::normalize_for_matching;

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FFFF)
}

/// The distinct tokens of `text`, at most `limit` of them.
pub fn tokens(text: &str, limit: usize) -> BTreeSet<String> {
    let norm = normalize_for_matching(text);
    let mut out = BTreeSet::new();
    let mut cjk: Vec<char> = Vec::new();
    let mut word = String::new();
    let flush_cjk = |cjk: &mut Vec<char>, out: &mut BTreeSet<String>| {
        if cjk.len() == 1 {
            out.insert(cjk[0].to_string());
        }
        for pair in cjk.windows(2) {
            out.insert(pair.iter().collect());
        }
        cjk.clear();
    };
    let flush_word = |word: &mut String, out: &mut BTreeSet<String>| {
        if word.chars().count() >= 2 || word.chars().all(|c| c.is_ascii_digit()) && !word.is_empty() {
            out.insert(std::mem::take(word));
        }
        word.clear();
    };
    for ch in norm.chars() {
        if is_cjk(ch) {
            flush_word(&mut word, &mut out);
            cjk.push(ch);
        } else if ch.is_alphanumeric() {
            flush_cjk(&mut cjk, &mut out);
            word.push(ch);
        } else {
            flush_cjk(&mut cjk, &mut out);
            flush_word(&mut word, &mut out);
        }
        if out.len() >= limit {
            break;
        }
    }
    flush_cjk(&mut cjk, &mut out);
    flush_word(&mut word, &mut out);
    out.into_iter().take(limit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_is_cut_into_bigrams_and_latin_into_words() {
        let t = tokens("血压偏高，服用 Amlodipine 5mg", 100);
        for expected in ["血压", "压偏", "偏高", "服用", "amlodipine", "5mg"] {
            assert!(t.contains(expected), "{expected} missing from {t:?}");
        }
        assert!(!t.contains("血"), "single characters inside longer runs are not tokens");
    }

    #[test]
    fn a_query_word_is_found_inside_a_longer_text() {
        let doc = tokens("患者自述最近两周头晕，血压控制不佳", 500);
        let q = tokens("血压控制", 50);
        assert!(q.iter().all(|x| doc.contains(x)));
        let miss = tokens("血糖", 50);
        assert!(!miss.iter().all(|x| doc.contains(x)));
    }

    #[test]
    fn full_width_and_case_do_not_matter() {
        assert_eq!(tokens("ＣＨＥＳＴ Pain", 10), tokens("chest pain", 10));
        assert!(tokens("", 10).is_empty());
        assert_eq!(tokens("痛", 10).into_iter().collect::<Vec<_>>(), vec!["痛".to_owned()]);
    }

    #[test]
    fn the_limit_is_respected() {
        let long = "这是一段很长很长的文字".repeat(50);
        assert!(tokens(&long, 20).len() <= 20);
    }
}
