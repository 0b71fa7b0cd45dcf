//! Shared by integration tests: both simulators served over loopback HTTP, an engine
//! configuration pointing at them, private temporary state directories, and the simulators'
//! ground truth; [`people`] sets up one phase's run context instead of the whole engine.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use i2k::engine::context::{EngineConfig, LoadOptions};
use i2k::engine::handle::RunOutcome;
use i2k::engine::runner;
use i2k::http::Secret;
use i2k::sim::{SimHandle, SizePreset, intercom, kustomer};
use serde_json::Value;

pub mod console;
pub mod people;

pub const SEED: u64 = 7;

pub struct Sims {
    pub intercom: SimHandle,
    pub kustomer: SimHandle,
    pub seed: u64,
    pub size: SizePreset,
    /// The budget the Kustomer simulator enforces per minute (tests use a high one to stay fast).
    pub kustomer_rate: u32,
}

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().expect("loopback address")
}

/// Both simulators with test-friendly defaults: a generous Kustomer budget and quick bulk jobs.
pub async fn sims(size: SizePreset) -> Sims {
    sims_with(size, |_, _| {}).await
}

/// As [`sims`], after `tweak` adjusts either configuration (faults, rates, delays…).
pub async fn sims_with(
    size: SizePreset,
    tweak: impl FnOnce(&mut intercom::Config, &mut kustomer::Config),
) -> Sims {
    let mut ic = intercom::Config::new(SEED, size);
    ic.rate_per_window = 100_000;
    ic.fault_hang = Duration::from_secs(3);
    let mut kc = kustomer::Config::new(SEED, intercom::admin_identities(SEED, size));
    kc.rate_per_minute = 600_000;
    kc.bulk_delay_max = Duration::from_millis(60);
    kc.indexing_delay = Duration::from_secs(120);
    kc.fault_hang = Duration::from_secs(3);
    tweak(&mut ic, &mut kc);
    let kustomer_rate = kc.rate_per_minute;
    let intercom = intercom::spawn(ic, loopback())
        .await
        .expect("Intercom simulator starts");
    let kustomer = kustomer::spawn(kc, loopback())
        .await
        .expect("Kustomer simulator starts");
    Sims {
        intercom,
        kustomer,
        seed: SEED,
        size,
        kustomer_rate,
    }
}

