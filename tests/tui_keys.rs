//! Key handling of the console as a specification: screen switching, help generated from the live
//! keymap, `/` filters, editing swallowing keys, quitting, mapping gates on the run, error-screen
//! actions, and keymap loading (user overrides, errors that name the line).

#[path = "support/tui_fixtures.rs"]
mod fixtures;

use fixtures::*;
use i2k::engine::model::{AdminDecision, Command, FieldDecision, RecordRef, RunState};
use i2k::tui::app::ListId;
use i2k::tui::keymap::{Action, Keymap, Layer};
use i2k::tui::{App, AppOptions, FailureFilter, Request, Screen, Update};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// The loaded console with no run under way.
fn idle_app() -> App {
    let mut app = loaded_app();
    let mut idle = snapshot();
    idle.state = RunState::Idle;
    app.apply(Update::Snapshot(idle));
    app
}

fn help_text(app: &App) -> String {
    app.help_lines()
        .iter()
        .map(|l| l.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn digits_switch_screens_in_wizard_order() {
    let mut app = loaded_app();
    assert_eq!(app.screen(), Screen::Connect);
    for (digit, screen) in "1234567".chars().zip(Screen::ALL) {
        press(&mut app, &digit.to_string());
        assert_eq!(app.screen(), screen);
        assert!(
            !app.is_editing(),
            "{screen:?} opened with a field in edit mode"
        );
    }
    press(&mut app, "3");
    assert_eq!(app.screen(), Screen::Prerequisites);
}

#[test]
fn brackets_and_tab_move_between_screens_and_tab_moves_between_panes_where_there_are_some() {
    let mut app = loaded_app();
    assert_eq!(app.screen(), Screen::Connect);
    // Connect has one pane: tab goes on to the next screen.
    press_key(&mut app, KeyCode::Tab);
    assert_eq!(app.screen(), Screen::Scope);
    press(&mut app, "]");
    assert_eq!(app.screen(), Screen::Prerequisites);
    press(&mut app, "[[");
    assert_eq!(app.screen(), Screen::Connect);
    // Wrapping both ways.
    press(&mut app, "[");
    assert_eq!(app.screen(), Screen::Summary);
    press(&mut app, "]");
    assert_eq!(app.screen(), Screen::Connect);
    // Errors has a list and a detail pane: tab stays on the screen.
    press(&mut app, "6");
    press_key(&mut app, KeyCode::Tab);
    assert_eq!(app.screen(), Screen::Errors);
    // The help lists the keys where they work.
    press(&mut app, "?");
    let text = help_text(&app);
    assert!(
        text.contains("Next screen") && text.contains("Previous screen"),
        "{text}"
    );
}

#[test]
fn help_lists_the_live_bindings_of_the_screen() {
    let mut app = loaded_app();
    press(&mut app, "5?");
    assert!(app.is_help_open());
    let text = help_text(&app);
    assert!(text.contains("Run screen"), "{text}");
    assert!(text.contains("Start the migration"), "{text}");
    assert!(text.contains("Everywhere"), "{text}");
    assert!(
        !text.contains("Retry this record"),
        "errors keys leak into Run help: {text}"
    );
    press_key(&mut app, KeyCode::Esc);
    assert!(!app.is_help_open());

    let mut keymap = Keymap::builtin().unwrap();
    keymap
        .merge_user(
            "[run]\nkeys = [{ on = \"g\", run = \"start_run\", desc = \"Go!\" }]\n",
            "user",
        )
        .unwrap();
    let mut app = App::new(keymap, AppOptions::default());
    press(&mut app, "5?");
    let text = help_text(&app);
    assert!(text.contains("g") && text.contains("Go!"), "{text}");
}

#[test]
fn slash_filters_the_focused_list_and_esc_clears_it() {
    let mut app = loaded_app();
    press(&mut app, "2/");
    assert!(app.is_editing());
    press(&mut app, "conv");
    assert_eq!(
        app.visible(ListId::Scope).len(),
        2,
        "conversations, conversation_parts"
    );
    press_key(&mut app, KeyCode::Enter);
    assert!(!app.is_editing());
    assert_eq!(app.filter_text(ListId::Scope), Some("conv"));
    let text = render(&mut app, 80, 24);
    assert!(text.contains("/conv · 2 of 13"), "{text}");
    assert!(!text.contains("companies"), "{text}");
    press_key(&mut app, KeyCode::Esc);
    assert_eq!(app.visible(ListId::Scope).len(), 13);

    press(&mut app, "/!migrate");
    press_key(&mut app, KeyCode::Enter);
    assert_eq!(
        app.visible(ListId::Scope).len(),
        2,
        "archive and manual rows remain"
    );
}

#[test]
fn editing_a_field_swallows_digits_and_letters() {
    let mut app = loaded_app();
    press(&mut app, "2h");
    assert!(app.is_editing());
    let requests = press(&mut app, "6q?");
    assert!(requests.is_empty());
    assert_eq!(app.screen(), Screen::Scope);
    assert!(!app.should_quit() && !app.is_help_open());
    // "6q?" is not a number of months: the field stays open and says why.
    assert!(press_key(&mut app, KeyCode::Enter).is_empty());
    assert!(app.is_editing());
    // The field opened with the current window (24) followed by what was typed.
    for _ in 0.."246q?".len() {
        press_key(&mut app, KeyCode::Backspace);
    }
    press(&mut app, "12");
    assert_eq!(
        press_key(&mut app, KeyCode::Enter),
        vec![Request::SetHistoryMonths(Some(12))]
    );
    assert!(!app.is_editing());
}

#[test]
fn q_quits_at_once_when_idle() {
    let mut app = app();
    assert_eq!(press(&mut app, "q"), vec![Request::Quit]);
    assert!(app.should_quit());
}

#[test]
fn q_asks_first_while_a_run_is_active() {
    let mut app = loaded_app();
    assert!(press(&mut app, "q").is_empty());
    assert!(app.confirmation().is_some());
    assert!(!app.should_quit());
    assert!(press(&mut app, "n").is_empty());
    assert!(!app.should_quit() && app.confirmation().is_none());
    press(&mut app, "q");
    assert_eq!(press(&mut app, "y"), vec![Request::Quit]);
    assert!(app.should_quit());
}

#[test]
fn run_does_not_start_while_mappings_are_unresolved_unless_defaults_are_accepted() {
    let mut app = idle_app();
    assert_eq!(app.unresolved(), 4);
    assert!(press(&mut app, "5s").is_empty());
    let question = app.confirmation().unwrap().question.clone();
    assert!(
        question.contains("4 mapping items are unresolved"),
        "{question}"
    );
    assert!(press(&mut app, "n").is_empty());

    // Resolve everything by hand: the run starts without a question.
    press(&mut app, "4j");
    assert_eq!(
        press(&mut app, "i"),
        vec![Request::DecideAdmin {
            admin_id: "a2".into(),
            decision: AdminDecision::Invite
        }]
    );
    press(&mut app, "jf");
    press_key(&mut app, KeyCode::Tab);
    press(&mut app, "ja");
    press(&mut app, "j");
    press_key(&mut app, KeyCode::Enter);
    let requests = press_key(&mut app, KeyCode::Enter);
    assert_eq!(
        requests,
        vec![Request::DecideField {
            model: "company".into(),
            source_name: "renewal_date".into(),
            decision: FieldDecision::Attribute {
                name: "renewalDateAt".into()
            }
        }]
    );
    assert_eq!(app.unresolved(), 0);
    app.apply(Update::Prerequisites(vec![]));
    assert_eq!(press(&mut app, "5s"), vec![Request::StartRun]);
}

#[test]
fn accepting_defaults_at_start_sends_both_requests() {
    let mut app = idle_app();
    press(&mut app, "5s");
    assert_eq!(
        press(&mut app, "y"),
        vec![Request::AcceptDefaults, Request::StartRun]
    );
    assert_eq!(app.screen(), Screen::Run);
}

#[test]
fn attribute_rename_keeps_the_type_suffix() {
    let mut app = loaded_app();
    press(&mut app, "4");
    press_key(&mut app, KeyCode::Tab);
    press(&mut app, "j");
    press_key(&mut app, KeyCode::Enter);
    for _ in 0.."seatsNum".len() {
        press_key(&mut app, KeyCode::Backspace);
    }
    press(&mut app, "seatCountStr");
    assert!(press_key(&mut app, KeyCode::Enter).is_empty());
    assert!(app.is_editing(), "a Str name for a number field is refused");
    for _ in 0..3 {
        press_key(&mut app, KeyCode::Backspace);
    }
    press(&mut app, "Num");
    assert_eq!(
        press_key(&mut app, KeyCode::Enter),
        vec![Request::DecideField {
            model: "contact".into(),
            source_name: "seats".into(),
            decision: FieldDecision::Attribute {
                name: "seatCountNum".into()
            }
        }]
    );
}

#[test]
fn admin_picker_filters_users_and_maps_the_chosen_one() {
    let mut app = loaded_app();
    press(&mut app, "4jj");
    press_key(&mut app, KeyCode::Enter);
    press(&mut app, "cy");
    assert_eq!(
        press_key(&mut app, KeyCode::Enter),
        vec![Request::DecideAdmin {
            admin_id: "a3".into(),
            decision: AdminDecision::User {
                user_id: "u3".into(),
                email: "cy@acme.test".into()
            }
        }]
    );
    assert!(!app.is_editing());
}

#[test]
fn errors_screen_filters_retries_skips_and_jumps_to_the_mapping() {
    let mut app = loaded_app();
    press(&mut app, "6");
    let requests = press(&mut app, "e");
    let filter = FailureFilter {
        class: Some(i2k::engine::model::ErrorClass::Rejected),
        ..Default::default()
    };
    assert_eq!(requests, vec![Request::LoadFailures { filter }]);
    assert_eq!(app.shown_failures().len(), 2);
    press(&mut app, "R");
    let retry = press(&mut app, "y");
    match &retry[..] {
        [
            Request::Engine(Command::Retry { records }),
            Request::LoadFailures { .. },
        ] => assert_eq!(records.len(), 2),
        other => panic!("{other:?}"),
    }
    press(&mut app, "c");
    assert_eq!(app.shown_failures().len(), 5);

    press(&mut app, "jjj");
    let record = RecordRef {
        object: "contacts".into(),
        source_id: "64a0c2aa".into(),
    };
    assert_eq!(
        press_key(&mut app, KeyCode::Enter),
        vec![Request::LoadFailureDetail {
            record: record.clone()
        }]
    );
    app.apply(Update::FailureDetail(failure_detail()));
    press_key(&mut app, KeyCode::Esc);
    press(&mut app, "m");
    assert_eq!(app.screen(), Screen::Mapping);
    assert_eq!(app.selected_index(ListId::Fields), Some(1), "contact.seats");

    press(&mut app, "6S");
    assert!(app.is_editing());
    assert!(
        press_key(&mut app, KeyCode::Enter).is_empty(),
        "a reason is required"
    );
    press(&mut app, "duplicate of 64a0c1e9");
    assert_eq!(
        press_key(&mut app, KeyCode::Enter),
        vec![
            Request::Engine(Command::Skip {
                records: vec![record],
                reason: "duplicate of 64a0c1e9".into()
            }),
            Request::LoadFailures {
                filter: FailureFilter::default()
            }
        ]
    );
}

#[test]
fn opening_the_errors_screen_reads_the_failed_records_again() {
    let mut app = loaded_app();
    assert_eq!(
        press(&mut app, "6"),
        vec![Request::LoadFailures {
            filter: FailureFilter::default()
        }]
    );
    // With a filter set, the list is read again through it, and the selection stays.
    press(&mut app, "e");
    press(&mut app, "j");
    let selected = app.selected_index(ListId::Failures);
    press(&mut app, "5");
    let filter = app.failure_filter().clone();
    assert!(filter.class.is_some());
    assert_eq!(press(&mut app, "6"), vec![Request::LoadFailures { filter }]);
    assert_eq!(app.selected_index(ListId::Failures), selected);
}

#[test]
fn retrying_one_record_reads_the_list_again() {
    let mut app = loaded_app();
    press(&mut app, "6");
    match &press(&mut app, "r")[..] {
        [
            Request::Engine(Command::Retry { records }),
            Request::LoadFailures { .. },
        ] => assert_eq!(records.len(), 1),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_failed_records_are_read_again_as_the_run_s_failed_count_changes() {
    let reload = || {
        vec![Request::LoadFailures {
            filter: FailureFilter::default(),
        }]
    };
    let mut app = loaded_app();
    let mut s = snapshot();
    s.elapsed += std::time::Duration::from_millis(100);
    assert!(
        app.apply(Update::Snapshot(s.clone())).is_empty(),
        "the count did not change"
    );

    // Records fail: the list is read again, but not more than once per interval.
    s.phases[4].failed += 1;
    s.elapsed += std::time::Duration::from_millis(100);
    assert!(app.apply(Update::Snapshot(s.clone())).is_empty());
    s.elapsed += i2k::tui::app::FAILURES_RELOAD_INTERVAL;
    assert_eq!(app.apply(Update::Snapshot(s.clone())), reload());
    assert!(app.apply(Update::Snapshot(s.clone())).is_empty());
    s.phases[4].failed += 1;
    s.elapsed += std::time::Duration::from_millis(100);
    assert!(app.apply(Update::Snapshot(s.clone())).is_empty());

    // The run's last snapshot is followed at once, whatever the interval.
    s.phases[5].failed += 1;
    s.elapsed += std::time::Duration::from_millis(100);
    s.state = RunState::Finished;
    assert_eq!(app.apply(Update::Snapshot(s)), reload());
}

#[test]
fn rate_share_and_pause_are_sent_to_the_engine() {
    let mut app = loaded_app();
    press(&mut app, "5");
    assert_eq!(
        press(&mut app, "+"),
        vec![Request::Engine(Command::SetRateShare { share: 0.85 })]
    );
    assert_eq!(press(&mut app, "p"), vec![Request::Engine(Command::Pause)]);
    let mut paused = snapshot();
    paused.state = RunState::Paused;
    app.apply(Update::Snapshot(paused));
    assert_eq!(press(&mut app, "p"), vec![Request::Engine(Command::Resume)]);
}

#[test]
fn read_only_console_changes_nothing() {
    let mut app = App::new(
        Keymap::builtin().unwrap(),
        AppOptions {
            read_only: true,
            ..Default::default()
        },
    );
    app.apply(scope());
    assert!(press(&mut app, "2b").is_empty());
    assert!(app.notice().unwrap().contains("Read-only"));
}

#[test]
fn user_keymap_overrides_only_the_key_it_names() {
    let dir = std::env::temp_dir().join(format!("i2k-keymap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("keymap.toml"),
        "[run]\nkeys = [\n  { on = \"s\", run = \"pause_resume\" },\n]\n",
    )
    .unwrap();
    let keymap = Keymap::load(Some(&dir)).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let builtin = Keymap::builtin().unwrap();
    let s = KeyEvent::new(KeyCode::Char('s'), KeyModifiers::NONE);
    let p = KeyEvent::new(KeyCode::Char('p'), KeyModifiers::NONE);
    assert_eq!(
        keymap.action(Screen::Run.layer(), &s),
        Some(Action::PauseResume)
    );
    assert_eq!(
        keymap.action(Screen::Run.layer(), &p),
        Some(Action::PauseResume)
    );
    // The description falls back to the default one for the action.
    let desc = keymap
        .bindings(Screen::Run.layer())
        .find(|b| b.key.to_string() == "s")
        .unwrap()
        .desc
        .clone();
    assert_eq!(desc, "Pause / resume");
    // Everything else is untouched.
    for layer in [
        Layer::Global,
        Screen::Errors.layer(),
        Screen::Mapping.layer(),
    ] {
        assert!(keymap.bindings(layer).eq(builtin.bindings(layer)));
    }
    assert_eq!(
        keymap.bindings(Screen::Run.layer()).count(),
        builtin.bindings(Screen::Run.layer()).count()
    );
}

#[test]
fn noop_frees_a_default_key() {
    let mut keymap = Keymap::builtin().unwrap();
    keymap
        .merge_user(
            "[global]\nkeys = [{ on = \"q\", run = \"noop\" }]\n",
            "user",
        )
        .unwrap();
    let mut app = App::new(keymap, AppOptions::default());
    assert!(press(&mut app, "q").is_empty());
    assert!(!app.should_quit());
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(app.handle_key(ctrl_c), vec![Request::Quit]);
}

#[test]
fn invalid_keymap_errors_name_the_line() {
    let cases = [
        (
            "[run]\nkeys = [\n  { on = \"s\", run = \"start_run\" },\n  { on = \"x\", run = \"launch\" },\n]\n",
            4,
            "launch",
        ),
        (
            "[run]\nkeys = [\n  { on = \"ctrl-\", run = \"start_run\" },\n]\n",
            3,
            "not a key",
        ),
        ("\n\n[runn]\nkeys = []\n", 3, "runn"),
        (
            "[errors]\nkeys = [\n  { on = \"r\", run = \"retry_one\" },\n  { on = \"r\", run = \"retry_shown\" },\n]\n",
            4,
            "bound twice",
        ),
        (
            "[run]\nkeys = [ { on = \"s\" run = \"start_run\" } ]\n",
            2,
            "",
        ),
    ];
    for (text, line, words) in cases {
        let mut keymap = Keymap::builtin().unwrap();
        let err = keymap
            .merge_user(text, "/home/op/.config/i2k/keymap.toml")
            .unwrap_err();
        let message = err.to_string();
        assert_eq!(err.line(), Some(line), "{message}");
        assert!(message.contains(&format!("line {line}")), "{message}");
        assert!(message.contains("keymap.toml"), "{message}");
        assert!(message.contains(words), "{message}");
    }
}

#[test]
fn builtin_keymap_binds_every_screen_and_describes_every_key() {
    let keymap = Keymap::builtin().unwrap();
    let screens = Screen::ALL.into_iter().map(Screen::layer);
    for layer in std::iter::once(Layer::Global).chain(screens) {
        assert!(keymap.bindings(layer).count() > 0, "{layer:?}");
        assert!(
            keymap.bindings(layer).all(|b| !b.desc.is_empty()),
            "{layer:?}"
        );
    }
}

#[test]
fn every_size_from_tiny_to_large_draws_without_panicking() {
    let mut app = loaded_app();
    app.apply(summary());
    app.apply(Update::FailureDetail(failure_detail()));
    for screen in "1234567".chars() {
        press(&mut app, &screen.to_string());
        for (w, h) in [
            (1, 1),
            (20, 5),
            (59, 15),
            (60, 16),
            (80, 24),
            (81, 25),
            (120, 30),
            (250, 80),
        ] {
            render(&mut app, w, h);
        }
    }
    press(&mut app, "?");
    render(&mut app, 60, 16);
}

#[test]
fn a_busy_frame_draws_quickly() {
    // 100,000 failures and a full log: the lists are virtualised, so a frame stays cheap.
    let mut app = loaded_app();
    let base = failures();
    let many: Vec<_> = (0..100_000)
        .map(|i| {
            let mut f = base[i % base.len()].clone();
            f.record.source_id = format!("{i:08x}");
            f
        })
        .collect();
    app.apply(Update::Failures(many));
    for i in 0..600 {
        app.apply(Update::Event(i2k::engine::model::Event::Log {
            level: i2k::engine::model::LogLevel::Info,
            message: format!("batch {i} loaded"),
        }));
    }
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(160, 48)).unwrap();
    for screen in ["5", "6"] {
        press(&mut app, screen);
        let frames = 20;
        let start = std::time::Instant::now();
        for _ in 0..frames {
            terminal.draw(|f| app.draw(f)).unwrap();
        }
        let per_frame = start.elapsed() / frames;
        eprintln!("screen {screen}: {per_frame:?} per frame at 160x48");
        assert!(per_frame.as_millis() < 250, "{per_frame:?}");
    }
}

#[test]
fn logs_go_to_a_private_file_in_the_state_directory() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("i2k-log-{}", std::process::id()));
    let guard = i2k::logging::to_file(&dir).unwrap();
    tracing::info!("console started for the log test");
    drop(guard);
    let path = dir.join("logs").join(i2k::logging::LOG_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(text.contains("console started for the log test"), "{text}");
    assert_eq!(mode, 0o600);
}

#[test]
fn colon_commands_complete_with_tab_and_do_what_their_keys_do() {
    let mut app = loaded_app();
    let mut finished = snapshot();
    finished.state = RunState::Finished;
    app.apply(Update::Snapshot(finished));
    // `:` opens the line; the completions show under it while typing.
    press(&mut app, ":ve");
    assert!(app.is_editing());
    let frame = render(&mut app, 100, 30);
    assert!(
        frame.contains("verify — verify against Kustomer"),
        "{frame}"
    );
    press_key(&mut app, KeyCode::Tab);
    assert_eq!(press_key(&mut app, KeyCode::Enter), vec![Request::Verify]);
    assert_eq!(app.screen(), Screen::Summary);
    assert!(!app.is_editing());

    // `:screen` with a completed name shows the screen.
    press(&mut app, ":screen err");
    press_key(&mut app, KeyCode::Tab);
    press_key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen(), Screen::Errors);

    // An unknown or ambiguous command keeps the line open with the reason.
    press(&mut app, ":re");
    assert!(press_key(&mut app, KeyCode::Enter).is_empty());
    assert!(app.is_editing());
    let frame = render(&mut app, 100, 30);
    assert!(frame.contains("could be retry, reconnect"), "{frame}");
    press_key(&mut app, KeyCode::Esc);
    assert!(!app.is_editing());

    // `:q` quits as q does.
    press(&mut app, ":q");
    assert_eq!(press_key(&mut app, KeyCode::Enter), vec![Request::Quit]);
    assert!(app.should_quit());
}

#[test]
fn arrows_switch_screens() {
    let mut app = loaded_app();
    press_key(&mut app, KeyCode::Right);
    assert_eq!(app.screen(), Screen::Scope);
    press_key(&mut app, KeyCode::Left);
    press_key(&mut app, KeyCode::Left);
    assert_eq!(app.screen(), Screen::Summary);
}

#[test]
fn the_start_question_names_each_failing_prerequisite_and_c_on_users_opens_mapping() {
    use i2k::engine::session::{CheckStatus, PrereqCheck, USERS_CHECK};
    let mut app = idle_app();
    let check = |name: &str, can_create: Option<&str>| PrereqCheck {
        name: name.into(),
        status: CheckStatus::Fail,
        detail: "missing".into(),
        choices: Vec::new(),
        can_create: can_create.map(String::from),
    };
    app.apply(Update::Prerequisites(vec![
        check(USERS_CHECK, None),
        check("klasses", Some("2 klasses")),
        check("teams", None),
    ]));
    // The defaults (accepted at the first question) create klasses: two checks are left.
    press(&mut app, "5s");
    press(&mut app, "y");
    press(&mut app, "5s");
    let question = app.confirmation().unwrap().question.clone();
    assert!(
        question.contains("2 prerequisite checks fail: users, teams"),
        "{question}"
    );
    press(&mut app, "n");
    // c on the users check shows Mapping, where admins are decided.
    press(&mut app, "3");
    assert!(press(&mut app, "c").is_empty());
    assert_eq!(app.screen(), Screen::Mapping);
}

#[test]
fn a_refused_token_is_shown_as_refused_not_as_set() {
    let mut app = loaded_app();
    let mut connections = connections();
    connections[1].status = i2k::engine::session::CheckStatus::Fail;
    connections[1].token_refused = true;
    app.apply(Update::Connections(connections));
    let frame = render(&mut app, 160, 48);
    assert!(frame.contains("✗ refused (set (64 chars, …x9))"), "{frame}");
    assert!(frame.contains("✓ set (40 chars, …7Q)"), "{frame}");
}

#[test]
fn starting_while_the_workspace_is_still_read_asks_first() {
    // No prerequisite checks yet: the session is still reading the workspace.
    let mut app = app();
    assert!(press(&mut app, "5s").is_empty());
    let confirm = app.confirmation().expect("a question first");
    assert!(
        confirm.question.contains("still being read"),
        "{}",
        confirm.question
    );
    assert!(press(&mut app, "n").is_empty());
    press(&mut app, "s");
    assert_eq!(
        press(&mut app, "y"),
        vec![Request::AcceptDefaults, Request::StartRun]
    );
}

#[test]
fn summary_says_a_verification_is_under_way_until_its_result_arrives() {
    let mut app = loaded_app();
    press(&mut app, "7");
    assert_eq!(press(&mut app, "v"), vec![Request::Verify]);
    assert!(render(&mut app, 160, 48).contains("Verifying against Kustomer"));
    app.apply(Update::Notice(
        "verification failed: Kustomer unreachable".into(),
    ));
    assert!(!render(&mut app, 160, 48).contains("Verifying against Kustomer"));
    press(&mut app, "v");
    app.apply(summary());
    let frame = render(&mut app, 160, 48);
    assert!(!frame.contains("Verifying against Kustomer"), "{frame}");
}

#[test]
fn u_on_summary_shows_the_rollback_plan_and_deletes_only_when_confirmed() {
    let mut app = loaded_app();
    press(&mut app, "7");
    assert_eq!(
        press(&mut app, "U"),
        vec![Request::Rollback { confirmed: false }]
    );
    app.apply(Update::RollbackPlan(
        "Will delete from Kustomer (created by this migration):\n  contacts  1,830  bulk delete"
            .into(),
    ));
    let frame = render(&mut app, 100, 30);
    assert!(frame.contains("contacts  1,830  bulk delete"), "{frame}");
    assert!(frame.contains("Delete them from Kustomer now?"), "{frame}");
    assert!(press(&mut app, "n").is_empty());
    press(&mut app, "U");
    app.apply(Update::RollbackPlan("Will delete from Kustomer:".into()));
    assert_eq!(
        press(&mut app, "y"),
        vec![Request::Rollback { confirmed: true }]
    );
}

#[test]
fn c_on_the_knowledge_base_check_offers_each_knowledge_base_in_turn_and_asks_first() {
    use i2k::engine::session::{CheckChoice, CheckStatus, KNOWLEDGE_BASE_CHECK, PrereqCheck};
    let mut app = loaded_app();
    let choice = |id: &str, label: &str, chosen: bool| CheckChoice {
        id: id.into(),
        label: label.into(),
        chosen,
    };
    app.apply(Update::Prerequisites(vec![PrereqCheck {
        name: KNOWLEDGE_BASE_CHECK.into(),
        status: CheckStatus::Fail,
        detail: "the org has 2 knowledge bases".into(),
        choices: vec![
            choice("kb-1", "Default (kb-1, the default)", true),
            choice("kb-2", "Outdoors (kb-2)", false),
        ],
        can_create: None,
    }]));
    press(&mut app, "3");
    let frame = render(&mut app, 160, 48);
    assert!(frame.contains("c chooses among"), "{frame}");
    // First the one the check marks (the org's default), then the next.
    assert!(press(&mut app, "c").is_empty());
    let question = app.confirmation().unwrap().question.clone();
    assert!(question.contains("Default (kb-1"), "{question}");
    assert!(press(&mut app, "n").is_empty());
    press(&mut app, "c");
    let question = app.confirmation().unwrap().question.clone();
    assert!(question.contains("Outdoors (kb-2)"), "{question}");
    assert_eq!(
        press(&mut app, "y"),
        vec![Request::ChooseKnowledgeBase {
            id: "kb-2".into(),
            label: "Outdoors (kb-2)".into(),
        }]
    );
}

#[test]
fn s_on_scope_asks_how_many_conversations_and_starts_a_sample_past_the_same_checks() {
    let mut app = idle_app();
    press(&mut app, "2?");
    let text = help_text(&app);
    assert!(text.contains("Sample run"), "{text}");
    press_key(&mut app, KeyCode::Esc);

    press(&mut app, "2s");
    assert!(app.is_editing(), "s did not ask for the sample's size");
    // Neither a word nor 0 is a size: the field stays open and nothing is sent.
    press(&mut app, "x");
    assert!(press_key(&mut app, KeyCode::Enter).is_empty());
    assert!(app.is_editing());
    press_key(&mut app, KeyCode::Backspace);
    press(&mut app, "0");
    assert!(press_key(&mut app, KeyCode::Enter).is_empty());
    assert!(app.is_editing());
    press_key(&mut app, KeyCode::Backspace);
    press(&mut app, "12");
    // Open decisions ask first, as before a full run; yes starts the sample, not a full run.
    assert!(press_key(&mut app, KeyCode::Enter).is_empty());
    let question = app
        .confirmation()
        .expect("a question first")
        .question
        .clone();
    assert!(question.contains("unresolved"), "{question}");
    assert_eq!(
        press(&mut app, "y"),
        vec![
            Request::AcceptDefaults,
            Request::StartSample { conversations: 12 }
        ]
    );
    assert_eq!(app.screen(), Screen::Run);
}

#[test]
fn c_on_the_probe_row_says_what_the_probe_creates_and_asks_first() {
    use i2k::engine::session::{CheckStatus, PROBE_CHECK, PROBE_QUESTION, PrereqCheck};
    let mut app = loaded_app();
    app.apply(Update::Prerequisites(vec![PrereqCheck {
        name: PROBE_CHECK.into(),
        status: CheckStatus::Warn,
        detail: "not probed yet".into(),
        can_create: None,
        choices: Vec::new(),
    }]));
    press(&mut app, "3");
    assert!(press(&mut app, "c").is_empty(), "nothing before the answer");
    let question = app
        .confirmation()
        .expect("a question first")
        .question
        .clone();
    for said in [PROBE_QUESTION, "example.invalid", "i2k probe", "MANUAL.md"] {
        assert!(question.contains(said), "{said:?} not in {question}");
    }
    assert!(press(&mut app, "n").is_empty(), "declined: nothing sent");
    press(&mut app, "c");
    assert_eq!(press(&mut app, "y"), vec![Request::RunProbe]);
}

#[test]
fn d_starts_a_delta_past_the_same_checks_and_asks_about_records_deleted_in_intercom() {
    let delta = |delete_removed| Request::StartDelta { delete_removed };
    let mut app = idle_app();
    // Offered on Run and on Summary, and said so in their help.
    for screen in ["5", "7"] {
        press(&mut app, &format!("{screen}?"));
        let text = help_text(&app);
        assert!(text.contains("Delta run"), "{screen}: {text}");
        press_key(&mut app, KeyCode::Esc);
    }

    // Open decisions ask first, as before a full run; yes starts a delta, not a full run.
    press(&mut app, "5");
    assert!(press(&mut app, "d").is_empty());
    let question = app.confirmation().expect("a question").question.clone();
    assert!(question.contains("unresolved"), "{question}");
    assert_eq!(
        press(&mut app, "y"),
        vec![Request::AcceptDefaults, delta(None)]
    );

    // Records deleted in Intercom still in Kustomer: the session asks, the operator decides.
    app.apply(Update::RemovedKept { records: 3 });
    let question = app.confirmation().expect("a question").question.clone();
    assert!(
        question.starts_with(
            "3 record(s) deleted in Intercom are still in Kustomer: delete them there too? (y/N)"
        ),
        "{question}"
    );
    let frame = render(&mut app, 100, 30);
    assert!(frame.contains("esc cancel"), "{frame}");
    // n runs the delta and keeps them; y deletes them too; esc starts nothing.
    assert_eq!(press(&mut app, "n"), vec![delta(Some(false))]);
    assert_eq!(app.screen(), Screen::Run);
    app.apply(Update::RemovedKept { records: 3 });
    assert_eq!(press(&mut app, "y"), vec![delta(Some(true))]);
    app.apply(Update::RemovedKept { records: 3 });
    assert!(press_key(&mut app, KeyCode::Esc).is_empty());
    assert!(app.confirmation().is_none());

    // From the Summary too, and from the `:` line.
    app.apply(Update::Prerequisites(vec![]));
    assert_eq!(press(&mut app, "7d"), vec![delta(None)]);
    assert_eq!(app.screen(), Screen::Run);
    press(&mut app, "7:delta");
    assert_eq!(press_key(&mut app, KeyCode::Enter), vec![delta(None)]);
    assert_eq!(app.screen(), Screen::Run);

    // Not while a run is under way.
    app.apply(Update::Snapshot(snapshot()));
    assert!(press(&mut app, "d").is_empty());
    assert!(
        app.notice()
            .is_some_and(|n| n.contains("already under way")),
        "{:?}",
        app.notice()
    );
}
