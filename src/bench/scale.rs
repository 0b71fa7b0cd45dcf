//! `i2k bench --size medium|large`: the Scale targets, measured on i2k alone.
//!
//! The simulators run as a child process (`i2k sim`), so the wall time, peak memory and CPU time
//! printed here are the engine's, not the simulators'; the engine runs in this process exactly as
//! `i2k run --headless --accept-defaults` starts it. One run at the budgets of the issue
//! (Kustomer 6,000/min at the 0.8 share, Intercom 10,000 per 10 s) gives the efficiency against
//! the budget bound — the fewest requests the workspace's records need on each side, from the
//! simulators' ground truth, divided by that side's budget — and a second run with both budgets
//! unlimited, no latency and no bulk-job delay gives the engine-bound throughput.
//!
//! Nothing here is asserted against a clock: the figures are printed with their targets.

use std::collections::BTreeMap;
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::Value;

use crate::engine::context::{EngineConfig, LoadOptions};
use crate::engine::handle::RunOutcome;
use crate::http::Secret;
use crate::sim::SizePreset;

use super::extraction::{BenchFigures, extraction_figures};
use super::{accepted, counts};

/// The Kustomer budget per minute of the budget-bound run (the 6,000/min).
pub const KUSTOMER_BUDGET_PER_MIN: u32 = 6_000;
/// The Intercom budget per 10-second window of the budget-bound run (60,000/min).
pub const INTERCOM_BUDGET_PER_WINDOW: u32 = 10_000;
/// Intercom's window, in seconds.
pub const INTERCOM_WINDOW_SECS: f64 = 10.0;
/// Share of the Kustomer budget the migration takes; the bound is computed at this share.
pub const RATE_SHARE: f64 = super::RATE_SHARE;
/// Budgets high enough that neither gate ever waits: the engine-bound run.
pub const UNLIMITED_INTERCOM_PER_WINDOW: u32 = 1_000_000;
pub const UNLIMITED_KUSTOMER_PER_MIN: u32 = 100_000_000;
/// How often a run in progress prints a line on stderr.
const PROGRESS_NOTE: Duration = Duration::from_secs(30);
/// Records a Kustomer bulk request carries.
pub const BULK_SIZE: u64 = 100;
/// The most records an Intercom listing returns per page.
pub const INTERCOM_PAGE: u64 = 150;
/// Kustomer types created through a bulk route ([`BULK_SIZE`] records per request).
pub(super) const BULK_TYPES: [&str; 6] = [
    "companies",
    "customers",
    "conversations",
    "messages",
    "notes",
    "kobjects",
];

/// Targets of the issue, printed beside each figure.
pub const EFFICIENCY_TARGET: f64 = 0.90;
pub const ENGINE_BOUND_TARGET: f64 = 5_000.0;
pub const PEAK_RSS_TARGET_MIB: f64 = 200.0;

/// What `i2k bench --size medium|large` is asked to do.
#[derive(Debug, Clone)]
pub struct ScaleOptions {
    pub size: SizePreset,
    pub seed: u64,
    /// Where each run's state goes (one subdirectory per run).
    pub work_dir: PathBuf,
    /// Latency the simulators add to each response in the budget-bound run.
    pub latency_ms: u64,
    /// Measure only the extraction at Intercom's 60,000/min (the `large` extraction target).
    pub extraction_only: bool,
    /// On `large`, run the (hours-long) budget-bound load too.
    pub budget_run: bool,
}

/// The fewest requests each side needs for a workspace, and the time they take at the budgets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BudgetBound {
    pub intercom_requests: u64,
    pub kustomer_requests: u64,
    /// `intercom_requests` ÷ (limit per window ÷ window).
    pub intercom_secs: f64,
    /// `kustomer_requests` ÷ (limit per minute × share ÷ 60).
    pub kustomer_secs: f64,
}

impl BudgetBound {
    /// The bound of the whole migration: the slower side. Both APIs' budgets run at once, so no
    /// design could finish before the side that needs the most time.
    pub fn secs(&self) -> f64 {
        self.intercom_secs.max(self.kustomer_secs)
    }
}

/// The fewest Kustomer requests that create `created` (records per type, the simulator's ground
/// truth): one per 100 records of a type with a bulk route, one per record of any other type
/// (attachment uploads, tracking events, KB, shortcuts, users…). Updates, tag links and bulk-job
/// polls are not counted, so the bound is low and the efficiency against it conservative.
pub fn kustomer_min_requests(created: &BTreeMap<String, u64>) -> u64 {
    created
        .iter()
        .map(|(kind, &n)| {
            if BULK_TYPES.contains(&kind.as_str()) {
                n.div_ceil(BULK_SIZE)
            } else {
                n
            }
        })
        .sum()
}

