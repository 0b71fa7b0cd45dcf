//! `i2k demo`: both simulators in-process with a generated workspace, and the real product
//! against them — the console by default, or a headless run that also verifies and reports.

use std::process::ExitCode;

use crate::cli::{DemoArgs, RunArgs};
use crate::commands::Context;
use crate::config::Endpoints;
use crate::http::Secret;

pub async fn run(ctx: &Context, args: DemoArgs) -> anyhow::Result<ExitCode> {
    let loopback = "127.0.0.1:0".parse()?;
    let (intercom_sim, kustomer_sim) =
        crate::commands::sim::start_both(args.size, &args.sim, loopback, loopback).await?;
    // The simulated org starts fresh every time, so the demo's ledger must too.
    let state_dir = match &ctx.state {
        Some(dir) => dir.clone(),
        None => crate::config::state_root()
            .ok_or_else(|| {
                anyhow::anyhow!("no state directory: pass --state DIR (HOME is not set)")
            })?
            .join("demo")
            .join(format!("{}-{}", args.size, crate::timefmt::now_unix())),
    };
    let endpoints = Endpoints {
        intercom_url: intercom_sim.url.clone(),
        intercom_token: Some(Secret::new(intercom_sim.token.clone())),
        kustomer_url: kustomer_sim.url.clone(),
        kustomer_token: Some(Secret::new(kustomer_sim.token.clone())),
    };
    let run_args = RunArgs {
        headless: args.headless,
        json: args.json,
        // Headless never waits for a person; the console lets the operator decide.
        accept_defaults: args.headless,
        accept_restamped_times: args.accept_restamped_times,
        budget: crate::cli::BudgetArgs {
            rate_share: Some(0.8),
            kustomer_rate: Some(args.sim.kustomer_rate),
        },
        workflow_ids: simulated_workflow_ids(args.size),
        ..RunArgs::default()
    };
    // The demo runs against its own simulators: the operator's config file does not apply.
    let config = crate::commands::run::engine_config(
        &endpoints,
        state_dir.clone(),
        &run_args,
        &crate::config::FileConfig::default(),
    )?;
    if !args.headless {
        // The simulators serve the console's whole session, then stop with it.
        let shown = crate::commands::console::open(config).await;
        intercom_sim.shutdown().await;
        kustomer_sim.shutdown().await;
        if shown.is_ok() {
            println!(
                "i2k demo: report, archive and checklist are in {}",
                state_dir.display()
            );
        }
        return shown;
    }
    if !args.json {
        println!(
            "i2k demo: a {} workspace (seed {}) on simulated Intercom {} and Kustomer {}; state in {}",
            args.size,
            args.sim.seed,
            intercom_sim.url,
            kustomer_sim.url,
            state_dir.display()
        );
    }
    let for_verify = config.clone();
    let code = crate::commands::run::run_headless(config, args.json).await?;
    // An interrupted demo has nothing finished to verify.
    if code != ExitCode::from(crate::cli::EXIT_INTERRUPTED) {
        crate::commands::run::verify_after_run(for_verify, args.json).await;
        let options = crate::headless::HeadlessOptions { json: args.json };
        let _ = crate::headless::print_written(&state_dir, options, &mut std::io::stdout());
    }
    intercom_sim.shutdown().await;
    kustomer_sim.shutdown().await;
    Ok(code)
}

/// The ids of every workflow the simulated Intercom workspace of `size` serves, so the demo
/// exports them all into the archive.
fn simulated_workflow_ids(size: crate::sim::SizePreset) -> Vec<String> {
    use crate::sim::intercom::generate::{Sizes, WORKFLOW_ID_BASE};
    (0..Sizes::of(size).workflows as u64)
        .map(|w| (WORKFLOW_ID_BASE + w).to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::archive::{WorkflowExport, export_workflows};
    use crate::sim::SizePreset;

    #[tokio::test]
    async fn the_demo_exports_every_workflow_of_the_simulated_workspace() {
        let size = SizePreset::Tiny;
        let sim = crate::sim::intercom::spawn(
            crate::sim::intercom::Config::new(42, size),
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap();
        let intercom = crate::intercom::IntercomClient::connect(
            &sim.url,
            Secret::new(sim.token.clone()),
            1_000,
        )
        .unwrap();
        let dir = std::env::temp_dir().join(format!(
            "i2k-demo-workflows-{}-{}",
            std::process::id(),
            crate::rng::Rng::from_entropy().hex(4)
        ));
        let ids = simulated_workflow_ids(size);
        assert!(!ids.is_empty());
        let exports = export_workflows(&intercom, &ids, &dir).await.unwrap();
        assert_eq!(exports.len(), ids.len());
        for export in &exports {
            assert!(
                matches!(export, WorkflowExport::Written { .. }),
                "{export:?}"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
        sim.shutdown().await;
    }
}
