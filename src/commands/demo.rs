//! `i2k demo`: both simulators in-process with a generated workspace, and the real product
//! against them — the console by default, or a headless run that also verifies and reports.
//! The simulators are saved beside the ledger (`<state>/sim/`), so a demo quit and started again
//! on the same state directory resumes against the org it was writing to.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::cli::{DemoArgs, RunArgs};
use crate::commands::Context;
use crate::commands::sim::{Keepers, SavedSims};
use crate::config::Endpoints;
use crate::http::Secret;
use crate::sim::{SimHandle, SimOptions, SizePreset};

/// The directory under the state directory that holds the demo's simulators.
pub const SIM_DIR: &str = "sim";
/// The simulated Intercom workspace, in [`SIM_DIR`].
pub const INTERCOM_FILE: &str = "intercom.json";
/// The simulated Kustomer org (the ground truth of what the demo wrote), in [`SIM_DIR`].
pub const KUSTOMER_FILE: &str = "kustomer.json";
/// How often a running demo saves its simulators: a quit saves at once, a kill loses at most
/// this much of what the simulated org received.
const SAVE_INTERVAL: Duration = Duration::from_secs(10);

pub async fn run(ctx: &Context, args: DemoArgs) -> anyhow::Result<ExitCode> {
    let state_dir = match &ctx.state {
        Some(dir) => dir.clone(),
        None => crate::config::state_root()
            .ok_or_else(|| {
                anyhow::anyhow!("no state directory: pass --state DIR (HOME is not set)")
            })?
            .join("demo")
            .join(format!("{}-{}", args.size, crate::timefmt::now_unix())),
    };
    let sims = DemoSims::start(args.size, &args.sim, &state_dir).await?;
    let config = engine_config(&args, &sims, state_dir.clone())?;
    if !args.headless {
        // The simulators serve the console's whole session, then stop with it and are saved.
        let shown = crate::commands::console::open(config).await;
        let saved = sims.stop().await;
        if shown.is_ok() {
            saved?;
            println!(
                "i2k demo: report, archive and checklist are in {}; `i2k demo --state {0}` resumes there",
                state_dir.display()
            );
        }
        return shown;
    }
    if !args.json {
        println!(
            "i2k demo: a {} workspace (seed {}) on simulated Intercom {} and Kustomer {}; state in {}{}",
            args.size,
            args.sim.seed,
            sims.intercom.url,
            sims.kustomer.url,
            state_dir.display(),
            if sims.resumed {
                " (resumed: the simulators as this state directory saved them)"
            } else {
                ""
            }
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
    sims.stop().await?;
    Ok(code)
}

/// The engine configuration of a demo on `sims`: their endpoints and tokens, 80 % of the
/// simulated budget, every workflow exported.
pub fn engine_config(
    args: &DemoArgs,
    sims: &DemoSims,
    state_dir: PathBuf,
) -> anyhow::Result<crate::engine::context::EngineConfig> {
    let endpoints = Endpoints {
        intercom_url: sims.intercom.url.clone(),
        intercom_token: Some(Secret::new(sims.intercom.token.clone())),
        kustomer_url: sims.kustomer.url.clone(),
        kustomer_token: Some(Secret::new(sims.kustomer.token.clone())),
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
    crate::commands::run::engine_config(
        &endpoints,
        state_dir,
        &run_args,
        &crate::config::FileConfig::default(),
    )
}

/// A demo's simulators on loopback, loaded from its state directory when it holds them and
/// saved there as they go ([`SAVE_INTERVAL`]) and when they stop.
pub struct DemoSims {
    pub intercom: SimHandle,
    pub kustomer: SimHandle,
    /// Loaded from the state directory: the demo resumes on what it wrote before.
    pub resumed: bool,
    keepers: Keepers,
    state_dir: PathBuf,
    saving: JoinHandle<()>,
    stop_saving: oneshot::Sender<()>,
}

impl DemoSims {
    /// Starts the simulators of a `size` workspace on `state_dir`: the saved ones when it holds
    /// them (refused, saying why, when they are of another size or seed, or when the directory
    /// holds a migration without them), fresh ones otherwise. They are saved at once, so the
    /// state directory never holds the demo's ledger without them.
    pub async fn start(
        size: SizePreset,
        opts: &SimOptions,
        state_dir: &Path,
    ) -> anyhow::Result<DemoSims> {
        let saved = load(state_dir, size, opts.seed)?;
        let resumed = saved.is_some();
        let loopback = "127.0.0.1:0".parse()?;
        let (intercom, kustomer, keepers) =
            crate::commands::sim::start_kept(size, opts, loopback, loopback, saved).await?;
        save(state_dir, &keepers).await?;
        let (stop_saving, stop) = oneshot::channel();
        let saving = tokio::spawn(save_until(state_dir.to_path_buf(), keepers.clone(), stop));
        Ok(DemoSims {
            intercom,
            kustomer,
            resumed,
            keepers,
            state_dir: state_dir.to_path_buf(),
            saving,
            stop_saving,
        })
    }

    /// Stops both simulators (requests in flight are answered first), then saves them.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop_saving.send(());
        let _ = self.saving.await;
        self.intercom.shutdown().await;
        self.kustomer.shutdown().await;
        save(&self.state_dir, &self.keepers).await
    }
}

/// Saves the simulators every [`SAVE_INTERVAL`] until `stop`; a failed save is logged and tried
/// again next time (the one on stop reports its error).
async fn save_until(state_dir: PathBuf, keepers: Keepers, mut stop: oneshot::Receiver<()>) {
    loop {
        tokio::select! {
            _ = &mut stop => return,
            () = tokio::time::sleep(SAVE_INTERVAL) => {}
        }
        if let Err(e) = save(&state_dir, &keepers).await {
            tracing::warn!("could not save the demo's simulators: {e:#}");
        }
    }
}

/// Writes both simulators under `state_dir`/[`SIM_DIR`], each file 0600 and replaced whole.
async fn save(state_dir: &Path, keepers: &Keepers) -> anyhow::Result<()> {
    let workspace = keepers.intercom.save();
    let org = keepers.kustomer.save();
    let dir = state_dir.join(SIM_DIR);
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        crate::config::create_private_dir(&dir)?;
        crate::config::replace_private_file(
            &dir.join(INTERCOM_FILE),
            &serde_json::to_vec(&workspace)?,
        )?;
        crate::config::replace_private_file(&dir.join(KUSTOMER_FILE), &serde_json::to_vec(&org)?)
    })
    .await
    .context("saving the demo's simulators stopped")?
}

