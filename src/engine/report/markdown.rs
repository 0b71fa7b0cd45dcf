//! `report.md`: the report as text a person reads — numbers with thousands separators,
//! durations as `3 min 05 s`, one section per part of the report.

use std::time::Duration;

use super::Report;
use crate::engine::verify::Verified;
use crate::timefmt::{self, human_duration};

/// A count with thousands separators: `1,234,567`.
pub use crate::vocab::count_text as human_count;

/// Seconds as a person reads them.
pub(super) fn human_secs(secs: f64) -> String {
    human_duration(Duration::try_from_secs_f64(secs).unwrap_or_default())
}

/// An optional count, `–` when unknown.
pub(super) fn count_or_dash(n: Option<u64>) -> String {
    n.map_or_else(|| "–".to_string(), human_count)
}

/// The unconfirmed Kustomer shapes the migration relied on, one line each (`none` without one).
pub(super) fn assumption_lines(report: &Report) -> Vec<String> {
    if report.assumptions.is_empty() {
        return vec!["none".to_string()];
    }
    report
        .assumptions
        .iter()
        .map(|a| format!("{} — {} records", a.assumption, human_count(a.records)))
        .collect()
}

/// Why records are skipped, failed, archived or unknown: one line per type and outcome.
pub(super) fn reason_lines(report: &Report) -> Vec<String> {
    let mut lines = Vec::new();
    for r in &report.rows {
        for (label, list) in [
            ("skipped", &r.skipped_reasons),
            ("failed", &r.failed_reasons),
            ("archived", &r.archived_reasons),
            ("unknown", &r.unknown_reasons),
        ] {
            if !list.is_empty() {
                lines.push(format!("{} {label}: {}", r.object, reasons(list)));
            }
        }
    }
    lines
}

