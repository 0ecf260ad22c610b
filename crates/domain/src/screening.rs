//! Red-flag screening of patient text (Q1: suspected emergencies → advise
//! offline care or calling 120).
//!
//! A [`RedFlagLexicon`] of Chinese and English terms (chest pain, breathing
//! difficulty, loss of consciousness, heavy bleeding, stroke signs, suicidal
//! intent) is matched against complaints and messages. A hit shows the
//! patient an "if this is an emergency, call 120" notice
//! ([`RED_FLAG_NOTICE_ZH`], [`RED_FLAG_NOTICE_EN`]) and can raise the
//! consultation's priority.
//!
//! **This is a notice, not a diagnosis.** Matching is plain substring search
//! after [`normalize_for_matching`]; negations ("没有胸痛", "no chest pain")
//! still match. Over-triggering a notice is cheap, missing an emergency is
//! not, so the rules err on the side of showing it. Two guards against
//! obvious false positives: English terms only match at word boundaries
//! ("stroke" does not match "stroked"), and everyday symptoms such as 头晕
//! (dizziness) or 头痛 (headache) are not in the default lexicon.
//!
//! Invariants: lexicon terms are stored normalised, non-empty and unique per
//! category; [`normalize_for_matching`] is idempotent and total (never
//! panics); scanning never stores or logs the text.

use serde::{Deserialize, Serialize};

/// Notice shown to the patient when a red flag is found (Chinese).
pub const RED_FLAG_NOTICE_ZH: &str = "您描述的情况可能需要紧急处理。如出现胸痛、呼吸困难、意识不清、大量出血或中风迹象，\
                                      请立即拨打120或前往最近的急诊。在线问诊不能替代急救。";
/// Notice shown to the patient when a red flag is found (English).
pub const RED_FLAG_NOTICE_EN: &str = "What you describe may need urgent care. For chest pain, difficulty breathing, \
                                      loss of consciousness, heavy bleeding or signs of stroke, call 120 or go to \
                                      the nearest emergency department now. An online consultation cannot replace \
                                      emergency care.";

/// One red-flag term found in a text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RedFlagHit {
    /// The matched lexicon term (normalised).
    pub term: String,
    /// Its category, e.g. `cardiac` or `mental_health`.
    pub category: String,
}

/// A set of red-flag terms with categories (admin-editable; see
/// [`RedFlagLexicon::default_terms`] for the bundled list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedFlagLexicon {
    /// `(normalised term, category)`, unique, in insertion order.
    terms: Vec<(String, String)>,
}

impl RedFlagLexicon {
    /// The bundled `(term, category)` list. Categories: `cardiac`,
    /// `respiratory`, `neuro`, `bleeding`, `stroke`, `mental_health`.
    pub fn default_terms() -> Vec<(&'static str, &'static str)> {
        vec![
            ("胸痛", "cardiac"),
            ("胸闷", "cardiac"),
            ("胸口痛", "cardiac"),
            ("心梗", "cardiac"),
            ("chest pain", "cardiac"),
            ("chest tightness", "cardiac"),
            ("heart attack", "cardiac"),
            ("呼吸困难", "respiratory"),
            ("喘不上气", "respiratory"),
            ("喘不过气", "respiratory"),
            ("透不过气", "respiratory"),
            ("can't breathe", "respiratory"),
            ("cannot breathe", "respiratory"),
            ("difficulty breathing", "respiratory"),
            ("shortness of breath", "respiratory"),
            ("意识不清", "neuro"),
            ("昏迷", "neuro"),
            ("晕厥", "neuro"),
            ("晕倒", "neuro"),
            ("抽搐", "neuro"),
            ("unconscious", "neuro"),
            ("fainted", "neuro"),
            ("passed out", "neuro"),
            ("seizure", "neuro"),
            ("大出血", "bleeding"),
            ("大量出血", "bleeding"),
            ("吐血", "bleeding"),
            ("呕血", "bleeding"),
            ("咯血", "bleeding"),
            ("便血不止", "bleeding"),
            ("血流不止", "bleeding"),
            ("heavy bleeding", "bleeding"),
            ("vomiting blood", "bleeding"),
            ("coughing up blood", "bleeding"),
            ("口角歪斜", "stroke"),
            ("嘴歪", "stroke"),
            ("一侧肢体无力", "stroke"),
            ("半身无力", "stroke"),
            ("说话不清", "stroke"),
            ("中风", "stroke"),
            ("stroke", "stroke"),
            ("face drooping", "stroke"),
            ("slurred speech", "stroke"),
            ("想自杀", "mental_health"),
            ("自杀", "mental_health"),
            ("不想活了", "mental_health"),
            ("轻生", "mental_health"),
            ("suicide", "mental_health"),
            ("suicidal", "mental_health"),
            ("kill myself", "mental_health"),
            ("end my life", "mental_health"),
        ]
    }

