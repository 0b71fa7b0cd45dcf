//! Runs the console on a real terminal: raw mode and the alternate screen (restored on exit and
//! by a panic hook), a blocking thread that polls terminal events and forwards them, a steady
//! frame tick that draws only when something changed, and the channels to the glue.
//!
//! [`event_loop`] is the loop itself, generic over the ratatui backend and fed keys on a channel,
//! so the end-to-end test runs exactly this loop on a `TestBackend` with a scripted key sequence.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::Backend;

use ratatui::crossterm::event::{self, Event as TermEvent, KeyEventKind};
use tokio::sync::mpsc;

use crate::tui::app::App;
use crate::tui::protocol::{Request, Update};

/// Time between frames: at most 20 frames a second, drawn only when dirty.
pub const FRAME_INTERVAL: Duration = Duration::from_millis(50);
/// How long the input thread waits for a terminal event before checking whether to stop.
const INPUT_POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Updates folded in per wake-up before the loop looks at keys and the frame tick again.
const UPDATE_BATCH: usize = 256;

/// What the loop reads from the terminal (or from a test's script).
#[derive(Debug, Clone)]
pub enum Input {
    Key(ratatui::crossterm::event::KeyEvent),
    Resize,
}

/// Runs `app` until it quits or the glue closes `requests`. Updates arrive on `updates`; every key
/// the operator presses may send requests on `requests` (queued, so a slow glue never freezes
/// the screen).
pub async fn run_terminal(
    mut app: App,
    mut updates: mpsc::Receiver<Update>,
    requests: mpsc::Sender<Request>,
) -> anyhow::Result<()> {
    // try_init installs a panic hook that restores the terminal before the panic message prints.
    let mut terminal = ratatui::try_init()?;
    let stop = Arc::new(AtomicBool::new(false));
    let (input_tx, mut input_rx) = mpsc::channel::<Input>(64);
    let reader_stop = stop.clone();
    let reader = std::thread::Builder::new()
        .name("i2k-input".into())
        .spawn(move || read_terminal(input_tx, reader_stop));
    let result = match reader {
        Ok(reader) => {
            let result = event_loop(
                &mut app,
                &mut terminal,
                &mut input_rx,
                &mut updates,
                &requests,
                |_, _, _| {},
            )
            .await;
            stop.store(true, Ordering::Relaxed);
            let _ = tokio::task::spawn_blocking(move || reader.join()).await;
            result
        }
        Err(e) => Err(e.into()),
    };
    let restored = ratatui::try_restore();
    result?;
    restored?;
    Ok(())
}

/// The console loop: folds `updates` into `app`, turns `input` into requests, and draws at most
/// every [`FRAME_INTERVAL`] when something changed. After each draw `on_frame` sees the terminal,
/// the app and how long the draw took. Returns when the app quits, the glue stops taking
/// requests, or the input closes.
pub async fn event_loop<B>(
    app: &mut App,
    terminal: &mut Terminal<B>,
    input_rx: &mut mpsc::Receiver<Input>,
    updates: &mut mpsc::Receiver<Update>,
    requests: &mpsc::Sender<Request>,
    mut on_frame: impl FnMut(&Terminal<B>, &App, Duration),
) -> anyhow::Result<()>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
{
    let mut tick = tokio::time::interval(FRAME_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut pending: std::collections::VecDeque<Request> = Default::default();
    let mut dirty = true;
    let mut updates_open = true;
    let outcome: anyhow::Result<()> = loop {
        tokio::select! {
            input = input_rx.recv() => match input {
                Some(Input::Key(key)) => {
                    pending.extend(app.handle_key(key));
                    dirty = true;
                }
                Some(Input::Resize) => dirty = true,
                None => break Err(anyhow::anyhow!("the terminal input closed")),
            },
            update = updates.recv(), if updates_open => match update {
                Some(update) => {
                    pending.extend(app.apply(update));
                    for _ in 0..UPDATE_BATCH {
                        match updates.try_recv() {
                            Ok(u) => pending.extend(app.apply(u)),
                            Err(_) => break,
                        }
                    }
                    dirty = true;
                }
                None => updates_open = false,
            },
            permit = requests.reserve(), if !pending.is_empty() => match permit {
                Ok(permit) => {
                    if let Some(request) = pending.pop_front() {
                        permit.send(request);
                    }
                }
                Err(_) => break Ok(()),
            },
            _ = tick.tick() => {
                if dirty {
                    let started = Instant::now();
                    terminal.draw(|frame| app.draw(frame))?;
                    on_frame(terminal, app, started.elapsed());
                    dirty = false;
                }
            }
        }
        if app.should_quit() {
            // Deliver what the last keys asked for (Quit among them) before leaving.
            for request in pending.drain(..) {
                if requests.send(request).await.is_err() {
                    break;
                }
            }
            break Ok(());
        }
    };
    outcome
}

/// Polls the terminal on its own thread (crossterm's async stream needs a feature we do not
/// build) and forwards key presses and resizes until told to stop or the receiver is gone.
fn read_terminal(tx: mpsc::Sender<Input>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        match event::poll(INPUT_POLL_INTERVAL) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!("terminal poll failed: {e}");
                return;
            }
        }
        let input = match event::read() {
            Ok(TermEvent::Key(key)) if key.kind != KeyEventKind::Release => Input::Key(key),
            Ok(TermEvent::Resize(_, _)) => Input::Resize,
            Ok(_) => continue,
            Err(e) => {
                tracing::warn!("terminal read failed: {e}");
                return;
            }
        };
        if tx.blocking_send(input).is_err() {
            return;
        }
    }
}