/// The fewest Intercom requests that read `counts` (records per type, the Intercom simulator's
/// ground truth), given the API's shape: every listing at its largest page (150); one `GET` per
/// conversation (its parts come with it) and per ticket; per contact its segments and its event
/// summary (the API has them only per contact); per company its notes listing. Notes and data
/// events count at full pages across contacts (a lower bound: a contact with two notes still
/// costs a request); attachment downloads are not budgeted.
pub fn intercom_min_requests(counts: &BTreeMap<String, u64>) -> u64 {
    let n = |kind: &str| counts.get(kind).copied().unwrap_or(0);
    let pages = |kind: &str| n(kind).div_ceil(INTERCOM_PAGE);
    let listed: u64 = [
        "admins",
        "teams",
        "tags",
        "segments",
        "data_attributes",
        "conversation_attributes",
        "companies",
        "contacts",
        "collections",
        "articles",
        "conversations",
        "tickets",
        "ticket_types",
        "brands",
        "office_hours_schedules",
        "macros",
        "contact_notes",
        "company_notes",
        "data_events",
    ]
    .iter()
    .map(|kind| pages(kind))
    .sum();
    listed + n("conversations") + n("tickets") + 2 * n("contacts") + n("companies")
}

/// The budget bound of a workspace at the given budgets.
pub fn budget_bound(
    intercom_counts: &BTreeMap<String, u64>,
    kustomer_created: &BTreeMap<String, u64>,
    intercom_per_window: u32,
    kustomer_per_min: u32,
    share: f64,
) -> BudgetBound {
    let intercom_requests = intercom_min_requests(intercom_counts);
    let kustomer_requests = kustomer_min_requests(kustomer_created);
    let intercom_per_sec = f64::from(intercom_per_window) / INTERCOM_WINDOW_SECS;
    let kustomer_per_sec = f64::from(kustomer_per_min) * share / 60.0;
    BudgetBound {
        intercom_requests,
        kustomer_requests,
        intercom_secs: intercom_requests as f64 / intercom_per_sec.max(f64::MIN_POSITIVE),
        kustomer_secs: kustomer_requests as f64 / kustomer_per_sec.max(f64::MIN_POSITIVE),
    }
}

/// The type of Kustomer record a create route makes (`POST /v1/customers/bulk` → `customers`).
fn created_type(route: &str) -> Option<&'static str> {
    let path = route.strip_prefix("POST ")?;
    let path = path.strip_suffix("/bulk").unwrap_or(path);
    Some(match path {
        "/v1/companies" => "companies",
        "/v1/customers" => "customers",
        "/v1/conversations" => "conversations",
        "/v1/messages" | "/v1/conversations/{id}/messages" => "messages",
        "/v1/notes" | "/v1/conversations/{id}/notes" => "notes",
        "/v1/klasses/{name}" => "kobjects",
        "/v1/attachments" => "attachments",
        "/v1/tracking/identityEvent" | "/v1/tracking/event" => "tracking_events",
        "/v1/kb/articles" => "kb_articles",
        "/v1/kb/categories" => "kb_categories",
        "/v1/shortcuts" => "shortcuts",
        "/v1/tags" => "tags",
        _ => return None,
    })
}

/// Records created per accepted create request, by type, from a Kustomer truth.
pub fn records_per_request(truth: &Value) -> BTreeMap<String, (u64, u64)> {
    let created = counts(&truth["counts"]);
    let mut requests: BTreeMap<String, u64> = BTreeMap::new();
    if let Some(routes) = truth["requests"].as_object() {
        for (route, stats) in routes {
            let Some(kind) = created_type(route) else {
                continue;
            };
            *requests.entry(kind.to_string()).or_default() += accepted(stats);
        }
    }
    requests
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(kind, n)| {
            let records = created.get(&kind).copied().unwrap_or(0);
            (kind, (records, n))
        })
        .collect()
}

/// The Kustomer requests that create nothing (bulk-job polls, lookups, updates, reads), by
/// route, most first: what stands between the requests sent and the bound.
pub fn requests_beside_creates(truth: &Value) -> Vec<(String, u64)> {
    let mut routes: Vec<(String, u64)> = truth["requests"]
        .as_object()
        .map(|routes| {
            routes
                .iter()
                .filter(|(route, _)| created_type(route).is_none())
                .map(|(route, stats)| (route.clone(), accepted(stats)))
                .filter(|(_, n)| *n > 0)
                .collect()
        })
        .unwrap_or_default();
    routes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    routes
}

