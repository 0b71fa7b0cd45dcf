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

/// `text` with the credentials of every URL in it (`https://user:pw@host`) replaced by
/// `[redacted]`, so a URL given with a password (or a token as its user) is never shown or
/// stored with it.
pub fn redact_url_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let authority_len = tail
            .find(|c: char| matches!(c, '/' | '?' | '#' | '`' | '"' | '\'') || c.is_whitespace())
            .unwrap_or(tail.len());
        let authority = &tail[..authority_len];
        match authority.rfind('@') {
            Some(at) => {
                out.push_str("[redacted]");
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[authority_len..];
    }
    out.push_str(rest);
    out
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

    #[test]
    fn url_passwords_are_redacted_and_the_rest_kept() {
        assert_eq!(
            redact_url_passwords("GET https://ann:hunter22@api.example.com/x?y=1 and http://h/"),
            "GET https://[redacted]@api.example.com/x?y=1 and http://h/"
        );
        assert_eq!(
            redact_url_passwords("`https://tok_123@host` is used"),
            "`https://[redacted]@host` is used"
        );
        assert_eq!(redact_url_passwords("no url: a@b"), "no url: a@b");
    }
}
