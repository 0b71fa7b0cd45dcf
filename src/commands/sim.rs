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
use crate::sim::intercom;

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
    // KUSTOMER SIMULATOR: start it here (on `args.kustomer_addr`, with `opts.kustomer_rate`,
    // `opts.bulk_delay_ms`, `opts.indexing_delay_ms`, the same fault spec) and add its
    // `kustomer_url` and `kustomer_token` to `line` before it is printed.
    let _ = &mut line;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()?;
    drop(stdout);
    tokio::signal::ctrl_c()
        .await
        .context("could not listen for Ctrl-C")?;
    intercom_sim.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
