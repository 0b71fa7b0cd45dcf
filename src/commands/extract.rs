//! `i2k extract`: stages the whole Intercom workspace in the ledger of the state directory, with a
//! progress bar per object type on a terminal (plain lines otherwise, or with `--plain`; progress
//! goes to stderr, the summary to stdout). Exit 0
//! when every listing completed — records that could not be read are listed, not fatal — 1 when a
//! listing is unfinished or the run was interrupted (run again to resume), 2 when Intercom
//! refuses the token or cannot be reached.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use tokio::sync::watch;

use crate::cli::{EXIT_BAD_INPUT, EXIT_FAILED, ExtractArgs};
use crate::commands::Context;
use crate::config::INTERCOM_TOKEN_ENV;
use crate::engine::control::Control;
use crate::engine::extract::{ExtractError, ExtractOptions, ExtractSummary, extract};
use crate::engine::model::ExtractProgress;
use crate::intercom::IntercomClient;
use crate::intercom::client::DEFAULT_RATE_PER_WINDOW;
use crate::ledger::Ledger;

/// How often progress is redrawn (or printed, without a terminal).
const REDRAW_INTERVAL: Duration = Duration::from_millis(200);
const PLAIN_LINE_INTERVAL: Duration = Duration::from_secs(2);
/// Problems listed after the run; the rest are counted.
const PROBLEMS_SHOWN: usize = 20;

pub async fn run(ctx: &Context, args: ExtractArgs) -> anyhow::Result<ExitCode> {
    let Some(client) = intercom_client(ctx).await? else {
        return Ok(ExitCode::from(EXIT_BAD_INPUT));
    };
    let state = ctx.state_dir()?;
    let ledger = Ledger::open(&state)?;
    let code = extract_with_progress(&client, &ledger, &state, args.plain, false).await?;
    Ok(code)
}

/// The Intercom client from the resolved endpoints once `GET /me` answered; `None` (after one
/// line on stderr) when the token is missing or refused, or the host cannot be reached, so a
/// wrong token, host or region is said at once rather than after a minute of retries.
pub async fn intercom_client(ctx: &Context) -> anyhow::Result<Option<IntercomClient>> {
    let endpoints = ctx.endpoints()?;
    let Some(token) = endpoints.intercom_token else {
        eprintln!(
            "error: {INTERCOM_TOKEN_ENV} is not set: export an Intercom access token to read the workspace"
        );
        return Ok(None);
    };
    let checked =
        crate::engine::connect::check_intercom(&endpoints.intercom_url, Some(token.clone())).await;
    if checked.status == crate::engine::model::CheckStatus::Fail {
        let detail = checked
            .detail
            .unwrap_or_else(|| format!("Intercom check failed at {}", endpoints.intercom_url));
        eprintln!("error: {detail}");
        return Ok(None);
    }
    Ok(Some(IntercomClient::connect(
        &endpoints.intercom_url,
        token,
        DEFAULT_RATE_PER_WINDOW,
    )?))
}

/// Runs an extraction showing progress, prints its summary (on stderr when stdout is reserved for
/// another command's output), and says how the process should exit.
pub async fn extract_with_progress(
    client: &IntercomClient,
    ledger: &Ledger,
    state: &std::path::Path,
    plain: bool,
    summary_on_stderr: bool,
) -> anyhow::Result<ExitCode> {
    let run_id = ledger.start_run("extract").await?;
    let control = Control::new();
    let (tx, rx) = watch::channel(Vec::<ExtractProgress>::new());
    let tty = !plain && std::io::stderr().is_terminal();
    let color = tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let display = tokio::spawn(show_progress(rx, tty, color));
    let interrupt = {
        let control = control.clone();
        tokio::spawn(async move {
            let mut signals = crate::commands::run::Signals::new();
            if signals.next().await.is_some() {
                control.cancel();
                if signals.next().await.is_some() {
                    std::process::exit(i32::from(crate::cli::EXIT_INTERRUPTED));
                }
            }
        })
    };
    let options = ExtractOptions::for_state_dir(state);
    let result = extract(client, ledger, &options, &control, Some(tx)).await;
    interrupt.abort();
    let _ = display.await;
    let (code, outcome) = match &result {
        Ok(summary) => {
            let text = summary_text(ledger, summary);
            if summary_on_stderr {
                eprint!("{text}");
            } else {
                print!("{text}");
            }
            if summary.complete() {
                (ExitCode::SUCCESS, "complete")
            } else {
                (ExitCode::from(EXIT_FAILED), "incomplete")
            }
        }
        // The token was checked before the extraction began: refused now, it expired or was
        // revoked on the way, and the extraction resumes once it is replaced.
        Err(ExtractError::Refused(e)) => {
            eprintln!(
                "interrupted: Intercom refused the token on the way ({e}): it expired or was revoked. Export a valid {INTERCOM_TOKEN_ENV} and run `i2k extract` again to resume where it stopped"
            );
            (ExitCode::from(crate::cli::EXIT_INTERRUPTED), "interrupted")
        }
        Err(ExtractError::Cancelled) => {
            eprintln!("interrupted: run `i2k extract` again to resume where it stopped");
            (ExitCode::from(crate::cli::EXIT_INTERRUPTED), "interrupted")
        }
        Err(e) => {
            eprintln!("error: {e}");
            (ExitCode::from(EXIT_FAILED), "failed")
        }
    };
    let figures = match &result {
        Ok(s) => serde_json::json!({
            "staged": s.staged, "problems": s.problems.len(), "warnings": s.warnings.len(),
            "requests": s.requests, "elapsed_secs": s.elapsed.as_secs_f64(),
        }),
        Err(_) => serde_json::json!({}),
    };
    ledger.finish_run(run_id, outcome, &figures).await?;
    Ok(code)
}

