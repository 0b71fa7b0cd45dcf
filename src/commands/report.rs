//! `i2k report`: rewrites the archive files, `MANUAL.md` and the report (`report.md`,
//! `report.json`) of the migration in the state directory from its ledger, and prints the
//! Markdown report. Workflow exports already in the archive are listed; none are fetched.

use std::process::ExitCode;

use crate::cli::ReportArgs;
use crate::commands::Context;
use crate::engine::archive::{self, ARCHIVE_DIR, WORKFLOWS_DIR, WorkflowExport};
use crate::engine::{manual, report};
use crate::ledger::Ledger;

pub async fn run(ctx: &Context, _args: ReportArgs) -> anyhow::Result<ExitCode> {
    let state_dir = ctx.existing_state_dir()?;
    let ledger = Ledger::open(&state_dir)?;
    archive::write_archive(&ledger, &state_dir)?;
    let mut workflows = Vec::new();
    if let Ok(entries) = std::fs::read_dir(state_dir.join(ARCHIVE_DIR).join(WORKFLOWS_DIR)) {
        for entry in entries.flatten() {
            let path = entry.path();
            if let Some(id) = path.file_stem().and_then(|s| s.to_str()) {
                workflows.push(WorkflowExport::Written {
                    id: id.to_string(),
                    path: path.clone(),
                });
            }
        }
    }
    workflows.sort_by_key(|w| format!("{w:?}"));
    manual::write_manual(&ledger, &state_dir, &workflows)?;
    let built = report::build_report(&ledger, report::last_run_summary(&ledger).as_ref())?;
    let (md, json) = report::write_report(&built, &state_dir)?;
    print!("{}", report::render_markdown(&built));
    eprintln!("wrote {} and {}", md.display(), json.display());
    Ok(ExitCode::SUCCESS)
}
