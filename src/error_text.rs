//! How an error is told to a person: its chain of causes joined with `: `, each cause once (an
//! error whose own text already quotes its source is not followed by that source again), with
//! any credentials in a URL redacted.

/// `err` and its causes, each stated once, URL credentials redacted.
pub fn chain_once(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let part = cause.to_string();
        if part.is_empty() || text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    crate::http::secret::redact_url_passwords(&text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::LedgerError;

    #[test]
    fn each_cause_is_stated_once() {
        let io = std::io::Error::from_raw_os_error(17);
        let err = anyhow::Error::new(LedgerError::Io {
            path: "/tmp/state/ledger.lock".into(),
            source: io,
        })
        .context("cannot open the ledger");
        let text = chain_once(&err);
        assert_eq!(text.matches("File exists").count(), 1, "{text}");
        assert!(text.starts_with("cannot open the ledger: /tmp/state/ledger.lock: File exists"));
        // Causes that add something are all kept.
        let err = anyhow::anyhow!("disk on fire").context("writing the report");
        assert_eq!(chain_once(&err), "writing the report: disk on fire");
    }

    #[test]
    fn url_credentials_are_redacted() {
        let err = anyhow::anyhow!("cannot reach https://ann:pw1234@example.com/v1");
        assert_eq!(
            chain_once(&err),
            "cannot reach https://[redacted]@example.com/v1"
        );
    }
}
