//! `i2k bench`: the speed and budget targets measured as ratios against simulators.
//!
//! The benchmark sits above the engine and the console: it starts simulators, drives the engine
//! as a run would and draws console frames, so neither of those layers needs to know it exists.
//! `tiny` and `small` run everything in this process (this file); `medium` and `large` start the
//! simulators as child processes so that the time, memory and CPU figures are i2k's own
//! ([`scale`]).
//!
//! On `tiny` and `small`, four figures, each printed with its target so a reader sees at once
//! whether it holds:
//! 1. extraction's use of the Intercom budget ([`extraction::bench_extraction`]);
//! 2. the load's use of a deliberately low Kustomer budget, its 429s and records per bulk request;
//! 3. an `--only contacts,conversations` run against a naive per-record script at the same budget;
//! 4. the console's frame time while that run's snapshots stream in; plus the process's memory.
//!
//! Nothing here is a timed assertion: the figures are printed, never checked against wall clocks
//! in tests. Figures 2–4 come from one engine run so that `bench --size small` stays short.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures_util::StreamExt as _;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};

use crate::engine::context::{EngineConfig, LoadOptions};
use crate::engine::handle::RunOutcome;
use crate::engine::model::{Event, PhaseStatus, Snapshot};
use crate::http::Secret;
use crate::kustomer::KustomerClient;
use crate::ledger::{LedgerReader, SourceRecord};
use crate::mapping::conversations::{PartRole, part_role};
use crate::sim::{SimHandle, SizePreset, intercom, kustomer};

pub mod extraction;
pub mod scale;

pub use extraction::{BenchFigures, bench_extraction};

/// Share of the Kustomer budget the migration takes during the bench (the product's default).
pub const RATE_SHARE: f64 = 0.8;
/// The low Kustomer budget (requests per minute) that makes the gate the load's bottleneck on
/// `tiny`.
pub const LOW_KUSTOMER_RATE: u32 = 300;

/// The Kustomer budget per minute the load bench runs at for `size`: low enough that the gate is
/// the bottleneck, high enough that the run ends within a couple of minutes. `small` uses the
/// Enterprise default (1,000): at 300 its ~900 attachment creates alone would take 4 minutes.
pub fn kustomer_rate_for(size: SizePreset) -> u32 {
    match size {
        SizePreset::Tiny => LOW_KUSTOMER_RATE,
        _ => 1000,
    }
}
/// Intercom's budget per 10 s for the extraction figure (≈ 10,000 per minute).
pub const INTERCOM_RATE: u32 = 1667;
/// Requests in flight at once in the per-record baseline while it counts its requests.
const BASELINE_CONCURRENCY: usize = 8;
/// A budget high enough that the baseline's own run never waits on the gate: its requests are
/// counted, and its time at the low budget follows from them (see [`Comparison`]).
const BASELINE_COUNTING_RATE: u32 = 6_000_000;

/// What the load bench runs against.
#[derive(Debug, Clone)]
pub struct LoadBenchOptions {
    pub size: SizePreset,
    pub seed: u64,
    /// The Kustomer org budget per minute the simulator enforces and the engine is told.
    pub kustomer_rate: u32,
    pub rate_share: f64,
    /// Longest time a simulated bulk job takes to complete.
    pub bulk_delay_max: Duration,
    /// Where the engine's state (ledger, report) goes; must not exist or be empty.
    pub state_dir: PathBuf,
}

impl LoadBenchOptions {
    pub fn new(size: SizePreset, seed: u64, state_dir: PathBuf) -> LoadBenchOptions {
        LoadBenchOptions {
            size,
            seed,
            kustomer_rate: kustomer_rate_for(size),
            rate_share: RATE_SHARE,
            bulk_delay_max: Duration::from_secs(2),
            state_dir,
        }
    }
}

