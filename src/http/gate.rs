//! `RateGate`: one per API, shared by every task that calls it. It paces requests evenly inside
//! the budget (limit × share per window) so the migration never bursts into 429s, lets callers go
//! in the order they came (filler work, [`as_filler`], only in the slots left over), adapts to the
//! `X-RateLimit-*` headers the server announces (limit, remaining, reset), keeps a reserve for the
//! org's other integrations when the server says they are using it, and after a 429 holds every
//! caller until the reset the server announced — never longer than one window plus jitter,
//! whatever the header says — or, when it announced none, for a backoff that starts at a second
//! and doubles with each 429 in a row up to the window.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::rng::Rng;
use crate::vocab::Budget;

/// Longest extra wait added to a reset, so callers do not all wake in the same instant.
const RESET_JITTER: Duration = Duration::from_millis(750);
/// The first hold after a 429 that announced no reset; it doubles with each 429 in a row.
const THROTTLE_BACKOFF_START: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GateConfig {
    pub window: Duration,
    /// Requests per window, until the server announces its own limit.
    pub limit: u32,
    /// Share of the limit the migration may take (0 < share ≤ 1).
    pub share: f64,
}

impl GateConfig {
    /// Intercom: 10-second windows, the whole app budget.
    pub fn intercom(limit_per_window: u32) -> Self {
        GateConfig {
            window: Duration::from_secs(10),
            limit: limit_per_window.max(1),
            share: 1.0,
        }
    }

    /// Kustomer: one org-wide budget per 60 s, of which the migration takes `share`.
    pub fn kustomer(limit_per_minute: u32, share: f64) -> Self {
        GateConfig {
            window: Duration::from_secs(60),
            limit: limit_per_minute.max(1),
            share: clamp_share(share),
        }
    }
}

fn clamp_share(share: f64) -> f64 {
    if share.is_finite() {
        share.clamp(0.01, 1.0)
    } else {
        1.0
    }
}

/// What a response said about the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateInfo {
    pub limit: Option<u32>,
    pub remaining: Option<u32>,
    /// Unix seconds when the window resets.
    pub reset_unix: Option<i64>,
    /// Unix seconds a `Retry-After` (in seconds) names: when a throttled request may go again.
    pub retry_at_unix: Option<i64>,
}

impl RateInfo {
    /// Reads `X-RateLimit-Limit`, `-Remaining`, `-Reset` and `Retry-After` (header names are
    /// case-insensitive). A reset below 1e9 is taken as seconds from now rather than a unix
    /// time; `Retry-After` is read in its seconds form only.
    pub fn from_headers(headers: &reqwest::header::HeaderMap) -> Option<RateInfo> {
        let num = |name: &str| -> Option<i64> {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|s| s.trim().parse::<f64>().ok())
                .map(|f| f as i64)
        };
        let limit = num("x-ratelimit-limit").and_then(|v| u32::try_from(v).ok());
        let remaining = num("x-ratelimit-remaining").map(|v| v.max(0) as u32);
        let reset_unix = num("x-ratelimit-reset").map(|v| {
            if v < 1_000_000_000 {
                crate::timefmt::now_unix() + v
            } else {
                v
            }
        });
        let retry_at_unix = num("retry-after")
            .filter(|secs| *secs >= 0)
            .map(|secs| crate::timefmt::now_unix() + secs);
        if limit.is_none() && remaining.is_none() && reset_unix.is_none() && retry_at_unix.is_none()
        {
            return None;
        }
        Some(RateInfo {
            limit,
            remaining,
            reset_unix,
            retry_at_unix,
        })
    }

    /// When a throttled request may go again, as the server announced it: `Retry-After` when
    /// it was sent, else the window's reset.
    pub fn throttled_until_unix(&self) -> Option<i64> {
        self.retry_at_unix.or(self.reset_unix)
    }
}

