//! `i2k run`: the migration, headless (progress lines or JSON lines) or in the console.

use std::process::ExitCode;

use anyhow::Context as _;

use crate::cli::{EXIT_FAILED, EXIT_NEEDS_DECISIONS, RunArgs};
use crate::commands::Context;
use crate::config::{Endpoints, FileConfig};
use crate::engine::context::{EngineConfig, LoadOptions};
use crate::engine::handle::RunOutcome;
use crate::engine::model::Command;
use crate::headless::{self, HeadlessOptions};

/// The Enterprise plan's budget per minute, when neither flag nor file names the org's.
pub const DEFAULT_KUSTOMER_RATE: u32 = 1000;

pub async fn run(ctx: &Context, args: RunArgs) -> anyhow::Result<ExitCode> {
    let endpoints = ctx.endpoints()?;
    let state_dir = ctx.state_dir()?;
    let config = engine_config(&endpoints, state_dir, &args, &ctx.file)?;
    if !args.headless {
        return crate::commands::console::open(config).await;
    }
    run_headless(config, args.json).await
}

/// Builds the engine's configuration from the command line, refusing what cannot work.
/// A flag given on the command line wins over the config file, which wins over the default.
pub fn engine_config(
    endpoints: &Endpoints,
    state_dir: std::path::PathBuf,
    args: &RunArgs,
    file: &FileConfig,
) -> anyhow::Result<EngineConfig> {
    let rate_share = args
        .rate_share
        .or(file.kustomer.rate_share)
        .unwrap_or(crate::engine::plan::DEFAULT_RATE_SHARE);
    let kustomer_rate = args
        .kustomer_rate
        .or(file.kustomer.rate_limit)
        .unwrap_or(DEFAULT_KUSTOMER_RATE);
    let workflow_ids = if args.workflow_ids.is_empty() {
        file.run.workflow_ids.clone().unwrap_or_default()
    } else {
        args.workflow_ids.clone()
    };
    if !(rate_share > 0.0 && rate_share <= 1.0) {
        anyhow::bail!(
            "--rate-share (or [kustomer] rate_share) must be more than 0 and at most 1, not {rate_share}"
        );
    }
    if kustomer_rate == 0 {
        anyhow::bail!(
            "--kustomer-rate (or [kustomer] rate_limit) must be at least 1 request per minute"
        );
    }
    crate::engine::phases::phases_for(&args.only).map_err(anyhow::Error::msg)?;
    let intercom_token = endpoints.intercom_token.clone().with_context(|| {
        format!(
            "{} is not set: export the Intercom access token",
            crate::config::INTERCOM_TOKEN_ENV
        )
    })?;
    let kustomer_token = endpoints.kustomer_token.clone().with_context(|| {
        format!(
            "{} is not set: export the Kustomer API key",
            crate::config::KUSTOMER_TOKEN_ENV
        )
    })?;
    Ok(EngineConfig {
        state_dir,
        intercom_url: endpoints.intercom_url.clone(),
        intercom_token,
        kustomer_url: endpoints.kustomer_url.clone(),
        kustomer_token,
        kustomer_rate,
        rate_share,
        only: args.only.clone(),
        accept_defaults: args.accept_defaults,
        workflow_ids,
        options: LoadOptions::default(),
    })
}

/// Runs to the end printing progress; the first Ctrl-C cancels cleanly (a later run resumes).
pub async fn run_headless(config: EngineConfig, json: bool) -> anyhow::Result<ExitCode> {
    // A wrong token, host or region is said in one line at once, not after a minute of retries.
    let (intercom, kustomer) = tokio::join!(
        crate::commands::doctor::check_intercom(
            &config.intercom_url,
            Some(config.intercom_token.clone())
        ),
        crate::commands::doctor::check_kustomer(
            &config.kustomer_url,
            Some(config.kustomer_token.clone())
        ),
    );
    for side in [&intercom, &kustomer] {
        if side.status == crate::engine::model::CheckStatus::Fail {
            let detail = side
                .detail
                .clone()
                .unwrap_or_else(|| format!("{} check failed", side.side));
            eprintln!("error: {detail}");
            return Ok(ExitCode::from(crate::cli::EXIT_BAD_INPUT));
        }
    }
    let _log = crate::logging::to_file(&config.state_dir)?;
    let handle = crate::engine::runner::start(config).await?;
    let commands = handle.commander();
    let interrupt = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!(
                "cancelling: in-flight requests settle; run again to resume (Ctrl-C again to stop at once)"
            );
            let _ = commands.send(Command::Cancel);
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    let mut stdout = std::io::stdout();
    let outcome = headless::follow(handle, HeadlessOptions { json }, &mut stdout).await;
    interrupt.abort();
    Ok(exit_code(&outcome?))
}

/// 0 when every record is done or deliberately skipped; 1 when records failed or the run was
/// cancelled; 3 when decisions are needed.
pub fn exit_code(outcome: &RunOutcome) -> ExitCode {
    match outcome {
        RunOutcome::Completed(s) if s.phases.iter().all(|p| p.failed == 0) => ExitCode::SUCCESS,
        RunOutcome::Completed(_) | RunOutcome::Cancelled(_) => ExitCode::from(EXIT_FAILED),
        RunOutcome::NeedsDecisions(_) => ExitCode::from(EXIT_NEEDS_DECISIONS),
    }
}
