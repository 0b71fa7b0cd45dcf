//! Kustomer custom-attribute names for Intercom attributes: camelCase of the Intercom name plus
//! the type suffix Kustomer infers the type from (`planStr`, `seatsNum`, `trialEndsAt`…), unique
//! within one model.

use std::collections::HashSet;

use sha2::{Digest, Sha256};

/// The suffixes are Kustomer's vocabulary (`kustomer::suffix`); mapping assigns them.
pub use crate::kustomer::suffix::{Suffix, assigned_suffix};

/// Longest base (before the suffix) we produce. Kustomer documents no maximum; keeping names short
/// keeps them readable in the agent UI and in search syntax (`customer_custom_<name>`).
pub const MAX_BASE_LEN: usize = 64;

/// ASCII spelling of common Latin letters with diacritics, so `Größe` becomes `groesse`-like
/// rather than losing letters. Letters outside this table are dropped (the display name keeps
/// the original spelling).
fn transliterate(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'À' | 'Á' | 'Â' | 'Ã' | 'Å' | 'Ā' | 'Ă' | 'Ą' => "A",
        'ä' | 'æ' => "ae",
        'Ä' | 'Æ' => "Ae",
        'ç' | 'ć' | 'č' => "c",
        'Ç' | 'Ć' | 'Č' => "C",
        'ď' | 'đ' => "d",
        'Ď' | 'Đ' => "D",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ę' | 'ě' => "e",
        'È' | 'É' | 'Ê' | 'Ë' | 'Ē' | 'Ę' | 'Ě' => "E",
        'ì' | 'í' | 'î' | 'ï' | 'ī' => "i",
        'Ì' | 'Í' | 'Î' | 'Ï' | 'Ī' => "I",
        'ł' => "l",
        'Ł' => "L",
        'ñ' | 'ń' | 'ň' => "n",
        'Ñ' | 'Ń' | 'Ň' => "N",
        'ò' | 'ó' | 'ô' | 'õ' | 'ø' | 'ō' => "o",
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ø' | 'Ō' => "O",
        'ö' | 'œ' => "oe",
        'Ö' | 'Œ' => "Oe",
        'ř' => "r",
        'Ř' => "R",
        'ś' | 'š' | 'ş' => "s",
        'Ś' | 'Š' | 'Ş' => "S",
        'ß' => "ss",
        'ť' | 'ţ' => "t",
        'Ť' | 'Ţ' => "T",
        'ù' | 'ú' | 'û' | 'ů' | 'ū' => "u",
        'Ù' | 'Ú' | 'Û' | 'Ů' | 'Ū' => "U",
        'ü' => "ue",
        'Ü' => "Ue",
        'ý' | 'ÿ' => "y",
        'Ý' => "Y",
        'ź' | 'ż' | 'ž' => "z",
        'Ź' | 'Ż' | 'Ž' => "Z",
        _ => return None,
    })
}

/// Splits a name into ASCII words at separators, lower→upper steps (`planName`) and the end of
/// an acronym (`HTTPStatus` → `HTTP`, `Status`).
fn words(source: &str) -> Vec<String> {
    let mut ascii = String::with_capacity(source.len());
    for c in source.chars() {
        if c.is_ascii_alphanumeric() {
            ascii.push(c);
        } else if let Some(t) = transliterate(c) {
            ascii.push_str(t);
        } else {
            ascii.push(' ');
        }
    }
    let chars: Vec<char> = ascii.chars().collect();
    let mut out = Vec::new();
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            continue;
        }
        if c.is_ascii_uppercase() && !current.is_empty() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower)
            {
                out.push(std::mem::take(&mut current));
            }
        }
        current.push(c);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// camelCase of an Intercom attribute name, always a valid Kustomer name base: ASCII letters and
/// digits, starting with a lower-case letter, at most [`MAX_BASE_LEN`] chars. A name with no
/// usable letters becomes `attr` plus a short stable hash of the original.
pub fn camel_case(source: &str) -> String {
    let mut out = String::new();
    for (i, word) in words(source).iter().enumerate() {
        let lower = word.to_ascii_lowercase();
        if i == 0 {
            out.push_str(&lower);
        } else {
            let mut cs = lower.chars();
            if let Some(first) = cs.next() {
                out.push(first.to_ascii_uppercase());
                out.push_str(cs.as_str());
            }
        }
    }
    if out.is_empty() {
        let digest = Sha256::digest(source.as_bytes());
        let hex: String = digest.iter().take(3).map(|b| format!("{b:02x}")).collect();
        return format!("attr{hex}");
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        // Kustomer names are identifiers; one cannot start with a digit.
        out.insert_str(0, "attr");
    }
    out.truncate(MAX_BASE_LEN);
    out
}

/// Base + suffix, without doubling a suffix the name already carries (`signup_at` as a date is
/// `signupAt`, not `signupAtAt`).
pub fn attribute_name(source: &str, suffix: Suffix) -> String {
    let base = camel_case(source);
    if base.len() > suffix.as_str().len() && base.ends_with(suffix.as_str()) {
        base
    } else {
        format!("{base}{}", suffix.as_str())
    }
}

/// A label for the Kustomer UI: the Intercom name as the operator knows it, trimmed.
pub fn display_name(source: &str) -> String {
    let trimmed = source.trim();
    if trimmed.is_empty() {
        camel_case(source)
    } else {
        trimmed.to_string()
    }
}

