//! Interruptions of the real binary against both simulators (tiny workspace, a little latency so
//! the run is still loading when the test acts): SIGINT and SIGTERM stop `i2k run --headless`
//! with exit 5 and the run recorded as interrupted, and the next run finishes what it left; a
//! token (Kustomer's or Intercom's) revoked in the middle of a run stops it the same way, saying
//! what to fix, with no record failed for it, and the run after the token is restored finishes
//! without duplicates.
//! After each, `i2k verify` finds both sides in agreement.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use i2k::sim::SizePreset;

/// Both simulators, each answer a little late so a tiny run lasts long enough to interrupt.
async fn slow_sims() -> common::Sims {
    common::sims_with(SizePreset::Tiny, |ic, kc| {
        ic.latency = Duration::from_millis(15);
        kc.latency = Duration::from_millis(15);
    })
    .await
}

/// `i2k ARGS` on the test's state directory against `sims`, with their tokens.
fn i2k(sims: &common::Sims, home: &Path, args: &[&str]) -> Command {
    let mut cmd = common::i2k_command(sims, &state_dir(home), home, args);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn i2k_run(sims: &common::Sims, home: &Path) -> Command {
    let rate = sims.kustomer_rate.to_string();
    i2k(
        sims,
        home,
        &[
            "run",
            "--headless",
            "--accept-defaults",
            "--kustomer-rate",
            &rate,
        ],
    )
}

fn state_dir(home: &Path) -> PathBuf {
    home.join("state")
}

/// A running `i2k run`, its stdout lines forwarded as they come.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn start(sims: &common::Sims, home: &Path) -> Running {
        let mut child = i2k_run(sims, home).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Blocks until a line starting with `prefix` is printed; panics if the output ends first.
    async fn wait_for_line(&mut self, prefix: &str) {
        loop {
            let next = tokio::task::block_in_place(|| self.lines.recv());
            match next {
                Ok(line) => {
                    let found = line.starts_with(prefix);
                    self.seen.push(line);
                    if found {
                        return;
                    }
                }
                Err(_) => panic!(
                    "the run ended before printing `{prefix}`:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for the exit; returns its code, all of stdout and stderr.
    async fn finish(mut self) -> (Option<i32>, String, String) {
        let mut stderr = self.child.stderr.take().unwrap();
        let (code, err) = tokio::task::spawn_blocking(move || {
            let mut err = String::new();
            let _ = stderr.read_to_string(&mut err);
            (self.child.wait().unwrap().code(), err)
        })
        .await
        .unwrap();
        let mut out = self.seen;
        out.extend(self.lines.iter());
        (code, out.join("\n"), err)
    }
}

/// The outcome the ledger recorded for each run, oldest first.
fn run_outcomes(home: &Path) -> Vec<String> {
    query_strings(home, "SELECT coalesce(outcome, '') FROM runs ORDER BY id")
}

fn failed_records(home: &Path) -> Vec<String> {
    query_strings(
        home,
        "SELECT kind || ' ' || source_id || ': ' || coalesce(error_message, '') FROM target WHERE state = 'failed'",
    )
}

fn query_strings(home: &Path, sql: &str) -> Vec<String> {
    let db = rusqlite::Connection::open_with_flags(
        state_dir(home).join("ledger.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut statement = db.prepare(sql).unwrap();
    statement
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// `i2k verify` finds both sides in agreement: nothing was lost on the way.
async fn assert_verify_agrees(sims: &common::Sims, home: &Path) {
    let mut verify = i2k(sims, home, &["verify"]);
    let verified = tokio::task::spawn_blocking(move || verify.output().unwrap())
        .await
        .unwrap();
    assert_eq!(
        verified.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&verified.stdout),
        String::from_utf8_lossy(&verified.stderr)
    );
}

/// Runs to the end; it must exit 0.
async fn resume(sims: &common::Sims, home: &Path) -> String {
    let (code, out, err) = Running::start(sims, home).finish().await;
    assert_eq!(code, Some(0), "the resumed run:\n{out}\n{err}");
    out
}

async fn a_signal_interrupts_the_run_and_the_next_run_finishes(signal: &str) {
    let sims = slow_sims().await;
    let home = common::temp_state(&format!("signal-{signal}"));
    let mut run = Running::start(&sims, &home);
    run.wait_for_line("▶ ").await;
    run.signal(signal);
    let (code, out, err) = run.finish().await;
    assert_eq!(code, Some(5), "exit code after SIG{signal}:\n{out}\n{err}");
    assert!(out.contains(&format!("interrupted: SIG{signal}")), "{out}");
    assert!(
        out.contains("Run interrupted (run again to resume)"),
        "{out}"
    );
    assert_eq!(run_outcomes(&home), ["interrupted"]);
    assert!(
        failed_records(&home).is_empty(),
        "{:?}",
        failed_records(&home)
    );

    let out = resume(&sims, &home).await;
    assert!(out.contains("Run complete"), "{out}");
    assert_eq!(run_outcomes(&home), ["interrupted", "completed"]);
    let truth = common::truth(&sims.kustomer.url).await;
    assert!(common::no_duplicates(&truth), "{}", truth["duplicates"]);
    assert_verify_agrees(&sims, &home).await;
    let _ = std::fs::remove_dir_all(&home);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_interrupts_the_run_with_exit_5_and_the_next_run_finishes() {
    a_signal_interrupts_the_run_and_the_next_run_finishes("INT").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_interrupts_the_run_with_exit_5_and_the_next_run_finishes() {
    a_signal_interrupts_the_run_and_the_next_run_finishes("TERM").await;
}

/// Revokes `side`'s token once the run is loading, expects the interruption, restores the token
/// and expects the next run to finish without duplicates.
async fn a_token_revoked_mid_run_interrupts_it_and_the_run_after_its_restoring_finishes(
    side: &str,
    env: &str,
) {
    let sims = slow_sims().await;
    let home = common::temp_state(&format!("token-revoked-{side}"));
    let (sim_url, token) = match side {
        "Kustomer" => (&sims.kustomer.url, &sims.kustomer.token),
        _ => (&sims.intercom.url, &sims.intercom.token),
    };
    let sim_route = |action: &str| format!("{sim_url}/__sim/token/{action}");
    let http = reqwest::Client::new();
    let mut run = Running::start(&sims, &home);
    run.wait_for_line("▶ ").await;
    http.post(sim_route("revoke")).send().await.unwrap();
    let (code, out, err) = run.finish().await;
    assert_eq!(
        code,
        Some(5),
        "exit code after the token was revoked:\n{out}\n{err}"
    );
    assert!(
        out.contains(&format!("{side} refused the token (HTTP 401)")) && out.contains(env),
        "the message says what to fix:\n{out}"
    );
    assert_eq!(
        out.matches("refused the token").count(),
        1,
        "said once:\n{out}"
    );
    assert!(!out.contains(token.as_str()), "the token leaked:\n{out}");
    assert_eq!(run_outcomes(&home), ["interrupted"]);
    // The refusal was the token's, not the records': none failed for it.
    assert!(
        failed_records(&home).is_empty(),
        "{:?}",
        failed_records(&home)
    );

    http.post(sim_route("restore")).send().await.unwrap();
    resume(&sims, &home).await;
    let truth = common::truth(&sims.kustomer.url).await;
    assert!(common::no_duplicates(&truth), "{}", truth["duplicates"]);
    assert_verify_agrees(&sims, &home).await;
    let _ = std::fs::remove_dir_all(&home);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kustomer_token_revoked_mid_run_interrupts_it_and_the_next_run_finishes() {
    a_token_revoked_mid_run_interrupts_it_and_the_run_after_its_restoring_finishes(
        "Kustomer",
        "KUSTOMER_API_KEY",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intercom_token_revoked_mid_run_interrupts_it_and_the_next_run_finishes() {
    a_token_revoked_mid_run_interrupts_it_and_the_run_after_its_restoring_finishes(
        "Intercom",
        "INTERCOM_TOKEN",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_exits_at_once_with_5_and_the_next_run_still_finishes() {
    let sims = slow_sims().await;
    let home = common::temp_state("signal-twice");
    let mut run = Running::start(&sims, &home);
    run.wait_for_line("▶ ").await;
    run.signal("INT");
    run.wait_for_line("error: interrupted: SIGINT").await;
    run.signal("TERM");
    let (code, out, err) = run.finish().await;
    assert_eq!(code, Some(5), "exit code after two signals:\n{out}\n{err}");

    resume(&sims, &home).await;
    let truth = common::truth(&sims.kustomer.url).await;
    assert!(common::no_duplicates(&truth), "{}", truth["duplicates"]);
    assert_verify_agrees(&sims, &home).await;
    let _ = std::fs::remove_dir_all(&home);
}

/// A run whose requests wait out a throttled window (the gate holds them up to a minute) still
/// stops within its grace after SIGTERM, with exit 5 and nothing failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_stops_a_throttled_run_after_its_grace_without_waiting_out_the_window() {
    let sims = common::sims_with(SizePreset::Tiny, |_, kc| kc.rate_per_minute = 20).await;
    let home = common::temp_state("signal-throttled");
    let mut run = Running::start(&sims, &home);
    run.wait_for_line("▶ ").await;
    run.signal("TERM");
    let (code, out, err) = run.finish().await;
    assert_eq!(code, Some(5), "exit code after SIGTERM:\n{out}\n{err}");
    assert!(err.contains("stopping now"), "{out}\n{err}");
    assert!(
        failed_records(&home).is_empty(),
        "{:?}",
        failed_records(&home)
    );
    let truth = common::truth(&sims.kustomer.url).await;
    assert!(common::no_duplicates(&truth), "{}", truth["duplicates"]);
}
