//! Throughput and ETA: completed records and requests counted into one-second buckets over the
//! last minute, so the console can draw a sparkline and the ETA follows the recent pace.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

const BUCKETS: usize = 60;
/// How long a run goes before its ETA is said: the first seconds' pace (a burst of bulk answers,
/// or none yet) says little about the rest.
pub const ETA_WARMUP: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct Meter {
    start: Instant,
    /// (second since start, records completed in it).
    buckets: VecDeque<(u64, u64)>,
    last_records: u64,
    last_requests: u64,
    requests_rate: f64,
    last_sample: Option<Instant>,
}

impl Meter {
    pub fn new(now: Instant) -> Meter {
        Meter {
            start: now,
            buckets: VecDeque::with_capacity(BUCKETS + 1),
            last_records: 0,
            last_requests: 0,
            requests_rate: 0.0,
            last_sample: None,
        }
    }

    /// A meter whose totals start from `records` and `requests`: what a resumed run settled and
    /// sent before it started is not this run's pace.
    pub fn resuming(now: Instant, records: u64, requests: u64) -> Meter {
        Meter {
            last_records: records,
            last_requests: requests,
            ..Meter::new(now)
        }
    }

    /// Feeds the running totals (records completed, requests sent) at `now`.
    pub fn sample(&mut self, now: Instant, records_total: u64, requests_total: u64) {
        let second = now.duration_since(self.start).as_secs();
        let new_records = records_total.saturating_sub(self.last_records);
        self.last_records = records_total.max(self.last_records);
        match self.buckets.back_mut() {
            Some((s, n)) if *s == second => *n += new_records,
            _ => {
                // Seconds without a sample count as zero, so a stall shows.
                let mut next = self.buckets.back().map_or(second, |(s, _)| s + 1);
                while next < second {
                    self.buckets.push_back((next, 0));
                    next += 1;
                }
                self.buckets.push_back((second, new_records));
            }
        }
        while self.buckets.len() > BUCKETS {
            self.buckets.pop_front();
        }
        if let Some(prev) = self.last_sample {
            let dt = now.duration_since(prev).as_secs_f64();
            if dt > 0.0 {
                let inst = requests_total.saturating_sub(self.last_requests) as f64 / dt;
                // Smoothed so the figure does not flicker at 10 Hz.
                self.requests_rate = 0.8 * self.requests_rate + 0.2 * inst;
            }
        }
        self.last_requests = requests_total.max(self.last_requests);
        self.last_sample = Some(now);
    }

    /// Records per second over the completed seconds of the last minute.
    pub fn records_per_sec(&self) -> f64 {
        let complete: Vec<u64> = self.buckets.iter().rev().skip(1).map(|(_, n)| *n).collect();
        if complete.is_empty() {
            return 0.0;
        }
        complete.iter().sum::<u64>() as f64 / complete.len() as f64
    }

    pub fn requests_per_sec(&self) -> f64 {
        self.requests_rate
    }

    /// Records completed per second, oldest first (for a sparkline).
    pub fn history(&self) -> Vec<u64> {
        self.buckets.iter().map(|(_, n)| *n).collect()
    }

    pub fn elapsed(&self, now: Instant) -> Duration {
        now.duration_since(self.start)
    }

    /// Time left for `remaining` records at the recent pace; `None` until there is one: for the
    /// first [`ETA_WARMUP`] of the run and while no record has settled in the last minute.
    pub fn eta(&self, remaining: u64) -> Option<Duration> {
        if remaining == 0 {
            return Some(Duration::ZERO);
        }
        let ran = self
            .last_sample
            .map_or(Duration::ZERO, |at| at.duration_since(self.start));
        if ran < ETA_WARMUP {
            return None;
        }
        let rate = self.records_per_sec();
        (rate > 0.0).then(|| Duration::from_secs_f64(remaining as f64 / rate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_and_eta_follow_the_recent_pace() {
        let t0 = Instant::now();
        let mut m = Meter::new(t0);
        for s in 1..=11u64 {
            m.sample(t0 + Duration::from_secs(s), s * 5, s * 2);
        }
        assert!(
            (m.records_per_sec() - 5.0).abs() < 0.01,
            "{}",
            m.records_per_sec()
        );
        assert_eq!(m.eta(50), Some(Duration::from_secs(10)));
        assert_eq!(m.eta(0), Some(Duration::ZERO));
        assert!(m.history().len() >= 10);
    }

    #[test]
    fn a_stall_shows_as_zero_seconds() {
        let t0 = Instant::now();
        let mut m = Meter::new(t0);
        m.sample(t0, 0, 0);
        m.sample(t0 + Duration::from_secs(5), 10, 0);
        assert_eq!(m.history(), vec![0, 0, 0, 0, 0, 10]);
        assert_eq!(Meter::new(t0).eta(10), None);
    }

    #[test]
    fn no_eta_is_said_before_the_warmup_however_fast_the_start() {
        let t0 = Instant::now();
        let mut m = Meter::new(t0);
        m.sample(t0, 0, 0);
        // A burst of bulk answers in the first seconds.
        for s in 1..10u64 {
            m.sample(t0 + Duration::from_secs(s), s * 400, s);
            assert_eq!(m.eta(10_000), None, "at {s} s");
        }
        m.sample(t0 + ETA_WARMUP, 4_000, 10);
        assert!(m.eta(10_000).is_some());
    }

    #[test]
    fn a_resumed_run_does_not_count_what_was_settled_before_it_as_its_pace() {
        let t0 = Instant::now();
        // 9,000 records settled by the runs before this one.
        let mut m = Meter::resuming(t0, 9_000, 500);
        for s in 1..=12u64 {
            m.sample(t0 + Duration::from_secs(s), 9_000 + s * 2, 500 + s);
        }
        assert!(
            (m.records_per_sec() - 2.0).abs() < 0.01,
            "{}",
            m.records_per_sec()
        );
        assert_eq!(m.eta(20), Some(Duration::from_secs(10)));
    }
}
