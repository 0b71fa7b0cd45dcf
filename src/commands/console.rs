//! `i2k` with no command: the migration console on the configured migration. `open` is also how
//! `i2k demo` shows its simulated migration. Logs go to `<state>/logs/i2k.log`, never to the
//! terminal the console draws on.

use std::process::ExitCode;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::cli::RunArgs;
use crate::commands::Context;
use crate::engine::context::EngineConfig;
use crate::tui::{App, AppOptions, Keymap, glue, run_terminal};

/// Room for updates and requests in flight between the console and the glue.
const CHANNEL_DEPTH: usize = 1024;
/// How long the console waits, after the operator quit, for the glue to stop a run cleanly.
/// Quitting must not hold the operator: past this, the process leaves with requests in flight,
/// as after a kill — every write is in the ledger as `sent` before it goes, and the next start
/// settles each by lookup (never sending it twice).
const GLUE_PATIENCE: Duration = Duration::from_secs(3);
/// How long quitting may take before the terminal says what it waits for.
const STOPPING_SAID_AFTER: Duration = Duration::from_millis(300);

pub async fn run(ctx: &Context) -> anyhow::Result<ExitCode> {
    let mut endpoints = ctx.endpoints()?;
    // The console opens without tokens: Connect asks for them (kept for the session only).
    for token in [&mut endpoints.intercom_token, &mut endpoints.kustomer_token] {
        token.get_or_insert_with(|| crate::http::Secret::new(""));
    }
    let state_dir = ctx.state_dir()?;
    let args = RunArgs::default();
    let config = crate::commands::run::engine_config(&endpoints, state_dir, &args, &ctx.file)?;
    open(config).await
}

/// Opens the console on a migration and returns when the operator quits (an active run is
/// stopped first; the next start resumes it). SIGTERM (a service manager, a container stop) or
/// a SIGINT sent from outside closes the console the same way and exits 5, interrupted (Ctrl-C
/// typed in the console is a key it reads, not a signal).
pub async fn open(config: EngineConfig) -> anyhow::Result<ExitCode> {
    let _log = crate::logging::to_file(&config.state_dir)?;
    let keymap = Keymap::load(crate::config::config_dir().as_deref())?;
    let app = App::new(
        keymap,
        AppOptions::from_env(config.state_dir.display().to_string()),
    );
    let (update_tx, update_rx) = mpsc::channel(CHANNEL_DEPTH);
    let (request_tx, request_rx) = mpsc::channel(CHANNEL_DEPTH);
    let mut glue = tokio::spawn(glue::serve(config, request_rx, update_tx));
    let mut signals = crate::commands::run::Signals::new();
    let (shown, terminated) = tokio::select! {
        shown = run_terminal(app, update_rx, request_tx) => (shown, false),
        Some(name) = signals.next() => {
            // The console's future is dropped with its request channel: restore the screen.
            let _ = ratatui::try_restore();
            eprintln!("{name}: stopping once in-flight requests settle; run again to resume");
            (Ok(()), true)
        }
    };
    // The screen is restored now and the request channel closed: the glue cancels an active run
    // and settles. Said on the terminal when it takes more than a moment; a second Ctrl-C
    // leaves at once (the ledger keeps what was committed; the next start settles the rest).
    let settled = match tokio::time::timeout(STOPPING_SAID_AFTER, &mut glue).await {
        Ok(joined) => Some(joined),
        Err(_) => {
            eprintln!(
                "stopping… (at most {} s; what is still in flight then is settled by the next \
                 start, never sent twice; Ctrl-C leaves now)",
                GLUE_PATIENCE.as_secs()
            );
            tokio::select! {
                joined = tokio::time::timeout(GLUE_PATIENCE, &mut glue) => joined.ok(),
                Some(_) = signals.next() => None,
            }
        }
    };
    shown?;
    match settled {
        Some(Ok(result)) => result?,
        Some(Err(e)) => anyhow::bail!("the console's engine link stopped unexpectedly: {e}"),
        None => {
            tracing::warn!("left before the run stopped; it resumes next time");
            eprintln!("left with requests in flight: the next start settles them and resumes");
        }
    }
    Ok(if terminated {
        ExitCode::from(crate::cli::EXIT_INTERRUPTED)
    } else {
        ExitCode::SUCCESS
    })
}
