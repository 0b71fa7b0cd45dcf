//! The migration report: per Intercom type, where every source record went (migrated, skipped
//! with reason, failed with reason, archived, manual, not retrievable, not loaded yet), whose
//! figures sum to the source count; the run's duration, requests and throughput; and the
//! unconfirmed Kustomer assumptions the run relied on. Written as `<state>/report.md` and
//! `<state>/report.json` (0600). `finish` writes the archive, `MANUAL.md` and the report.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::config::create_private_file;
use crate::engine::archive::{self, ArchiveError, WorkflowExport};
use crate::engine::context::Ctx;
use crate::engine::manual;
use crate::engine::model::{OBJECT_TYPES, RunSummary};
use crate::ledger::{Ledger, LedgerError, RecordState, for_each_page};
use crate::vocab::Kind;

pub const REPORT_MD: &str = "report.md";
pub const REPORT_JSON: &str = "report.json";

/// One kind's accounting: an Intercom type, or a kind of record the engine writes for them (a
/// conversation's opening message, its timeline note, its final state, an upload…). `source` =
/// every other figure summed; for an Intercom type it is also what extraction staged
/// (`extracted`) plus what Intercom's API could not return, and tests hold it to that.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeRow {
    pub object: String,
    /// Whether the row is an Intercom type (false: a kind the engine writes for one).
    #[serde(default)]
    pub intercom: bool,
    pub source: u64,
    /// Source records staged by extraction (Intercom types; 0 for the engine's kinds).
    #[serde(default)]
    pub extracted: u64,
    pub migrated: u64,
    pub skipped: u64,
    pub failed: u64,
    /// Sent, but the answer was lost where Kustomer offers no lookup: may or may not exist.
    #[serde(default)]
    pub unknown: u64,
    pub archived: u64,
    pub manual: u64,
    /// Exists in Intercom but its API cannot return it (e.g. events older than 90 days).
    pub not_retrievable: u64,
    /// Staged but not settled yet (pending or sent): non-zero only for an unfinished run.
    pub not_loaded: u64,
    pub skipped_reasons: Vec<(String, u64)>,
    pub failed_reasons: Vec<(String, u64)>,
    pub archived_reasons: Vec<(String, u64)>,
    #[serde(default)]
    pub unknown_reasons: Vec<(String, u64)>,
    /// Records Intercom could not return whole this time (a retrieval or sub-list failed after
    /// the retries): not loaded (or loaded without their sub-lists) until a later run reads them.
    /// A part of the figures above, not added to them.
    #[serde(default)]
    pub incomplete: u64,
    /// Of `migrated`, the records matched to a Kustomer record that existed before i2k wrote
    /// it (a user by e-mail, a tag or team by name, a record with the externalId already):
    /// i2k did not create them, and a rollback leaves them.
    #[serde(default)]
    pub matched: u64,
}

impl TypeRow {
    /// The figures' sum, which equals `source` by construction; tests hold it to that.
    pub fn accounted(&self) -> u64 {
        self.migrated
            + self.skipped
            + self.failed
            + self.unknown
            + self.archived
            + self.manual
            + self.not_retrievable
            + self.not_loaded
    }
}

/// One UNCONFIRMED shape the run relied on, and how many records depended on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssumptionUse {
    pub assumption: String,
    pub records: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The migration's id (the ledger's): a report is never overwritten by another migration's.
    #[serde(default)]
    pub migration_id: Option<String>,
    pub rows: Vec<TypeRow>,
    pub duration_secs: Option<f64>,
    pub kustomer_requests: Option<u64>,
    pub intercom_requests: Option<u64>,
    /// Settled records per second over the run.
    pub records_per_sec: Option<f64>,
    pub assumptions: Vec<AssumptionUse>,
    /// Records migrated with an alteration (a value cut, cleaned or left out), with the original
    /// value or where it is kept: the first [`WARNINGS_LISTED`] of `warnings_total`.
    #[serde(default)]
    pub warnings: Vec<RecordWarning>,
    #[serde(default)]
    pub warnings_total: u64,
    /// A run went ahead with a key without `org.admin`: message and note times and authors
    /// are Kustomer's re-stamps, not Intercom's.
    #[serde(default)]
    pub restamped_times: bool,
    /// The fallbacks the migration took where the org lacked a route i2k assumed (e.g. tags
    /// created through the conversation tag route), one line each.
    #[serde(default)]
    pub fallbacks: Vec<String>,
}

/// How many record warnings the report lists (the ledger keeps them all).
pub const WARNINGS_LISTED: usize = 1_000;

