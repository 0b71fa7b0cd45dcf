//! Targeted failures for tests and demonstrations: `POST /__sim/fail {"path": "/conversations/7",
//! "method": "GET", "status": 500}` makes every request to that path (or below it) answer that
//! status until `DELETE /__sim/fail` clears the rules. Unlike `--faults` (random, per request),
//! a rule strikes every time, so a test can make one record fail on one run and heal on the next.
//! With `"garble": true` the request reaches its handler (a write takes effect) and only its
//! answer is lost: the status is kept, the body is not JSON.

use std::sync::Mutex;

use serde::Deserialize;

/// One rule: requests to `path` (exactly, or any path below it) with `method` (any when absent)
/// answer `status` (500 when absent) without reaching the handler.
#[derive(Debug, Clone, Deserialize)]
pub struct Rule {
    pub path: String,
    pub method: Option<String>,
    pub status: Option<u16>,
    #[serde(default)]
    pub garble: bool,
    /// How many requests the rule strikes before it is spent (every one when absent).
    pub times: Option<u32>,
}

/// What a rule does to a request it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strike {
    /// Answer this status without reaching the handler.
    Refuse(u16),
    /// Run the handler, then replace the answer's body with text that is not JSON.
    Garble,
}

/// The body a garbled answer carries.
pub const GARBLED_BODY: &str = "<html>upstream answered, then the connection garbled it";

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

    /// What happens to a request to `method path`, when a rule names it (a rule with `times`
    /// counts the strike).
    pub fn strikes(&self, method: &str, path: &str) -> Option<Strike> {
        let mut rules = self.rules();
        rules.retain(|r| r.times != Some(0));
        rules
            .iter_mut()
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
            .map(|r| {
                if let Some(n) = &mut r.times {
                    *n -= 1;
                }
                if r.garble {
                    Strike::Garble
                } else {
                    Strike::Refuse(r.status.unwrap_or(500))
                }
            })
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
            garble: false,
            times: None,
        });
        let refused = Some(Strike::Refuse(500));
        assert_eq!(failing.strikes("GET", "/conversations/7"), refused);
        assert_eq!(failing.strikes("GET", "/conversations/7/parts"), refused);
        assert_eq!(failing.strikes("GET", "/conversations/70"), None);
        assert_eq!(failing.strikes("POST", "/conversations/7"), None);
        failing.clear();
        assert_eq!(failing.strikes("GET", "/conversations/7"), None);
        failing.add(Rule {
            path: "/v1/attachments".into(),
            method: None,
            status: None,
            garble: true,
            times: Some(1),
        });
        assert_eq!(
            failing.strikes("POST", "/v1/attachments"),
            Some(Strike::Garble)
        );
        assert_eq!(failing.strikes("POST", "/v1/attachments"), None, "spent");
    }
}
