//! The headless front-end: reads the same `EngineHandle` as the console and prints one progress
//! line per tick (at most once a second, and only when something moved), each event as it
//! happens, and a final summary — as text, or as JSON lines with `--json`. It never waits for a
//! person.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::engine::handle::{EngineHandle, RunOutcome};
use crate::engine::model::{Event, LogLevel, PhaseStatus, RunSummary, Snapshot};

/// Longest quiet time between two progress lines while anything moves.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, Default)]
pub struct HeadlessOptions {
    pub json: bool,
}

/// Follows the run to its end, printing to `out`.
pub async fn follow(
    handle: EngineHandle,
    options: HeadlessOptions,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<RunOutcome> {
    let (mut snapshots, mut events, _commands, mut task) = handle.split();
    let mut last_line = Instant::now() - PROGRESS_INTERVAL;
    let mut last_key = String::new();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let outcome = loop {
        tokio::select! {
            result = &mut task => {
                // Drain what the engine said before it ended.
                while let Ok(event) = events.try_recv() {
                    print(&event, options, out)?;
                }
                break match result {
                    Ok(r) => r?,
                    Err(e) => anyhow::bail!("the engine stopped unexpectedly: {e}"),
                };
            }
            Some(event) = events.recv() => print(&event, options, out)?,
            _ = tick.tick() => {
                let snap = snapshots.borrow_and_update().clone();
                let key = progress_key(&snap);
                if key != last_key && last_line.elapsed() >= PROGRESS_INTERVAL {
                    print(&snap, options, out)?;
                    last_key = key;
                    last_line = Instant::now();
                }
            }
        }
    };
    print(&outcome, options, out)?;
    Ok(outcome)
}

/// What must change for a new progress line to be worth printing.
fn progress_key(s: &Snapshot) -> String {
    let phases: Vec<String> = s
        .phases
        .iter()
        .map(|p| format!("{}:{}:{}:{}", p.done, p.failed, p.skipped, p.total))
        .collect();
    let extract: Vec<String> = s.extraction.iter().map(|e| e.fetched.to_string()).collect();
    format!(
        "{:?}|{}|{}|{}|{:?}|{:?}",
        s.state,
        phases.join(","),
        extract.join(","),
        s.activity,
        s.throttled_note(),
        s.changes_note()
    )
}

pub fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
    } else {
        format!("{:02}:{:02}", s / 60, s % 60)
    }
}

/// What the headless front-end prints: one JSON line with `--json`, else text.
trait Printed {
    fn json(&self) -> Value;
    fn text(&self, out: &mut (dyn Write + Send)) -> std::io::Result<()>;
}

/// Prints `item` as `options` ask.
fn print(
    item: &impl Printed,
    options: HeadlessOptions,
    out: &mut (dyn Write + Send),
) -> std::io::Result<()> {
    if options.json {
        writeln!(out, "{}", item.json())
    } else {
        item.text(out)
    }
}

/// The progress line.
impl Printed for Snapshot {
    fn json(&self) -> Value {
        json!({"type": "progress", "snapshot": self})
    }

    fn text(&self, out: &mut (dyn Write + Send)) -> std::io::Result<()> {
        let running: Vec<String> = self
            .phases
            .iter()
            .filter(|p| p.status == PhaseStatus::Running || p.in_flight > 0)
            .map(|p| {
                let mut t = format!("{} {}/{}", p.phase.label(), p.done + p.skipped, p.total);
                if p.failed > 0 {
                    t.push_str(&format!(" ({} failed)", p.failed));
                }
                t
            })
            .collect();
        let extracting: Vec<String> = self
            .extraction
            .iter()
            .filter(|e| !e.complete && e.fetched > 0)
            .map(|e| format!("{} {}", e.object, e.fetched))
            .collect();
        let mut line = format!("[{}] {:?}", clock(self.elapsed), self.state).to_lowercase();
        if !extracting.is_empty() {
            line.push_str(&format!(" · extracting {}", extracting.join(", ")));
        }
        if !running.is_empty() {
            line.push_str(&format!(" · {}", running.join(", ")));
        }
        line.push_str(&format!(
            " · {:.0} rec/s · {:.1} req/s · Kustomer {}/{} per {}s",
            self.records_per_sec,
            self.requests_per_sec,
            self.kustomer.used,
            self.kustomer.allowed,
            self.kustomer.window_secs
        ));
        if let Some(eta) = self.eta {
            line.push_str(&format!(" · ETA {}", clock(eta)));
        }
        if let Some(note) = self.throttled_note() {
            line.push_str(&format!(" · {note}"));
        }
        if let Some(note) = self.changes_note() {
            line.push_str(&format!(" · changes: {note}"));
        }
        if !self.activity.is_empty() {
            line.push_str(&format!(" · {}", self.activity));
        }
        writeln!(out, "{line}")
    }
}

