//! `i2k plan`: prints the scope from the ledger — every object type with its count in Intercom,
//! its bucket, what cannot be carried, and the load-time estimate at the Kustomer plan's budget.
//! Needs only the Intercom side; when nothing is staged yet it extracts first, saying so.

use std::process::ExitCode;

use crate::cli::{EXIT_BAD_INPUT, PlanArgs};
use crate::commands::Context;
use crate::commands::extract::{extract_with_progress, intercom_client};
use crate::engine::disk::{self, DiskEstimate};
use crate::engine::plan::{
    Plan, build_plan, counts_from_ledger, describe_unfinished, human_duration, unfinished_listings,
};
use crate::ledger::Ledger;

pub async fn run(ctx: &Context, args: PlanArgs) -> anyhow::Result<ExitCode> {
    let state = ctx.state_dir()?;
    let ledger = Ledger::open(&state)?;
    let staged = ledger.read(|r| r.source_counts())?;
    if staged.values().all(|n| *n == 0) {
        eprintln!(
            "nothing is staged in {} yet: extracting the workspace first",
            state.display()
        );
        let Some(client) = intercom_client(ctx).await? else {
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        };
        // Progress and the extraction summary go to stderr: stdout is the plan alone.
        let code = extract_with_progress(&client, &ledger, &state, true, true).await?;
        if code != ExitCode::SUCCESS {
            return Ok(code);
        }
    }
    let (counts, unused_segments) = ledger.read(counts_from_ledger)?;
    let (rate, share) = match crate::commands::kustomer_budget(
        &ctx.file,
        &crate::cli::BudgetArgs {
            kustomer_rate: args.kustomer_rate,
            rate_share: None,
        },
    ) {
        Ok(budget) => budget,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    let mut plan = build_plan(&counts, unused_segments, rate, share);
    plan.unfinished = ledger.read(unfinished_listings)?;
    let estimate = disk::estimate_for(&ledger).await?;
    let free = disk::free_bytes(&state).ok();
    plan.disk = Some(estimate);
    if args.json {
        println!("{}", serde_json::to_string(&plan)?);
    } else {
        print_plan(&plan);
        if let Some(estimate) = &plan.disk {
            print_disk(estimate, &state, free);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_disk(estimate: &DiskEstimate, state: &std::path::Path, free: Option<u64>) {
    println!("disk: {}", disk::describe(estimate));
    println!(
        "      needs {} more free in {}{}",
        disk::human_bytes(estimate.needed_bytes),
        state.display(),
        match free {
            Some(free) => format!(" ({} free)", disk::human_bytes(free)),
            None => String::new(),
        }
    );
}

fn print_plan(plan: &Plan) {
    // Said first and last: a partial count must not pass for the workspace's.
    let unfinished = describe_unfinished(&plan.unfinished);
    if let Some(line) = &unfinished {
        println!("! {line}");
        println!();
    }
    println!(
        "{:<24} {:>10}  {:<8} {:>14}  note",
        "type", "count", "bucket", "not carried"
    );
    for row in &plan.types {
        println!(
            "{:<24} {:>10}  {:<8} {:>14}  {}",
            row.object,
            row.count,
            row.bucket.label(),
            row.not_retrievable,
            row.note
        );
    }
    let parts = plan
        .types
        .iter()
        .find(|r| r.object == "conversation_parts")
        .map_or(0, |r| r.not_retrievable);
    let events = plan
        .types
        .iter()
        .find(|r| r.object == "data_events")
        .map_or(0, |r| r.not_retrievable);
    println!();
    println!(
        "cannot be carried: {parts} conversation parts beyond 500, {events} events older than 90 days"
    );
    let unreadable: Vec<String> = plan
        .types
        .iter()
        .filter(|r| r.unreadable > 0)
        .map(|r| format!("{} {}", r.unreadable, r.object))
        .collect();
    if !unreadable.is_empty() {
        println!(
            "unreadable: {} stored record(s) cannot be read from the ledger (damaged since extraction): each will fail with its reason, not load",
            unreadable.join(", ")
        );
    }
    println!("manual:");
    for item in &plan.manual {
        println!("  - {item}");
    }
    println!(
        "estimate: {} Kustomer requests at {} req/min × {:.0}% share ≈ {}",
        plan.kustomer_requests,
        plan.kustomer_rate_per_minute,
        plan.rate_share * 100.0,
        human_duration(plan.estimate_seconds)
    );
    if unfinished.is_some() {
        println!("! partial: the estimate covers only what extraction has read so far");
    }
}