/// One alteration of one record, as the mapping or the write path noted it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordWarning {
    pub kind: String,
    pub id: String,
    pub message: String,
}

impl Report {
    pub fn row(&self, object: &str) -> Option<&TypeRow> {
        self.rows.iter().find(|r| r.object == object)
    }
}

/// Records loaded through routes `kustomer::assumptions` names as unconfirmed.
const ASSUMED: [(&str, &[&str]); 6] = [
    (
        "POST /v1/tags {name} (tag create)",
        &[Kind::Tags.as_str(), Kind::SegmentTags.as_str()],
    ),
    (
        "POST /v1/customers/searches {name, data, defaultVisibility} (saved-search create)",
        &[Kind::Segments.as_str()],
    ),
    (
        "POST /v1/shortcuts {name, draft.text} (shortcut create)",
        &[Kind::Macros.as_str()],
    ),
    (
        "POST /v1/kb/categories {title, langs, parent} (KB category create and nesting)",
        &[Kind::Collections.as_str()],
    ),
    (
        "POST|PUT /v1/kb/articles/{id}/versions/{lang} {title, htmlBody, publishedAt} (KB versions)",
        &[
            Kind::ArticleVersions.as_str(),
            Kind::ArticleTranslations.as_str(),
            Kind::Articles.as_str(),
        ],
    ),
    (
        "metadata types and enumeration shape (custom attributes)",
        &[
            Kind::DataAttributes.as_str(),
            Kind::ConversationAttributes.as_str(),
        ],
    ),
];

/// Builds the report from the ledger; `summary` (the run's own figures) adds duration and requests.
/// One row per Intercom type, then one per kind the engine writes for them, so every record the
/// run wrote is accounted for.
pub fn build_report(ledger: &Ledger, summary: Option<&RunSummary>) -> Result<Report, LedgerError> {
    let counters = ledger.counters();
    let not_retrievable = ledger.read(|r| r.not_retrievable())?;
    let incomplete = ledger.read(|r| r.incomplete_counts())?;
    let matched = ledger.read(|r| r.matched_counts())?;
    let mut rows = Vec::new();
    let mut settled = 0u64;
    let mut covered: Vec<&str> = Vec::new();
    for object in OBJECT_TYPES {
        let staged = counters.source(object);
        let kind = crate::engine::kinds::target_kind(object);
        covered.push(kind);
        let t = counters.target(kind);
        let mut row = row_of(ledger, object, kind, &t)?;
        row.intercom = true;
        row.extracted = staged;
        row.not_retrievable = not_retrievable.get(object).copied().unwrap_or(0);
        row.incomplete = incomplete.get(object).copied().unwrap_or(0);
        row.matched = matched.get(kind).copied().unwrap_or(0);
        // Staged records without a target row have not reached their phase.
        let with_rows = t.total();
        row.not_loaded = t.pending + t.sent + staged.saturating_sub(with_rows);
        row.source = row.accounted();
        settled += t.settled();
        rows.push(row);
    }
    // The kinds the engine writes for the Intercom types (opening messages, notes, states,
    // uploads…): each record it ever queued, by outcome.
    for (kind, t) in &counters.targets {
        if covered.contains(&kind.as_str()) || t.total() == 0 {
            continue;
        }
        let mut row = row_of(ledger, kind, kind, t)?;
        row.matched = matched.get(kind).copied().unwrap_or(0);
        row.not_loaded = t.pending + t.sent;
        row.source = row.accounted();
        settled += t.settled();
        rows.push(row);
    }
    let mut assumptions = Vec::new();
    for (assumption, kinds) in ASSUMED {
        let records: u64 = kinds.iter().map(|k| counters.target(k).done).sum();
        if records > 0 {
            assumptions.push(AssumptionUse {
                assumption: assumption.to_string(),
                records,
            });
        }
    }
    let (warnings, warnings_total) = record_warnings(ledger)?;
    let duration = summary.map(|s| s.elapsed.as_secs_f64());
    Ok(Report {
        restamped_times: crate::engine::decisions::restamped_run(ledger).unwrap_or(false),
        migration_id: ledger.migration_id(),
        warnings,
        warnings_total,
        rows,
        duration_secs: duration,
        kustomer_requests: summary.map(|s| s.kustomer_requests),
        intercom_requests: summary.map(|s| s.intercom_requests),
        records_per_sec: duration.filter(|d| *d > 0.0).map(|d| settled as f64 / d),
        assumptions,
        fallbacks: crate::engine::load::tag_fallback::report_lines(ledger)?,
    })
}

