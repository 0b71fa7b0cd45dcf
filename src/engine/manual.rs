//! `MANUAL.md` in the run directory: what a person rebuilds by hand, each item once with what
//! was found in Intercom and what is needed to re-enter it — the fixed items (KB themes,
//! workflows and series with their export files, SLAs per schedule with its hours, each
//! schedule's holidays with their dates, saved-search positions), the items the phases listed,
//! and every record that failed permanently. The report and the console's Summary show the same
//! [`checklist`].

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::engine::archive::{ArchiveError, WorkflowExport, write_private_file};
use crate::intercom::models::{OfficeHoursException, OfficeHoursSchedule};
use crate::ledger::{FailureFilter, Ledger};
use crate::mapping::people::schedule_hours;
use crate::vocab::Kind;

pub const MANUAL_FILE: &str = "MANUAL.md";
const FAILURES_SHOWN: usize = 500;

/// One thing a person rebuilds by hand: what, why, and what they need to re-enter it (one line
/// per schedule, holiday, workflow…). `MANUAL.md`, the report and the console's Summary list the
/// same items, each once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecklistItem {
    pub title: String,
    pub detail: String,
    #[serde(default)]
    pub lines: Vec<String>,
}

impl ChecklistItem {
    fn new(title: impl Into<String>, detail: impl Into<String>, lines: Vec<String>) -> Self {
        ChecklistItem {
            title: title.into(),
            detail: detail.into(),
            lines,
        }
    }

    /// The item on one line (the console's Summary).
    pub fn one_line(&self) -> String {
        let mut line = self.title.clone();
        if !self.detail.is_empty() {
            line.push_str(&format!(": {}", self.detail));
        }
        if !self.lines.is_empty() {
            line.push_str(&format!(" ({})", self.lines.join("; ")));
        }
        line
    }
}

/// Titles of the items the phases list that the fixed items below already cover with more
/// detail (the SLAs per schedule, each schedule's holidays): listed once, there.
const SLA_TITLE: &str = "SLAs";
const HOLIDAYS_TITLE_PREFIX: &str = "Holidays of business schedule";

/// Every staged source record of `kind` (its id, its parent's, the record read as `T`; an
/// unreadable one as `T::default()`).
fn sources_of<T: serde::de::DeserializeOwned + Default>(
    ledger: &Ledger,
    kind: &str,
) -> Result<Vec<(String, Option<String>, T)>, ArchiveError> {
    Ok(ledger
        .read(|r| r.sources_page(kind, None, 10_000))?
        .into_iter()
        .map(|s| {
            let v = serde_json::from_str(&s.raw).unwrap_or_default();
            (s.source_id, s.parent_id, v)
        })
        .collect())
}

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

fn clock_of_minutes(m: u32) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// A schedule's week as a person re-enters it: `Mon 09:00–17:00, Tue …` (closed days left out).
fn week_of(schedule: &OfficeHoursSchedule) -> String {
    let days: Vec<String> = schedule_hours(schedule)
        .iter()
        .zip(DAYS)
        .filter_map(|(hours, day)| {
            let spans: Vec<String> = hours
                .as_ref()?
                .iter()
                .map(|[a, b]| format!("{}–{}", clock_of_minutes(*a), clock_of_minutes(*b)))
                .collect();
            Some(format!("{day} {}", spans.join(", ")))
        })
        .collect();
    if days.is_empty() {
        "no open hours".to_string()
    } else {
        days.join("; ")
    }
}

/// A holiday (an office-hours exception) as a person re-enters it: its date, name, and whether
/// the day is closed or has special hours.
fn holiday_of(exception: &OfficeHoursException) -> String {
    let date = exception.exception_date.as_deref().unwrap_or("(no date)");
    let name = exception.name.as_deref().unwrap_or("(unnamed)");
    let hours: Vec<String> = exception
        .time_intervals
        .iter()
        .filter_map(|i| {
            let (a, b) = (i.start_minute?, i.end_minute?);
            Some(format!(
                "{}–{}",
                clock_of_minutes((a % 1440) as u32),
                clock_of_minutes((b % 1440) as u32)
            ))
        })
        .collect();
    let mut line = format!("{date} {name}");
    match exception.exception_type.as_deref() {
        Some(t) if !hours.is_empty() => line.push_str(&format!(" ({t}: {})", hours.join(", "))),
        Some(t) => line.push_str(&format!(" ({t})")),
        None if !hours.is_empty() => line.push_str(&format!(" (open {})", hours.join(", "))),
        None => line.push_str(" (closed)"),
    }
    if exception.recurring_annually == Some(true) {
        line.push_str(", every year");
    }
    line
}

