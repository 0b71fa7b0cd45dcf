//! `i2k sim`: serves the simulators standalone. The first stdout line is one JSON object with
//! their URLs and tokens; Ctrl-C stops them cleanly.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::json;

use std::net::SocketAddr;

use crate::cli::{SimArgs, SimOptions};
use crate::commands::Context;
use crate::sim::faults::FaultSpec;
use crate::sim::{SimHandle, SizePreset, intercom, kustomer};

pub async fn run(_ctx: &Context, args: SimArgs) -> anyhow::Result<ExitCode> {
    let (intercom_sim, kustomer_sim) =
        start_both(args.size, &args.sim, args.intercom_addr, args.kustomer_addr).await?;
    let line = json!({
        "intercom_url": intercom_sim.url,
        "intercom_token": intercom_sim.token,
        "kustomer_url": kustomer_sim.url,
        "kustomer_token": kustomer_sim.token,
        "size": args.size.to_string(),
        "seed": args.sim.seed,
    });
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

/// Starts both simulators from the same seed: the Kustomer org's users derive from the Intercom
/// workspace's admins. Used by `sim`, `demo` and `bench`.
pub async fn start_both(
    size: SizePreset,
    opts: &SimOptions,
    intercom_addr: SocketAddr,
    kustomer_addr: SocketAddr,
) -> anyhow::Result<(SimHandle, SimHandle)> {
    let (intercom_sim, kustomer_sim, _) =
        start_kept(size, opts, intercom_addr, kustomer_addr, None).await?;
    Ok((intercom_sim, kustomer_sim))
}

/// What both simulators hold, as saved: the workspace and the org.
pub struct SavedSims {
    pub intercom: intercom::SavedWorkspace,
    pub kustomer: kustomer::SavedOrg,
}

/// Reads both simulators for saving.
#[derive(Clone)]
pub struct Keepers {
    pub intercom: intercom::Keeper,
    pub kustomer: kustomer::Keeper,
}

/// As [`start_both`], serving what `saved` holds (a demo resumed on its state directory) or a
/// fresh workspace and org, with the [`Keepers`] to save them later.
pub async fn start_kept(
    size: SizePreset,
    opts: &SimOptions,
    intercom_addr: SocketAddr,
    kustomer_addr: SocketAddr,
    saved: Option<SavedSims>,
) -> anyhow::Result<(SimHandle, SimHandle, Keepers)> {
    let faults = FaultSpec::parse(&opts.faults).map_err(|e| anyhow::anyhow!("--faults: {e}"))?;
    let mut config = intercom::Config::new(opts.seed, size);
    config.rate_per_window = opts.intercom_rate;
    config.latency = Duration::from_millis(opts.latency_ms);
    config.scroll_idle = Duration::from_secs(opts.scroll_idle_secs);
    config.faults = faults;
    config.fault_hang = Duration::from_millis(opts.fault_hang_ms);
    config.hostile = opts.hostile;
    let (saved_workspace, saved_org) = match saved {
        Some(s) => (Some(s.intercom), Some(s.kustomer)),
        None => (None, None),
    };
    let cannot_serve = |which: &'static str, addr: SocketAddr| {
        move || format!("could not serve the {which} simulator on {addr}")
    };
    let (intercom_sim, intercom_keeper) =
        intercom::spawn_kept(config, intercom_addr, saved_workspace)
            .await
            .with_context(cannot_serve("Intercom", intercom_addr))?;
    let agents = intercom::admin_identities(opts.seed, size);
    let kustomer_config = kustomer::Config::from_options(opts, agents)
        .map_err(|e| anyhow::anyhow!("--faults: {e}"))?;
    let (kustomer_sim, kustomer_keeper) =
        kustomer::spawn_kept(kustomer_config, kustomer_addr, saved_org)
            .await
            .with_context(cannot_serve("Kustomer", kustomer_addr))?;
    let keepers = Keepers {
        intercom: intercom_keeper,
        kustomer: kustomer_keeper,
    };
    Ok((intercom_sim, kustomer_sim, keepers))
}
