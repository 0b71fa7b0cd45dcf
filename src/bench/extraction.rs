//! The extraction figure: how much of Intercom's budget one whole extraction uses. It lives with
//! the benchmark rather than in the engine so that the engine never names the simulators; it
//! drives the engine's own [`extract`] as a run would.

use std::path::Path;

use serde_json::Value;

use crate::engine::control::Control;
use crate::engine::extract::{ExtractOptions, extract};
use crate::intercom::IntercomClient;
use crate::ledger::Ledger;

/// Figures of one benchmarked extraction against an Intercom simulator.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchFigures {
    pub size: String,
    pub limit_per_window: u32,
    pub window_secs: u32,
    pub requests: u64,
    pub elapsed_secs: f64,
    /// Requests of the per-conversation retrieval stage and its duration.
    pub conversation_requests: u64,
    pub conversation_secs: f64,
    /// Budget used ÷ allowed during per-conversation retrieval (the target is ≥ 0.9).
    pub conversation_budget_ratio: f64,
    /// Budget used ÷ allowed over the whole extraction.
    pub overall_budget_ratio: f64,
    /// Requests the simulator answered 429 (pacing should keep this at 0).
    pub throttled: u64,
    /// Whether `plan` counts equal the simulator's ground truth for every type.
    pub counts_match_truth: bool,
}

impl BenchFigures {
    pub fn lines(&self) -> Vec<String> {
        vec![
            format!(
                "extraction ({}): {} requests in {:.1} s at {} per {} s",
                self.size,
                self.requests,
                self.elapsed_secs,
                self.limit_per_window,
                self.window_secs
            ),
            format!(
                "  per-conversation retrieval: {} requests in {:.1} s, budget used ÷ allowed = {:.2}",
                self.conversation_requests, self.conversation_secs, self.conversation_budget_ratio
            ),
            format!(
                "  whole extraction: budget used ÷ allowed = {:.2}; 429s: {}; counts match the ground truth: {}",
                self.overall_budget_ratio, self.throttled, self.counts_match_truth
            ),
        ]
    }
}

/// Extracts a generated workspace of `size` from an in-process simulator allowing
/// `rate_per_window` requests per 10 s, into a ledger in `state_dir`, and reports how much of the
/// budget the extraction used (`i2k bench` prints it).
pub async fn bench_extraction(
    size: crate::sim::SizePreset,
    seed: u64,
    rate_per_window: u32,
    state_dir: &Path,
) -> anyhow::Result<BenchFigures> {
    let mut config = crate::sim::intercom::Config::new(seed, size);
    config.rate_per_window = rate_per_window;
    let sim = crate::sim::intercom::spawn(config, std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .await?;
    let figures = extraction_figures(
        &size.to_string(),
        &sim.url,
        &sim.token,
        rate_per_window,
        state_dir,
    )
    .await;
    sim.shutdown().await;
    figures
}

/// Extracts the workspace an Intercom simulator at `url` serves (in this process or a child:
/// only its HTTP routes are used) into a ledger in `state_dir`, and measures the budget used
/// against `rate_per_window`, the limit the simulator was started with.
pub async fn extraction_figures(
    size: &str,
    url: &str,
    token: &str,
    rate_per_window: u32,
    state_dir: &Path,
) -> anyhow::Result<BenchFigures> {
    let client = IntercomClient::connect(
        url,
        crate::http::Secret::new(token.to_string()),
        rate_per_window,
    )?;
    let ledger = Ledger::open(state_dir)?;
    let summary = extract(
        &client,
        &ledger,
        &ExtractOptions::for_state_dir(state_dir),
        &Control::new(),
        None,
    )
    .await?;
    let window = client.gate().window().as_secs_f64();
    let allowed = |secs: f64| (secs / window * f64::from(rate_per_window)).max(1.0);
    let (counts, unused) = ledger.read(crate::engine::plan::counts_from_ledger)?;
    let plan = crate::engine::plan::build_plan(&counts, unused, 1000, 1.0);
    let truth: Value = reqwest::get(format!("{url}/__sim/truth"))
        .await?
        .json()
        .await?;
    let counts_match_truth = plan
        .types
        .iter()
        .all(|row| truth["counts"][&row.object].as_u64() == Some(row.count));
    let served: Value = reqwest::get(format!("{url}/__sim/requests"))
        .await?
        .json()
        .await?;
    Ok(BenchFigures {
        size: size.to_string(),
        limit_per_window: rate_per_window,
        window_secs: window as u32,
        requests: summary.requests,
        elapsed_secs: summary.elapsed.as_secs_f64(),
        conversation_requests: summary.conversation_requests,
        conversation_secs: summary.conversation_elapsed.as_secs_f64(),
        conversation_budget_ratio: summary.conversation_requests as f64
            / allowed(summary.conversation_elapsed.as_secs_f64()),
        overall_budget_ratio: summary.requests as f64 / allowed(summary.elapsed.as_secs_f64()),
        throttled: served["throttled"].as_u64().unwrap_or(0),
        counts_match_truth,
    })
}
