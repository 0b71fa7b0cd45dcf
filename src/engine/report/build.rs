//! Builds the [`Report`] from the ledger alone: rows per type, runs, decisions, the last
//! verification, samples, the checklist.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::{
    AssumptionUse, CHANGES_LISTED, FOLLOW_UP_CSV, Files, Header, REPORT_HTML, REPORT_JSON,
    REPORT_MD, RecordChange, RecordWarning, Report, RunLine, SERIES_POINTS, TypeRow,
    WARNINGS_LISTED,
};
use crate::engine::archive::{ARCHIVE_DIR, ArchiveError, WorkflowExport};
use crate::engine::decisions::DecisionEntry;
use crate::engine::manual::MANUAL_FILE;
use crate::engine::model::{OBJECT_TYPES, RunSummary};
use crate::engine::report::human_count;
use crate::engine::runner::{
    CREATED_FIGURE, META_INTERCOM_NAME, META_INTERCOM_REGION, META_INTERCOM_URL,
    META_KUSTOMER_NAME, META_KUSTOMER_URL, OPTIONS_FIGURE, SCOPE_FIGURE,
};
use crate::ledger::{
    ChangeKind, Ledger, LedgerError, RecordState, RunRecord, Sample, for_each_page,
};
use crate::timefmt;
use crate::vocab::Kind;

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

/// Builds the report of the whole migration from the ledger alone: its runs, decisions, last
/// verification and samples, and one row per Intercom type, then one per kind the engine writes
/// for them, so every record the runs wrote is accounted for.
pub fn build_report(
    ledger: &Ledger,
    state_dir: &Path,
    workflows: &[WorkflowExport],
) -> Result<Report, ArchiveError> {
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
    let samples = ledger.read(|r| r.samples())?;
    let mut runs = run_lines(&ledger.read(|r| r.runs())?, &samples);
    add_changes(ledger, &mut runs)?;
    let (removed_kept, removed_kept_total) = removed_kept(ledger)?;
    let loads: Vec<&RunLine> = runs.iter().filter(|r| r.kind != EXTRACT).collect();
    let run_secs: f64 = runs.iter().filter_map(|r| r.duration_secs).sum();
    let load_secs: f64 = loads.iter().filter_map(|r| r.duration_secs).sum();
    let sum = |f: fn(&RunLine) -> Option<u64>| {
        let figures: Vec<u64> = loads.iter().filter_map(|r| f(r)).collect();
        (!figures.is_empty()).then(|| figures.iter().sum::<u64>())
    };
    let mut decisions = crate::engine::decisions::report_entries(ledger)
        .map_err(|e| LedgerError::Corrupt(e.to_string()))?;
    decisions.extend(run_option_decisions(ledger, &rows)?);
    let follow_up = rows.iter().map(|r| r.failed + r.skipped + r.unknown).sum();
    Ok(Report {
        restamped_times: crate::engine::decisions::restamped_run(ledger).unwrap_or(false),
        migration_id: ledger.migration_id(),
        header: header(ledger, state_dir, &runs, run_secs)?,
        decisions,
        verification: crate::engine::verify::last_verification(ledger)?,
        warnings,
        warnings_total,
        rows,
        duration_secs: (!loads.is_empty()).then_some(load_secs),
        kustomer_requests: sum(|r| r.kustomer_requests),
        intercom_requests: sum(|r| r.intercom_requests),
        records_per_sec: (load_secs > 0.0).then(|| settled as f64 / load_secs),
        assumptions,
        fallbacks: crate::engine::load::tag_fallback::report_lines(ledger)?,
        checklist: crate::engine::manual::checklist(ledger, workflows)?,
        follow_up,
        files: Files {
            report_md: state_dir.join(REPORT_MD).display().to_string(),
            report_html: state_dir.join(REPORT_HTML).display().to_string(),
            report_json: state_dir.join(REPORT_JSON).display().to_string(),
            follow_up_csv: state_dir.join(FOLLOW_UP_CSV).display().to_string(),
            archive: state_dir.join(ARCHIVE_DIR).display().to_string(),
            manual: state_dir.join(MANUAL_FILE).display().to_string(),
        },
        series: thinned(samples, SERIES_POINTS),
        runs,
        removed_kept,
        removed_kept_total,
    })
}

/// The run kind of an extraction alone (`i2k extract`).
const EXTRACT: &str = "extract";