impl Printed for Event {
    fn json(&self) -> Value {
        json!({"type": "event", "event": self})
    }

    fn text(&self, out: &mut (dyn Write + Send)) -> std::io::Result<()> {
        match self {
            Event::Log { level, message } => {
                let tag = match level {
                    LogLevel::Info => "info",
                    LogLevel::Warn => "warning",
                    LogLevel::Error => "error",
                };
                writeln!(out, "{tag}: {message}")
            }
            Event::PhaseStarted { phase } => writeln!(out, "▶ {}", phase.label()),
            Event::PhaseFinished {
                phase,
                done,
                failed,
                skipped,
            } => writeln!(
                out,
                "{} {}: {done} done, {failed} failed, {skipped} skipped",
                if *failed > 0 { "✗" } else { "✓" },
                phase.label()
            ),
            Event::RecordFailed { failure } => writeln!(
                out,
                "failed: {} {} ({:?}, {} attempts): {}",
                failure.record.object,
                failure.record.source_id,
                failure.class,
                failure.attempts,
                failure.message
            ),
            Event::Finished { .. } => Ok(()),
        }
    }
}

/// The closing summary.
impl Printed for RunOutcome {
    fn json(&self) -> Value {
        match self {
            RunOutcome::Completed(s) => {
                json!({"type": "summary", "outcome": "completed", "summary": s, "left": records_left(s)})
            }
            RunOutcome::Cancelled(s) => {
                json!({"type": "summary", "outcome": "interrupted", "summary": s, "left": records_left(s)})
            }
            RunOutcome::NeedsDecisions(d) => {
                json!({"type": "summary", "outcome": "needs_decisions", "decisions": d})
            }
        }
    }

    fn text(&self, out: &mut (dyn Write + Send)) -> std::io::Result<()> {
        match self {
            RunOutcome::Completed(s) if records_left(s) > 0 => {
                print_summary("Run ended with records left", s, out)
            }
            RunOutcome::Completed(s) => print_summary("Run complete", s, out),
            RunOutcome::Cancelled(s) => {
                print_summary("Run interrupted (run again to resume)", s, out)
            }
            RunOutcome::NeedsDecisions(d) => {
                writeln!(
                    out,
                    "Stopped before loading: {} decisions need you.",
                    d.len()
                )?;
                for item in d {
                    writeln!(out, "  - {item}")?;
                }
                writeln!(
                    out,
                    "Resolve them in the console (`i2k`), in mapping.toml, or re-run with --accept-defaults."
                )
            }
        }
    }
}

/// Records of the run's phases still pending or sent: neither loaded nor deliberately left out.
/// Phases outside the run's scope do not count.
pub fn records_left(s: &RunSummary) -> u64 {
    s.phases
        .iter()
        .filter(|p| p.status != PhaseStatus::Skipped)
        .map(|p| p.total.saturating_sub(p.settled()))
        .sum()
}

/// Where the run wrote its report, archive and checklist (`MANUAL.md`): only those that exist
/// (a run stopped before its end may have written none; JSON gives `null` for those).
pub fn print_written(
    state_dir: &Path,
    options: HeadlessOptions,
    out: &mut (dyn Write + Send),
) -> std::io::Result<()> {
    use crate::engine::report::{FOLLOW_UP_CSV, REPORT_HTML, REPORT_JSON, REPORT_MD};
    let written = [
        ("Report", "report", state_dir.join(REPORT_MD)),
        ("With charts", "report_html", state_dir.join(REPORT_HTML)),
        ("As JSON", "report_json", state_dir.join(REPORT_JSON)),
        (
            "To follow up",
            "follow_up_csv",
            state_dir.join(FOLLOW_UP_CSV),
        ),
        (
            "Archive",
            "archive",
            state_dir.join(crate::engine::archive::ARCHIVE_DIR),
        ),
        (
            "Checklist",
            "manual",
            state_dir.join(crate::engine::manual::MANUAL_FILE),
        ),
    ];
    if options.json {
        let mut line = json!({"type": "written"});
        for (_, key, path) in &written {
            line[*key] = if path.exists() {
                json!(path)
            } else {
                Value::Null
            };
        }
        return writeln!(out, "{line}");
    }
    let named: Vec<String> = written
        .iter()
        .filter(|(_, _, path)| path.exists())
        .map(|(label, _, path)| format!("{label}: {}", path.display()))
        .collect();
    if named.is_empty() {
        return Ok(());
    }
    writeln!(out, "{}", named.join("  "))
}