/// Hands out attribute names unique within one model (contact, company, conversation): the
/// second `plan name` string becomes `planName2Str`. Comparison ignores case, so two names that
/// differ only in case never coexist. Deterministic for the same input order.
#[derive(Debug, Clone, Default)]
pub struct NameAllocator {
    taken: HashSet<String>,
}

impl NameAllocator {
    pub fn new() -> NameAllocator {
        NameAllocator::default()
    }

    /// Starts with names that already exist in the target (Kustomer metadata, earlier decisions).
    pub fn with_existing<I, S>(names: I) -> NameAllocator
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        NameAllocator {
            taken: names
                .into_iter()
                .map(|n| n.as_ref().to_ascii_lowercase())
                .collect(),
        }
    }

    /// Reserves a name chosen elsewhere (an operator's decision); false if it was taken.
    pub fn reserve(&mut self, name: &str) -> bool {
        self.taken.insert(name.to_ascii_lowercase())
    }

    pub fn is_taken(&self, name: &str) -> bool {
        self.taken.contains(&name.to_ascii_lowercase())
    }

    /// A fresh name for `source` with `suffix`: `planStr`, then `plan2Str`, `plan3Str`…
    pub fn allocate(&mut self, source: &str, suffix: Suffix) -> String {
        let first = attribute_name(source, suffix);
        if self.reserve(&first) {
            return first;
        }
        let base = first
            .strip_suffix(suffix.as_str())
            .unwrap_or(&first)
            .to_string();
        let mut n = 2u32;
        loop {
            let candidate = format!("{base}{n}{}", suffix.as_str());
            if self.reserve(&candidate) {
                return candidate;
            }
            n += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intercom_names_become_camel_case() {
        let table = [
            ("plan name", "planName"),
            ("plan_name", "planName"),
            ("Plan-Name", "planName"),
            ("planName", "planName"),
            ("PlanName", "planName"),
            ("HTTPStatus", "httpStatus"),
            ("user_ID", "userId"),
            ("  spaced   out  ", "spacedOut"),
            ("plan.name", "planName"),
            ("Größe", "groesse"),
            ("café crème", "cafeCreme"),
            ("2fa enabled", "attr2faEnabled"),
            ("123", "attr123"),
            ("version 2 beta", "version2Beta"),
            ("顧客 tier", "tier"),
        ];
        for (source, expected) in table {
            assert_eq!(camel_case(source), expected, "source {source:?}");
        }
    }

    #[test]
    fn names_without_usable_letters_get_a_stable_valid_name() {
        let empty = camel_case("");
        let kanji = camel_case("顧客");
        assert!(empty.starts_with("attr") && empty.len() == 10, "{empty}");
        assert!(kanji.starts_with("attr") && kanji != empty, "{kanji}");
        assert_eq!(camel_case("顧客"), kanji, "stable across calls");
        for name in [empty, kanji] {
            assert!(name.chars().all(|c| c.is_ascii_alphanumeric()));
        }
    }

    #[test]
    fn very_long_names_are_capped() {
        let long = "word ".repeat(100);
        assert_eq!(camel_case(&long).len(), MAX_BASE_LEN);
    }

    #[test]
    fn suffixes_are_appended_once() {
        assert_eq!(attribute_name("plan", Suffix::Str), "planStr");
        assert_eq!(attribute_name("seats", Suffix::Num), "seatsNum");
        assert_eq!(attribute_name("signup_at", Suffix::At), "signupAt");
        assert_eq!(attribute_name("trial ends", Suffix::At), "trialEndsAt");
        assert_eq!(attribute_name("is_vip", Suffix::Bool), "isVipBool");
        assert_eq!(attribute_name("homepage", Suffix::Url), "homepageUrl");
        assert_eq!(attribute_name("notes", Suffix::Txt), "notesTxt");
        assert_eq!(attribute_name("at", Suffix::At), "atAt");
    }

    #[test]
    fn collisions_within_a_model_get_numbered() {
        let mut names = NameAllocator::new();
        assert_eq!(names.allocate("plan", Suffix::Str), "planStr");
        assert_eq!(names.allocate("Plan", Suffix::Str), "plan2Str");
        assert_eq!(names.allocate("plan_", Suffix::Str), "plan3Str");
        assert_eq!(names.allocate("plan", Suffix::Num), "planNum");
        let mut existing = NameAllocator::with_existing(["PLANSTR"]);
        assert_eq!(existing.allocate("plan", Suffix::Str), "plan2Str");
        assert!(existing.is_taken("plan2str"));
        assert!(!existing.reserve("planStr"));
    }

    #[test]
    fn suffix_of_a_full_name_is_recognised() {
        assert_eq!(assigned_suffix("planStr"), Some(Suffix::Str));
        assert_eq!(assigned_suffix("trialEndsAt"), Some(Suffix::At));
        assert_eq!(assigned_suffix("primaryOrderId"), None);
        assert_eq!(assigned_suffix("Str"), None);
    }

    #[test]
    fn display_names_keep_the_intercom_spelling() {
        assert_eq!(display_name(" Plan name "), "Plan name");
        assert_eq!(display_name("Größe"), "Größe");
        assert!(display_name("  ").starts_with("attr"));
    }
}
