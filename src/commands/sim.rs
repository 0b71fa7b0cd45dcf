//! `i2k sim`: serves the simulators standalone. The first stdout line is one JSON object with
//! their URLs and tokens; Ctrl-C stops them cleanly.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::json;

use crate::cli::SimArgs;
use crate::commands::Context;
use crate::sim::faults::FaultSpec;
use crate::sim::{intercom, kustomer};

pub async fn run(_ctx: &Context, args: SimArgs) -> anyhow::Result<ExitCode> {
    let opts = &args.sim;
    let faults = FaultSpec::parse(&opts.faults).map_err(|e| anyhow::anyhow!("--faults: {e}"))?;
    let mut config = intercom::Config::new(opts.seed, args.size);
    config.rate_per_window = opts.intercom_rate;
    config.latency = Duration::from_millis(opts.latency_ms);
    config.scroll_idle = Duration::from_secs(opts.scroll_idle_secs);
    config.faults = faults;
    config.fault_hang = Duration::from_millis(opts.fault_hang_ms);
    let intercom_sim = intercom::spawn(config, args.intercom_addr)
        .await
        .with_context(|| {
            format!(
                "could not serve the Intercom simulator on {}",
                args.intercom_addr
            )
        })?;
    let mut line = json!({
        "intercom_url": intercom_sim.url,
        "intercom_token": intercom_sim.token,
        "size": args.size.to_string(),
        "seed": opts.seed,
    });
    // The org's users derive from the same admins the Intercom workspace has.
    let agents = intercom::admin_identities(opts.seed, args.size);
    let kustomer_config = kustomer::Config::from_options(opts, agents)
        .map_err(|e| anyhow::anyhow!("--faults: {e}"))?;
    let kustomer_sim = kustomer::spawn(kustomer_config, args.kustomer_addr)
        .await
        .with_context(|| {
            format!(
                "could not serve the Kustomer simulator on {}",
                args.kustomer_addr
            )
        })?;
    line["kustomer_url"] = json!(kustomer_sim.url);
    line["kustomer_token"] = json!(kustomer_sim.token);
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()?;
    drop(stdout);
    tokio::signal::ctrl_c()
        .await
        .context("could not listen for Ctrl-C")?;
    intercom_sim.shutdown().await;
    kustomer_sim.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
