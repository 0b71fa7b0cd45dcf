//! A token that never prints: `Debug` and `Display` show a redacted form, and `redact` scrubs it
//! from any text (error bodies, logs) before that text is stored or shown.

/// An API token. Only [`Secret::expose`] reveals it, for the `Authorization` header.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into().trim().to_string())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// What a person may see: the length and the last two characters at most.
    pub fn hint(&self) -> String {
        let n = self.0.chars().count();
        if n < 12 {
            return format!("set ({n} chars)");
        }
        let tail: String = self.0.chars().skip(n - 2).collect();
        format!("set ({n} chars, …{tail})")
    }

    /// Replaces every occurrence of this secret in `text` with `[redacted]`.
    pub fn redact(&self, text: &str) -> String {
        if self.0.len() < 4 {
            return text.to_string();
        }
        text.replace(&self.0, "[redacted]")
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_token() {
        let s = Secret::new("tok_abcdefghijklmnop");
        assert!(!format!("{s:?} {s}").contains("abcdef"));
        assert_eq!(
            s.redact("Bearer tok_abcdefghijklmnop failed"),
            "Bearer [redacted] failed"
        );
        assert!(!s.hint().contains("abcdef"));
    }
}