#[derive(Debug)]
struct State {
    window: Duration,
    limit: u32,
    share: f64,
    window_end: Instant,
    used: u32,
    /// The server's `remaining` at its last answer in this window, and our sends since.
    server_remaining: Option<u32>,
    sent_since_observed: u32,
    /// When the server's window that `server_remaining` counts resets, when it said so: past
    /// it, that count is stale.
    server_reset: Option<Instant>,
    blocked_until: Option<Instant>,
    next_slot: Instant,
    throttled: u64,
    requests: u64,
    rng: Rng,
}

impl State {
    /// The even pace within the allowed share (one request per interval) and the burst
    /// allowance above it, so a window is never spent in its first second.
    fn pacing(&self) -> (Duration, Duration) {
        let allowed = self.allowed();
        let interval = self.window.div_f64(f64::from(allowed));
        (interval, interval * (allowed / 20).max(1))
    }

    fn allowed(&self) -> u32 {
        ((f64::from(self.limit) * self.share).floor() as u32).max(1)
    }

    fn roll(&mut self, now: Instant) {
        if now >= self.window_end {
            let behind = now.duration_since(self.window_end);
            let windows = (behind.as_nanos() / self.window.as_nanos().max(1)) as u32 + 1;
            self.window_end += self.window * windows;
            self.used = 0;
            self.server_remaining = None;
            self.sent_since_observed = 0;
        }
    }

    fn jitter(&mut self) -> Duration {
        RESET_JITTER.mul_f64(self.rng.next_f64())
    }
}

tokio::task_local! {
    /// Set while the current task runs filler work (see [`as_filler`]).
    static FILLER: ();
}

/// Runs `work` as filler: each of its requests goes only when no other caller is waiting for
/// the gate, so the requests a run's progress waits on (bulk submits, job polls, the uploads a
/// page needs now) are never queued behind it. For work that is useful whenever it runs and
/// would otherwise crowd the gate, such as uploads prefetched ahead of the pages that need
/// them: it takes the slots the rest leaves, and the budget is used without slowing the rest.
pub async fn as_filler<F: std::future::Future>(work: F) -> F::Output {
    FILLER.scope((), work).await
}

fn is_filler() -> bool {
    FILLER.try_with(|_| ()).is_ok()
}

/// Paces requests of one API. Cheap to share: `Arc<RateGate>`.
#[derive(Debug)]
pub struct RateGate {
    state: Mutex<State>,
    /// Callers waiting in [`RateGate::acquire`] that are not filler.
    waiting: AtomicUsize,
    /// 429s since the last answer that was not one: how far a hold without a reset backs off.
    /// Outside the lock: every answer resets it.
    throttled_in_a_row: AtomicU32,
}

