//! The console end to end: the real `App`, the real console loop (`tui::event_loop`, the one the
//! terminal runs) on a `TestBackend`, the real glue and engine, both simulators over loopback —
//! driven by a scripted key sequence from Connect to the Summary.

mod common;

use std::time::{Duration, Instant};

use common::console::Console;

use i2k::engine::context::EngineConfig;
use i2k::engine::decisions::{self, Decisions, MAPPING_FILE};
use i2k::engine::model::{
    CheckStatus, FieldDecision, FieldMapping, PhaseStatus, RunState, SegmentChoice,
};
use i2k::ledger::Ledger;
use i2k::sim::SizePreset;
use i2k::tui::{App, AppOptions, Input, Keymap, Request, Screen, Update, event_loop, glue};
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
    activity: String,
    /// The phases' failed records.
    failed: u64,
    /// Phases done (with or without failures).
    phases_done: usize,
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
            activity: app.snapshot().activity.clone(),
            failed: app.snapshot().phases.iter().map(|p| p.failed).sum(),
            phases_done: app
                .snapshot()
                .phases
                .iter()
                .filter(|p| matches!(p.status, PhaseStatus::Done | PhaseStatus::DoneWithFailures))
                .count(),
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

/// Runs the real console (the console loop on a 160×48 `TestBackend`, the glue, the engine) on
/// `config` beside `script`, which drives it with keys and reads its frames, until the console
/// quits and the glue has released the state directory. Each frame's draw time and whether a
/// run was active.
async fn run_console<S, F>(config: EngineConfig, script: S) -> Vec<(Duration, bool)>
where
    S: FnOnce(mpsc::Sender<Input>, watch::Receiver<Option<Seen>>) -> F,
    F: std::future::Future<Output = ()>,
{
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
    let (frame_tx, frames) = watch::channel(None::<Seen>);
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
    let (draws, ()) = tokio::time::timeout(Duration::from_secs(240), async {
        tokio::join!(console, script(key_tx, frames))
    })
    .await
    .expect("the console quits");
    let quit = Instant::now();
    tokio::time::timeout(Duration::from_secs(90), glue)
        .await
        .expect("the glue stops")
        .unwrap()
        .unwrap();
    eprintln!(
        "the glue stopped {:?} after the console quit",
        quit.elapsed()
    );
    draws
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_drives_a_whole_demo_migration_to_a_summary_that_agrees() {
    let started = Instant::now();
    let sims = common::sims(SizePreset::Tiny).await;
    let dir = common::temp_state("console-e2e");
    let mut config = common::engine_config(&sims, dir.clone());
    // The operator decides (accepting the defaults with keys), as in the console.
    config.accept_defaults = false;

    let draws = run_console(config, |key_tx, mut frames| async move {
        // Connect: both sides answer.
        wait_for_connections(&mut frames).await;
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
    })
    .await;

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

/// The real glue on a tiny simulated workspace, driven by requests instead of keys.
struct GlueSession {
    _sims: common::Sims,
    dir: std::path::PathBuf,
    console: Console,
}

impl GlueSession {
    async fn open(name: &str) -> GlueSession {
        let sims = common::sims(SizePreset::Tiny).await;
        let dir = common::temp_state(name);
        let console = Console::open(&sims, &dir);
        GlueSession {
            _sims: sims,
            dir,
            console,
        }
    }

    async fn send(&self, request: Request) {
        self.console.request(request).await;
    }

    /// Receives updates until `wanted` picks one, failing after `limit`.
    async fn next<T>(
        &mut self,
        what: &str,
        limit: Duration,
        wanted: impl FnMut(&Update) -> Option<T>,
    ) -> T {
        self.console.next_within(what, limit, wanted).await
    }

    /// Quits the console and waits for the glue to release the state directory.
    async fn quit(self) -> std::path::PathBuf {
        self.console.quit().await;
        self.dir
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_taken_in_the_console_are_the_ones_the_run_uses() {
    let mut session = GlueSession::open("console-decisions").await;

    // The proposals, then the Scope sent after them (the segments as proposed).
    let fields: Vec<FieldMapping> = session
        .next("the proposals", Duration::from_secs(40), |u| match u {
            Update::Fields(f) if !f.is_empty() => Some(f.clone()),
            _ => None,
        })
        .await;
    let segments: Vec<SegmentChoice> = session
        .next("the scope", Duration::from_secs(20), |u| match u {
            Update::Scope { segments, .. } if !segments.is_empty() => Some(segments.clone()),
            _ => None,
        })
        .await;

    // The operator turns a segment around and renames a carried attribute.
    let segment = segments[0].clone();
    session
        .send(Request::SetSegmentInUse {
            id: segment.id.clone(),
            in_use: !segment.in_use,
        })
        .await;
    let field = fields
        .iter()
        .find(|f| matches!(f.decision, FieldDecision::Attribute { .. }))
        .expect("a carried attribute")
        .clone();
    let FieldDecision::Attribute { name } = &field.decision else {
        unreachable!()
    };
    let renamed = format!("operator{}{}", name[..1].to_uppercase(), &name[1..]);
    let decision = FieldDecision::Attribute {
        name: renamed.clone(),
    };
    session
        .send(Request::DecideField {
            model: field.model.clone(),
            source_name: field.source_name.clone(),
            decision: decision.clone(),
        })
        .await;
    let is_renamed = |f: &FieldMapping| {
        f.model == field.model && f.source_name == field.source_name && f.decision == decision
    };
    session
        .next("the renamed field", Duration::from_secs(20), |u| match u {
            Update::Fields(f) if f.iter().any(is_renamed) => Some(()),
            _ => None,
        })
        .await;

    session.send(Request::StartRun).await;
    // After the run the glue shows the decisions the run loaded with, then the summary.
    let after_run: Vec<FieldMapping> = session
        .next(
            "the decisions after the run",
            Duration::from_secs(120),
            |u| match u {
                Update::Fields(f) if !f.is_empty() => Some(f.clone()),
                Update::Notice(n) if n.contains("run failed") => panic!("{n}"),
                _ => None,
            },
        )
        .await;
    assert!(after_run.iter().any(is_renamed), "{after_run:?}");
    session
        .next("the summary", Duration::from_secs(60), |u| {
            matches!(u, Update::Summary { .. }).then_some(())
        })
        .await;
    let dir = session.quit().await;

    let text = std::fs::read_to_string(dir.join(MAPPING_FILE)).unwrap();
    assert!(text.contains(&format!("name = \"{renamed}\"")), "{text}");
    assert!(
        text.contains(&format!(
            "[segments.\"{}\"]\nin_use = {}",
            segment.id, !segment.in_use
        )),
        "{text}"
    );
    let ledger = Ledger::open(&dir).unwrap();
    let chosen = Decisions::load(&ledger).unwrap();
    assert_eq!(chosen.segment_in_use(&segment.id), Some(!segment.in_use));
    assert!(
        decisions::field_mappings(&ledger)
            .await
            .unwrap()
            .iter()
            .any(is_renamed)
    );
    drop(ledger);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_window_set_on_scope_reaches_the_run() {
    let mut session = GlueSession::open("console-history").await;

    session.send(Request::SetHistoryMonths(Some(1))).await;
    session
        .next("the window", Duration::from_secs(20), |u| {
            matches!(
                u,
                Update::Scope {
                    history_months: Some(1),
                    ..
                }
            )
            .then_some(())
        })
        .await;
    session.send(Request::StartRun).await;
    session
        .next("the summary", Duration::from_secs(120), |u| match u {
            Update::Summary { .. } => Some(()),
            Update::Notice(n) if n.contains("run failed") => panic!("{n}"),
            _ => None,
        })
        .await;
    let dir = session.quit().await;

    // The generated history spans three years: a one-month window leaves most of it out.
    let reader = i2k::ledger::LedgerReader::open(&dir).unwrap();
    let counts = reader.counts_by_kind().unwrap();
    let conversations = counts.get("conversations").copied().unwrap_or_default();
    assert!(
        conversations.get(i2k::ledger::RecordState::Skipped) > 0,
        "{conversations:?}"
    );
    assert!(
        conversations.get(i2k::ledger::RecordState::Done) < conversations.total(),
        "{conversations:?}"
    );
    drop(reader);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Waits until both connections answer (Connect).
async fn wait_for_connections(frames: &mut watch::Receiver<Option<Seen>>) {
    wait_for(frames, "both connections", Duration::from_secs(20), |s| {
        s.connections_ok == 2
    })
    .await;
}

/// Each phase row of the Run screen: its settled/total and its percent say the same (rows whose
/// total is still an estimate, `~N`, or 0 have no percent to check).
fn phase_rows_agree(text: &str) {
    let number = |t: &str| t.replace(',', "").parse::<u64>().ok();
    let mut rows = 0;
    for line in text.lines().filter(|l| l.starts_with('│')) {
        let tokens: Vec<&str> = line.split([' ', '│']).collect();
        let Some((settled, total)) = tokens.iter().find_map(|t| {
            let (a, b) = t.split_once('/')?;
            Some((number(a)?, b))
        }) else {
            continue;
        };
        let Some(percent) = tokens
            .iter()
            .find_map(|t| t.strip_suffix('%').and_then(number))
        else {
            continue;
        };
        rows += 1;
        let Some(total) = number(total).filter(|n| *n > 0) else {
            continue;
        };
        let expected = (settled as f64 * 100.0 / total as f64).round() as u64;
        assert_eq!(
            percent, expected,
            "{settled}/{total} shown as {percent}%: {line}"
        );
        assert!(settled <= total, "{line}");
    }
    assert!(rows > 0, "no phase rows:\n{text}");
}

/// What the Run screen's ETA says (its Figures line).
fn eta_of(text: &str) -> String {
    let line = text
        .lines()
        .find(|l| l.contains("│ETA "))
        .unwrap_or_else(|| panic!("no ETA line:\n{text}"));
    let after = &line[line.find("│ETA ").unwrap() + "│ETA ".len()..];
    after.split('│').next().unwrap().trim().to_string()
}

/// `1h 2m`, `3m 4s`, `5s` in seconds.
fn seconds_of(duration: &str) -> u64 {
    duration
        .split_whitespace()
        .map(|part| {
            let (n, unit) = part.split_at(part.len() - 1);
            let n: u64 = n
                .parse()
                .unwrap_or_else(|_| panic!("not a duration: {duration}"));
            match unit {
                "h" => n * 3_600,
                "m" => n * 60,
                _ => n,
            }
        })
        .sum()
}

/// Presses `s` on the Run screen and answers `y` to each question it asks first (open
/// decisions, failing checks) until the run is under way.
async fn start_run(keys: &mpsc::Sender<Input>, frames: &mut watch::Receiver<Option<Seen>>) {
    press(keys, KeyCode::Char('s')).await;
    loop {
        let seen = wait_for(frames, "the run to start", Duration::from_secs(20), |s| {
            s.confirming || s.run_active
        })
        .await;
        if !seen.confirming {
            return;
        }
        press(keys, KeyCode::Char('y')).await;
        wait_for(
            frames,
            "the question to close",
            Duration::from_secs(5),
            |s| !s.confirming,
        )
        .await;
    }
}

/// A demo on a tiny workspace whose simulators answer quickly, on `dir`.
fn tiny_demo() -> i2k::cli::DemoArgs {
    #[derive(clap::Parser)]
    struct Options {
        #[command(flatten)]
        sim: i2k::sim::SimOptions,
    }
    let options = <Options as clap::Parser>::parse_from([
        "demo",
        "--kustomer-rate",
        "3000",
        "--bulk-delay-ms",
        "100",
    ]);
    i2k::cli::DemoArgs {
        size: SizePreset::Tiny,
        headless: false,
        json: false,
        accept_restamped_times: false,
        sim: options.sim,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demo_quit_mid_run_resumes_on_its_saved_simulators_and_ends_without_duplicates() {
    use i2k::commands::demo::{self, DemoSims};
    let args = tiny_demo();
    let dir = common::temp_state("console-demo-resume");

    // First start: fresh simulators. The run starts, and the console quits mid-run once its
    // first phase has settled (a point the screen shows, not a time).
    let sims = DemoSims::start(args.size, &args.sim, &dir).await.unwrap();
    assert!(!sims.resumed);
    let config = demo::engine_config(&args, &sims, dir.clone()).unwrap();
    run_console(config, |keys, mut frames| async move {
        wait_for_connections(&mut frames).await;
        press(&keys, KeyCode::Char('5')).await;
        wait_for(&mut frames, "Run", Duration::from_secs(5), |s| {
            s.screen == Screen::Run
        })
        .await;
        start_run(&keys, &mut frames).await;
        wait_for(
            &mut frames,
            "a first phase settled",
            Duration::from_secs(60),
            |s| s.phases_done > 0,
        )
        .await;
        press(&keys, KeyCode::Char('q')).await;
        // Asked only while the run is active: it has not ended before the quit.
        wait_for(
            &mut frames,
            "the quit question",
            Duration::from_secs(5),
            |s| s.confirming,
        )
        .await;
        press(&keys, KeyCode::Char('y')).await;
    })
    .await;
    sims.stop().await.unwrap();
    for file in [demo::INTERCOM_FILE, demo::KUSTOMER_FILE] {
        let path = dir.join(demo::SIM_DIR).join(file);
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&path).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600, "{}", path.display());
    }

    // Second start on the same directory: the saved simulators, and the Run screen says where
    // the quit run stopped; `s` resumes it to the end and the Summary verifies it.
    let sims = DemoSims::start(args.size, &args.sim, &dir).await.unwrap();
    assert!(sims.resumed);
    let config = demo::engine_config(&args, &sims, dir.clone()).unwrap();
    run_console(config, |keys, mut frames| async move {
        press(&keys, KeyCode::Char('5')).await;
        let stopped = wait_for(
            &mut frames,
            "the stopped run",
            Duration::from_secs(20),
            |s| s.screen == Screen::Run && s.activity.starts_with("Stopped:"),
        )
        .await;
        assert!(stopped.text.contains("Stopped:"), "{}", stopped.text);
        let figures = stopped.activity.trim_start_matches("Stopped: ");
        let (settled, rest) = figures.split_once(" of ").unwrap();
        let total = rest.split_whitespace().next().unwrap();
        let count = |n: &str| n.replace([',', '~'], "").parse::<u64>().unwrap();
        assert!(rest.contains("records settled"), "{}", stopped.activity);
        assert!(
            count(settled) > 0 && count(settled) < count(total),
            "{}",
            stopped.activity
        );
        phase_rows_agree(&stopped.text);
        assert_eq!(eta_of(&stopped.text), "—", "a stopped run has no ETA");
        start_run(&keys, &mut frames).await;
        // Under way again: the figures agree on every frame looked at, and the ETA is either
        // still being estimated or a time within what a tiny workspace can take.
        let running = wait_for(
            &mut frames,
            "the resumed run under way",
            Duration::from_secs(30),
            |s| s.screen == Screen::Run && s.run_active,
        )
        .await;
        phase_rows_agree(&running.text);
        let eta = eta_of(&running.text);
        assert!(
            eta == i2k::tui::screens::run::ESTIMATING || eta == "—" || seconds_of(&eta) <= 3_600,
            "ETA {eta:?} out of bounds:\n{}",
            running.text
        );
        let finished = wait_for(
            &mut frames,
            "the resumed run's end and its verification",
            Duration::from_secs(120),
            |s| s.state == RunState::Finished && !s.rows_agree.is_empty(),
        )
        .await;
        assert_eq!(finished.failed, 0, "{}", finished.text);
        assert!(!finished.rows_agree.is_empty());
        for (object, agrees) in &finished.rows_agree {
            assert!(agrees, "{object} does not agree:\n{}", finished.text);
        }
        // The Summary is showing; the Run screen's rows at the end agree and say no ETA.
        press(&keys, KeyCode::Char('5')).await;
        let ended = wait_for(&mut frames, "the Run screen", Duration::from_secs(5), |s| {
            s.screen == Screen::Run
        })
        .await;
        phase_rows_agree(&ended.text);
        assert_eq!(eta_of(&ended.text), "—", "an ended run has no ETA");
        press(&keys, KeyCode::Char('q')).await;
    })
    .await;
    sims.stop().await.unwrap();

    // The simulated org's ground truth, as the demo saved it: nothing stored twice.
    let sims = DemoSims::start(args.size, &args.sim, &dir).await.unwrap();
    let truth = common::truth(&sims.kustomer.url).await;
    assert!(common::no_duplicates(&truth), "{}", truth["duplicates"]);
    assert!(common::truth_counts(&truth)["conversations"] > 0, "{truth}");
    sims.stop().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_demo_refuses_a_state_directory_of_another_size_and_says_which() {
    use i2k::commands::demo::DemoSims;
    let args = tiny_demo();
    let dir = common::temp_state("console-demo-other-size");
    DemoSims::start(args.size, &args.sim, &dir)
        .await
        .unwrap()
        .stop()
        .await
        .unwrap();
    let refused = DemoSims::start(SizePreset::Small, &args.sim, &dir)
        .await
        .err()
        .expect("another size is refused");
    let said = refused.to_string();
    assert!(said.contains("tiny workspace"), "{said}");
    assert!(said.contains("--size tiny"), "{said}");
    let _ = std::fs::remove_dir_all(&dir);
}
