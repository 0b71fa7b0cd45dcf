//! `MANUAL.md` in the run directory: what a person rebuilds by hand, each item with what was
//! found in Intercom — the fixed items (KB themes, workflows and series with their exported
//! definitions beside them, SLAs on the imported schedules, schedule holidays from office-hours
//! exceptions, saved-search positions), the items the phases listed, and every record that
//! failed permanently.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::config::create_private_file;
use crate::engine::archive::{ArchiveError, WorkflowExport};
use crate::ledger::{FailureFilter, Ledger};
use crate::vocab::Kind;

pub const MANUAL_FILE: &str = "MANUAL.md";
const FAILURES_SHOWN: usize = 500;

fn names_of(ledger: &Ledger, kind: &str) -> Result<Vec<String>, ArchiveError> {
    let mut out = Vec::new();
    for s in ledger.read(|r| r.sources_page(kind, None, 10_000))? {
        let v: Value = serde_json::from_str(&s.raw).unwrap_or(Value::Null);
        let name = v
            .get("name")
            .or_else(|| v.get("exception_date"))
            .and_then(Value::as_str)
            .unwrap_or("(unnamed)");
        out.push(format!("{name} (Intercom id {})", s.source_id));
    }
    Ok(out)
}

fn list(out: &mut String, items: &[String], none: &str) {
    if items.is_empty() {
        out.push_str(&format!("  - {none}\n"));
    }
    for i in items {
        out.push_str(&format!("  - {i}\n"));
    }
}

/// The checklist as Markdown.
pub fn render_manual(
    ledger: &Ledger,
    workflows: &[WorkflowExport],
) -> Result<String, ArchiveError> {
    let mut md = String::from(
        "# Rebuild by hand\n\nWhat i2k could not carry through Kustomer's API, with what was found in Intercom.\n\n",
    );
    md.push_str("## Fixed items\n\n");
    let collections = ledger.counters().source(Kind::Collections.as_str());
    md.push_str(&format!(
        "- [ ] **KB themes**: Kustomer's KB theme, templates and custom domain are set in its admin settings. Intercom had {collections} help-center collections; their categories were created.\n"
    ));
    md.push_str("- [ ] **Workflows and series**: rebuild them as Kustomer workflows (and pause Kustomer workflows during the import).\n");
    let mut exports = Vec::new();
    for w in workflows {
        match w {
            WorkflowExport::Written { id, path } => exports.push(format!(
                "workflow {id}: exported definition at `{}`",
                path.display()
            )),
            WorkflowExport::Failed { id, reason } => {
                exports.push(format!("workflow {id}: export failed ({reason})"))
            }
        }
    }
    list(
        &mut md,
        &exports,
        "no workflow ids were supplied (`workflow_ids` in mapping.toml, `[run] workflow_ids` in i2k.toml, or `i2k run --workflow-ids IDS`)",
    );
    md.push_str("- [ ] **SLAs on the imported schedules**: Kustomer documents no SLA create route. Schedules found in Intercom:\n");
    list(
        &mut md,
        &names_of(ledger, Kind::OfficeHoursSchedules.as_str())?,
        "none",
    );
    md.push_str("- [ ] **Schedule holidays**: no holiday create route is documented. Office-hours exceptions found in Intercom:\n");
    list(
        &mut md,
        &names_of(ledger, Kind::OfficeHoursExceptions.as_str())?,
        "none",
    );
    let searches = ledger.counters().target(Kind::Segments.as_str()).done;
    md.push_str(&format!(
        "- [ ] **Saved-search positions**: place the {searches} saved searches made from Intercom segments into folders and order (positions need an admin).\n"
    ));

    let items = ledger.read(|r| r.manual_items())?;
    md.push_str("\n## Listed by the run\n\n");
    if items.is_empty() {
        md.push_str("- none\n");
    }
    let mut seen = std::collections::HashSet::new();
    for m in items {
        if !seen.insert((m.title.clone(), m.kind.clone(), m.source_id.clone())) {
            continue;
        }
        let record = match (&m.kind, &m.source_id) {
            (Some(k), Some(id)) => format!(" ({k} {id})"),
            _ => String::new(),
        };
        md.push_str(&format!("- [ ] **{}**{record}: {}\n", m.title, m.detail));
    }

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
            "- … and {} more: the console's Errors screen lists them (`i2k --state DIR`, then 6), and `i2k report --state DIR` counts them by reason in report.md\n",
            total as usize - failures.len()
        ));
    }
    Ok(md)
}

/// Writes `<state>/MANUAL.md` (0600).
pub fn write_manual(
    ledger: &Ledger,
    state_dir: &Path,
    workflows: &[WorkflowExport],
) -> Result<PathBuf, ArchiveError> {
    let md = render_manual(ledger, workflows)?;
    let path = state_dir.join(MANUAL_FILE);
    let mut f = create_private_file(&path, true).map_err(|e| ArchiveError::Write {
        path: path.clone(),
        message: e.to_string(),
    })?;
    f.write_all(md.as_bytes())
        .map_err(|e| ArchiveError::Write {
            path: path.clone(),
            message: e.to_string(),
        })?;
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