/// Frame times of `tui::App::draw` on a 160×48 `TestBackend`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FrameFigures {
    pub frames: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Resident memory of this process (both simulators included), in KiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryFigures {
    pub rss_before_kib: u64,
    pub rss_after_kib: u64,
    pub peak_kib: u64,
}

/// Figures of one `--only contacts,conversations` engine run at a low Kustomer budget.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadFigures {
    pub size: String,
    /// The Kustomer limit per window the gate last knew, the migration's share and the window.
    pub limit: u32,
    pub rate_share: f64,
    pub window_secs: u32,
    /// From the first load phase starting to the last one ending.
    pub load_secs: f64,
    /// Requests the gate let through in that span.
    pub load_requests: u64,
    /// `load_requests` ÷ (span ÷ window × limit × share); the target is ≥ 0.9.
    pub budget_ratio: f64,
    /// The whole run, extraction and decisions included.
    pub run_secs: f64,
    /// Every request the Kustomer simulator received (its ground truth) and how many it answered 429.
    pub kustomer_requests: u64,
    pub throttled: u64,
    /// Accepted bulk create requests, and the records they created (the created records of the
    /// bulk-loadable types minus those created one at a time).
    pub bulk_posts: u64,
    pub bulk_items: u64,
    /// Records created per type (the simulator's ground truth).
    pub created: BTreeMap<String, u64>,
    pub failed_records: u64,
    pub completed: bool,
    pub frames: FrameFigures,
    pub memory: MemoryFigures,
}

impl LoadFigures {
    pub fn throttled_share(&self) -> f64 {
        self.throttled as f64 / (self.kustomer_requests.max(1)) as f64
    }

    pub fn records_per_bulk(&self) -> f64 {
        self.bulk_items as f64 / (self.bulk_posts.max(1)) as f64
    }
}

/// The naive script: one POST per customer, conversation, message and note.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BaselineFigures {
    /// Requests the simulator received from the script (its ground truth).
    pub requests: u64,
    /// Records the script created, by type (the simulator's ground truth).
    pub created: BTreeMap<String, u64>,
    /// Records the script tried and Kustomer refused, or that had nothing to attach to.
    pub failed: u64,
    /// Stored files the script registered (`POST /v1/attachments`, one each).
    pub files: u64,
    pub elapsed_secs: f64,
}

/// Engine against baseline at the same Kustomer budget.
///
/// Both are bound by the same gate (limit × share per minute), so a run takes requests ÷ budget:
/// the baseline's time at the low budget is computed from the requests it was measured to need,
/// rather than sat through (≈ 50 minutes on `small`). The engine's time is its measured wall time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Comparison {
    pub engine_requests: u64,
    pub engine_secs: f64,
    pub baseline_requests: u64,
    /// `baseline_requests` ÷ (limit × share per second).
    pub baseline_secs_at_budget: f64,
}

impl Comparison {
    pub fn request_ratio(&self) -> f64 {
        self.baseline_requests as f64 / (self.engine_requests.max(1)) as f64
    }

    pub fn time_ratio(&self) -> f64 {
        self.baseline_secs_at_budget / self.engine_secs.max(0.001)
    }
}

/// Everything `i2k bench` prints.
#[derive(Debug, Clone)]
pub struct BenchReport {
    pub extraction: BenchFigures,
    pub load: LoadFigures,
    pub baseline: BaselineFigures,
    pub comparison: Comparison,
    pub elapsed_secs: f64,
}

fn mark(ok: bool) -> &'static str {
    if ok { "✓" } else { "✗" }
}

