//! `i2k rollback --state DIR [--yes]`: shows what the rollback will delete from Kustomer (by
//! type) and what Kustomer's API cannot delete, asks on a terminal (`--yes` for scripts), then
//! deletes (see `engine::rollback`). The Kustomer key comes from the environment, as for `run`.

use std::io::IsTerminal;
use std::process::ExitCode;

use crate::cli::{EXIT_FAILED, RollbackArgs};
use crate::commands::Context;
use crate::engine::rollback::{plan, rollback};
use crate::ledger::Ledger;

pub async fn run(ctx: &Context, args: RollbackArgs) -> anyhow::Result<ExitCode> {
    let state_dir = ctx.existing_state_dir()?;
    let kustomer = ctx.kustomer_client(&args.budget)?;
    let ledger = Ledger::open(&state_dir)?;
    crate::engine::context::start_from_kept_timeouts(&ledger, kustomer.api());
    let planned = plan(&ledger)?;
    print!("{}", planned.render());
    if planned.to_delete() == 0 {
        println!("nothing to delete");
        return Ok(ExitCode::SUCCESS);
    }
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            anyhow::bail!(
                "not deleting without confirmation: pass --yes when stdin is not a terminal"
            );
        }
        if !crate::commands::confirm(&format!(
            "Delete these {} record(s) from Kustomer? [y/N] ",
            planned.to_delete()
        ))? {
            println!("nothing changed");
            return Ok(ExitCode::SUCCESS);
        }
    }
    let outcome = rollback(&ledger, &kustomer, |line| println!("{line}")).await?;
    let deleted: u64 = outcome.deleted.values().sum();
    println!("deleted {deleted} record(s); the ledger is ready for a fresh `i2k run`");
    for l in &outcome.left {
        println!(
            "left {} {} (Kustomer id {}): {}",
            l.kind, l.source_id, l.target_id, l.why
        );
    }
    if !outcome.staying.is_empty() {
        println!(
            "what Kustomer's API cannot delete is listed in {}",
            state_dir.join(crate::engine::manual::MANUAL_FILE).display()
        );
    }
    Ok(if outcome.left.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    })
}
