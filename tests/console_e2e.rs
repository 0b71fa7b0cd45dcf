//! The console end to end: the real `App`, the real console loop (`tui::event_loop`, the one the
//! terminal runs) on a `TestBackend`, the real glue and engine, both simulators over loopback —
//! driven by a scripted key sequence from Connect to the Summary.

mod common;

use std::time::{Duration, Instant};

use i2k::engine::model::{CheckStatus, RunState};
use i2k::sim::SizePreset;
use i2k::tui::{App, AppOptions, Input, Keymap, Screen, event_loop, glue};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tokio::sync::{mpsc, watch};

/// What the test sees of the console after each frame.
#[derive(Debug, Clone)]
struct Seen {
    screen: Screen,
    text: String,
    connections_ok: usize,
    scope_rows: usize,
    admins: usize,
    confirming: bool,
    state: RunState,
    run_active: bool,
    summary_received: bool,
    rows_agree: Vec<(String, bool)>,
    report_path: Option<String>,
    notice: Option<String>,
}

impl Seen {
    fn of(app: &App, buffer: &Buffer) -> Seen {
        Seen {
            screen: app.screen(),
            text: buffer_text(buffer),
            connections_ok: app
                .connections()
                .iter()
                .filter(|c| c.status == CheckStatus::Pass)
                .count(),
            scope_rows: app.scope().iter().filter(|s| s.count > 0).count(),
            admins: app.admins().len(),
            confirming: app.confirmation().is_some(),
            state: app.snapshot().state.clone(),
            run_active: app.run_active(),
            summary_received: app.summary().received,
            rows_agree: app
                .summary()
                .verification
                .iter()
                .map(|v| (v.object.clone(), v.agrees))
                .collect(),
            report_path: app.summary().report_path.clone(),
            notice: app.notice().map(str::to_string),
        }
    }
}

fn buffer_text(buffer: &Buffer) -> String {
    let area = buffer.area;
    let mut text = String::new();
    for y in 0..area.height {
        for x in 0..area.width {
            text.push_str(buffer[(x, y)].symbol());
        }
        text.push('\n');
    }
    text
}

async fn press(keys: &mpsc::Sender<Input>, code: KeyCode) {
    keys.send(Input::Key(KeyEvent::new(code, KeyModifiers::NONE)))
        .await
        .unwrap();
}