impl BenchReport {
    /// One line per figure, each with its target.
    pub fn lines(&self) -> Vec<String> {
        let e = &self.extraction;
        let l = &self.load;
        let c = &self.comparison;
        let f = &l.frames;
        let frame_budget_ms = crate::tui::FRAME_INTERVAL.as_secs_f64() * 1000.0;
        let mib = |kib: u64| kib as f64 / 1024.0;
        let mut lines = vec![format!(
            "extraction budget use: {:.2} of allowed (≥ 0.90 {})",
            e.conversation_budget_ratio,
            mark(e.conversation_budget_ratio >= 0.9)
        )];
        lines.extend(
            e.lines()
                .into_iter()
                .map(|line| format!("  {}", line.trim_start())),
        );
        lines.extend([
            format!(
                "load budget use: {:.2} of allowed (≥ 0.90 {})",
                l.budget_ratio,
                mark(l.budget_ratio >= 0.9)
            ),
            format!(
                "  {} Kustomer requests in {:.1} s of load phases; allowed {:.0} per {} s ({} × {:.2})",
                l.load_requests,
                l.load_secs,
                f64::from(l.limit) * l.rate_share,
                l.window_secs,
                l.limit,
                l.rate_share
            ),
            format!(
                "load 429s: {:.2}% of requests (< 1% {}): {} of {}",
                l.throttled_share() * 100.0,
                mark(l.throttled_share() < 0.01),
                l.throttled,
                l.kustomer_requests
            ),
            format!(
                "records per bulk request: {:.1} (≥ 90 {}): {} records in {} bulk creates",
                l.records_per_bulk(),
                mark(l.records_per_bulk() >= 90.0),
                l.bulk_items,
                l.bulk_posts
            ),
            format!(
                "only contacts,conversations vs per-record script: {:.1}× faster at the same budget (≥ 5 {})",
                c.time_ratio(),
                mark(c.time_ratio() >= 5.0)
            ),
            format!(
                "  engine {} requests in {:.1} s (measured); script {} requests = {:.1} s at {:.0}/min (requests ÷ budget); {:.1}× fewer requests",
                c.engine_requests,
                c.engine_secs,
                c.baseline_requests,
                c.baseline_secs_at_budget,
                f64::from(l.limit) * l.rate_share,
                c.request_ratio()
            ),
            format!(
                "  created by the engine: {}; by the script: {} ({} refused or orphaned)",
                created_line(&l.created),
                created_line(&self.baseline.created),
                self.baseline.failed
            ),
            format!(
                "console frame time (160×48, {} frames while the run streamed): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (p99 ≤ {:.0} ms {})",
                f.frames,
                f.p50_ms,
                f.p99_ms,
                f.max_ms,
                frame_budget_ms,
                mark(f.frames > 0 && f.p99_ms <= frame_budget_ms)
            ),
            format!(
                "memory (RSS, both simulators in-process): {:.1} MiB before the load, {:.1} MiB after, peak {:.1} MiB",
                mib(l.memory.rss_before_kib),
                mib(l.memory.rss_after_kib),
                mib(l.memory.peak_kib)
            ),
        ]);
        if !l.completed || l.failed_records > 0 {
            lines.push(format!(
                "note: the engine run {} with {} failed records",
                if l.completed {
                    "completed"
                } else {
                    "did not complete"
                },
                l.failed_records
            ));
        }
        lines.push(format!("bench took {:.1} s", self.elapsed_secs));
        lines
    }
}

fn created_line(created: &BTreeMap<String, u64>) -> String {
    let parts: Vec<String> = ["customers", "conversations", "messages", "notes"]
        .iter()
        .map(|k| format!("{} {k}", created.get(*k).copied().unwrap_or(0)))
        .collect();
    parts.join(", ")
}

/// Runs every figure of `i2k bench` for `size`, with state under `work_dir`.
pub async fn run_all(size: SizePreset, seed: u64, work_dir: &Path) -> anyhow::Result<BenchReport> {
    let started = Instant::now();
    let extraction = bench_extraction(size, seed, INTERCOM_RATE, &work_dir.join("extraction"))
        .await
        .context("extraction bench")?;
    let options = LoadBenchOptions::new(size, seed, work_dir.join("load"));
    let load = bench_load(&options).await.context("load bench")?;
    let baseline = bench_baseline(&options)
        .await
        .context("per-record baseline")?;
    let comparison = compare(&load, &baseline);
    Ok(BenchReport {
        extraction,
        load,
        baseline,
        comparison,
        elapsed_secs: started.elapsed().as_secs_f64(),
    })
}

