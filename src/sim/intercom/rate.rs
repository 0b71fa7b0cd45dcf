//! The per-app request budget: fixed 10-second windows aligned to epoch multiples of 10, as
//! Intercom spreads its per-minute limit over 10-second windows.

use std::sync::Mutex;

/// Length of one rate window in seconds.
pub const WINDOW_SECS: i64 = 10;

/// What the gate decided for one request, with the figures for the `X-RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Unix seconds at which the current window ends.
    pub reset: i64,
}

#[derive(Debug)]
pub struct RateWindow {
    limit: u32,
    state: Mutex<(i64, u32)>,
}

impl RateWindow {
    pub fn new(limit: u32) -> Self {
        RateWindow {
            limit,
            state: Mutex::new((0, 0)),
        }
    }

    /// Counts one request at `now` (unix seconds) against the window it falls in.
    pub fn admit(&self, now: i64) -> RateDecision {
        let window = now.div_euclid(WINDOW_SECS) * WINDOW_SECS;
        let mut guard = match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if guard.0 != window {
            *guard = (window, 0);
        }
        let allowed = guard.1 < self.limit;
        if allowed {
            guard.1 += 1;
        }
        RateDecision {
            allowed,
            limit: self.limit,
            remaining: self.limit.saturating_sub(guard.1),
            reset: window + WINDOW_SECS,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_resets_with_the_next_window() {
        let gate = RateWindow::new(2);
        assert!(gate.admit(100).allowed);
        let second = gate.admit(105);
        assert!(second.allowed);
        assert_eq!(second.remaining, 0);
        assert_eq!(second.reset, 110);
        assert!(!gate.admit(109).allowed);
        assert!(gate.admit(110).allowed);
    }
}