/// Counts a caller as waiting for as long as it is held (also when its wait is dropped).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl RateGate {
    pub fn new(config: GateConfig) -> Arc<RateGate> {
        let now = Instant::now();
        Arc::new(RateGate {
            state: Mutex::new(State {
                window: config.window,
                limit: config.limit.max(1),
                share: clamp_share(config.share),
                window_end: now + config.window,
                used: 0,
                server_remaining: None,
                sent_since_observed: 0,
                server_reset: None,
                blocked_until: None,
                next_slot: now,
                throttled: 0,
                requests: 0,
                rng: Rng::from_entropy(),
            }),
            waiting: AtomicUsize::new(0),
            throttled_in_a_row: AtomicU32::new(0),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits until one more request fits the budget, and counts it. Callers go in the order
    /// they came; filler work (see [`as_filler`]) only takes the turns nobody else waits for.
    pub async fn acquire(&self) {
        let filler = is_filler();
        let _waiting = (!filler).then(|| Waiting::new(&self.waiting));
        let mut turn = None;
        loop {
            let wait = {
                let mut s = self.lock();
                let now = Instant::now();
                s.roll(now);
                match self.admit(&mut s, now, filler, &mut turn) {
                    None => return,
                    Some(wait) => wait,
                }
            };
            tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
        }
    }

    /// `None` when the request may go now (and is counted), else how long to wait first.
    ///
    /// `turn` is the caller's place in the queue, kept between its calls: a caller that is not
    /// filler takes the next free slot once and goes when it comes, so no caller loses the race
    /// for a slot again and again to later ones (a job poll waiting out the whole queue of
    /// uploads behind it). A block (429, spent window, the org's reserve) gives the turn up.
    fn admit(
        &self,
        s: &mut State,
        now: Instant,
        filler: bool,
        turn: &mut Option<Instant>,
    ) -> Option<Duration> {
        if let Some(until) = s.blocked_until {
            if now < until {
                *turn = None;
                return Some(until - now);
            }
            s.blocked_until = None;
        }
        let allowed = s.allowed();
        if s.used >= allowed {
            *turn = None;
            return Some(s.window_end.saturating_duration_since(now));
        }
        // Others share the org budget: keep their part free when the server says it is in use.
        if let Some(remaining) = s.server_remaining {
            let reserve = s.limit.saturating_sub(allowed);
            match s.server_reset {
                // The server's window has reset since it answered: its count says nothing now.
                Some(reset) if now >= reset => {
                    s.server_remaining = None;
                    s.sent_since_observed = 0;
                }
                // Wait for the window that count belongs to, the server's, not ours: the two are
                // rarely aligned, and the server's count includes our own requests, so waiting
                // for ours could idle the gate for most of a minute with nothing in flight to
                // bring a fresher count.
                reset if remaining.saturating_sub(s.sent_since_observed) <= reserve => {
                    *turn = None;
                    let until = reset.unwrap_or(s.window_end);
                    return Some(until.saturating_duration_since(now));
                }
                _ => {}
            }
        }
        let (interval, burst) = s.pacing();
        let earliest = now.checked_sub(burst).unwrap_or(now);
        if s.next_slot < earliest {
            s.next_slot = earliest;
        }
        if filler {
            if s.next_slot > now {
                return Some(s.next_slot - now);
            }
            if self.waiting.load(Ordering::SeqCst) > 0 {
                // The slot is theirs; ask again after it.
                return Some(interval);
            }
            s.next_slot += interval;
        } else {
            let mine = *turn.get_or_insert_with(|| {
                let slot = s.next_slot;
                s.next_slot += interval;
                slot
            });
            if mine > now {
                return Some(mine - now);
            }
            *turn = None;
        }
        s.used += 1;
        s.sent_since_observed += 1;
        s.requests += 1;
        None
    }

    /// Feeds what a response announced about the budget.
    pub fn observe(&self, info: RateInfo) {
        let mut s = self.lock();
        let now = Instant::now();
        if let Some(limit) = info.limit.filter(|l| *l > 0) {
            s.limit = limit;
        }
        if let Some(reset) = info.reset_unix {
            let until = reset - crate::timefmt::now_unix();
            // The server's window is the truth: align ours to its reset when it is plausible.
            if until >= 0 && Duration::from_secs(until as u64) <= s.window + Duration::from_secs(1)
            {
                let server_end = now + Duration::from_secs(until as u64);
                if server_end > s.window_end + Duration::from_secs(1) {
                    // The server's window is a later one than ours: ours has rolled over there.
                    s.window_end = server_end;
                    s.used = 0;
                } else if server_end + Duration::from_secs(1) < s.window_end {
                    s.window_end = server_end.max(now);
                }
            }
        }
        if let Some(remaining) = info.remaining {
            s.server_remaining = Some(remaining);
            s.sent_since_observed = 0;
            // A reset already past (or a skewed clock) makes the count stale at once.
            s.server_reset = info.reset_unix.map(|reset| {
                let until = (reset - crate::timefmt::now_unix()).clamp(0, i64::from(u32::MAX));
                now + Duration::from_secs(until as u64).min(s.window + Duration::from_secs(1))
            });
        }
    }

    /// A 429 arrived: hold every caller until the reset it announced (at most one window), or
    /// without one for 1 s, 2 s, 4 s… with each 429 in a row, up to the window; plus jitter.
    pub fn on_throttled(&self, reset_unix: Option<i64>) {
        let mut s = self.lock();
        let now = Instant::now();
        s.throttled += 1;
        let in_a_row = self.throttled_in_a_row.fetch_add(1, Ordering::SeqCst);
        let cap = s.window;
        let wait = match reset_unix {
            Some(reset) => {
                let secs = (reset - crate::timefmt::now_unix()).max(0) as u64;
                Duration::from_secs(secs).min(cap)
            }
            None => THROTTLE_BACKOFF_START
                .saturating_mul(1u32 << in_a_row.min(16))
                .min(cap),
        };
        let jitter = s.jitter();
        let until = now + wait + jitter;
        s.blocked_until = Some(s.blocked_until.map_or(until, |b| b.max(until)));
    }

    /// An answer other than a 429 arrived: the next 429 without a reset backs off from the start.
    pub fn on_answered(&self) {
        if self.throttled_in_a_row.load(Ordering::Relaxed) > 0 {
            self.throttled_in_a_row.store(0, Ordering::SeqCst);
        }
    }

    /// Changes the migration's share of the budget, live.
    pub fn set_share(&self, share: f64) {
        self.lock().share = clamp_share(share);
    }

    pub fn share(&self) -> f64 {
        self.lock().share
    }

    pub fn window(&self) -> Duration {
        self.lock().window
    }

    /// Whether the budget is the limit now: callers wait for their turn, the window is spent or
    /// blocked, or the requests already booked run the pace to within half the burst allowance
    /// (filler work keeps it there without waiting in line). A request saved then is a request
    /// of someone else's sooner; with room to spare, it is not.
    pub fn saturated(&self) -> bool {
        if self.waiting.load(Ordering::SeqCst) > 0 {
            return true;
        }
        let mut s = self.lock();
        let now = Instant::now();
        s.roll(now);
        let allowed = s.allowed();
        if s.blocked_until.is_some_and(|until| until > now) || s.used >= allowed {
            return true;
        }
        if s.requests == 0 {
            return false;
        }
        let (_, burst) = s.pacing();
        s.next_slot + burst / 2 > now
    }

    pub fn budget(&self) -> Budget {
        let mut s = self.lock();
        let now = Instant::now();
        s.roll(now);
        Budget {
            used: s.used,
            allowed: s.allowed(),
            limit: s.limit,
            window_secs: s.window.as_secs() as u32,
            throttled: s.throttled,
            requests: s.requests,
            throttled_until: s.blocked_until.filter(|until| *until > now).map(|until| {
                crate::timefmt::now_unix() + until.duration_since(now).as_secs_f64().ceil() as i64
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn paces_within_the_share_of_each_window() {
        let gate = RateGate::new(GateConfig {
            window: Duration::from_millis(1000),
            limit: 40,
            share: 0.5,
        });
        let start = Instant::now();
        for _ in 0..20 {
            gate.acquire().await;
        }
        // 20 = the whole allowed budget of one window, spread across it rather than sent at once.
        assert!(
            start.elapsed() >= Duration::from_millis(800),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(gate.budget().allowed, 20);
    }

    #[tokio::test]
    async fn a_gate_run_at_its_pace_is_saturated_and_an_idle_one_is_not() {
        let gate = RateGate::new(GateConfig {
            window: Duration::from_millis(1000),
            limit: 400,
            share: 0.5,
        });
        assert!(!gate.saturated());
        // Ten a second against a pace of 200: room to spare.
        for _ in 0..5 {
            gate.acquire().await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(!gate.saturated());
        // As fast as the gate lets them go: the pace is the limit.
        for _ in 0..60 {
            gate.acquire().await;
        }
        assert!(gate.saturated());
    }

    #[test]
    fn a_throttle_blocks_for_at_most_a_window_plus_jitter() {
        let gate = RateGate::new(GateConfig::intercom(10));
        gate.on_throttled(Some(crate::timefmt::now_unix() + 3600));
        let s = gate.lock();
        let until = s.blocked_until.unwrap();
        assert!(until <= Instant::now() + Duration::from_secs(10) + RESET_JITTER);
        assert_eq!(s.throttled, 1);
    }

    /// How long the gate holds from now.
    fn hold(gate: &RateGate) -> Duration {
        let s = gate.lock();
        s.blocked_until
            .map(|until| until.saturating_duration_since(Instant::now()))
            .unwrap_or_default()
    }

    #[test]
    fn a_throttle_without_a_reset_backs_off_from_a_second_doubling_up_to_the_window() {
        let gate = RateGate::new(GateConfig::intercom(10));
        for expected in [1, 2, 4, 8, 10, 10] {
            {
                // Each 429 in a row is judged alone: clear the hold the last one set.
                gate.lock().blocked_until = None;
            }
            gate.on_throttled(None);
            let held = hold(&gate);
            let base = Duration::from_secs(expected);
            assert!(
                held > base - Duration::from_millis(50) && held <= base + RESET_JITTER,
                "expected about {expected} s, held {held:?}"
            );
        }
        // An answer that is not a 429 starts the backoff over.
        gate.on_answered();
        gate.lock().blocked_until = None;
        gate.on_throttled(None);
        assert!(hold(&gate) <= Duration::from_secs(1) + RESET_JITTER);
    }

    #[test]
    fn a_throttle_waits_for_the_announced_reset_and_the_budget_says_until_when() {
        let gate = RateGate::new(GateConfig::kustomer(100, 0.8));
        let reset = crate::timefmt::now_unix() + 5;
        gate.on_throttled(Some(reset));
        let held = hold(&gate);
        assert!(
            held > Duration::from_secs(3) && held <= Duration::from_secs(5) + RESET_JITTER,
            "{held:?}"
        );
        let until = gate.budget().throttled_until.expect("throttled until");
        assert!((reset..=reset + 1).contains(&until), "{until} vs {reset}");
        // A throttle holds the gate, it does not spend the window.
        assert_eq!(gate.budget().used, 0);
    }

    /// A Kustomer gate (100 per minute, share 0.8: a reserve of 20 for the org) after the server
    /// answered with `remaining` and a reset `reset_in` seconds from now.
    fn kustomer_gate_told(remaining: u32, reset_in: i64) -> Arc<RateGate> {
        let gate = RateGate::new(GateConfig::kustomer(100, 0.8));
        gate.observe(RateInfo {
            limit: Some(100),
            remaining: Some(remaining),
            reset_unix: Some(crate::timefmt::now_unix() + reset_in),
            retry_at_unix: None,
        });
        gate
    }

    #[test]
    fn server_remaining_keeps_a_reserve_for_others() {
        let gate = kustomer_gate_told(20, 30);
        let mut s = gate.lock();
        let now = Instant::now();
        // 20 left and a reserve of 20 for the org: the migration waits for the next window.
        assert!(gate.admit(&mut s, now, false, &mut None).is_some());
    }

    #[test]
    fn the_reserve_waits_for_the_servers_reset_not_ours() {
        let gate = kustomer_gate_told(20, 2);
        let mut s = gate.lock();
        let wait = gate
            .admit(&mut s, Instant::now(), false, &mut None)
            .unwrap();
        assert!(wait <= Duration::from_secs(3), "{wait:?}");
    }

    #[test]
    fn a_count_from_a_window_that_has_reset_does_not_hold_the_gate() {
        // An answer whose window had already reset by our clock (late, or a skewed clock): with
        // nothing in flight to bring a fresher count, honouring it would idle the gate until our
        // own window ends, most of a minute.
        let gate = kustomer_gate_told(5, -1);
        let mut s = gate.lock();
        assert_eq!(gate.admit(&mut s, Instant::now(), false, &mut None), None);
    }

    #[test]
    fn filler_gives_way_to_a_waiting_caller() {
        let gate = RateGate::new(GateConfig::kustomer(600, 1.0));
        let now = Instant::now();
        {
            let _other = Waiting::new(&gate.waiting);
            let mut s = gate.lock();
            assert!(gate.admit(&mut s, now, true, &mut None).is_some());
            assert_eq!(gate.admit(&mut s, now, false, &mut None), None);
        }
        let mut s = gate.lock();
        let later = s.next_slot;
        assert_eq!(
            gate.admit(&mut s, later, true, &mut None),
            None,
            "alone, filler goes"
        );
    }

    #[tokio::test]
    async fn callers_go_in_the_order_they_came() {
        // 50 ms slots, already spent for the next few: everyone below has to queue.
        let gate = RateGate::new(GateConfig {
            window: Duration::from_secs(10),
            limit: 200,
            share: 1.0,
        });
        for _ in 0..3 {
            gate.acquire().await;
        }
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut callers = Vec::new();
        for i in 0..8 {
            let (gate, order) = (gate.clone(), order.clone());
            callers.push(tokio::spawn(async move {
                gate.acquire().await;
                order.lock().unwrap().push(i);
            }));
            // Each arrives while the earlier ones still wait.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        for c in callers {
            c.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), (0..8).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn filler_work_takes_only_the_slots_nobody_else_waits_for() {
        // 50 ms slots; four filler tasks keep asking for every one of them.
        let gate = RateGate::new(GateConfig {
            window: Duration::from_secs(1),
            limit: 20,
            share: 1.0,
        });
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut fillers = Vec::new();
        for _ in 0..4 {
            let (gate, stop) = (gate.clone(), stop.clone());
            fillers.push(tokio::spawn(as_filler(async move {
                while !stop.load(Ordering::SeqCst) {
                    gate.acquire().await;
                }
            })));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let before = gate.budget().requests;
        for _ in 0..5 {
            gate.acquire().await;
        }
        let during = gate.budget().requests - before;
        stop.store(true, Ordering::SeqCst);
        for f in fillers {
            f.abort();
        }
        // Our five, and at most a filler request already past the check when we started asking.
        assert!(
            (5..=6).contains(&during),
            "{during} requests went while we asked for 5"
        );
    }

    #[test]
    fn reads_rate_headers_in_either_reset_form() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("X-RateLimit-Limit", "167".parse().unwrap());
        h.insert("X-RateLimit-Remaining", "12".parse().unwrap());
        h.insert("X-RateLimit-Reset", "1487332510".parse().unwrap());
        let info = RateInfo::from_headers(&h).unwrap();
        assert_eq!(info.limit, Some(167));
        assert_eq!(info.remaining, Some(12));
        assert_eq!(info.reset_unix, Some(1_487_332_510));
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("x-ratelimit-reset", "42".parse().unwrap());
        let info = RateInfo::from_headers(&h).unwrap();
        assert!((info.reset_unix.unwrap() - crate::timefmt::now_unix() - 42).abs() <= 1);
        assert!(RateInfo::from_headers(&reqwest::header::HeaderMap::new()).is_none());
        // A Retry-After, where a server sends one, says when a throttled request may go again.
        h.insert("retry-after", "3".parse().unwrap());
        let info = RateInfo::from_headers(&h).unwrap();
        let retry_at = info.throttled_until_unix().unwrap();
        assert!(
            (retry_at - crate::timefmt::now_unix() - 3).abs() <= 1,
            "{retry_at}"
        );
    }
}