/// The name a workflow export gives itself, if its file says.
fn workflow_name(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    v.get("name")
        .or_else(|| v.get("title"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The checklist: the fixed items (KB themes, workflows with their export files, SLAs per
/// schedule with its hours, each schedule's holidays with their dates, saved-search positions),
/// then the items the run listed that these do not already cover.
pub fn checklist(
    ledger: &Ledger,
    workflows: &[WorkflowExport],
) -> Result<Vec<ChecklistItem>, ArchiveError> {
    let mut items = Vec::new();
    let collections = ledger.counters().source(Kind::Collections.as_str());
    items.push(ChecklistItem::new(
        "KB themes",
        format!(
            "Kustomer's KB theme, templates and custom domain are set in its admin settings. Intercom had {collections} help-center collections; their categories were created."
        ),
        Vec::new(),
    ));
    let exports: Vec<String> = workflows
        .iter()
        .map(|w| match w {
            WorkflowExport::Written { id, path } => format!(
                "workflow {id}{}: exported definition at `{}`",
                workflow_name(path)
                    .map(|n| format!(" \"{n}\""))
                    .unwrap_or_default(),
                path.display()
            ),
            WorkflowExport::Failed { id, reason } => {
                format!("workflow {id}: export failed ({reason})")
            }
        })
        .collect();
    items.push(ChecklistItem::new(
        "Workflows and series",
        if exports.is_empty() {
            "rebuild them as Kustomer workflows (and pause Kustomer workflows during the import). No workflow ids were supplied (`workflow_ids` in mapping.toml, `[run] workflow_ids` in i2k.toml, or `i2k run --workflow-ids IDS`)"
        } else {
            "rebuild them as Kustomer workflows (and pause Kustomer workflows during the import), from their exported definitions"
        },
        exports,
    ));
    let schedules: Vec<(String, Option<String>, OfficeHoursSchedule)> =
        sources_of(ledger, Kind::OfficeHoursSchedules.as_str())?;
    let name_of = |s: &OfficeHoursSchedule| s.name.clone().unwrap_or_else(|| "(unnamed)".into());
    items.push(ChecklistItem::new(
        "SLAs on the imported schedules",
        "Kustomer documents no SLA create route: rebuild Intercom's SLA rules (first response, next reply targets per priority) in Kustomer's SLA settings, for each schedule",
        schedules
            .iter()
            .map(|(id, _, s)| {
                format!(
                    "`{}` (Intercom id {id}, {}): {}",
                    name_of(s),
                    s.time_zone_name.as_deref().unwrap_or("UTC"),
                    week_of(s)
                )
            })
            .collect(),
    ));
    let exceptions: Vec<(String, Option<String>, OfficeHoursException)> =
        sources_of(ledger, Kind::OfficeHoursExceptions.as_str())?;
    let mut holidays = Vec::new();
    for (id, _, schedule) in &schedules {
        // An exception names its schedule, else extraction staged it under it.
        let mut dates: Vec<&OfficeHoursException> = exceptions
            .iter()
            .filter(|(_, parent, e)| {
                e.office_hours_schedule_id
                    .as_ref()
                    .map(|s| s.as_str())
                    .or(parent.as_deref())
                    == Some(id.as_str())
            })
            .map(|(_, _, e)| e)
            .collect();
        dates.sort_by(|a, b| a.exception_date.cmp(&b.exception_date));
        let listed: Vec<String> = dates.iter().map(|e| holiday_of(e)).collect();
        holidays.push(format!(
            "`{}`: {}",
            name_of(schedule),
            if listed.is_empty() {
                "none".to_string()
            } else {
                listed.join(", ")
            }
        ));
    }
    items.push(ChecklistItem::new(
        "Schedule holidays",
        "Kustomer's reference confirms no holiday route: re-enter each schedule's holidays and special hours in its business schedule settings",
        holidays,
    ));
    let searches = ledger.counters().target(Kind::Segments.as_str()).done;
    items.push(ChecklistItem::new(
        "Saved-search positions",
        format!(
            "place the {searches} saved searches made from Intercom segments into folders and order (positions need an admin)"
        ),
        Vec::new(),
    ));
    let mut seen = std::collections::HashSet::new();
    for m in ledger.read(|r| r.manual_items())? {
        if m.title == SLA_TITLE || m.title.starts_with(HOLIDAYS_TITLE_PREFIX) {
            continue;
        }
        if !seen.insert((m.title.clone(), m.kind.clone(), m.source_id.clone())) {
            continue;
        }
        let title = match (&m.kind, &m.source_id) {
            (Some(k), Some(id)) => format!("{} ({k} {id})", m.title),
            _ => m.title,
        };
        items.push(ChecklistItem::new(title, m.detail, Vec::new()));
    }
    Ok(items)
}

/// The checklist's items as a Markdown task list (MANUAL.md and report.md).
pub fn checklist_markdown(items: &[ChecklistItem]) -> String {
    let mut md = String::new();
    for item in items {
        md.push_str(&format!("- [ ] **{}**", item.title));
        if !item.detail.is_empty() {
            md.push_str(&format!(": {}", item.detail));
        }
        md.push('\n');
        for line in &item.lines {
            md.push_str(&format!("  - {line}\n"));
        }
    }
    md
}

/// The checklist as Markdown.
pub fn render_manual(
    ledger: &Ledger,
    workflows: &[WorkflowExport],
) -> Result<String, ArchiveError> {
    let mut md = String::from(
        "# Rebuild by hand\n\nWhat i2k could not carry through Kustomer's API, with what was found in Intercom and what you need to re-enter it.\n\n",
    );
    md.push_str(&checklist_markdown(&checklist(ledger, workflows)?));

    let failures = ledger.read(|r| r.failures(&FailureFilter::default(), 0, FAILURES_SHOWN))?;
    let total = ledger.read(|r| r.failure_count(&FailureFilter::default()))?;
    md.push_str(&format!("\n## Failed permanently ({total})\n\n"));
    if failures.is_empty() {
        md.push_str("- none\n");
    }
    for f in &failures {
        md.push_str(&format!(
            "- [ ] {} {} ({:?}, {} attempts): {}\n",
            f.kind, f.source_id, f.class, f.attempts, f.message
        ));
    }
    if total as usize > failures.len() {
        md.push_str(&format!(
            "- … and {} more: the console's Errors screen lists them (`i2k --state DIR`, then 6), `failed.csv` beside the report lists them all, and `i2k report --state DIR` counts them by reason in report.md\n",
            total as usize - failures.len()
        ));
    }
    Ok(md)
}

/// The heading `i2k rollback` appends to `MANUAL.md` under what Kustomer could not delete.
pub const ROLLBACK_HEADING: &str = "\n## Left in Kustomer after the rollback\n";

/// What the rollbacks appended to a `MANUAL.md` (from their first heading to the end), which
/// a rewrite of the checklist keeps: the records are still in Kustomer whatever runs came after.
fn rollback_sections(previous: &str) -> Option<&str> {
    previous.find(ROLLBACK_HEADING).map(|at| &previous[at..])
}

/// Writes `<state>/MANUAL.md` (0600), keeping what earlier rollbacks appended to it.
pub fn write_manual(
    ledger: &Ledger,
    state_dir: &Path,
    workflows: &[WorkflowExport],
) -> Result<PathBuf, ArchiveError> {
    let mut md = render_manual(ledger, workflows)?;
    let path = state_dir.join(MANUAL_FILE);
    let previous = std::fs::read_to_string(&path).unwrap_or_default();
    if let Some(kept) = rollback_sections(&previous) {
        md.push_str(kept);
    }
    write_private_file(&path, &md)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::ErrorClass;
    use clap::Parser;

    /// Every `i2k …` command the checklist tells a person to run, as written between backticks.
    fn commands_named(md: &str) -> Vec<String> {
        md.split('`')
            .skip(1)
            .step_by(2)
            .filter(|quoted| quoted.starts_with("i2k "))
            .map(str::to_string)
            .collect()
    }

    #[tokio::test]
    async fn every_command_the_checklist_names_exists() {
        let dir = std::env::temp_dir().join(format!(
            "i2k-manual-commands-{}-{}",
            std::process::id(),
            crate::rng::Rng::from_entropy().hex(4)
        ));
        let ledger = Ledger::open(&dir).unwrap();
        // More failures than the checklist shows, so it points to where the rest are.
        let ids: Vec<String> = (0..=FAILURES_SHOWN).map(|i| format!("c{i}")).collect();
        ledger
            .ensure_pending("contacts", ids.clone())
            .await
            .unwrap();
        for id in &ids {
            ledger
                .mark_failed("contacts", id, ErrorClass::Rejected, "refused", "", "")
                .unwrap();
        }
        ledger.flush().await.unwrap();

        let md = render_manual(&ledger, &[]).unwrap();
        let commands = commands_named(&md);
        assert!(commands.len() >= 3, "{commands:?}\n{md}");
        for command in commands {
            let words = command.split_whitespace();
            if let Err(e) = crate::cli::Cli::try_parse_from(words) {
                panic!("MANUAL.md names `{command}`, which i2k refuses:\n{e}");
            }
        }
        drop(ledger);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