fn print_summary(title: &str, s: &RunSummary, out: &mut (dyn Write + Send)) -> std::io::Result<()> {
    writeln!(out, "{title} in {}.", clock(s.elapsed))?;
    writeln!(
        out,
        "{:<22} {:>9} {:>9} {:>9} {:>9}",
        "phase", "total", "done", "failed", "skipped"
    )?;
    for p in &s.phases {
        if p.status == PhaseStatus::Skipped {
            continue;
        }
        writeln!(
            out,
            "{:<22} {:>9} {:>9} {:>9} {:>9}",
            p.phase.label(),
            p.total,
            p.done,
            p.failed,
            p.skipped
        )?;
    }
    writeln!(
        out,
        "requests: Kustomer {}, Intercom {}",
        s.kustomer_requests, s.intercom_requests
    )?;
    let left = records_left(s);
    if left > 0 {
        writeln!(
            out,
            "{left} records left (pending or sent, not loaded yet): run again to resume them"
        )?;
    }
    if !s.defaults_taken.is_empty() {
        writeln!(out, "defaults taken:")?;
        for d in &s.defaults_taken {
            writeln!(out, "  - {d}")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::model::{PhaseId, PhaseProgress};

    /// What [`print`] writes of `item`, as text.
    fn printed(item: &impl Printed, json: bool) -> String {
        let mut out = Vec::new();
        print(item, HeadlessOptions { json }, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_exit_line_names_only_the_files_that_exist() {
        let dir = std::env::temp_dir().join(format!("i2k-written-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let text = |json: bool| {
            let mut out = Vec::new();
            print_written(&dir, HeadlessOptions { json }, &mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert_eq!(text(false), "", "nothing written, nothing named");
        std::fs::write(dir.join("report.md"), "# report").unwrap();
        let line = text(false);
        assert!(
            line.starts_with("Report: ") && line.contains("report.md"),
            "{line}"
        );
        assert!(
            !line.contains("Archive") && !line.contains("Checklist"),
            "{line}"
        );
        let json: Value = serde_json::from_str(&text(true)).unwrap();
        assert!(
            json["report"].is_string() && json["archive"].is_null(),
            "{json}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_progress_line_says_the_run_is_throttled_and_until_when() {
        let mut snapshot = Snapshot::default();
        assert!(!printed(&snapshot, false).contains("throttled"));
        let key = progress_key(&snapshot);
        // 1,700,000,000 is 22:13:20 UTC.
        snapshot.kustomer.throttled_until = Some(1_700_000_000);
        assert_ne!(
            progress_key(&snapshot),
            key,
            "a throttle is worth a new line"
        );
        let line = printed(&snapshot, false);
        assert!(
            line.trim_end()
                .ends_with("· throttled by Kustomer until 22:13:20 UTC"),
            "{line}"
        );
        let json: serde_json::Value = serde_json::from_str(&printed(&snapshot, true)).unwrap();
        assert_eq!(
            json["snapshot"]["kustomer"]["throttled_until"],
            1_700_000_000
        );
    }

    #[test]
    fn the_progress_line_says_what_a_delta_changed_in_place() {
        let mut snapshot = Snapshot::default();
        let key = progress_key(&snapshot);
        let count = |change: &str, count| crate::engine::model::ChangeCount {
            change: change.to_string(),
            count,
        };
        snapshot.changes = vec![
            count("updated", 5),
            count("conflict", 2),
            count("removed", 1),
        ];
        assert_ne!(progress_key(&snapshot), key, "a change is worth a new line");
        let line = printed(&snapshot, false);
        assert!(
            line.contains(
                "· changes: 5 updated · 2 conflicts (kept the agents' values) · 1 removed in Intercom"
            ),
            "{line}"
        );
    }

    #[test]
    fn the_summary_says_how_many_records_are_left_and_that_a_rerun_resumes_them() {
        let summary = RunSummary {
            phases: vec![PhaseProgress {
                phase: PhaseId::Conversations,
                status: PhaseStatus::Done,
                total: 12,
                done: 8,
                failed: 1,
                skipped: 0,
                unknown: 0,
                in_flight: 0,
                expected: 0,
            }],
            elapsed: Duration::from_secs(65),
            kustomer_requests: 40,
            intercom_requests: 20,
            defaults_taken: Vec::new(),
            cancelled: false,
        };
        assert_eq!(records_left(&summary), 3);
        let text = printed(&RunOutcome::Completed(summary.clone()), false);
        assert!(text.starts_with("Run ended with records left"), "{text}");
        assert!(
            text.contains(
                "3 records left (pending or sent, not loaded yet): run again to resume them"
            ),
            "{text}"
        );
        let line: serde_json::Value =
            serde_json::from_str(&printed(&RunOutcome::Completed(summary), true)).unwrap();
        assert_eq!(line["left"], 3);
    }
}