/// Requests per second in each `step`-second window of a cumulative request count, from the
/// start: how fast a side got going.
pub fn paces(samples: &[(f64, u64)], step: f64, windows: usize) -> Vec<f64> {
    let at = |t: f64| {
        samples
            .iter()
            .take_while(|s| s.0 <= t)
            .last()
            .map_or(0, |s| s.1)
    };
    (0..windows)
        .map(|i| {
            let (from, to) = (i as f64 * step, (i + 1) as f64 * step);
            at(to).saturating_sub(at(from)) as f64 / step
        })
        .collect()
}

/// Requests per second of a cumulative request count in steady state: over the middle 80 % of
/// the requests (from the time the count passed 10 % of its total to the time it passed 90 %),
/// so the ramp-up and a tail (a last bulk job, verify's few reads long after extraction) do not
/// dilute it. `samples` are (seconds since the start, requests so far), in time order.
pub fn steady_rate(samples: &[(f64, u64)]) -> f64 {
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        return 0.0;
    };
    let total = last.1.saturating_sub(first.1);
    if total == 0 {
        return 0.0;
    }
    let passed = |share: u64| {
        let mark = first.1 + (total * share).div_ceil(10);
        samples.iter().find(|s| s.1 >= mark).copied()
    };
    let (Some(a), Some(b)) = (passed(1), passed(9)) else {
        return 0.0;
    };
    if b.0 <= a.0 {
        return 0.0;
    }
    (b.1 - a.1) as f64 / (b.0 - a.0)
}

/// The simulators of one run, served by a child `i2k sim` process. Dropping it kills the child.
struct ChildSims {
    child: Child,
    intercom_url: String,
    intercom_token: String,
    kustomer_url: String,
    kustomer_token: String,
}

impl ChildSims {
    /// Starts `i2k sim` with `flags`, its stderr into `log`, and waits for its first stdout line
    /// (the URLs and tokens) — a `large` workspace takes a while to generate.
    async fn start(
        size: SizePreset,
        seed: u64,
        flags: &[String],
        log: &Path,
    ) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("cannot find the i2k executable")?;
        let stderr = std::fs::File::create(log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let mut child = Command::new(exe)
            .arg("sim")
            .arg("--size")
            .arg(size.to_string())
            .arg("--seed")
            .arg(seed.to_string())
            .args(flags)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .context("cannot start the simulators (i2k sim)")?;
        let stdout = child.stdout.take().context("no stdout from i2k sim")?;
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            std::io::BufReader::new(stdout)
                .read_line(&mut line)
                .map(|_| line)
        })
        .await??;
        let mut sims = ChildSims {
            child,
            intercom_url: String::new(),
            intercom_token: String::new(),
            kustomer_url: String::new(),
            kustomer_token: String::new(),
        };
        let info: Value = serde_json::from_str(&line).with_context(|| {
            format!("i2k sim did not announce its URLs (see {})", log.display())
        })?;
        let field = |name: &str| info[name].as_str().map(str::to_string).unwrap_or_default();
        sims.intercom_url = field("intercom_url");
        sims.intercom_token = field("intercom_token");
        sims.kustomer_url = field("kustomer_url");
        sims.kustomer_token = field("kustomer_token");
        Ok(sims)
    }

    /// CPU time (user + system) the child has used so far, from `/proc/<pid>/stat`.
    fn cpu_secs(&self) -> f64 {
        process_cpu_secs(&format!("/proc/{}/stat", self.child.id()))
    }
}