/// Engine and baseline at the load's budget (limit × share per minute).
pub fn compare(load: &LoadFigures, baseline: &BaselineFigures) -> Comparison {
    let window = f64::from(load.window_secs.max(1));
    let per_sec = (f64::from(load.limit) * load.rate_share / window).max(f64::MIN_POSITIVE);
    Comparison {
        engine_requests: load.kustomer_requests,
        engine_secs: load.run_secs,
        baseline_requests: baseline.requests,
        baseline_secs_at_budget: baseline.requests as f64 / per_sec,
    }
}

fn loopback() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], 0))
}

async fn kustomer_sim(
    seed: u64,
    size: SizePreset,
    rate: u32,
    bulk: Duration,
) -> anyhow::Result<SimHandle> {
    let mut config = kustomer::Config::new(seed, intercom::admin_identities(seed, size));
    config.rate_per_minute = rate;
    config.bulk_delay_max = bulk;
    Ok(kustomer::spawn(config, loopback()).await?)
}

async fn truth(sim: &SimHandle) -> anyhow::Result<Value> {
    Ok(reqwest::get(format!("{}/__sim/truth", sim.url))
        .await?
        .error_for_status()?
        .json()
        .await?)
}

/// Requests and 429s over every route of a Kustomer truth.
fn request_totals(truth: &Value) -> (u64, u64) {
    let mut total = (0, 0);
    if let Some(routes) = truth["requests"].as_object() {
        for stats in routes.values() {
            total.0 += stats["count"].as_u64().unwrap_or(0);
            total.1 += stats["throttled"].as_u64().unwrap_or(0);
        }
    }
    total
}

/// A ground truth's `counts` object as a map (non-numeric entries left out).
fn counts(value: &Value) -> BTreeMap<String, u64> {
    value
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_u64().map(|n| (k.clone(), n)))
                .collect()
        })
        .unwrap_or_default()
}

/// The requests of one route of a ground truth that the server accepted: all but the throttled.
fn accepted(stats: &Value) -> u64 {
    stats["count"]
        .as_u64()
        .unwrap_or(0)
        .saturating_sub(stats["throttled"].as_u64().unwrap_or(0))
}

/// Accepted bulk creates and the records they made: created records of the bulk-loadable types
/// minus the accepted single-record creates of the same types.
fn bulk_figures(truth: &Value) -> (u64, u64) {
    const SINGLE_CREATES: [&str; 8] = [
        "POST /v1/companies",
        "POST /v1/customers",
        "POST /v1/conversations",
        "POST /v1/conversations/{id}/messages",
        "POST /v1/messages",
        "POST /v1/conversations/{id}/notes",
        "POST /v1/notes",
        "POST /v1/klasses/{name}",
    ];
    let mut bulk_posts = 0;
    let mut single = 0;
    if let Some(routes) = truth["requests"].as_object() {
        for (route, stats) in routes {
            if route.starts_with("POST ") && route.ends_with("/bulk") {
                bulk_posts += accepted(stats);
            } else if SINGLE_CREATES.contains(&route.as_str())
                || (route.starts_with("POST /v1/klasses/") && !route.ends_with("/bulk"))
            {
                single += accepted(stats);
            }
        }
    }
    let created: u64 = scale::BULK_TYPES
        .iter()
        .map(|t| truth["counts"][*t].as_u64().unwrap_or(0))
        .sum();
    (bulk_posts, created.saturating_sub(single))
}