/// A row's figures and reasons from the target counts of `kind`.
fn row_of(
    ledger: &Ledger,
    object: &str,
    kind: &str,
    t: &crate::ledger::StateCounts,
) -> Result<TypeRow, LedgerError> {
    let mut row = TypeRow {
        object: object.to_string(),
        migrated: t.done,
        skipped: t.skipped,
        failed: t.failed,
        unknown: t.unknown,
        archived: t.archived,
        manual: t.manual,
        ..TypeRow::default()
    };
    for (state, slot) in [
        (RecordState::Skipped, &mut row.skipped_reasons),
        (RecordState::Failed, &mut row.failed_reasons),
        (RecordState::Archived, &mut row.archived_reasons),
        (RecordState::Unknown, &mut row.unknown_reasons),
    ] {
        if t.get(state) > 0 {
            *slot = ledger.read(|r| r.reasons(kind, state))?;
        }
    }
    Ok(row)
}

/// The warnings held against a record, the first [`WARNINGS_LISTED`] of them, and their count.
fn record_warnings(ledger: &Ledger) -> Result<(Vec<RecordWarning>, u64), LedgerError> {
    const PAGE: usize = 1_000;
    let mut listed = Vec::new();
    let mut total = 0u64;
    let read = |offset| ledger.read(|r| r.warnings(offset, PAGE));
    for_each_page(read, |page| {
        for w in page {
            let Some(id) = w.source_id else { continue };
            total += 1;
            if listed.len() < WARNINGS_LISTED {
                listed.push(RecordWarning {
                    kind: w.kind,
                    id,
                    message: w.message,
                });
            }
        }
    })?;
    Ok((listed, total))
}