    /// Builds a lexicon. Terms are normalised with [`normalize_for_matching`]
    /// and categories trimmed; empty terms and duplicate `(term, category)`
    /// pairs are dropped.
    pub fn new(terms: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut out: Vec<(String, String)> = Vec::new();
        for (term, category) in terms {
            let pair = (normalize_for_matching(&term), category.trim().to_owned());
            if !pair.0.is_empty() && !out.contains(&pair) {
                out.push(pair);
            }
        }
        Self { terms: out }
    }

    /// Number of distinct terms.
    pub fn len(&self) -> usize {
        self.terms.len()
    }

    /// Whether the lexicon has no terms (then nothing is ever flagged).
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The normalised `(term, category)` pairs, in insertion order.
    pub fn terms(&self) -> impl Iterator<Item = (&str, &str)> {
        self.terms.iter().map(|(t, c)| (t.as_str(), c.as_str()))
    }

    /// All terms found in `text`, in lexicon order, each at most once.
    ///
    /// The text is normalised like the terms. Terms without ASCII characters
    /// (Chinese) are also matched with whitespace removed ("胸 痛");
    /// terms starting or ending with an ASCII letter or digit only match at
    /// word boundaries.
    pub fn scan(&self, text: &str) -> Vec<RedFlagHit> {
        let norm = normalize_for_matching(text);
        let compact: String = norm.chars().filter(|c| *c != ' ').collect();
        self.terms
            .iter()
            .filter(|(term, _)| {
                if term.chars().any(|c| c.is_ascii()) {
                    contains_at_boundaries(&norm, term)
                } else {
                    compact.contains(term.as_str())
                }
            })
            .map(|(term, category)| RedFlagHit { term: term.clone(), category: category.clone() })
            .collect()
    }
}

impl Default for RedFlagLexicon {
    /// The lexicon built from [`RedFlagLexicon::default_terms`].
    fn default() -> Self {
        Self::new(Self::default_terms().into_iter().map(|(t, c)| (t.to_owned(), c.to_owned())))
    }
}

/// Whether `needle` occurs in `haystack` such that an ASCII alphanumeric
/// first/last character of the needle is not glued to another one.
fn contains_at_boundaries(haystack: &str, needle: &str) -> bool {
    let glued = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    let start_word = glued(needle.chars().next());
    let end_word = glued(needle.chars().next_back());
    haystack.match_indices(needle).any(|(i, m)| {
        let before = haystack[..i].chars().next_back();
        let after = haystack[i + m.len()..].chars().next();
        let glued_start = start_word && glued(before);
        let glued_end = end_word && glued(after);
        !glued_start && !glued_end
    })
}

/// Normalises text for lexicon matching.
///
/// - full-width ASCII U+FF01–U+FF5E → U+0021–U+007E, ideographic space
///   U+3000 → space;
/// - typographic apostrophes (U+2018, U+2019, U+02BC) → `'` (phone
///   keyboards type "can’t");
/// - zero-width characters (U+200B–U+200D, U+2060, U+FEFF) removed;
/// - lower-cased (Unicode);
/// - runs of whitespace collapsed to one space, leading and trailing
///   whitespace removed.
///
/// Idempotent: `normalize_for_matching(&normalize_for_matching(s)) ==
/// normalize_for_matching(s)`.
pub fn normalize_for_matching(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.chars() {
        let c = match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            '\u{2018}' | '\u{2019}' | '\u{02BC}' => '\'',
            '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' => continue,
            other => other,
        };
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.extend(c.to_lowercase());
    }
    out
}
