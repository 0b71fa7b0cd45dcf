//! One module per command; each takes the parsed arguments and returns the process exit code.

pub mod bench;
pub mod console;
pub mod demo;
pub mod doctor;
pub mod extract;
pub mod plan;
pub mod report;
pub mod restore;
pub mod rollback;
pub mod run;
pub mod sim;
pub mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::CommandFactory;

use crate::cli::{Cli, Command};
use crate::config::{ConnectArgs, Endpoints, FileConfig};

/// What every command may need besides its own arguments.
#[derive(Debug, Clone)]
pub struct Context {
    pub file: FileConfig,
    pub connect: ConnectArgs,
    pub state: Option<PathBuf>,
}

impl Context {
    pub fn endpoints(&self) -> anyhow::Result<Endpoints> {
        Endpoints::resolve(&self.connect, &self.file)
    }

    pub fn state_dir(&self) -> anyhow::Result<PathBuf> {
        crate::config::state_dir(self.state.as_deref(), &self.file)
    }

    /// The state directory of a migration that has a ledger (verify and report read one).
    pub fn existing_state_dir(&self) -> anyhow::Result<PathBuf> {
        let state_dir = self.state_dir()?;
        if !state_dir.join(crate::ledger::DB_FILE).exists() {
            anyhow::bail!(
                "no ledger in {}: run `i2k run` (or pass the migration's --state) first",
                state_dir.display()
            );
        }
        Ok(state_dir)
    }
}

impl Context {
    /// A Kustomer client from the configured URL and the key in the environment, within the
    /// budget of `budget` (see [`kustomer_budget`]).
    pub fn kustomer_client(
        &self,
        budget: &crate::cli::BudgetArgs,
    ) -> anyhow::Result<crate::kustomer::KustomerClient> {
        let endpoints = self.endpoints()?;
        let token = endpoints.required_kustomer_token()?;
        let (rate, share) = kustomer_budget(&self.file, budget)?;
        Ok(crate::kustomer::KustomerClient::connect(
            &endpoints.kustomer_url,
            token,
            rate,
            share,
        )?)
    }
}

/// The share of the Kustomer org budget and the plan's budget per minute a command works within:
/// a flag wins over the config file (`[kustomer] rate_share`, `rate_limit`), which wins over the
/// defaults (0.8 of 1,000 a minute). Refused when it cannot work.
pub fn kustomer_budget(
    file: &FileConfig,
    flags: &crate::cli::BudgetArgs,
) -> anyhow::Result<(u32, f64)> {
    let rate = flags
        .kustomer_rate
        .or(file.kustomer.rate_limit)
        .unwrap_or(crate::kustomer::client::DEFAULT_RATE_LIMIT_PER_MINUTE);
    let share = flags
        .rate_share
        .or(file.kustomer.rate_share)
        .unwrap_or(crate::kustomer::client::DEFAULT_RATE_SHARE);
    if !(share > 0.0 && share <= 1.0) {
        anyhow::bail!(
            "--rate-share (or [kustomer] rate_share) must be more than 0 and at most 1, not {share}"
        );
    }
    if rate == 0 {
        anyhow::bail!(
            "--kustomer-rate (or [kustomer] rate_limit) must be at least 1 request per minute"
        );
    }
    Ok((rate, share))
}

/// Asks a y/N question on stderr and reads the answer from stdin (a terminal).
pub fn confirm(question: &str) -> anyhow::Result<bool> {
    use std::io::{BufRead as _, Write as _};
    let mut stderr = std::io::stderr();
    write!(stderr, "{question}")?;
    stderr.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes"))
}

pub async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let file = FileConfig::load(cli.config.as_deref())?;
    let ctx = Context {
        file,
        connect: cli.connect,
        state: cli.state,
    };
    match cli.command {
        None => console::run(&ctx).await,
        Some(Command::Demo(a)) => demo::run(&ctx, a).await,
        Some(Command::Sim(a)) => sim::run(&ctx, a).await,
        Some(Command::Doctor(a)) => doctor::run(&ctx, a).await,
        Some(Command::Extract(a)) => extract::run(&ctx, a).await,
        Some(Command::Plan(a)) => plan::run(&ctx, a).await,
        Some(Command::Run(a)) => run::run(&ctx, a).await,
        Some(Command::Verify(a)) => verify::run(&ctx, a).await,
        Some(Command::Report(a)) => report::run(&ctx, a).await,
        Some(Command::Restore(a)) => restore::run(&ctx, a).await,
        Some(Command::Rollback(a)) => rollback::run(&ctx, a).await,
        Some(Command::Bench(a)) => bench::run(&ctx, a).await,
        Some(Command::Completions { shell }) => {
            clap_complete::generate(shell, &mut Cli::command(), "i2k", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
    }
}
