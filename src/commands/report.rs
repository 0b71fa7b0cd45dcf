//! `i2k report`: rewrites the archive files, `MANUAL.md` and the report (`report.md`,
//! `report.html`, `report.json`, `follow-up.csv`) of the migration in the state directory from its ledger, and prints the
//! Markdown report. Workflow exports already in the archive are listed; none are fetched.

use std::process::ExitCode;

use crate::cli::ReportArgs;
use crate::commands::Context;
use crate::engine::archive;
use crate::engine::{manual, report};
use crate::ledger::Ledger;

pub async fn run(ctx: &Context, _args: ReportArgs) -> anyhow::Result<ExitCode> {
    let state_dir = ctx.existing_state_dir()?;
    let ledger = Ledger::open(&state_dir)?;
    archive::write_archive(&ledger, &state_dir)?;
    let workflows = archive::written_workflows(&state_dir);
    manual::write_manual(&ledger, &state_dir, &workflows)?;
    let (built, paths) = report::rewrite(&ledger, &state_dir, &workflows)?;
    print!("{}", report::render_markdown(&built));
    eprintln!(
        "wrote {}, {}, {} and {}",
        paths.md.display(),
        paths.html.display(),
        paths.json.display(),
        paths.csv.display()
    );
    Ok(ExitCode::SUCCESS)
}