fn summary_text(ledger: &Ledger, summary: &ExtractSummary) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let counters = ledger.counters();
    let _ = writeln!(
        out,
        "extracted in {:.1} s with {} Intercom requests",
        summary.elapsed.as_secs_f64(),
        summary.requests
    );
    for object in crate::engine::model::OBJECT_TYPES {
        let staged = summary.staged.get(object).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "  {object:<24} {:>9} in the ledger  ({staged} new or changed)",
            counters.source(object)
        );
    }
    for w in &summary.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    for listing in &summary.incomplete {
        let _ = writeln!(out, "unfinished: {listing}");
    }
    if !summary.problems.is_empty() {
        let _ = writeln!(
            out,
            "{} record(s) could not be read in full (kept raw in the ledger):",
            summary.problems.len()
        );
        for p in summary.problems.iter().take(PROBLEMS_SHOWN) {
            let _ = writeln!(out, "  {} {}: {}", p.kind, p.source_id, p.problem);
        }
        if summary.problems.len() > PROBLEMS_SHOWN {
            let _ = writeln!(
                out,
                "  … and {} more",
                summary.problems.len() - PROBLEMS_SHOWN
            );
        }
    }
    out
}

/// Redraws one bar per type on a terminal; prints a line per type that moved, otherwise.
async fn show_progress(mut rx: watch::Receiver<Vec<ExtractProgress>>, tty: bool, color: bool) {
    let mut drawn_lines = 0usize;
    let mut last_plain: Vec<(String, u64, bool)> = Vec::new();
    let mut last_plain_at = tokio::time::Instant::now();
    loop {
        let closed = tokio::select! {
            changed = rx.changed() => changed.is_err(),
            _ = tokio::time::sleep(REDRAW_INTERVAL) => false,
        };
        let rows = rx.borrow_and_update().clone();
        if tty {
            drawn_lines = redraw(&rows, drawn_lines, color);
        } else if closed || last_plain_at.elapsed() >= PLAIN_LINE_INTERVAL {
            last_plain_at = tokio::time::Instant::now();
            for row in &rows {
                let key = (row.object.clone(), row.fetched, row.complete);
                if row.fetched == 0 && !row.complete || last_plain.contains(&key) {
                    continue;
                }
                let total = row.total.map_or(String::new(), |t| format!(" of {t}"));
                let state = if row.complete { " done" } else { "" };
                eprintln!("{}: {}{total}{state}", row.object, row.fetched);
            }
            last_plain = rows
                .iter()
                .map(|r| (r.object.clone(), r.fetched, r.complete))
                .collect();
        }
        if closed {
            break;
        }
    }
}

fn redraw(rows: &[ExtractProgress], previous_lines: usize, color: bool) -> usize {
    const WIDTH: usize = 30;
    let mut out = String::new();
    if previous_lines > 0 {
        out.push_str(&format!("\x1b[{previous_lines}A"));
    }
    for row in rows {
        let ratio = match (row.complete, row.total) {
            (true, _) => 1.0,
            (false, Some(t)) if t > 0 => (row.fetched as f64 / t as f64).min(1.0),
            _ => 0.0,
        };
        let filled = (ratio * WIDTH as f64).round() as usize;
        let bar = format!("{}{}", "█".repeat(filled), "░".repeat(WIDTH - filled));
        let bar = if color {
            let code = if row.complete { "32" } else { "36" };
            format!("\x1b[{code}m{bar}\x1b[0m")
        } else {
            bar
        };
        let mark = if row.complete { "✓" } else { " " };
        out.push_str(&format!(
            "\r\x1b[2K{mark} {:<22} {bar} {}\n",
            row.object, row.fetched
        ));
    }
    let mut err = std::io::stderr();
    let _ = err.write_all(out.as_bytes());
    let _ = err.flush();
    rows.len()
}