/// Each recorded run with its kind, duration, outcome and what its samples say it did.
fn run_lines(runs: &[RunRecord], samples: &[Sample]) -> Vec<RunLine> {
    let mut full_done = false;
    runs.iter()
        .map(|run| {
            let figures = run.figures.as_ref();
            let scope: Vec<String> = figures
                .and_then(|f| f.get(SCOPE_FIGURE))
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or_default();
            let kind = match run.command.as_str() {
                "run" if !scope.is_empty() => "scoped",
                "run" if full_done => "repeat",
                "run" => "full",
                other => other,
            }
            .to_string();
            // A delta's new records (its replies appended as parts…); other runs' creations
            // are their rows' figures, and their `changes` stay what they changed in place.
            let created: BTreeMap<String, u64> = if kind == DELTA {
                figures
                    .and_then(|f| f.get(CREATED_FIGURE))
                    .and_then(|v| serde_json::from_value(v.clone()).ok())
                    .unwrap_or_default()
            } else {
                BTreeMap::new()
            };
            let changes = created
                .into_iter()
                .filter(|(_, n)| *n > 0)
                .map(|(kind, n)| (kind, BTreeMap::from([(CREATED.to_string(), n)])))
                .collect();
            if kind == "full" && run.outcome.as_deref() == Some("completed") {
                full_done = true;
            }
            let sample = figures
                .and_then(|f| f.get(crate::engine::sample::SAMPLE_FIGURE))
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or_default();
            let summary: Option<RunSummary> =
                figures.and_then(|f| serde_json::from_value(f.clone()).ok());
            let own: Vec<&Sample> = samples
                .iter()
                .filter(|s| s.run_id == Some(run.id))
                .collect();
            let between = |f: fn(&Sample) -> u64| match (own.first(), own.last()) {
                (Some(a), Some(b)) => Some(f(b).saturating_sub(f(a))),
                _ => None,
            };
            let duration_secs = summary
                .as_ref()
                .map(|s| s.elapsed.as_secs_f64())
                .or_else(|| {
                    run.finished_ms
                        .map(|f| (f - run.started_ms).max(0) as f64 / 1000.0)
                });
            RunLine {
                id: run.id,
                kind,
                started: timefmt::unix_ms_to_iso(run.started_ms),
                started_ms: run.started_ms,
                finished_ms: run.finished_ms,
                duration_secs,
                outcome: run
                    .outcome
                    .clone()
                    .unwrap_or_else(|| "unfinished".to_string()),
                settled: between(|s| s.settled),
                kustomer_requests: summary.as_ref().map(|s| s.kustomer_requests),
                intercom_requests: summary.as_ref().map(|s| s.intercom_requests),
                throttled: between(|s| s.kustomer_throttled + s.intercom_throttled),
                faults: between(|s| s.faults),
                defaults_taken: summary.map(|s| s.defaults_taken).unwrap_or_default(),
                scope,
                sample,
                changes,
                conflicts: Vec::new(),
            }
        })
        .collect()
}

/// The run kind of `i2k run --delta`.
const DELTA: &str = "delta";
/// The name a delta run's new records count under in [`RunLine::changes`].
pub(super) const CREATED: &str = "created";

/// Each run's changes in place, by kind and kind of change, and the conflicts it found (the
/// first [`CHANGES_LISTED`] of each kind, so many companies' leave room for the customers'):
/// one grouped read per run, and the conflict rows of the runs that have any.
fn add_changes(ledger: &Ledger, runs: &mut [RunLine]) -> Result<(), LedgerError> {
    for run in runs.iter_mut() {
        let counts = ledger.read(|r| r.change_counts(run.id))?;
        for (kind, change, n) in &counts {
            *run.changes
                .entry(kind.clone())
                .or_default()
                .entry(change.as_str().to_string())
                .or_default() += n;
        }
        for (kind, _, _) in counts.iter().filter(|(_, c, _)| *c == ChangeKind::Conflict) {
            let rows = ledger
                .read(|r| r.change_rows(run.id, kind, ChangeKind::Conflict, CHANGES_LISTED))?;
            for row in rows {
                let kustomer_id = ledger.read(|r| r.target_id(&row.kind, &row.source_id))?;
                run.conflicts.push(RecordChange {
                    kind: row.kind,
                    id: row.source_id,
                    kustomer_id,
                    detail: row.detail,
                });
            }
        }
    }
    Ok(())
}

/// The records deleted in Intercom since they were loaded and still in Kustomer: the first
/// [`CHANGES_LISTED`], with their Kustomer ids, and how many there are.
fn removed_kept(ledger: &Ledger) -> Result<(Vec<RecordChange>, u64), LedgerError> {
    let all = ledger.read(|r| r.removed_kept())?;
    let total = all.len() as u64;
    let mut listed = Vec::new();
    for (kind, id) in all.into_iter().take(CHANGES_LISTED) {
        let kustomer_id = ledger.read(|r| r.target_id(&kind, &id))?;
        listed.push(RecordChange {
            kind,
            id,
            kustomer_id,
            detail: "deleted in Intercom after it was loaded; still in Kustomer".to_string(),
        });
    }
    Ok((listed, total))
}