/// A field of `/proc/self/status` in KiB (0 where there is no procfs).
pub fn proc_status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|line| {
                line.strip_prefix(field)?
                    .strip_prefix(':')
                    .map(str::to_string)
            })
        })
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Runs the engine with `--only contacts,conversations` against fresh simulators at the low
/// Kustomer budget, drawing the console from its snapshots meanwhile.
pub async fn bench_load(options: &LoadBenchOptions) -> anyhow::Result<LoadFigures> {
    let rss_before = proc_status_kib("VmRSS");
    let mut ic = intercom::Config::new(options.seed, options.size);
    // Extraction must not hold the load back: the figure is about the Kustomer side.
    ic.rate_per_window = 100_000;
    let intercom_sim = intercom::spawn(ic, loopback()).await?;
    let kustomer_sim = kustomer_sim(
        options.seed,
        options.size,
        options.kustomer_rate,
        options.bulk_delay_max,
    )
    .await?;
    let config = EngineConfig {
        state_dir: options.state_dir.clone(),
        intercom_url: intercom_sim.url.clone(),
        intercom_token: Secret::new(intercom_sim.token.clone()),
        kustomer_url: kustomer_sim.url.clone(),
        kustomer_token: Secret::new(kustomer_sim.token.clone()),
        kustomer_rate: options.kustomer_rate,
        rate_share: options.rate_share,
        only: vec!["contacts".to_string(), "conversations".to_string()],
        accept_defaults: true,
        workflow_ids: vec!["1".to_string()],
        options: LoadOptions::default(),
    };
    let handle = crate::engine::runner::start(config).await?;
    let (snapshots, events, _commands, mut task) = handle.split();

    let running = Arc::new(AtomicBool::new(true));
    let console = std::thread::spawn({
        let snapshots = snapshots.clone();
        let running = running.clone();
        move || measure_console(snapshots, events, &running)
    });

    let mut samples = LoadSpan::default();
    let mut sampler = snapshots;
    let outcome = loop {
        tokio::select! {
            joined = &mut task => break joined,
            _ = tokio::time::sleep(Duration::from_millis(100)) => {
                samples.observe(&sampler.borrow_and_update());
            }
        }
    };
    samples.observe(&sampler.borrow());
    running.store(false, Ordering::Relaxed);
    let frames = console
        .join()
        .map_err(|_| anyhow::anyhow!("the console measurement stopped unexpectedly"))?;
    let outcome =
        outcome.map_err(|e| anyhow::anyhow!("the engine stopped unexpectedly: {e}"))??;
    let memory = MemoryFigures {
        rss_before_kib: rss_before,
        rss_after_kib: proc_status_kib("VmRSS"),
        peak_kib: proc_status_kib("VmHWM"),
    };

    let truth = truth(&kustomer_sim).await?;
    intercom_sim.shutdown().await;
    kustomer_sim.shutdown().await;
    let (kustomer_requests, throttled) = request_totals(&truth);
    let (bulk_posts, bulk_items) = bulk_figures(&truth);
    let (completed, summary) = match outcome {
        RunOutcome::Completed(s) => (true, Some(s)),
        RunOutcome::Cancelled(s) => (false, Some(s)),
        RunOutcome::NeedsDecisions(_) => (false, None),
    };
    let (run_secs, failed_records) = summary
        .map(|s| {
            (
                s.elapsed.as_secs_f64(),
                s.phases.iter().map(|p| p.failed).sum(),
            )
        })
        .unwrap_or_default();
    let window = f64::from(samples.window_secs.max(1));
    let allowed = samples.load_secs() / window * f64::from(samples.limit) * options.rate_share;
    Ok(LoadFigures {
        size: options.size.to_string(),
        limit: samples.limit,
        rate_share: options.rate_share,
        window_secs: samples.window_secs,
        load_secs: samples.load_secs(),
        load_requests: samples.load_requests(),
        budget_ratio: samples.load_requests() as f64 / allowed.max(1.0),
        run_secs,
        kustomer_requests,
        throttled,
        bulk_posts,
        bulk_items,
        created: counts(&truth["counts"]),
        failed_records,
        completed,
        frames,
        memory,
    })
}