fn reasons(list: &[(String, u64)]) -> String {
    list.iter()
        .map(|(r, n)| {
            format!(
                "{n}× {}",
                if r.is_empty() {
                    "(no reason recorded)"
                } else {
                    r
                }
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

pub fn render_markdown(report: &Report) -> String {
    let mut md = String::from("# Migration report\n\n");
    if let Some(d) = report.duration_secs {
        md.push_str(&format!("- Duration: {d:.1} s\n"));
    }
    if let Some(n) = report.kustomer_requests {
        md.push_str(&format!("- Kustomer requests: {n}\n"));
    }
    if let Some(n) = report.intercom_requests {
        md.push_str(&format!("- Intercom requests: {n}\n"));
    }
    if let Some(t) = report.records_per_sec {
        md.push_str(&format!("- Throughput: {t:.1} records/s\n"));
    }
    if let Some(id) = &report.migration_id {
        md.push_str(&format!("- Migration: {id}\n"));
    }
    if report.restamped_times {
        md.push_str(&format!(
            "\n**Re-stamped times.** The run went ahead with a Kustomer key without `{}` \
             (accepted by the operator): {}. Messages and notes show when they were loaded and \
             the key's user, not Intercom's times and authors.\n",
            crate::kustomer::roles::ORG_ADMIN,
            crate::kustomer::roles::RESTAMP_COST
        ));
    }
    for (title, intercom) in [
        ("Intercom records", true),
        ("Records i2k writes for them", false),
    ] {
        md.push_str(&format!("\n## {title}\n\n| type | source | migrated | skipped | failed | unknown | archived | manual | not retrievable | not loaded |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"));
        for r in report.rows.iter().filter(|r| r.intercom == intercom) {
            md.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                r.object,
                r.source,
                r.migrated,
                r.skipped,
                r.failed,
                r.unknown,
                r.archived,
                r.manual,
                r.not_retrievable,
                r.not_loaded
            ));
        }
    }
    let matched: Vec<String> = report
        .rows
        .iter()
        .filter(|r| r.matched > 0)
        .map(|r| format!("{} {}", r.matched, r.object))
        .collect();
    if !matched.is_empty() {
        md.push_str(&format!(
            "\nMigrated by matching a Kustomer record that already existed (not created by i2k; a rollback leaves them): {}.\n",
            matched.join(", ")
        ));
    }
    let incomplete: Vec<String> = report
        .rows
        .iter()
        .filter(|r| r.incomplete > 0)
        .map(|r| format!("{} {}", r.incomplete, r.object))
        .collect();
    if !incomplete.is_empty() {
        md.push_str(&format!(
            "\nNot read whole from Intercom this time (a retrieval failed after the retries; not loaded until the next run reads them again): {}.\n",
            incomplete.join(", ")
        ));
    }
    md.push_str("\n## Reasons\n\n");
    for r in &report.rows {
        for (label, list) in [
            ("skipped", &r.skipped_reasons),
            ("failed", &r.failed_reasons),
            ("archived", &r.archived_reasons),
            ("unknown", &r.unknown_reasons),
        ] {
            if !list.is_empty() {
                md.push_str(&format!("- {} {label}: {}\n", r.object, reasons(list)));
            }
        }
    }
    if report.warnings_total > 0 {
        md.push_str(&format!(
            "\n## Records migrated with warnings ({})\n\n",
            report.warnings_total
        ));
        for w in &report.warnings {
            md.push_str(&format!("- {} {}: {}\n", w.kind, w.id, w.message));
        }
        let more = report
            .warnings_total
            .saturating_sub(report.warnings.len() as u64);
        if more > 0 {
            md.push_str(&format!(
                "- … and {more} more (the ledger's `warnings` table holds them all)\n"
            ));
        }
    }
    md.push_str("\n## Unconfirmed Kustomer shapes relied on\n\n");
    if report.assumptions.is_empty() {
        md.push_str("- none\n");
    }
    for a in &report.assumptions {
        md.push_str(&format!("- {} — {} records\n", a.assumption, a.records));
    }
    if !report.fallbacks.is_empty() {
        md.push_str("\n## Fallbacks taken\n\n");
        for line in &report.fallbacks {
            md.push_str(&format!("- {line}\n"));
        }
    }
    md
}

fn write_file(path: &Path, text: &str) -> Result<(), ArchiveError> {
    let err = |e: &dyn std::fmt::Display| ArchiveError::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut f = create_private_file(path, true).map_err(|e| err(&e))?;
    f.write_all(text.as_bytes()).map_err(|e| err(&e))
}

/// Writes `report.md` and `report.json` into `state_dir`; returns their paths. A report already
/// there is never replaced by one of another migration, nor by one built from a ledger that
/// knows of fewer migrated records (a ledger that lost its id map): that is refused, and the
/// report on disk stays.
pub fn write_report(report: &Report, state_dir: &Path) -> Result<(PathBuf, PathBuf), ArchiveError> {
    let md = state_dir.join(REPORT_MD);
    let js = state_dir.join(REPORT_JSON);
    if let Some(existing) = std::fs::read_to_string(&js)
        .ok()
        .and_then(|text| serde_json::from_str::<Report>(&text).ok())
    {
        let migrated = |r: &Report| r.rows.iter().map(|row| row.migrated).sum::<u64>();
        let other =
            matches!((&existing.migration_id, &report.migration_id), (Some(a), Some(b)) if a != b);
        if other || migrated(&existing) > migrated(report) {
            return Err(ArchiveError::Write {
                path: js,
                message: format!(
                    "not overwritten: it counts {} migrated records{}, but the ledger now knows of {}; the ledger may have lost its id map (see `i2k restore`)",
                    migrated(&existing),
                    if other { " of another migration" } else { "" },
                    migrated(report)
                ),
            });
        }
    }
    write_file(&md, &render_markdown(report))?;
    write_file(
        &js,
        &serde_json::to_string_pretty(report).unwrap_or_default(),
    )?;
    Ok((md, js))
}

/// The last run's own figures, as the runner recorded them.
pub fn last_run_summary(ledger: &Ledger) -> Option<RunSummary> {
    let runs = ledger.read(|r| r.runs()).ok()?;
    runs.iter()
        .rev()
        .find(|r| r.command == "run" || r.command == "retry")
        .and_then(|r| r.figures.clone())
        .and_then(|f| serde_json::from_value(f).ok())
}

/// End of a run: the archive (with the workflow exports), `MANUAL.md` and the report.
pub async fn finish(ctx: &Arc<Ctx>) -> anyhow::Result<()> {
    let state = &ctx.config.state_dir;
    ctx.ledger.flush().await?;
    archive::write_archive(&ctx.ledger, state)?;
    // The ids the run was given, then those mapping.toml names.
    let mut ids = ctx.config.workflow_ids.clone();
    for id in crate::engine::decisions::workflow_ids(&ctx.ledger)? {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    let workflows: Vec<WorkflowExport> =
        archive::export_workflows(&ctx.intercom, &ids, state).await?;
    manual::write_manual(&ctx.ledger, state, &workflows)?;
    let report = build_report(&ctx.ledger, last_run_summary(&ctx.ledger).as_ref())?;
    write_report(&report, state)?;
    Ok(())
}