impl Drop for ChildSims {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// utime + stime of a `/proc/<pid>/stat` file, in seconds (0 without procfs).
fn process_cpu_secs(stat_path: &str) -> f64 {
    let Ok(text) = std::fs::read_to_string(stat_path) else {
        return 0.0;
    };
    // The command name may hold spaces: the fields that follow it start after its ')'.
    let Some(rest) = text.rsplit_once(')').map(|(_, rest)| rest) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    // Fields 14 and 15 of stat(5); `rest` starts at field 3.
    (tick(11) + tick(12)) as f64 / hz
}

/// CPU time (user + system) of this process so far.
fn own_cpu_secs() -> f64 {
    // SAFETY: rusage is plain data, for which all zeroes is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable rusage.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0.0;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// Peak resident memory of this process in KiB: `VmHWM`, which [`reset_peak_rss`] resets
/// between runs, else `ru_maxrss`.
fn peak_rss_kib() -> u64 {
    match super::proc_status_kib("VmHWM") {
        0 => {
            // SAFETY: rusage is plain data, for which all zeroes is a valid value.
            let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
            // SAFETY: `usage` is a valid, writable rusage.
            if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
                return 0;
            }
            usage.ru_maxrss.max(0) as u64
        }
        kib => kib,
    }
}

/// Starts a new high-water mark for `VmHWM` (Linux: "5" to `/proc/self/clear_refs`), so the
/// engine-bound run's peak is its own. Where that fails the peak covers both runs.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Total size of the files under `path`.
fn dir_bytes(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// One engine run against child simulators.
#[derive(Debug, Clone, Default)]
pub struct RunFigures {
    pub wall_secs: f64,
    pub completed: bool,
    pub failed_records: u64,
    /// (seconds, Intercom requests, Kustomer requests) from the engine's snapshots.
    pub samples: Vec<(f64, u64, u64)>,
    pub peak_rss_kib: u64,
    pub i2k_cpu_secs: f64,
    pub sims_cpu_secs: f64,
    /// Ground truth: records per type in the Intercom workspace, created per type in Kustomer.
    pub source_counts: BTreeMap<String, u64>,
    pub kustomer_created: BTreeMap<String, u64>,
    pub kustomer_truth: Value,
    pub intercom_requests: u64,
    pub intercom_throttled: u64,
    pub kustomer_requests: u64,
    pub kustomer_throttled: u64,
    pub ledger_bytes: u64,
    pub attachment_bytes: u64,
    /// The rest of the state directory: the ledger's backups, the archive, the report.
    pub other_bytes: u64,
}

impl RunFigures {
    pub fn source_records(&self) -> u64 {
        self.source_counts.values().sum()
    }

    /// What the run did not finish, as a note for its figures' line (empty: all of it).
    fn shortfall(&self) -> String {
        if self.completed && self.failed_records == 0 {
            String::new()
        } else {
            format!(
                " (completed: {}, failed records: {})",
                self.completed, self.failed_records
            )
        }
    }

    pub fn kustomer_records(&self) -> u64 {
        self.kustomer_created.values().sum()
    }

    fn side(&self, kustomer: bool) -> Vec<(f64, u64)> {
        self.samples
            .iter()
            .map(|&(t, i, k)| (t, if kustomer { k } else { i }))
            .collect()
    }
}

/// Runs the whole migration headless with `--accept-defaults` against simulators started with
/// `sim_flags`, the state in `dir_name` under the work directory, as `i2k run` would.
async fn engine_run(
    label: &str,
    options: &ScaleOptions,
    sim_flags: &[String],
    kustomer_rate: u32,
    dir_name: &str,
) -> anyhow::Result<RunFigures> {
    let state_dir = &options.work_dir.join(dir_name);
    std::fs::create_dir_all(state_dir)?;
    let sims = ChildSims::start(
        options.size,
        options.seed,
        sim_flags,
        &state_dir.join("sims.log"),
    )
    .await?;
    let config = EngineConfig {
        state_dir: state_dir.join("state"),
        intercom_url: sims.intercom_url.clone(),
        intercom_token: Secret::new(sims.intercom_token.clone()),
        kustomer_url: sims.kustomer_url.clone(),
        kustomer_token: Secret::new(sims.kustomer_token.clone()),
        kustomer_rate,
        rate_share: RATE_SHARE,
        only: Vec::new(),
        accept_defaults: true,
        workflow_ids: vec!["1".to_string()],
        options: LoadOptions::default(),
    };
    reset_peak_rss();
    let cpu_before = own_cpu_secs();
    let sims_cpu_before = sims.cpu_secs();
    let started = Instant::now();
    let handle = crate::engine::runner::start(config).await?;
    let (mut snapshots, mut events, _commands, mut task) = handle.split();
    let mut samples = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut last_note = Instant::now();
    let outcome = loop {
        tokio::select! {
            joined = &mut task => break joined,
            // Events are drained as the console or headless output would, so they do not pile
            // up in the channel and count against the run's memory.
            Some(_) = events.recv() => {}
            _ = tick.tick() => {
                let s = snapshots.borrow_and_update();
                let t = started.elapsed().as_secs_f64();
                samples.push((t, s.intercom.requests, s.kustomer.requests));
                // A long run says now and then that it is alive, on stderr, off the table.
                if last_note.elapsed() >= PROGRESS_NOTE {
                    last_note = Instant::now();
                    eprintln!(
                        "  {label} {t:.0} s: Intercom {} requests, Kustomer {}; {}",
                        s.intercom.requests, s.kustomer.requests, s.activity
                    );
                }
            }
        }
    };
    let wall_secs = started.elapsed().as_secs_f64();
    {
        let s = snapshots.borrow();
        samples.push((wall_secs, s.intercom.requests, s.kustomer.requests));
    }
    let peak_rss_kib = peak_rss_kib();
    let i2k_cpu_secs = own_cpu_secs() - cpu_before;
    let sims_cpu_secs = sims.cpu_secs() - sims_cpu_before;
    let outcome =
        outcome.map_err(|e| anyhow::anyhow!("the engine stopped unexpectedly: {e}"))??;
    let (completed, failed_records) = match &outcome {
        RunOutcome::Completed(s) => (true, s.phases.iter().map(|p| p.failed).sum()),
        RunOutcome::Cancelled(s) => (false, s.phases.iter().map(|p| p.failed).sum()),
        RunOutcome::NeedsDecisions(_) => (false, 0),
    };
    let get = |url: String| async move {
        anyhow::Ok(
            reqwest::get(url)
                .await?
                .error_for_status()?
                .json::<Value>()
                .await?,
        )
    };
    let intercom_truth = get(format!("{}/__sim/truth", sims.intercom_url)).await?;
    let intercom_served = get(format!("{}/__sim/requests", sims.intercom_url)).await?;
    let kustomer_truth = get(format!("{}/__sim/truth", sims.kustomer_url)).await?;
    drop(sims);
    let (kustomer_requests, kustomer_throttled) = super::request_totals(&kustomer_truth);
    let state = state_dir.join("state");
    let attachment_bytes = dir_bytes(&state.join("attachments"));
    // The ledger is `ledger.db` with its WAL and shared-memory files beside it.
    let ledger_bytes = std::fs::read_dir(&state)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("ledger.db"))
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    Ok(RunFigures {
        wall_secs,
        completed,
        failed_records,
        samples,
        peak_rss_kib,
        i2k_cpu_secs,
        sims_cpu_secs,
        source_counts: counts(&intercom_truth["counts"]),
        kustomer_created: counts(&kustomer_truth["counts"]),
        intercom_requests: intercom_served["count"].as_u64().unwrap_or(0),
        intercom_throttled: intercom_served["throttled"].as_u64().unwrap_or(0),
        kustomer_requests,
        kustomer_throttled,
        ledger_bytes,
        attachment_bytes,
        other_bytes: dir_bytes(&state).saturating_sub(attachment_bytes + ledger_bytes),
        kustomer_truth,
    })
}

/// Everything `i2k bench --size medium|large` prints.
#[derive(Debug, Clone)]
pub struct ScaleReport {
    pub size: SizePreset,
    pub latency_ms: u64,
    pub budget: Option<RunFigures>,
    pub unlimited: Option<RunFigures>,
    pub extraction: Option<BenchFigures>,
    /// Runs that failed, with their error: the other runs' figures are printed all the same.
    pub failures: Vec<String>,
    pub elapsed_secs: f64,
}

fn mark(ok: bool) -> &'static str {
    super::mark(ok)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

impl ScaleReport {
    /// One line per figure, each with its target where the issue sets one.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = self.extraction_lines();
        lines.extend(self.budget_lines());
        lines.extend(self.unlimited_lines());
        lines.extend(self.failures.iter().cloned());
        lines.push(format!("bench took {:.1} s", self.elapsed_secs));
        lines
    }