/// The span of a run during which load phases were running, from its snapshots.
#[derive(Debug, Default)]
struct LoadSpan {
    first: Option<(Duration, u64)>,
    last: Option<(Duration, u64)>,
    limit: u32,
    window_secs: u32,
}

impl LoadSpan {
    fn observe(&mut self, snapshot: &Snapshot) {
        if snapshot.kustomer.limit > 0 {
            self.limit = snapshot.kustomer.limit;
            self.window_secs = snapshot.kustomer.window_secs;
        }
        let loading = snapshot
            .phases
            .iter()
            .any(|p| p.status == PhaseStatus::Running);
        if loading {
            let point = (snapshot.elapsed, snapshot.kustomer.requests);
            self.first.get_or_insert(point);
            self.last = Some(point);
        }
    }

    fn load_secs(&self) -> f64 {
        match (self.first, self.last) {
            (Some(a), Some(b)) => b.0.saturating_sub(a.0).as_secs_f64(),
            _ => 0.0,
        }
    }

    fn load_requests(&self) -> u64 {
        match (self.first, self.last) {
            (Some(a), Some(b)) => b.1.saturating_sub(a.1),
            _ => 0,
        }
    }
}

/// Draws the Run screen at the console's frame rate while `running`, folding in every snapshot
/// and event as the console glue would, and times each draw.
fn measure_console(
    mut snapshots: watch::Receiver<Snapshot>,
    mut events: mpsc::UnboundedReceiver<Event>,
    running: &AtomicBool,
) -> FrameFigures {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use ratatui::crossterm::event::{KeyCode, KeyEvent};

    use crate::tui::{App, AppOptions, Keymap, Update};

    let mut terminal = match Terminal::new(TestBackend::new(160, 48)) {
        Ok(t) => t,
        Err(_) => return FrameFigures::default(),
    };
    let mut app = App::new(Keymap::default(), AppOptions::default());
    app.handle_key(KeyEvent::from(KeyCode::Char('5')));
    let mut times = Vec::new();
    while running.load(Ordering::Relaxed) {
        while let Ok(event) = events.try_recv() {
            app.apply(Update::Event(event));
        }
        if snapshots.has_changed().unwrap_or(false) {
            let snapshot = snapshots.borrow_and_update().clone();
            app.apply(Update::Snapshot(snapshot));
        }
        let start = Instant::now();
        if terminal.draw(|frame| app.draw(frame)).is_err() {
            break;
        }
        times.push(start.elapsed());
        std::thread::sleep(crate::tui::FRAME_INTERVAL);
    }
    frame_figures(&mut times)
}

fn frame_figures(times: &mut [Duration]) -> FrameFigures {
    if times.is_empty() {
        return FrameFigures::default();
    }
    times.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let at = |q: f64| ms(times[((times.len() - 1) as f64 * q).round() as usize]);
    FrameFigures {
        frames: times.len(),
        p50_ms: at(0.5),
        p99_ms: at(0.99),
        max_ms: ms(times[times.len() - 1]),
    }
}

/// Loads what the load bench's run extracted (its ledger in `options.state_dir`) into a fresh
/// Kustomer simulator the naive way, and counts the requests that took.
pub async fn bench_baseline(options: &LoadBenchOptions) -> anyhow::Result<BaselineFigures> {
    let sim = kustomer_sim(
        options.seed,
        options.size,
        BASELINE_COUNTING_RATE,
        options.bulk_delay_max,
    )
    .await?;
    let client = KustomerClient::connect(
        &sim.url,
        Secret::new(sim.token.clone()),
        BASELINE_COUNTING_RATE,
        options.rate_share,
    )?;
    let started = Instant::now();
    let (failed, files) = per_record_load(&client, &options.state_dir).await?;
    let elapsed_secs = started.elapsed().as_secs_f64();
    let truth = truth(&sim).await?;
    sim.shutdown().await;
    Ok(BaselineFigures {
        requests: request_totals(&truth).0,
        created: counts(&truth["counts"]),
        failed,
        files,
        elapsed_secs,
    })
}