/// A fresh private state directory for one test.
pub fn temp_state(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "i2k-test-{name}-{}-{}",
        std::process::id(),
        i2k::rng::Rng::from_entropy().hex(4)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// An engine configuration against `sims`, taking defaults for every decision.
pub fn engine_config(sims: &Sims, state_dir: PathBuf) -> EngineConfig {
    EngineConfig {
        state_dir,
        intercom_url: sims.intercom.url.clone(),
        intercom_token: Secret::new(sims.intercom.token.clone()),
        kustomer_url: sims.kustomer.url.clone(),
        kustomer_token: Secret::new(sims.kustomer.token.clone()),
        kustomer_rate: sims.kustomer_rate,
        rate_share: 0.8,
        only: Vec::new(),
        accept_defaults: true,
        workflow_ids: Vec::new(),
        options: LoadOptions::default(),
    }
}

/// Starts a run, retrying while the previous run's ledger lock is still being released.
pub async fn run_engine(config: EngineConfig) -> RunOutcome {
    let mut last_error = None;
    for _ in 0..50 {
        match runner::start(config.clone()).await {
            Ok(handle) => return handle.wait().await.expect("the run ends without an error"),
            Err(e) => {
                last_error = Some(e);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    panic!("the engine did not start: {last_error:?}");
}

/// Sets (`Some(rule)`: `{"path", "method", "status"}`) or clears (`None`) the fault a simulator
/// answers with (`/__sim/fail`).
pub async fn sim_fail(base: &str, rule: Option<Value>) {
    let client = reqwest::Client::new();
    let url = format!("{base}/__sim/fail");
    let status = match rule {
        Some(rule) => client.post(url).json(&rule).send().await,
        None => client.delete(url).send().await,
    }
    .unwrap()
    .status();
    assert!(status.is_success(), "{status}");
}

/// `GET {path}` on the Intercom simulator's API (the ground truth of the source side).
pub async fn intercom_get(sims: &Sims, path: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{}{path}", sims.intercom.url))
        .bearer_auth(&sims.intercom.token)
        .send()
        .await
        .expect("the Intercom simulator answers")
        .json()
        .await
        .expect("Intercom answers JSON")
}

/// `GET {base}/__sim/truth`.
pub async fn truth(base: &str) -> Value {
    reqwest::get(format!("{base}/__sim/truth"))
        .await
        .expect("truth route answers")
        .json()
        .await
        .expect("truth is JSON")
}

/// The ground truth's `counts` (what i2k created), by type.
pub fn truth_counts(truth: &Value) -> std::collections::BTreeMap<String, u64> {
    truth["counts"]
        .as_object()
        .expect("truth has counts")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
        .collect()
}

/// Whether the ground truth lists no externalId stored twice.
pub fn no_duplicates(truth: &Value) -> bool {
    truth["duplicates"].as_object().is_none_or(|d| d.is_empty())
}

/// `GET {base}/__sim/records/{kind}` on the Kustomer simulator.
pub async fn records(base: &str, kind: &str) -> Value {
    reqwest::get(format!("{base}/__sim/records/{kind}"))
        .await
        .expect("records route answers")
        .json()
        .await
        .expect("records are JSON")
}

/// Runs the binary against `sims` on the state directory `home/state-dir`, with a clean
/// environment: private XDG directories (no config file), the simulators' tokens.
pub async fn i2k(sims: &Sims, home: &Path, args: &[&str]) -> std::process::Output {
    i2k_with_env(sims, home, args, &[]).await
}

/// As [`i2k`], with `env` added to the environment.
pub async fn i2k_with_env(
    sims: &Sims,
    home: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> std::process::Output {
    let mut cmd = i2k_command(sims, &state_dir(home), home, args);
    for (key, value) in env {
        cmd.env(key, value);
    }
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

/// `i2k ARGS --state STATE` against `sims`, with their tokens and private XDG directories under
/// `home` (no config file), not yet started.
pub fn i2k_command(sims: &Sims, state: &Path, home: &Path, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_i2k"));
    cmd.args(args)
        .arg("--state")
        .arg(state)
        .args(["--intercom-url", &sims.intercom.url])
        .args(["--kustomer-url", &sims.kustomer.url])
        .env("INTERCOM_TOKEN", &sims.intercom.token)
        .env("KUSTOMER_API_KEY", &sims.kustomer.token)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("xdg-state"))
        .env("NO_COLOR", "1");
    cmd
}

pub fn state_dir(home: &Path) -> PathBuf {
    home.join("state-dir")
}

/// An exit code and both outputs, for assertion messages.
pub fn text(out: &std::process::Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The README's text after `heading` (panics, naming it, when the README has no such heading).
pub fn readme_section(heading: &str) -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    readme
        .split(heading)
        .nth(1)
        .unwrap_or_else(|| panic!("README has no {heading:?} section"))
        .to_string()
}

/// `run --headless` at an unlimited Kustomer rate with the defaults accepted, then `more`.
pub fn run_args<'a>(more: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "run",
        "--headless",
        "--kustomer-rate",
        "600000",
        "--accept-defaults",
    ];
    args.extend_from_slice(more);
    args
}

/// `POST /__sim/advance` on the Intercom simulator with `amounts`: its answer (`at`, `changes`).
pub async fn advance(sims: &Sims, amounts: Value) -> Value {
    reqwest::Client::new()
        .post(format!("{}/__sim/advance", sims.intercom.url))
        .json(&amounts)
        .send()
        .await
        .expect("advance answers")
        .json()
        .await
        .expect("advance is JSON")
}