/// Waits for a frame satisfying `ready`, failing with the last frame after `limit`.
async fn wait_for(
    frames: &mut watch::Receiver<Option<Seen>>,
    what: &str,
    limit: Duration,
    ready: impl Fn(&Seen) -> bool,
) -> Seen {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(seen) = frames.borrow_and_update().as_ref()
            && ready(seen)
        {
            return seen.clone();
        }
        match tokio::time::timeout_at(deadline, frames.changed()).await {
            Ok(Ok(())) => {}
            _ => {
                let last = frames.borrow().clone();
                panic!(
                    "timed out waiting for {what}; last frame:\n{}",
                    last.map(|s| format!("{:?}\n{}", s.notice, s.text))
                        .unwrap_or_default()
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_drives_a_whole_demo_migration_to_a_summary_that_agrees() {
    let started = Instant::now();
    let sims = common::sims(SizePreset::Tiny).await;
    let dir = common::temp_state("console-e2e");
    let mut config = common::engine_config(&sims, dir.clone());
    // The operator decides (accepting the defaults with keys), as in the console.
    config.accept_defaults = false;

    let keymap = Keymap::load(None).unwrap();
    let mut app = App::new(
        keymap,
        AppOptions {
            no_color: true,
            read_only: false,
            title: "console e2e".into(),
        },
    );
    let (update_tx, mut update_rx) = mpsc::channel(1024);
    let (request_tx, request_rx) = mpsc::channel(1024);
    let glue = tokio::spawn(glue::serve(config, request_rx, update_tx));
    let (key_tx, mut key_rx) = mpsc::channel(64);
    let (frame_tx, mut frames) = watch::channel(None::<Seen>);
    // `App` is not `Send`, so the console runs on this task beside the script, as in `i2k`.
    let console = async move {
        let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();
        let mut draws: Vec<(Duration, bool)> = Vec::new();
        event_loop(
            &mut app,
            &mut terminal,
            &mut key_rx,
            &mut update_rx,
            &request_tx,
            |terminal, app, took| {
                draws.push((took, app.run_active()));
                frame_tx.send_replace(Some(Seen::of(app, terminal.backend().buffer())));
            },
        )
        .await
        .unwrap();
        draws
    };
    let script = async move {
        // Connect: both sides answer.
        wait_for(
            &mut frames,
            "both connections",
            Duration::from_secs(20),
            |s| s.connections_ok == 2,
        )
        .await;
        // Scope: the workspace is read and counted; the proposals fill Mapping.
        press(&key_tx, KeyCode::Char('2')).await;
        let scope = wait_for(
            &mut frames,
            "the scope and proposals",
            Duration::from_secs(40),
            |s| s.screen == Screen::Scope && s.scope_rows > 0 && s.admins > 0,
        )
        .await;
        assert!(scope.text.contains("conversations"), "{}", scope.text);
        press(&key_tx, KeyCode::Char('3')).await;
        wait_for(&mut frames, "Prerequisites", Duration::from_secs(5), |s| {
            s.screen == Screen::Prerequisites
        })
        .await;
        // Mapping: accept the stated defaults (asks first when something is unresolved).
        press(&key_tx, KeyCode::Char('4')).await;
        wait_for(&mut frames, "Mapping", Duration::from_secs(5), |s| {
            s.screen == Screen::Mapping
        })
        .await;
        press(&key_tx, KeyCode::Char('D')).await;
        let asked = wait_for(
            &mut frames,
            "the defaults answer",
            Duration::from_secs(5),
            |s| s.confirming || s.notice.is_some(),
        )
        .await;
        if asked.confirming {
            press(&key_tx, KeyCode::Char('y')).await;
        }
        // Run: start, confirming a start past failing checks if asked.
        press(&key_tx, KeyCode::Char('5')).await;
        wait_for(&mut frames, "Run", Duration::from_secs(5), |s| {
            s.screen == Screen::Run
        })
        .await;
        press(&key_tx, KeyCode::Char('s')).await;
        let answer = wait_for(
            &mut frames,
            "the run to start",
            Duration::from_secs(10),
            |s| s.confirming || s.run_active,
        )
        .await;
        if answer.confirming {
            press(&key_tx, KeyCode::Char('y')).await;
        }
        let finished = wait_for(
            &mut frames,
            "the run's end and verification",
            Duration::from_secs(90),
            |s| s.state == RunState::Finished && s.summary_received,
        )
        .await;
        assert!(finished.text.contains("Run finished"), "{}", finished.text);

        // Summary: every type verified and the report where the run wrote it.
        press(&key_tx, KeyCode::Char('7')).await;
        let summary = wait_for(&mut frames, "Summary", Duration::from_secs(5), |s| {
            s.screen == Screen::Summary
        })
        .await;
        let report = dir.join("report.md");
        assert!(report.exists());
        assert_eq!(summary.report_path.as_deref(), report.to_str());
        assert!(
            summary.text.contains("✓ every type accounted for"),
            "{}",
            summary.text
        );
        assert!(summary.text.contains("report.md"), "{}", summary.text);
        assert!(!summary.rows_agree.is_empty());
        for (object, agrees) in &summary.rows_agree {
            assert!(agrees, "{object} does not agree:\n{}", summary.text);
        }
        assert!(summary.text.contains("conversations"), "{}", summary.text);
        assert!(
            summary.text.contains("contacts") || summary.text.contains("customers"),
            "{}",
            summary.text
        );

        press(&key_tx, KeyCode::Char('q')).await;
    };
    let (draws, ()) = tokio::time::timeout(Duration::from_secs(150), async {
        tokio::join!(console, script)
    })
    .await
    .expect("the console quits");
    tokio::time::timeout(Duration::from_secs(30), glue)
        .await
        .expect("the glue stops")
        .unwrap()
        .unwrap();

    let during_run: Vec<Duration> = draws.iter().filter(|d| d.1).map(|d| d.0).collect();
    for (label, times) in [
        ("all frames", draws.iter().map(|d| d.0).collect::<Vec<_>>()),
        ("while the engine ran", during_run),
    ] {
        let mut sorted = times.clone();
        sorted.sort();
        if sorted.is_empty() {
            continue;
        }
        let pick = |q: f64| sorted[((sorted.len() - 1) as f64 * q) as usize];
        let mean = sorted.iter().sum::<Duration>() / sorted.len() as u32;
        eprintln!(
            "frame draw time, {label}: {} frames, mean {mean:?}, p50 {:?}, p95 {:?}, max {:?}",
            sorted.len(),
            pick(0.5),
            pick(0.95),
            pick(1.0)
        );
    }
    eprintln!("console e2e took {:?}", started.elapsed());
}