/// The per-record script: every contact as one `POST /v1/customers`, then per conversation one
/// `POST /v1/conversations`, one message for its opening, and one message or note per comment or
/// note part (`importedAt` on each, as a migration must). Returns how many records failed.
/// Returns the records that failed and the files registered.
pub async fn per_record_load(
    client: &KustomerClient,
    state_dir: &Path,
) -> anyhow::Result<(u64, u64)> {
    let reader = LedgerReader::open(state_dir)?;
    let contacts = all_sources(&reader, "contacts")?;
    let conversations = all_sources(&reader, "conversations")?;
    let mut parts: BTreeMap<String, Vec<SourceRecord>> = BTreeMap::new();
    for c in &conversations {
        parts.insert(
            c.source_id.clone(),
            reader.children("conversation_parts", &c.source_id)?,
        );
    }
    drop(reader);
    let imported_at = crate::timefmt::unix_to_iso(crate::timefmt::now_unix());
    let imported_at = imported_at.as_str();

    let results: Vec<(String, Option<String>)> = futures_util::stream::iter(contacts)
        .map(|contact| async move {
            let raw: Value = serde_json::from_str(&contact.raw).unwrap_or(Value::Null);
            let name = raw["name"]
                .as_str()
                .filter(|n| !n.is_empty())
                .unwrap_or("Unnamed contact");
            let mut body = json!({
                "name": name,
                "externalId": contact.source_id,
                "importedAt": imported_at,
            });
            if let Some(email) = raw["email"].as_str().filter(|e| !e.is_empty()) {
                body["emails"] = json!([{ "email": email }]);
            }
            let id = client.create_customer(body).await.ok().map(|r| r.id);
            (contact.source_id, id)
        })
        .buffer_unordered(BASELINE_CONCURRENCY)
        .collect()
        .await;
    let mut failed = results.iter().filter(|(_, id)| id.is_none()).count() as u64;
    let customers: BTreeMap<String, String> = results
        .into_iter()
        .filter_map(|(source, id)| Some((source, id?)))
        .collect();

    let customers = &customers;
    let parts = &parts;
    let failures: Vec<u64> = futures_util::stream::iter(conversations)
        .map(|conversation| async move {
            load_one_conversation(client, &conversation, parts, customers, imported_at).await
        })
        .buffer_unordered(BASELINE_CONCURRENCY)
        .collect()
        .await;
    failed += failures.iter().sum::<u64>();
    // Files too: a script that carries the history registers every stored file as the engine
    // does (one `POST /v1/attachments` each; the storage upload itself is not budgeted).
    let reader = LedgerReader::open(state_dir)?;
    let mut files = all_sources(&reader, "attachments")?;
    files.extend(all_sources(&reader, "inline_images")?);
    drop(reader);
    let registered: Vec<bool> = futures_util::stream::iter(files)
        .map(|file| async move {
            let meta: Value = serde_json::from_str(&file.raw).unwrap_or(Value::Null);
            let name = meta["name"].as_str().unwrap_or("file");
            let content_type = meta["content_type"]
                .as_str()
                .unwrap_or("application/octet-stream");
            let size = meta["size"].as_u64().unwrap_or(1);
            client
                .create_attachment(name, content_type, size)
                .await
                .is_ok()
        })
        .buffer_unordered(BASELINE_CONCURRENCY)
        .collect()
        .await;
    failed += registered.iter().filter(|ok| !**ok).count() as u64;
    Ok((failed, registered.len() as u64))
}

