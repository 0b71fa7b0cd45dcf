//! `i2k verify`: compares source and target counts per type through Kustomer's list routes, and
//! a sample of records field by field; prints a table (or one JSON object with `--json`); exits 0
//! when everything agrees, 1 when anything differs. Only the migration's scope is judged: the
//! types `--only` names, else those of the last run's `--only`; the others show as not in scope.
//!
//! The result is kept in the ledger (`verifications`) and, where a run wrote a report, the
//! report is written again with it; `--json` adds `agrees` and the report's paths (`report`).
//!
//! It opens the ledger with `Ledger::open`, which takes the state directory's lock: verify writes
//! nothing, but counts taken while a run is still loading would disagree by construction, so it
//! refuses to run beside one (the lock error says so) rather than report a half-loaded state.

use std::process::ExitCode;

use crate::cli::{EXIT_FAILED, VerifyArgs};
use crate::commands::Context;
use crate::engine::model::TypeVerification;
use crate::engine::verify::{NOT_IN_SCOPE, Scope, Verification, verify_scope};
use crate::ledger::Ledger;

pub async fn run(ctx: &Context, args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let state_dir = ctx.existing_state_dir()?;
    let kustomer = ctx.kustomer_client(&args.budget)?;
    // An unknown type is refused before anything is opened or counted.
    let named = if args.only.is_empty() {
        None
    } else {
        Some(Scope::only(&args.only).map_err(anyhow::Error::msg)?)
    };
    let ledger = Ledger::open(&state_dir)?;
    crate::engine::context::start_from_kept_timeouts(&ledger, kustomer.api());
    let scope = match named {
        Some(scope) => scope,
        None => Scope::of_last_run(&ledger)?,
    };
    let verification = verify_scope(&ledger, &kustomer, &scope).await?;
    // The report (where a run wrote one) shows this verification from now on.
    let paths = crate::engine::report::refresh(&ledger, &state_dir)?;
    if args.json {
        let mut out = serde_json::to_value(&verification)?;
        out["agrees"] = serde_json::json!(verification.agrees());
        out["report"] = serde_json::json!(paths);
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{}", render(&verification));
        if let Some(paths) = paths {
            println!(
                "report: {} (with charts: {})",
                paths.md.display(),
                paths.html.display()
            );
        }
    }
    Ok(if verification.agrees() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    })
}

/// The text report: one row per type, then the sampled records that differ.
pub fn render(v: &Verification) -> String {
    let mut out = format!(
        "{:<24} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}  {:<7}  {}\n",
        "type",
        "source",
        "archived",
        "manual",
        "skipped",
        "n/a",
        "failed",
        "unread.",
        "expected",
        "kustomer",
        "",
        "counted by"
    );
    for t in &v.types {
        let expected = t.expected();
        let target = match t.target {
            Some(n) => n.to_string(),
            None => format!("({})", t.migrated),
        };
        let how = v.counted_by.get(&t.object).map_or("", String::as_str);
        out.push_str(&format!(
            "{:<24} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}  {:<7}  {}\n",
            t.object,
            t.source,
            t.archived,
            t.manual,
            t.skipped,
            t.not_retrievable,
            t.failed,
            t.unreadable,
            expected,
            target,
            if t.agrees { "ok" } else { "DIFFERS" },
            how
        ));
    }
    for t in &v.not_in_scope {
        out.push_str(&format!(
            "{:<24} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}  {NOT_IN_SCOPE}\n",
            t.object, t.source, "-", "-", "-", "-", "-", "-", "-", "-"
        ));
    }
    out.push_str("(n) = not listable in Kustomer: the ledger's migrated count stands in\n");
    // Records set apart from the ordinary failures: how many, what they are, and whether they
    // are the type's whole difference.
    type Apart = (
        fn(&TypeVerification) -> u64,
        fn(&TypeVerification) -> bool,
        &'static str,
    );
    let apart: [Apart; 2] = [
        (
            |t| t.unreadable,
            TypeVerification::short_only_by_unreadable,
            "could not be read from the ledger (the stored Intercom record is not JSON): not loaded, each failed with its reason on the Errors screen",
        ),
        (
            |t| t.unknown,
            TypeVerification::short_only_by_unknown,
            "of unknown outcome (sent, the answer was lost, and Kustomer has no route to look them up): never sent again, listed on the Errors screen and in follow-up.csv: check them in Kustomer (S on the Errors screen marks one settled)",
        ),
    ];
    for (count, whole, what) in apart {
        for t in v.types.iter().filter(|t| count(t) > 0) {
            let rest = if whole(t) {
                "they are the whole difference"
            } else {
                "the rest of the difference is elsewhere"
            };
            out.push_str(&format!(
                "{}: {} record(s) {what}; {rest}\n",
                t.object,
                count(t)
            ));
        }
    }
    for t in v.types.iter().filter(|t| t.incomplete > 0) {
        out.push_str(&format!(
            "{}: {} record(s) could not be read whole from Intercom (a retrieval failed after the retries); the next run reads them again\n",
            t.object, t.incomplete
        ));
    }
    if !v.scope.is_empty() {
        out.push_str(&format!(
            "scope: {} and what they depend on ({} types not in scope: verify --only TYPES judges others)\n",
            v.scope.join(","),
            v.not_in_scope.len()
        ));
    }
    let differing: Vec<_> = v
        .samples
        .iter()
        .filter(|s| !s.mismatches.is_empty())
        .collect();
    out.push_str(&format!(
        "samples: {} compared field by field, {} differ\n",
        v.samples.len(),
        differing.len()
    ));
    for s in differing {
        for m in &s.mismatches {
            out.push_str(&format!("  {} {}: {m}\n", s.object, s.source_id));
        }
    }
    out.push_str(if v.agrees() {
        "verify: everything agrees\n"
    } else {
        "verify: DIFFERENCES found\n"
    });
    out
}