    fn extraction_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(e) = &self.extraction {
            lines.push(format!(
                "extraction alone at {} per 10 s: {:.2} of allowed during per-conversation retrieval (≥ 0.90 {})",
                e.limit_per_window,
                e.conversation_budget_ratio,
                mark(e.conversation_budget_ratio >= EFFICIENCY_TARGET)
            ));
            lines.extend(
                e.lines()
                    .into_iter()
                    .map(|l| format!("  {}", l.trim_start())),
            );
        }
        lines
    }

    fn budget_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(r) = &self.budget {
            let bound = budget_bound(
                &r.source_counts,
                &r.kustomer_created,
                INTERCOM_BUDGET_PER_WINDOW,
                KUSTOMER_BUDGET_PER_MIN,
                RATE_SHARE,
            );
            let efficiency = bound.secs() / r.wall_secs.max(0.001);
            let records = r.source_records().max(1) as f64;
            lines.extend([
                format!(
                    "budget-bound run ({} source records → {} Kustomer records, latency {} ms): wall {:.1} s{}",
                    r.source_records(),
                    r.kustomer_records(),
                    self.latency_ms,
                    r.wall_secs,
                    r.shortfall()
                ),
                format!(
                    "efficiency: bound {:.1} s ÷ wall {:.1} s = {:.2} (≥ 0.90 {})",
                    bound.secs(),
                    r.wall_secs,
                    efficiency,
                    mark(efficiency >= EFFICIENCY_TARGET)
                ),
                format!(
                    "  Intercom bound: {} requests ÷ {}/10 s = {:.1} s; Kustomer bound: {} requests ÷ ({}/min × {:.1}) = {:.1} s",
                    bound.intercom_requests,
                    INTERCOM_BUDGET_PER_WINDOW,
                    bound.intercom_secs,
                    bound.kustomer_requests,
                    KUSTOMER_BUDGET_PER_MIN,
                    RATE_SHARE,
                    bound.kustomer_secs
                ),
                format!(
                    "requests per second in steady state: Intercom {:.0} (budget {:.0}), Kustomer {:.1} (budget × share {:.1})",
                    steady_rate(&r.side(false)),
                    f64::from(INTERCOM_BUDGET_PER_WINDOW) / INTERCOM_WINDOW_SECS,
                    steady_rate(&r.side(true)),
                    f64::from(KUSTOMER_BUDGET_PER_MIN) * RATE_SHARE / 60.0
                ),
                format!(
                    "  requests sent: Intercom {} (bound {}), Kustomer {} (bound {})",
                    r.intercom_requests,
                    bound.intercom_requests,
                    r.kustomer_requests,
                    bound.kustomer_requests
                ),
                format!(
                    "  Kustomer requests per second, first 30-s windows: {}",
                    paces(&r.side(true), 30.0, 6)
                        .iter()
                        .map(|p| format!("{p:.0}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                format!(
                    "  Kustomer requests that create nothing: {}",
                    requests_beside_creates(&r.kustomer_truth)
                        .iter()
                        .take(8)
                        .map(|(route, n)| format!("{route} {n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                format!(
                    "429s: Intercom {} of {}, Kustomer {} of {}",
                    r.intercom_throttled,
                    r.intercom_requests,
                    r.kustomer_throttled,
                    r.kustomer_requests
                ),
                format!(
                    "records per Kustomer create request: {}",
                    records_per_request(&r.kustomer_truth)
                        .iter()
                        .map(|(kind, (records, requests))| format!(
                            "{kind} {:.1} ({records}/{requests})",
                            *records as f64 / (*requests).max(1) as f64
                        ))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                format!(
                    "peak RSS of i2k (simulators not counted): {:.1} MiB (≤ {PEAK_RSS_TARGET_MIB:.0} MiB on large {}); i2k CPU {:.1} s, simulators' CPU {:.1} s",
                    mib(r.peak_rss_kib),
                    mark(mib(r.peak_rss_kib) <= PEAK_RSS_TARGET_MIB),
                    r.i2k_cpu_secs,
                    r.sims_cpu_secs
                ),
                format!(
                    "disk per source record: ledger {:.0} B, attachments {:.0} B ({:.1} MiB and {:.1} MiB in all; backups, archive and report {:.1} MiB more)",
                    r.ledger_bytes as f64 / records,
                    r.attachment_bytes as f64 / records,
                    r.ledger_bytes as f64 / 1048576.0,
                    r.attachment_bytes as f64 / 1048576.0,
                    r.other_bytes as f64 / 1048576.0
                ),
            ]);
        }
        lines
    }

    fn unlimited_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(u) = &self.unlimited {
            let per_sec = u.kustomer_records() as f64 / u.wall_secs.max(0.001);
            lines.extend([
                format!(
                    "engine-bound: {:.0} Kustomer records/s ({} records in {:.1} s; budgets unlimited, no latency, no bulk delay) (≥ {ENGINE_BOUND_TARGET:.0} {}){}",
                    per_sec,
                    u.kustomer_records(),
                    u.wall_secs,
                    mark(per_sec >= ENGINE_BOUND_TARGET),
                    u.shortfall()
                ),
                format!(
                    "  i2k CPU {:.1} s, simulators' CPU {:.1} s (children, not in i2k's figures); {:.0} source records/s; peak RSS {:.1} MiB; requests: Intercom {}, Kustomer {}",
                    u.i2k_cpu_secs,
                    u.sims_cpu_secs,
                    u.source_records() as f64 / u.wall_secs.max(0.001),
                    mib(u.peak_rss_kib),
                    u.intercom_requests,
                    u.kustomer_requests
                ),
            ]);
        }
        lines
    }
}

/// Runs the `medium`/`large` benchmark: the budget-bound run, then the engine-bound run; or,
/// with `extraction_only`, the extraction alone at Intercom's 60,000/min. Each run's lines go to
/// `emit` as soon as it ends, and a failed run does not keep the next from running: on `large` a
/// run takes hours, and what one measured is not to be lost to the other.
pub async fn run_scale(
    options: &ScaleOptions,
    emit: &mut dyn FnMut(&str),
) -> anyhow::Result<ScaleReport> {
    let started = Instant::now();
    let mut report = ScaleReport {
        size: options.size,
        latency_ms: options.latency_ms,
        budget: None,
        unlimited: None,
        extraction: None,
        failures: Vec::new(),
        elapsed_secs: 0.0,
    };
    // On `large` the budget-bound run would take hours (its bound alone is ≈ 2.8 h at 6,000/min):
    // the targets there are the extraction at Intercom's budget and the engine-bound
    // figures, so `large` measures those unless `--budget-run` asks for the full run as well.
    let extraction =
        options.extraction_only || (options.size == SizePreset::Large && !options.budget_run);
    if extraction {
        let flags = vec![
            "--intercom-rate".to_string(),
            INTERCOM_BUDGET_PER_WINDOW.to_string(),
            "--latency-ms".to_string(),
            options.latency_ms.to_string(),
        ];
        let run = extraction_run(options, &flags).await;
        let lines = ScaleReport::extraction_lines;
        record(
            &mut report,
            "extraction",
            run,
            |r| &mut r.extraction,
            lines,
            emit,
        );
    }
    if !extraction {
        let flags = vec![
            "--intercom-rate".to_string(),
            INTERCOM_BUDGET_PER_WINDOW.to_string(),
            "--kustomer-rate".to_string(),
            KUSTOMER_BUDGET_PER_MIN.to_string(),
            "--latency-ms".to_string(),
            options.latency_ms.to_string(),
        ];
        let label = "budget-bound run";
        let run = engine_run(label, options, &flags, KUSTOMER_BUDGET_PER_MIN, "budget").await;
        let lines = ScaleReport::budget_lines;
        record(&mut report, label, run, |r| &mut r.budget, lines, emit);
    }
    if !options.extraction_only {
        let flags = vec![
            "--intercom-rate".to_string(),
            UNLIMITED_INTERCOM_PER_WINDOW.to_string(),
            "--kustomer-rate".to_string(),
            UNLIMITED_KUSTOMER_PER_MIN.to_string(),
            "--latency-ms".to_string(),
            "0".to_string(),
            "--bulk-delay-ms".to_string(),
            "0".to_string(),
        ];
        let label = "engine-bound run";
        let run = engine_run(
            label,
            options,
            &flags,
            UNLIMITED_KUSTOMER_PER_MIN,
            "unlimited",
        );
        let lines = ScaleReport::unlimited_lines;
        record(
            &mut report,
            label,
            run.await,
            |r| &mut r.unlimited,
            lines,
            emit,
        );
    }
    report.elapsed_secs = started.elapsed().as_secs_f64();
    emit(&format!("bench took {:.1} s", report.elapsed_secs));
    Ok(report)
}

/// Says that `run` failed, and keeps it for the report's lines.
/// Keeps a run's figures in the report (`slot`) and prints its lines, or says that it failed.
fn record<T>(
    report: &mut ScaleReport,
    run: &str,
    result: anyhow::Result<T>,
    slot: fn(&mut ScaleReport) -> &mut Option<T>,
    lines: fn(&ScaleReport) -> Vec<String>,
    emit: &mut dyn FnMut(&str),
) {
    match result {
        Ok(figures) => {
            *slot(report) = Some(figures);
            lines(report).iter().for_each(|l| emit(l));
        }
        Err(e) => failed(report, run, e, emit),
    }
}

fn failed(report: &mut ScaleReport, run: &str, e: anyhow::Error, emit: &mut dyn FnMut(&str)) {
    let line = format!("{run} failed ✗: {e:#}");
    emit(&line);
    report.failures.push(line);
}

/// The extraction alone against a child Intercom simulator started with `flags`.
async fn extraction_run(options: &ScaleOptions, flags: &[String]) -> anyhow::Result<BenchFigures> {
    let dir = options.work_dir.join("extraction");
    std::fs::create_dir_all(&dir)?;
    let sims = ChildSims::start(options.size, options.seed, flags, &dir.join("sims.log")).await?;
    extraction_figures(
        &options.size.to_string(),
        &sims.intercom_url,
        &sims.intercom_token,
        INTERCOM_BUDGET_PER_WINDOW,
        &dir.join("state"),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn kustomer_bound_batches_bulk_types_and_counts_the_rest_one_by_one() {
        let created = map(&[
            ("customers", 10_000),
            ("conversations", 20_001),
            ("messages", 99),
            ("attachments", 10_700),
            ("tracking_events", 30_000),
            ("kb_articles", 5),
            ("notes", 0),
        ]);
        // 100 + 201 + 1 bulk requests, then one per upload, event and article.
        assert_eq!(kustomer_min_requests(&created), 302 + 10_700 + 30_000 + 5);
    }

    #[test]
    fn intercom_bound_pages_listings_and_reads_each_conversation() {
        let counts = map(&[
            ("contacts", 300),
            ("companies", 151),
            ("conversations", 1_000),
            ("conversation_parts", 12_000),
            ("attachments", 40),
            ("admins", 15),
        ]);
        // Listings: 2 + 2 + 7 + 1 pages; GETs: 1,000 conversations, 2 × 300 contacts, 151
        // company notes listings. Parts and files cost nothing of the budget.
        assert_eq!(intercom_min_requests(&counts), 12 + 1_000 + 600 + 151);
    }

    #[test]
    fn budget_bound_is_the_slower_side_at_its_budget() {
        let intercom = map(&[("conversations", 60_000)]);
        let kustomer = map(&[("tracking_events", 4_800)]);
        let bound = budget_bound(&intercom, &kustomer, 10_000, 6_000, 0.8);
        assert_eq!(bound.intercom_requests, 60_000 + 400);
        assert!((bound.intercom_secs - 60.4).abs() < 1e-9);
        // 4,800 requests at 6,000 × 0.8 = 4,800 per minute.
        assert!((bound.kustomer_secs - 60.0).abs() < 1e-9);
        assert!((bound.secs() - 60.4).abs() < 1e-9);
    }

    #[test]
    fn paces_are_requests_per_second_of_each_window() {
        let samples = [(0.0, 0), (10.0, 100), (20.0, 400), (30.0, 400)];
        assert_eq!(paces(&samples, 10.0, 4), vec![10.0, 30.0, 0.0, 0.0]);
    }

    #[test]
    fn requests_beside_creates_leave_the_creates_out() {
        let routes = requests_beside_creates(&super::super::tests::kustomer_truth());
        assert_eq!(routes, vec![("GET /v1/bulk/{id}".to_string(), 7)]);
    }

    #[test]
    fn records_per_request_join_bulk_and_single_routes_of_a_type() {
        let per = records_per_request(&super::super::tests::kustomer_truth());
        assert_eq!(per.get("customers"), Some(&(250, 12)));
        assert_eq!(per.get("attachments"), Some(&(7, 7)));
        assert_eq!(per.len(), 2);
    }

    #[test]
    fn steady_rate_leaves_out_ramp_and_tail() {
        // Idle for 10 s, then 100 requests/s for 100 s, then idle for 1,000 s but for one
        // request at the very end (as verify reads Intercom long after the extraction).
        let mut samples: Vec<(f64, u64)> = (0..10).map(|t| (f64::from(t), 0)).collect();
        samples.extend((10..=110).map(|t| (f64::from(t), u64::from(t as u32 - 10) * 100)));
        samples.extend((111..1110).map(|t| (f64::from(t), 10_000)));
        samples.push((1110.0, 10_001));
        assert!((steady_rate(&samples) - 100.0).abs() < 1e-9);
        assert_eq!(steady_rate(&[]), 0.0);
        assert_eq!(steady_rate(&[(0.0, 5), (1.0, 5)]), 0.0);
    }

    #[test]
    fn cpu_time_is_read_after_the_command_name() {
        let dir = std::env::temp_dir().join(format!("i2k-stat-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("stat");
        // Fields 14 and 15 (utime, stime) are 300 and 200 ticks; the name holds a space and ')'.
        let fields: Vec<String> = (3..=20)
            .map(|i| match i {
                14 => "300".to_string(),
                15 => "200".to_string(),
                _ => "0".to_string(),
            })
            .collect();
        std::fs::write(&path, format!("42 (i2k s)m) {}", fields.join(" "))).unwrap();
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        assert!((process_cpu_secs(path.to_str().unwrap()) - 500.0 / hz).abs() < 1e-9);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