async fn load_one_conversation(
    client: &KustomerClient,
    conversation: &SourceRecord,
    parts: &BTreeMap<String, Vec<SourceRecord>>,
    customers: &BTreeMap<String, String>,
    imported_at: &str,
) -> u64 {
    let raw: Value = serde_json::from_str(&conversation.raw).unwrap_or(Value::Null);
    let own_parts = parts
        .get(&conversation.source_id)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let orphaned = 1 + own_parts.len() as u64;
    let Some(customer) = raw["contacts"]["contacts"][0]["id"]
        .as_str()
        .and_then(|id| customers.get(id))
    else {
        return orphaned;
    };
    let title = raw["title"]
        .as_str()
        .filter(|t| !t.is_empty())
        .unwrap_or("Intercom conversation");
    let created = client
        .create_conversation(json!({
            "customer": customer,
            "name": title,
            "externalId": conversation.source_id,
            "importedAt": imported_at,
        }))
        .await;
    let Ok(created) = created else {
        return orphaned;
    };
    let mut failed = 0;
    let opening = raw["source"]["body"].as_str().unwrap_or("");
    let message = |body: &str, direction: &str, external_id: String| {
        json!({
            "channel": "chat",
            "app": "intercom-import",
            "direction": direction,
            "preview": crate::mapping::conversations::preview(body),
            "externalId": external_id,
            "importedAt": imported_at,
        })
    };
    let direction =
        crate::mapping::conversations::direction(raw["source"]["author"]["type"].as_str());
    if client
        .create_conversation_message(
            &created.id,
            message(
                opening,
                direction,
                format!("{}-source", conversation.source_id),
            ),
        )
        .await
        .is_err()
    {
        failed += 1;
    }
    for part in own_parts {
        let raw: Value = serde_json::from_str(&part.raw).unwrap_or(Value::Null);
        let body = raw["body"].as_str().unwrap_or("");
        let sent = match part_role(raw["part_type"].as_str()) {
            PartRole::Message => client
                .create_conversation_message(
                    &created.id,
                    message(
                        body,
                        crate::mapping::conversations::direction(raw["author"]["type"].as_str()),
                        part.source_id.clone(),
                    ),
                )
                .await
                .map(|_| ()),
            PartRole::Note => client
                .create_conversation_note(
                    &created.id,
                    json!({
                        "body": crate::mapping::conversations::html_to_text(body),
                        "externalId": part.source_id,
                        "importedAt": imported_at,
                    }),
                )
                .await
                .map(|_| ()),
            // The naive script drops assignment and state events: fewer requests for it.
            PartRole::Timeline => Ok(()),
        };
        if sent.is_err() {
            failed += 1;
        }
    }
    failed
}

fn all_sources(reader: &LedgerReader, kind: &str) -> anyhow::Result<Vec<SourceRecord>> {
    let mut all = Vec::new();
    loop {
        let after = all.last().map(|r: &SourceRecord| r.source_id.clone());
        let page = reader.sources_page(kind, after.as_deref(), 1000)?;
        if page.is_empty() {
            return Ok(all);
        }
        all.extend(page);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Kustomer ground truth: bulk and single creates of customers, attachments, bulk polls.
    pub(super) fn kustomer_truth() -> Value {
        json!({
            "counts": {"customers": 250, "conversations": 10, "messages": 0, "attachments": 7},
            "requests": {
                "POST /v1/customers/bulk": {"count": 3, "throttled": 1},
                "POST /v1/customers": {"count": 10, "throttled": 0},
                "POST /v1/attachments": {"count": 7, "throttled": 0},
                "GET /v1/bulk/{id}": {"count": 7, "throttled": 0},
            }
        })
    }

    #[test]
    fn bulk_figures_subtract_single_creates_and_throttled_posts() {
        let truth = kustomer_truth();
        assert_eq!(bulk_figures(&truth), (2, 250));
        assert_eq!(request_totals(&truth), (27, 1));
    }

    #[test]
    fn frame_percentiles_come_from_sorted_times() {
        let mut times: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let f = frame_figures(&mut times);
        assert_eq!(f.frames, 100);
        assert_eq!(f.max_ms, 100.0);
        assert!((f.p50_ms - 51.0).abs() < 1e-9 || (f.p50_ms - 50.0).abs() < 1e-9);
        assert_eq!(f.p99_ms, 99.0);
    }
}
