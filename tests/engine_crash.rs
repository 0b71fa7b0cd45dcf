//! Crash safety of the real binary: `i2k run --headless` against simulators served by this test
//! process is killed with SIGKILL at random moments (during extraction, customers,
//! conversations…), started again until it completes, and the Kustomer org it leaves behind is
//! compared with the one an uninterrupted run (same seed) leaves: same counts, no duplicates.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use i2k::sim::SizePreset;
use serde_json::Value;

fn i2k_run(sims: &common::Sims, state: &Path, config_home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_i2k"));
    cmd.args(["run", "--headless", "--accept-defaults", "--state"])
        .arg(state)
        .args(["--intercom-url", &sims.intercom.url])
        .args(["--kustomer-url", &sims.kustomer.url])
        .args(["--kustomer-rate", &sims.kustomer_rate.to_string()])
        .env("INTERCOM_TOKEN", &sims.intercom.token)
        .env("KUSTOMER_API_KEY", &sims.kustomer.token)
        .env("XDG_CONFIG_HOME", config_home)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Waits for the child off the runtime's worker threads.
async fn finish(child: Child) -> std::process::Output {
    tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap()
}

/// Runs to the end. Exit 4 (outcomes unknown) is a completion too: a run killed while a
/// tracking event was in flight leaves it `sent`, and Kustomer has no lookup for tracking events,
/// so the next run marks it unknown rather than risk sending it twice. The caller holds the
/// report to that.
async fn run_to_completion(sims: &common::Sims, state: &Path, config_home: &Path) {
    let out = finish(i2k_run(sims, state, config_home).spawn().unwrap()).await;
    assert!(
        out.status.success() || out.status.code() == Some(4),
        "i2k run exited {:?}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_at_random_moments_finishes_like_an_uninterrupted_one() {
    let config_home = common::temp_state("crash-config");

    let reference_sims = common::sims(SizePreset::Tiny).await;
    let reference_state = common::temp_state("crash-reference");
    let started = Instant::now();
    run_to_completion(&reference_sims, &reference_state, &config_home).await;
    let uninterrupted = started.elapsed();
    eprintln!("uninterrupted run: {:.1} s", uninterrupted.as_secs_f64());
    let reference = common::truth(&reference_sims.kustomer.url).await;
    assert!(
        common::no_duplicates(&reference),
        "{}",
        reference["duplicates"]
    );

    let sims = common::sims(SizePreset::Tiny).await;
    let state = common::temp_state("crash-killed");
    // Kill points spread over a run's life: early (extraction), then later and later (people,
    // conversations, extras). Random within each band; printed so a failure can be replayed.
    let mut rng = i2k::rng::Rng::from_entropy();
    let span = uninterrupted.as_millis().max(1000) as u64;
    let bands = [(5, 15), (20, 40), (45, 70), (70, 95)];
    let mut kills = Vec::new();
    for (lo, hi) in bands {
        let delay = Duration::from_millis(rng.range(span * lo / 100, span * hi / 100));
        let mut child = i2k_run(&sims, &state, &config_home).spawn().unwrap();
        tokio::time::sleep(delay).await;
        let still_running = child.try_wait().unwrap().is_none();
        // SIGKILL: no destructor, no flush, no Ctrl-C handler.
        let _ = child.kill();
        let out = finish(child).await;
        kills.push((delay, still_running));
        eprintln!(
            "killed after {} ms (still running: {still_running}, status {:?})",
            delay.as_millis(),
            out.status
        );
    }
    assert!(
        kills.iter().any(|(_, running)| *running),
        "no run was interrupted: {kills:?}"
    );
    run_to_completion(&sims, &state, &config_home).await;
    let after_kills = common::truth(&sims.kustomer.url).await;
    assert!(
        common::no_duplicates(&after_kills),
        "duplicates after kills at {kills:?}: {}",
        after_kills["duplicates"]
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("report.json")).unwrap()).unwrap();
    let mut unknown_events = 0;
    for row in report["rows"].as_array().unwrap() {
        assert_eq!(row["not_loaded"], 0, "{row}");
        assert_eq!(row["failed"], 0, "{row}");
        let unknown = row["unknown"].as_u64().unwrap_or(0);
        if row["object"] == "data_events" {
            unknown_events = unknown;
        } else {
            assert_eq!(unknown, 0, "only tracking events lack a lookup: {row}");
        }
    }
    // A tracking event of unknown outcome was sent once: it landed or it did not.
    let (mut got, mut want) = (
        common::truth_counts(&after_kills),
        common::truth_counts(&reference),
    );
    let (got_events, want_events) = (
        got.remove("tracking_events").unwrap_or(0),
        want.remove("tracking_events").unwrap_or(0),
    );
    assert!(
        got_events <= want_events && got_events + unknown_events >= want_events,
        "killed at {kills:?}: {got_events} tracking events, {want_events} expected, {unknown_events} unknown"
    );
    assert_eq!(
        got, want,
        "killed at {kills:?}, the org differs from an uninterrupted run's"
    );
}
