//! zh-CN (default) and English (P3). Messages live in `locales/messages.toml` as
//! `key = ["中文", "English"]`, so a key cannot exist in one language only.

use std::{collections::HashMap, sync::OnceLock};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    pub fn from_code(code: &str) -> Self {
        if code.starts_with("en") { Self::En } else { Self::Zh }
    }

    /// Picks from an `Accept-Language` header; Chinese unless English comes first.
    pub fn from_accept(header: Option<&str>) -> Self {
        let first = header.and_then(|h| h.split(',').next()).unwrap_or("zh");
        Self::from_code(first.trim())
    }

    pub fn code(self) -> &'static str {
        match self {
            Self::Zh => "zh-CN",
            Self::En => "en",
        }
    }

    pub fn other(self) -> Self {
        match self {
            Self::Zh => Self::En,
            Self::En => Self::Zh,
        }
    }
}

static SOURCE: &str = include_str!("../locales/messages.toml");

pub fn catalogue() -> &'static HashMap<String, [String; 2]> {
    static MAP: OnceLock<HashMap<String, [String; 2]>> = OnceLock::new();
    MAP.get_or_init(|| toml::from_str(SOURCE).unwrap_or_default())
}

/// A translator bound to one language, handed to templates as `t`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tr(pub Lang);

impl Tr {
    /// The message for `key`; the key itself when missing (the i18n test keeps that from shipping).
    pub fn t<'a>(&self, key: &'a str) -> &'a str {
        match catalogue().get(key) {
            Some([zh, en]) => match self.0 {
                Lang::Zh => zh.as_str(),
                Lang::En => en.as_str(),
            },
            None => key,
        }
    }

    /// The message for `prefix` + `value` (e.g. `status.` + `approved`), owned.
    pub fn tp(&self, prefix: &str, value: &str) -> String {
        let key = format!("{prefix}{value}");
        self.t(&key).to_owned()
    }

    pub fn lang(&self) -> &'static str {
        self.0.code()
    }

    /// Picks between a Chinese and an English value stored on a record (e.g. department names).
    pub fn pick<'a>(&self, zh: &'a str, en: &'a str) -> &'a str {
        match self.0 {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_parses_and_every_message_has_both_languages() {
        let c = catalogue();
        assert!(c.len() > 50, "catalogue failed to parse");
        for (k, [zh, en]) in c {
            assert!(!zh.is_empty() && !en.is_empty(), "{k} is missing a language");
        }
    }

    #[test]
    fn every_key_used_in_templates_exists() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");
        let re_start = "t.t(\"";
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for piece in text.split(re_start).skip(1) {
                let key = piece.split('"').next().unwrap();
                assert!(catalogue().contains_key(key), "missing message key {key}");
            }
        }
    }
}
