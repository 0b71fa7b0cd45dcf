//! The migration report, one for the whole migration across its runs: a header (the workspace,
//! the org, i2k's version, the state directory, first start, last finish, total duration),
//! every run, every decision with what it affected, the last verification (per-type counts,
//! how each was made, the field samples), per Intercom type where every source record went
//! (summing to the source count), the reasons, the unconfirmed Kustomer assumptions relied on,
//! the checklist and where the files are — plus the run's figures over time, sampled into the
//! ledger, for the charts. Written in three forms (`report.md` as text, a self-contained
//! `report.html` with inline SVG charts, `report.json` with plain numbers and durations in
//! seconds) and `follow-up.csv` of every failed, skipped and unknown record (all 0600).
//! `finish` writes the archive, `MANUAL.md` and the report.

mod build;
mod csv;
mod html;
mod markdown;

pub use build::build_report;
pub use html::render_html;
pub use markdown::{human_count, render_markdown};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::engine::archive::{self, ArchiveError, WorkflowExport};
use crate::engine::context::Ctx;
use crate::engine::decisions::DecisionEntry;
use crate::engine::manual;
use crate::engine::manual::ChecklistItem;
use crate::engine::verify::Verified;
use crate::ledger::{Ledger, Sample};

pub const REPORT_MD: &str = "report.md";
pub const REPORT_JSON: &str = "report.json";
pub const REPORT_HTML: &str = "report.html";
/// Every failed, skipped and unknown record, for whoever must follow them up.
pub const FOLLOW_UP_CSV: &str = "follow-up.csv";

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

/// Which migration, between what, by which i2k, where, and when.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// The Intercom workspace's name, and its app id.
    pub intercom_workspace: Option<String>,
    pub intercom_app: Option<String>,
    /// `us`, `eu`, `au`, as Intercom says (else as its host says).
    pub intercom_region: Option<String>,
    pub intercom_url: Option<String>,
    /// The Kustomer org's name, and its id.
    pub kustomer_org: Option<String>,
    pub kustomer_org_id: Option<String>,
    pub kustomer_url: Option<String>,
    pub i2k_version: String,
    pub state_dir: String,
    /// When the first run started and the last one finished (unix ms, and ISO-8601 UTC).
    pub first_start_ms: Option<i64>,
    pub first_start: Option<String>,
    pub last_finish_ms: Option<i64>,
    pub last_finish: Option<String>,
    /// From the first start to the last finish, in seconds.
    pub span_secs: Option<f64>,
    /// The time runs were running, summed over every run, in seconds.
    pub total_duration_secs: f64,
    /// When this report was written.
    pub written: String,
}

/// One run of the migration and what it did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunLine {
    pub id: i64,
    /// `full` (the first load of the whole scope), `repeat` (a later plain run of it, after a
    /// full one completed: what was left, and what changed while it ran), `delta` (`--delta`:
    /// only what changed in Intercom since the last completed run, see [`RunLine::changes`]),
    /// `sample` (`--sample N`: the conversations in [`RunLine::sample`] and what they touch),
    /// `scoped` (a load limited with `--only`), `retry` (`--retry-failed`), `extract`.
    pub kind: String,
    pub started: String,
    pub started_ms: i64,
    pub finished_ms: Option<i64>,
    pub duration_secs: Option<f64>,
    /// `completed`, `interrupted`, `needs_decisions`, `failed`, or `unfinished` (still running,
    /// or stopped without recording its end).
    pub outcome: String,
    /// Records settled during the run (from its samples), where it was sampled.
    pub settled: Option<u64>,
    pub kustomer_requests: Option<u64>,
    pub intercom_requests: Option<u64>,
    /// 429s and faults (retried failures) during the run, where it was sampled.
    pub throttled: Option<u64>,
    pub faults: Option<u64>,
    /// The types its `--only` named (empty: every type).
    pub scope: Vec<String>,
    /// A sample run's conversations (Intercom ids) and why each was chosen (empty: no sample).
    #[serde(default)]
    pub sample: Vec<crate::engine::sample::SampledConversation>,
    /// Defaults the run took for undecided decisions (`--accept-defaults`).
    pub defaults_taken: Vec<String>,
    /// What the run changed beyond creating records, by ledger kind and then kind of change
    /// (`updated`, `closed`, `reopened`, `snoozed`, `reassigned`, `retagged`, `conflict`,
    /// `removed`, `deleted`: the ledger's `changes` table). A delta run also counts, as
    /// `created`, the records it settled done, by the kind they were written as (new
    /// conversations, replies appended as `conversation_parts`…). Empty for a run that changed
    /// nothing in place.
    #[serde(default)]
    pub changes: BTreeMap<String, BTreeMap<String, u64>>,
    /// The conflicts the run found (an agent edited in Kustomer a field Intercom changed too):
    /// the first [`CHANGES_LISTED`] of each kind; `changes` counts them all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<RecordChange>,
}

/// One record a run changed, or found changed, and what about it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordChange {
    /// The ledger kind (`contacts`, `companies`, `conversations`).
    pub kind: String,
    /// The Intercom id.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kustomer_id: Option<String>,
    /// A conflict's field and its three values (what i2k wrote, the agent's in Kustomer,
    /// Intercom's now); why a removed record is still in Kustomer.
    pub detail: String,
}