/// The simulators `state_dir` holds for a demo of `size` and `seed`, if any.
fn load(state_dir: &Path, size: SizePreset, seed: u64) -> anyhow::Result<Option<SavedSims>> {
    let dir = state_dir.join(SIM_DIR);
    let (intercom_file, kustomer_file) = (dir.join(INTERCOM_FILE), dir.join(KUSTOMER_FILE));
    if !intercom_file.exists() && !kustomer_file.exists() {
        if state_dir.join(crate::ledger::DB_FILE).exists() {
            anyhow::bail!(
                "{} holds a migration but not the simulators it ran against ({SIM_DIR}/), so a demo \
                 cannot resume there: pass a fresh --state DIR (or none) for a new demo",
                state_dir.display()
            );
        }
        return Ok(None);
    }
    let intercom: crate::sim::intercom::SavedWorkspace = read_json(&intercom_file)?;
    let kustomer: crate::sim::kustomer::SavedOrg = read_json(&kustomer_file)?;
    if intercom.size != size || intercom.seed != seed || kustomer.seed != seed {
        anyhow::bail!(
            "{} holds a demo of a {} workspace (seed {}), not {size} (seed {seed}): pass \
             --size {} --seed {} to resume it, or a fresh --state DIR for a new demo",
            state_dir.display(),
            intercom.size,
            intercom.seed,
            intercom.size,
            intercom.seed
        );
    }
    Ok(Some(SavedSims { intercom, kustomer }))
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let text = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_slice(&text).with_context(|| {
        format!(
            "{} is not a saved simulator (damaged?): move it away to start a new demo there",
            path.display()
        )
    })
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
