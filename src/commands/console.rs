//! `i2k` with no command: the migration console on the configured migration.

use std::process::ExitCode;

use crate::cli::RunArgs;
use crate::commands::Context;
use crate::engine::context::EngineConfig;

pub async fn run(ctx: &Context) -> anyhow::Result<ExitCode> {
    let endpoints = ctx.endpoints()?;
    let state_dir = ctx.state_dir()?;
    let args = RunArgs {
        headless: false,
        json: false,
        accept_defaults: false,
        only: Vec::new(),
        rate_share: 0.8,
        kustomer_rate: 1000,
        workflow_ids: Vec::new(),
    };
    let config = crate::commands::run::engine_config(&endpoints, state_dir, &args)?;
    open(config).await
}

/// Opens the console on a migration.
pub async fn open(config: EngineConfig) -> anyhow::Result<ExitCode> {
    let _ = config;
    anyhow::bail!("the console is not built yet: use `i2k run --headless` or `i2k demo --headless`")
}