fn reasons(list: &[(String, u64)]) -> String {
    list.iter()
        .map(|(r, n)| {
            format!(
                "{}× {}",
                human_count(*n),
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

/// The header line naming both APIs' base URLs.
pub(super) const API_HOSTS: &str = "API hosts";

/// `value` between `before` and `after` (` (app X)`, `, region eu`), or nothing without one.
fn detail(value: &Option<String>, before: &str, after: &str) -> String {
    value
        .as_ref()
        .map(|v| format!("{before}{v}{after}"))
        .unwrap_or_default()
}

/// The header's lines as (label, value) pairs, shared by the Markdown and the HTML.
pub(super) fn header_lines(report: &Report) -> Vec<(&'static str, String)> {
    let h = &report.header;
    let unknown = || "(not recorded)".to_string();
    let mut lines = vec![
        (
            "Intercom workspace",
            format!(
                "{}{}{}",
                h.intercom_workspace.clone().unwrap_or_else(unknown),
                detail(&h.intercom_app, " (app ", ")"),
                detail(&h.intercom_region, ", region ", "")
            ),
        ),
        (
            "Kustomer org",
            format!(
                "{}{}",
                h.kustomer_org.clone().unwrap_or_else(unknown),
                detail(&h.kustomer_org_id, " (org ", ")")
            ),
        ),
        (
            API_HOSTS,
            format!(
                "Intercom {}, Kustomer {}",
                h.intercom_url.clone().unwrap_or_else(unknown),
                h.kustomer_url.clone().unwrap_or_else(unknown)
            ),
        ),
        ("i2k version", h.i2k_version.clone()),
        ("State directory", h.state_dir.clone()),
        (
            "Migration",
            report.migration_id.clone().unwrap_or_else(unknown),
        ),
        ("First start", h.first_start.clone().unwrap_or_else(unknown)),
        ("Last finish", h.last_finish.clone().unwrap_or_else(unknown)),
        (
            "Total duration",
            format!(
                "{} of runs over {} run(s){}",
                human_secs(h.total_duration_secs),
                report.runs.len(),
                h.span_secs
                    .map(|s| format!(", {} from first start to last finish", human_secs(s)))
                    .unwrap_or_default()
            ),
        ),
    ];
    if let Some(n) = report.kustomer_requests {
        lines.push(("Kustomer requests", human_count(n)));
    }
    if let Some(n) = report.intercom_requests {
        lines.push(("Intercom requests", human_count(n)));
    }
    if let Some(t) = report.records_per_sec {
        lines.push((
            "Throughput",
            format!("{} records/s of run time", human_count(t.round() as u64)),
        ));
    }
    lines.push(("Written", h.written.clone()));
    lines
}

/// The verification's headline: when, after which run, and whether it agreed.
pub(super) fn verification_headline(v: &Verified) -> String {
    format!(
        "Verified {}{}: {} ({} types counted, {} records compared field by field, {} differ).",
        timefmt::unix_ms_to_iso(v.at_ms),
        v.run_id
            .map(|r| format!(" after run #{r}"))
            .unwrap_or_default(),
        if v.verification.agrees() {
            "everything agrees"
        } else {
            "DIFFERENCES found"
        },
        v.verification.types.len(),
        v.verification.samples.len(),
        v.verification
            .samples
            .iter()
            .filter(|s| !s.mismatches.is_empty())
            .count()
    )
}

/// The figures of the per-type outcome tables, in column order.
pub(super) const OUTCOME_COLUMNS: [&str; 10] = [
    "type",
    "source",
    "migrated",
    "skipped",
    "failed",
    "unknown",
    "archived",
    "manual",
    "not retrievable",
    "not loaded",
];

/// The per-type outcome tables: each one's title, and whether it holds the Intercom types (else
/// the records i2k writes for them).
pub(super) const OUTCOME_TABLES: [(&str, bool); 2] = [
    ("Intercom records", true),
    ("Records i2k writes for them", false),
];

pub(super) fn outcome_cells(r: &super::TypeRow) -> [u64; 9] {
    [
        r.source,
        r.migrated,
        r.skipped,
        r.failed,
        r.unknown,
        r.archived,
        r.manual,
        r.not_retrievable,
        r.not_loaded,
    ]
}

/// The runs table's columns (those from the sixth on are numbers), and a run's cells.
pub(super) const RUN_COLUMNS: [&str; 10] = [
    "run",
    "kind",
    "started",
    "duration",
    "outcome",
    "records settled",
    "Kustomer requests",
    "Intercom requests",
    "429s",
    "faults",
];

pub(super) fn run_cells(r: &super::RunLine) -> Vec<String> {
    vec![
        format!("#{}", r.id),
        r.kind.clone(),
        r.started.clone(),
        r.duration_secs.map_or_else(|| "–".to_string(), human_secs),
        r.outcome.clone(),
        count_or_dash(r.settled),
        count_or_dash(r.kustomer_requests),
        count_or_dash(r.intercom_requests),
        count_or_dash(r.throttled),
        count_or_dash(r.faults),
    ]
}

/// What a sample run took: a sentence saying it was a sample, and one line per conversation
/// (its Intercom id and why it was chosen). `None` for a run that was no sample.
pub(super) fn sample_text(r: &super::RunLine) -> Option<(String, Vec<String>)> {
    if r.sample.is_empty() {
        return None;
    }
    let said = format!(
        "Run #{} was a sample: {} conversation(s) with the customers, companies, admins, teams, tags and files they touch, and nothing else (a full run carries the rest). The conversations it took (Intercom id: what it covers):",
        r.id,
        human_count(r.sample.len() as u64)
    );
    let lines = r
        .sample
        .iter()
        .map(|c| format!("{}: {}", c.id, c.covers.join(", ")))
        .collect();
    Some((said, lines))
}

/// The columns of a run's changes table: the type, then each kind of change (all numbers).
pub(super) const CHANGE_COLUMNS: [&str; 11] = [
    "type",
    super::build::CREATED,
    "updated",
    "closed",
    "reopened",
    "snoozed",
    "reassigned",
    "retagged",
    "conflict",
    "removed",
    "deleted",
];

/// A run that changed records in place (a delta; a full run's catch-up pass): the sentence
/// heading its section, what the figures mean, one row of cells per type, and its conflicts
/// as lines. `None` for a run that is no delta and changed nothing in place.
pub(super) struct ChangesText {
    pub heading: String,
    pub said: String,
    pub rows: Vec<Vec<String>>,
    pub conflicts_said: Option<String>,
    pub conflicts: Vec<String>,
}

pub(super) fn changes_text(r: &super::RunLine) -> Option<ChangesText> {
    let delta = r.kind == "delta";
    if !delta && r.changes.is_empty() {
        return None;
    }
    let heading = if delta {
        format!("Run #{} was a delta", r.id)
    } else {
        format!(
            "Run #{} caught up with what changed in Intercom while it ran",
            r.id
        )
    };
    let said = if r.changes.is_empty() {
        "Nothing had changed in Intercom since the run before: it wrote nothing to Kustomer."
            .to_string()
    } else {
        "What it carried, by type and kind of change: created = new records (new customers, \
         conversations, replies appended); updated = the fields i2k owns rewritten in place; \
         closed, reopened, snoozed, reassigned, retagged = conversations' state changes; \
         conflict = a field an agent edited in Kustomer since i2k wrote it; removed = deleted \
         in Intercom (still in Kustomer); deleted = deleted in Kustomer too."
            .to_string()
    };
    let rows = r
        .changes
        .iter()
        .map(|(kind, counts)| {
            let mut cells = vec![kind.clone()];
            cells.extend(
                CHANGE_COLUMNS[1..]
                    .iter()
                    .map(|c| human_count(counts.get(*c).copied().unwrap_or(0))),
            );
            cells
        })
        .collect();
    let total: u64 = r.changes.values().filter_map(|c| c.get("conflict")).sum();
    let conflicts_said = (total > 0).then(|| {
        format!(
            "Conflicts ({}): Intercom changed a field an agent had edited in Kustomer since i2k \
             wrote it. The agent's value is kept (\"kept\") unless the run was asked to write \
             Intercom's over it (`--overwrite-conflicts`: \"overwritten as asked\"); each line \
             says what i2k wrote, what Kustomer has (the agent's value) and what Intercom has now:",
            human_count(total)
        )
    });
    let conflicts = record_change_lines(&r.conflicts, total);
    Some(ChangesText {
        heading,
        said,
        rows,
        conflicts_said,
        conflicts,
    })
}

/// A line for each change `listed`, then how many more of the `total` the list left out.
fn record_change_lines(listed: &[super::RecordChange], total: u64) -> Vec<String> {
    let mut lines: Vec<String> = listed.iter().map(record_change_line).collect();
    let more = total.saturating_sub(listed.len() as u64);
    if more > 0 {
        lines.push(format!(
            "… and {} more (the ledger's `changes` table holds them all)",
            human_count(more)
        ));
    }
    lines
}

/// `contacts 123 (Kustomer 64f…): name: i2k wrote "Ann", …`
fn record_change_line(c: &super::RecordChange) -> String {
    format!(
        "{} {}{}: {}",
        c.kind,
        c.id,
        c.kustomer_id
            .as_ref()
            .map(|k| format!(" (Kustomer {k})"))
            .unwrap_or_default(),
        c.detail
    )
}

/// The records deleted in Intercom and still in Kustomer: a heading, what to do about them and
/// one line each (capped, the rest counted). `None` when there are none.
pub(super) fn removed_kept_text(report: &Report) -> Option<(String, String, Vec<String>)> {
    if report.removed_kept_total == 0 {
        return None;
    }
    let heading = format!(
        "Deleted in Intercom, still in Kustomer ({})",
        human_count(report.removed_kept_total)
    );
    let said = "These records were deleted in Intercom after i2k loaded them; they are still in \
                Kustomer. To delete them there too, run `i2k run --delta --delete-removed` (on \
                the console: d on 5 Run, then y). A conversation goes with its messages, notes \
                and files."
        .to_string();
    let lines = record_change_lines(&report.removed_kept, report.removed_kept_total);
    Some((heading, said, lines))
}

/// The verification table's columns (the second to fourth are numbers), and a type's cells.
pub(super) const VERIFY_COLUMNS: [&str; 6] = [
    "type",
    "source",
    "expected",
    "Kustomer",
    "result",
    "counted by",
];

pub(super) fn verify_cells(
    v: &Verified,
    t: &crate::engine::model::TypeVerification,
) -> Vec<String> {
    vec![
        t.object.clone(),
        human_count(t.source),
        human_count(t.expected()),
        t.target.map_or_else(
            || format!("({} in the ledger)", human_count(t.migrated)),
            human_count,
        ),
        if t.agrees { "ok" } else { "DIFFERS" }.to_string(),
        v.verification
            .counted_by
            .get(&t.object)
            .cloned()
            .unwrap_or_default(),
    ]
}

/// A table's head; the columns in `numeric` are right-aligned.
fn table_head(md: &mut String, columns: &[&str], numeric: std::ops::Range<usize>) {
    md.push_str(&format!("| {} |\n|", columns.join(" | ")));
    for i in 0..columns.len() {
        md.push_str(if numeric.contains(&i) {
            "---:|"
        } else {
            "---|"
        });
    }
    md.push('\n');
}

pub fn render_markdown(report: &Report) -> String {
    let mut md = String::from("# Migration report\n\n");
    for (label, value) in header_lines(report) {
        md.push_str(&format!("- {label}: {value}\n"));
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

    md.push_str("\n## Runs\n\n");
    if report.runs.is_empty() {
        md.push_str("- none recorded\n");
    } else {
        table_head(&mut md, &RUN_COLUMNS, 5..10);
        for r in &report.runs {
            md.push_str(&format!("| {} |\n", run_cells(r).join(" | ")));
        }
        for r in &report.runs {
            if !r.scope.is_empty() {
                md.push_str(&format!(
                    "\nRun #{} was limited to: {}.\n",
                    r.id,
                    r.scope.join(", ")
                ));
            }
            if let Some((said, lines)) = sample_text(r) {
                md.push_str(&format!("\n{said}\n\n"));
                for line in lines {
                    md.push_str(&format!("- {line}\n"));
                }
            }
            if !r.defaults_taken.is_empty() {
                md.push_str(&format!("\nDefaults run #{} took:\n\n", r.id));
                for d in &r.defaults_taken {
                    md.push_str(&format!("- {d}\n"));
                }
            }
            if let Some(c) = changes_text(r) {
                md.push_str(&format!("\n### {}\n\n{}\n", c.heading, c.said));
                if !c.rows.is_empty() {
                    md.push('\n');
                    table_head(&mut md, &CHANGE_COLUMNS, 1..CHANGE_COLUMNS.len());
                    for row in &c.rows {
                        md.push_str(&format!("| {} |\n", row.join(" | ")));
                    }
                }
                if let Some(said) = &c.conflicts_said {
                    md.push_str(&format!("\n{said}\n\n"));
                    for line in &c.conflicts {
                        md.push_str(&format!("- {line}\n"));
                    }
                }
            }
        }
        if let Some((heading, said, lines)) = removed_kept_text(report) {
            md.push_str(&format!("\n### {heading}\n\n{said}\n\n"));
            for line in lines {
                md.push_str(&format!("- {line}\n"));
            }
        }
    }

    md.push_str("\n## Decisions\n\n");
    if report.decisions.is_empty() {
        md.push_str("- none recorded\n");
    } else {
        table_head(&mut md, &["area", "decision", "what it affected"], 0..0);
        for d in &report.decisions {
            md.push_str(&format!(
                "| {} | {} | {} |\n",
                d.area,
                d.decision.replace('|', "\\|"),
                d.affected.replace('|', "\\|")
            ));
        }
    }

    md.push_str("\n## Verification\n\n");
    match &report.verification {
        None => md.push_str(
            "Not verified yet: `i2k verify --state DIR` counts both sides and writes the result here.\n",
        ),
        Some(v) => {
            md.push_str(&format!("{}\n\n", verification_headline(v)));
            table_head(&mut md, &VERIFY_COLUMNS, 1..4);
            for t in &v.verification.types {
                md.push_str(&format!("| {} |\n", verify_cells(v, t).join(" | ")));
            }
            if !v.verification.samples.is_empty() {
                md.push_str("\nField samples:\n\n");
                for s in &v.verification.samples {
                    md.push_str(&format!(
                        "- {} {} → {}: {}\n",
                        s.object,
                        s.source_id,
                        s.target_id.as_deref().unwrap_or("(none)"),
                        if s.mismatches.is_empty() {
                            "matches".to_string()
                        } else {
                            s.mismatches.join("; ")
                        }
                    ));
                }
            }
        }
    }

    for (title, intercom) in OUTCOME_TABLES {
        md.push_str(&format!("\n## {title}\n\n"));
        table_head(&mut md, &OUTCOME_COLUMNS, 1..OUTCOME_COLUMNS.len());
        for r in report.rows.iter().filter(|r| r.intercom == intercom) {
            let cells: Vec<String> = outcome_cells(r).iter().map(|n| human_count(*n)).collect();
            md.push_str(&format!("| {} | {} |\n", r.object, cells.join(" | ")));
        }
    }
    let listed = |figure: fn(&super::TypeRow) -> u64| -> Vec<String> {
        report
            .rows
            .iter()
            .filter(|r| figure(r) > 0)
            .map(|r| format!("{} {}", human_count(figure(r)), r.object))
            .collect()
    };
    let matched = listed(|r| r.matched);
    if !matched.is_empty() {
        md.push_str(&format!(
            "\nMigrated by matching a Kustomer record that already existed (not created by i2k; a rollback leaves them): {}.\n",
            matched.join(", ")
        ));
    }
    let incomplete = listed(|r| r.incomplete);
    if !incomplete.is_empty() {
        md.push_str(&format!(
            "\nNot read whole from Intercom this time (a retrieval failed after the retries; not loaded until the next run reads them again): {}.\n",
            incomplete.join(", ")
        ));
    }
    md.push_str("\n## Reasons\n\n");
    for line in reason_lines(report) {
        md.push_str(&format!("- {line}\n"));
    }
    if report.warnings_total > 0 {
        md.push_str(&format!(
            "\n## Records migrated with warnings ({})\n\n",
            human_count(report.warnings_total)
        ));
        for w in &report.warnings {
            md.push_str(&format!("- {} {}: {}\n", w.kind, w.id, w.message));
        }
        let more = report
            .warnings_total
            .saturating_sub(report.warnings.len() as u64);
        if more > 0 {
            md.push_str(&format!(
                "- … and {} more (the ledger's `warnings` table holds them all)\n",
                human_count(more)
            ));
        }
    }
    md.push_str("\n## Unconfirmed Kustomer shapes relied on\n\n");
    for line in assumption_lines(report) {
        md.push_str(&format!("- {line}\n"));
    }
    if !report.fallbacks.is_empty() {
        md.push_str("\n## Fallbacks taken\n\n");
        for line in &report.fallbacks {
            md.push_str(&format!("- {line}\n"));
        }
    }
    md.push_str("\n## Rebuild by hand\n\n");
    md.push_str(&crate::engine::manual::checklist_markdown(
        &report.checklist,
    ));
    md.push_str("\n## Files\n\n");
    let f = &report.files;
    for (label, path) in [
        ("This report with charts", &f.report_html),
        ("Every figure as JSON", &f.report_json),
        ("Archive", &f.archive),
        ("Checklist", &f.manual),
    ] {
        md.push_str(&format!("- {label}: `{path}`\n"));
    }
    md.push_str(&format!(
        "- Failed, skipped and unknown records ({}): `{}`\n",
        human_count(report.follow_up),
        f.follow_up_csv
    ));
    md
}

#[cfg(test)]
mod tests {
    use super::human_count;

    #[test]
    fn counts_carry_thousands_separators() {
        for (n, shown) in [
            (0, "0"),
            (999, "999"),
            (1_000, "1,000"),
            (1_234_567, "1,234,567"),
        ] {
            assert_eq!(human_count(n), shown);
        }
    }
}