/// How many conflicts of a run (of each kind), and records deleted in Intercom, the report
/// lists (the ledger's `changes` table keeps them all).
pub const CHANGES_LISTED: usize = 200;

/// Where the migration's files are.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Files {
    pub report_md: String,
    pub report_html: String,
    pub report_json: String,
    pub follow_up_csv: String,
    pub archive: String,
    pub manual: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The migration's id (the ledger's): a report is never overwritten by another migration's.
    #[serde(default)]
    pub migration_id: Option<String>,
    #[serde(default)]
    pub header: Header,
    #[serde(default)]
    pub runs: Vec<RunLine>,
    #[serde(default)]
    pub decisions: Vec<DecisionEntry>,
    /// The last verification, as the ledger keeps it (None before the first).
    #[serde(default)]
    pub verification: Option<Verified>,
    pub rows: Vec<TypeRow>,
    /// The time the runs ran, summed over every run (= `header.total_duration_secs`).
    pub duration_secs: Option<f64>,
    /// Requests over every run.
    pub kustomer_requests: Option<u64>,
    pub intercom_requests: Option<u64>,
    /// Settled records per second of run time, over every run.
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
    /// What a person rebuilds by hand (as `MANUAL.md` lists it).
    #[serde(default)]
    pub checklist: Vec<ChecklistItem>,
    /// Records in `follow-up.csv` (failed, skipped, unknown).
    #[serde(default)]
    pub follow_up: u64,
    #[serde(default)]
    pub files: Files,
    /// The runs' figures over time as sampled (at most [`SERIES_POINTS`], evenly picked).
    #[serde(default)]
    pub series: Vec<Sample>,
    /// Records deleted in Intercom after they were loaded and still in Kustomer (the first
    /// [`CHANGES_LISTED`] of `removed_kept_total`): `i2k run --delta --delete-removed` deletes
    /// them there too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed_kept: Vec<RecordChange>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub removed_kept_total: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The most samples the report carries (the charts need no more; the ledger keeps them all).
pub const SERIES_POINTS: usize = 600;

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

/// Where the report's files were written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportPaths {
    pub md: PathBuf,
    pub html: PathBuf,
    pub json: PathBuf,
    pub csv: PathBuf,
}

/// Writes `report.md`, `report.html`, `report.json` and `follow-up.csv` into `state_dir`;
/// returns their paths. A report already there is never replaced by one of another migration,
/// nor by one built from a ledger that knows of fewer migrated or skipped records (a ledger that
/// lost its id map): that is refused, and the report on disk stays.
pub fn write_report(
    report: &Report,
    ledger: &Ledger,
    state_dir: &Path,
) -> Result<ReportPaths, ArchiveError> {
    let md = state_dir.join(REPORT_MD);
    let js = state_dir.join(REPORT_JSON);
    let html = state_dir.join(REPORT_HTML);
    let csv = state_dir.join(FOLLOW_UP_CSV);
    if let Some(existing) = std::fs::read_to_string(&js)
        .ok()
        .and_then(|text| serde_json::from_str::<Report>(&text).ok())
    {
        // Records the operator had deleted from Kustomer after Intercom deleted them
        // (`--delete-removed`) go from migrated to skipped: a ledger that lost its id map has
        // fewer of both.
        let settled = |r: &Report| {
            r.rows
                .iter()
                .map(|row| row.migrated + row.skipped)
                .sum::<u64>()
        };
        let other =
            matches!((&existing.migration_id, &report.migration_id), (Some(a), Some(b)) if a != b);
        if other || settled(&existing) > settled(report) {
            return Err(ArchiveError::Write {
                path: js,
                message: format!(
                    "not overwritten: it counts {} migrated or skipped records{}, but the ledger now knows of {}; the ledger may have lost its id map (see `i2k restore`)",
                    settled(&existing),
                    if other { " of another migration" } else { "" },
                    settled(report)
                ),
            });
        }
    }
    archive::write_private_file(&md, &render_markdown(report))?;
    archive::write_private_file(&html, &render_html(report))?;
    archive::write_private_file(
        &js,
        &serde_json::to_string_pretty(report).unwrap_or_default(),
    )?;
    csv::write_follow_up(ledger, &csv)?;
    Ok(ReportPaths {
        md,
        html,
        json: js,
        csv,
    })
}

/// Builds the report from the ledger and writes it (see [`write_report`]).
pub fn rewrite(
    ledger: &Ledger,
    state_dir: &Path,
    workflows: &[WorkflowExport],
) -> Result<(Report, ReportPaths), ArchiveError> {
    let report = build_report(ledger, state_dir, workflows)?;
    let paths = write_report(&report, ledger, state_dir)?;
    Ok((report, paths))
}

/// Writes the report again from the ledger where a run already wrote one (after a
/// verification, so the report shows it); `None` where there is none to refresh (nothing was
/// loaded yet: a report then would be taken for evidence of a migration).
pub fn refresh(ledger: &Ledger, state_dir: &Path) -> Result<Option<ReportPaths>, ArchiveError> {
    if !state_dir.join(REPORT_JSON).exists() {
        return Ok(None);
    }
    let workflows = archive::written_workflows(state_dir);
    rewrite(ledger, state_dir, &workflows).map(|(_, paths)| Some(paths))
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
    rewrite(&ctx.ledger, state, &workflows)?;
    Ok(())
}
