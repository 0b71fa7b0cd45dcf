//! The companies scroll: one open scroll per app, idle expiry, the end-of-scroll empty page, and
//! the 404 for a scroll parameter that is gone (finished, expired, or killed by a network error).

use std::time::{Duration, Instant};

/// Companies per scroll page.
pub const SCROLL_PAGE: usize = 100;

#[derive(Debug)]
struct OpenScroll {
    param: String,
    /// Index of the next company to hand out.
    next: usize,
    last_used: Instant,
}

/// What a scroll request gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScrollStep {
    /// Companies `range` of the scroll order, under `param`.
    Page {
        param: String,
        range: std::ops::Range<usize>,
    },
    /// A new scroll was asked for while one is open.
    Exists,
    /// The scroll parameter is unknown, finished or expired.
    Gone,
}

#[derive(Debug, Default)]
pub struct Scrolls {
    open: Option<OpenScroll>,
    counter: u64,
}

impl Scrolls {
    fn expire(&mut self, idle: Duration, now: Instant) {
        if let Some(open) = &self.open
            && now.duration_since(open.last_used) > idle
        {
            self.open = None;
        }
    }

    /// One scroll request: `param` is the `scroll_param` query value, if any.
    pub fn step(
        &mut self,
        param: Option<&str>,
        total: usize,
        idle: Duration,
        now: Instant,
        seed: u64,
    ) -> ScrollStep {
        self.expire(idle, now);
        match param {
            None => {
                if self.open.is_some() {
                    return ScrollStep::Exists;
                }
                self.counter += 1;
                let mut rng = crate::rng::Rng::derive(seed, &["scroll", &self.counter.to_string()]);
                let param = super::uuid(&mut rng);
                self.open = Some(OpenScroll {
                    param: param.clone(),
                    next: 0,
                    last_used: now,
                });
                self.advance(param, total, now)
            }
            Some(p) => match &self.open {
                Some(open) if open.param == p => self.advance(p.to_string(), total, now),
                _ => ScrollStep::Gone,
            },
        }
    }

    fn advance(&mut self, param: String, total: usize, now: Instant) -> ScrollStep {
        let Some(open) = self.open.as_mut() else {
            return ScrollStep::Gone;
        };
        let start = open.next.min(total);
        let end = (start + SCROLL_PAGE).min(total);
        if start == end {
            // The empty page ends the scroll: its parameter expires with it.
            self.open = None;
        } else {
            open.next = end;
            open.last_used = now;
        }
        ScrollStep::Page {
            param,
            range: start..end,
        }
    }

    /// A network error on a continuation kills the open scroll: the client must restart.
    pub fn kill(&mut self) {
        self.open = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scroll_runs_partial_then_empty_then_gone() {
        let mut s = Scrolls::default();
        let now = Instant::now();
        let idle = Duration::from_secs(60);
        let ScrollStep::Page { param, range } = s.step(None, 150, idle, now, 1) else {
            panic!("first page")
        };
        assert_eq!(range, 0..100);
        assert_eq!(s.step(None, 150, idle, now, 1), ScrollStep::Exists);
        let second = s.step(Some(&param), 150, idle, now, 1);
        assert!(matches!(second, ScrollStep::Page { ref range, .. } if *range == (100..150)));
        let third = s.step(Some(&param), 150, idle, now, 1);
        assert!(matches!(third, ScrollStep::Page { ref range, .. } if range.is_empty()));
        assert_eq!(s.step(Some(&param), 150, idle, now, 1), ScrollStep::Gone);
    }
}