/// The header: what the runs recorded of both sides, and when.
fn header(
    ledger: &Ledger,
    state_dir: &Path,
    runs: &[RunLine],
    run_secs: f64,
) -> Result<Header, LedgerError> {
    let identity = ledger.identity()?;
    let meta = |key| ledger.meta(key);
    let intercom_url = meta(META_INTERCOM_URL)?;
    let intercom_region = meta(META_INTERCOM_REGION)?.or_else(|| {
        let host = intercom_url.as_deref()?;
        Some(
            if host.contains(".eu.") {
                "eu"
            } else if host.contains(".au.") {
                "au"
            } else if host.contains("api.intercom.io") {
                "us"
            } else {
                "not Intercom's own host"
            }
            .to_string(),
        )
    });
    let first_start_ms = runs.iter().map(|r| r.started_ms).min();
    let last_finish_ms = runs.iter().filter_map(|r| r.finished_ms).max();
    Ok(Header {
        intercom_workspace: meta(META_INTERCOM_NAME)?,
        intercom_app: identity.intercom_app,
        intercom_region,
        intercom_url,
        kustomer_org: meta(META_KUSTOMER_NAME)?,
        kustomer_org_id: identity.kustomer_org,
        kustomer_url: meta(META_KUSTOMER_URL)?,
        i2k_version: env!("CARGO_PKG_VERSION").to_string(),
        state_dir: state_dir.display().to_string(),
        first_start_ms,
        first_start: first_start_ms.map(timefmt::unix_ms_to_iso),
        last_finish_ms,
        last_finish: last_finish_ms.map(timefmt::unix_ms_to_iso),
        span_secs: first_start_ms
            .zip(last_finish_ms)
            .map(|(a, b)| (b - a).max(0) as f64 / 1000.0),
        total_duration_secs: run_secs,
        written: timefmt::unix_ms_to_iso(timefmt::now_unix_ms()),
    })
}

/// The choices the last load ran with that shaped what was carried (the history window, how
/// events and timeline parts went), each with what it affected.
fn run_option_decisions(
    ledger: &Ledger,
    rows: &[TypeRow],
) -> Result<Vec<DecisionEntry>, LedgerError> {
    let runs = ledger.read(|r| r.runs())?;
    let Some(options) = runs
        .iter()
        .rev()
        .filter(|r| r.command != EXTRACT)
        .find_map(|r| r.figures.as_ref()?.get(OPTIONS_FIGURE).cloned())
    else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let conversations = rows
        .iter()
        .find(|r| r.object == Kind::Conversations.as_str());
    if let Some(months) = options.get("history_months").and_then(Value::as_u64) {
        let outside: u64 = conversations
            .map(|r| {
                r.skipped_reasons
                    .iter()
                    .filter(|(reason, _)| reason.starts_with("outside the history window"))
                    .map(|(_, n)| n)
                    .sum()
            })
            .unwrap_or(0);
        out.push(DecisionEntry::new(
            "run option",
            format!("history window: conversations updated within the last {months} month(s)"),
            format!(
                "{} conversations outside it skipped, with their messages, notes and files",
                human_count(outside)
            ),
        ));
    }
    if options.get("events_as_kobjects").and_then(Value::as_bool) == Some(true) {
        out.push(DecisionEntry::new(
            "run option",
            "data events as intercom_event kobjects".to_string(),
            "every data event is a kobject, not a tracking event".to_string(),
        ));
    }
    if options.get("timeline_notes").and_then(Value::as_bool) == Some(false) {
        out.push(DecisionEntry::new(
            "run option",
            "timeline parts to the archive".to_string(),
            "assignment, state and attribute parts are in the archive, not in a timeline note"
                .to_string(),
        ));
    }
    if options.get("accept_defaults").and_then(Value::as_bool) == Some(true) {
        let taken: usize = runs
            .iter()
            .filter_map(|r| {
                r.figures
                    .as_ref()?
                    .get("defaults_taken")?
                    .as_array()
                    .map(Vec::len)
            })
            .sum();
        out.push(DecisionEntry::new(
            "run option",
            "accept the defaults (--accept-defaults)".to_string(),
            format!("{taken} undecided item(s) took their default (listed under their run)"),
        ));
    }
    Ok(out)
}

/// At most `n` samples, evenly picked and always the last, so a chart spans the whole time.
fn thinned(samples: Vec<Sample>, n: usize) -> Vec<Sample> {
    if samples.len() <= n || n < 2 {
        return samples;
    }
    let last = samples.len() - 1;
    (0..n)
        .map(|i| samples[i * last / (n - 1)].clone())
        .collect()
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
