//! Targeted failures for tests and demonstrations: `POST /__sim/fail {"path": "/conversations/7",
//! "method": "GET", "status": 500}` makes every request to that path (or below it) answer that
//! status until `DELETE /__sim/fail` clears the rules. Unlike `--faults` (random, per request),
//! a rule strikes every time, so a test can make one record fail on one run and heal on the next.

use std::sync::Mutex;

use serde::Deserialize;

/// One rule: requests to `path` (exactly, or any path below it) with `method` (any when absent)
/// answer `status` (500 when absent) without reaching the handler.
#[derive(Debug, Clone, Deserialize)]
pub struct Rule {
    pub path: String,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub status: Option<u16>,
}

#[derive(Debug, Default)]
pub struct FailingPaths(Mutex<Vec<Rule>>);

impl FailingPaths {
    fn rules(&self) -> std::sync::MutexGuard<'_, Vec<Rule>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn add(&self, rule: Rule) {
        self.rules().push(rule);
    }

    pub fn clear(&self) {
        self.rules().clear();
    }

    /// The status a request to `method path` must answer, when a rule names it.
    pub fn strikes(&self, method: &str, path: &str) -> Option<u16> {
        self.rules()
            .iter()
            .find(|r| {
                let under = path == r.path
                    || path
                        .strip_prefix(r.path.as_str())
                        .is_some_and(|rest| rest.starts_with('/'));
                under
                    && r.method
                        .as_deref()
                        .is_none_or(|m| m.eq_ignore_ascii_case(method))
            })
            .map(|r| r.status.unwrap_or(500))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_strikes_its_path_and_those_below_it_only() {
        let failing = FailingPaths::default();
        failing.add(Rule {
            path: "/conversations/7".into(),
            method: Some("GET".into()),
            status: None,
        });
        assert_eq!(failing.strikes("GET", "/conversations/7"), Some(500));
        assert_eq!(failing.strikes("GET", "/conversations/7/parts"), Some(500));
        assert_eq!(failing.strikes("GET", "/conversations/70"), None);
        assert_eq!(failing.strikes("POST", "/conversations/7"), None);
        failing.clear();
        assert_eq!(failing.strikes("GET", "/conversations/7"), None);
    }
}
