//! Every console screen rendered on ratatui's `TestBackend` at 80×24 and 160×48 from realistic
//! updates, checked with insta. The snapshots under `tests/snapshots/` are the console's
//! screenshots: review them by eye when they change.

#[path = "support/tui_fixtures.rs"]
mod fixtures;

use fixtures::*;
use i2k::tui::{App, Update};
use ratatui::crossterm::event::KeyCode;

/// Snapshots `app` at both sizes. Fixtures hold no clock or temp paths, so nothing needs scrubbing.
fn snap_both(name: &str, app: &mut App) {
    insta::assert_snapshot!(format!("{name}_80x24"), render(app, 80, 24));
    insta::assert_snapshot!(format!("{name}_160x48"), render(app, 160, 48));
}

#[test]
fn connect_screen_shows_both_sides_without_tokens() {
    let mut app = loaded_app();
    press(&mut app, "1");
    snap_both("1_connect", &mut app);
}

#[test]
fn scope_screen_shows_counts_and_buckets() {
    let mut app = loaded_app();
    press(&mut app, "2jjjjjjjjj");
    snap_both("2_scope", &mut app);
}

#[test]
fn scope_detail_says_how_much_disk_the_migration_needs_and_how_much_is_free() {
    let mut app = loaded_app();
    let gib = 1024 * 1024 * 1024;
    app.apply(Update::Disk {
        estimate: i2k::engine::disk::DiskEstimate {
            records: 250_000,
            ledger_bytes_per_record: 1_060,
            measured: true,
            ledger_bytes: gib,
            attachment_bytes: 2 * gib,
            needed_bytes: 3 * gib,
            ..Default::default()
        },
        free: Some(gib),
    });
    press(&mut app, "2");
    let text = render(&mut app, 160, 48);
    assert!(
        text.contains("Disk     needs 3.0 GiB more of 1.0 GiB free"),
        "{text}"
    );
    assert!(
        text.contains("ledger 1.0 GiB for 250000 records at 1060 B each measured"),
        "{text}"
    );
}

#[test]
fn scope_segments_detail_marks_each_in_use_or_unused() {
    let mut app = loaded_app();
    press(&mut app, "2jjj");
    press_key(&mut app, KeyCode::Enter);
    snap_both("2_scope_segments", &mut app);
}

#[test]
fn prerequisites_screen_says_what_to_do() {
    let mut app = loaded_app();
    press(&mut app, "3jj");
    snap_both("3_prerequisites", &mut app);
}

#[test]
fn mapping_screen_counts_unresolved_items() {
    let mut app = loaded_app();
    press(&mut app, "4j");
    snap_both("4_mapping", &mut app);
}

#[test]
fn mapping_picker_filters_users() {
    let mut app = loaded_app();
    press(&mut app, "4j");
    press_key(&mut app, KeyCode::Enter);
    press(&mut app, "b");
    snap_both("4_mapping_picker", &mut app);
}

#[test]
fn run_screen_shows_progress_budget_and_log() {
    let mut app = loaded_app();
    press(&mut app, "5");
    snap_both("5_run", &mut app);
    // Each phase's count and bar agree: settled (done, failed, skipped, unknown) of the total,
    // and what did not load is counted by its kind.
    let screen = render(&mut app, 160, 48);
    let line = |phase: &str| {
        screen
            .lines()
            .find(|l| l.starts_with("│") && l.contains(phase))
            .unwrap_or_else(|| panic!("no {phase} row:\n{screen}"))
            .to_string()
    };
    for phase in &app_snapshot_phases(&app) {
        let settled = phase.done + phase.failed + phase.skipped + phase.unknown;
        let row = line(phase.phase.label());
        let count = format!(
            "{}/{}",
            i2k::vocab::count_text(settled),
            i2k::vocab::count_text(phase.total)
        );
        assert!(row.contains(&count), "{count} in {row}");
        if phase.total > 0 {
            let percent = format!("{:>3.0}%", settled as f64 * 100.0 / phase.total as f64);
            assert!(row.contains(&percent), "{percent} in {row}");
        }
        if phase.failed > 0 {
            assert!(row.contains(&format!("✗{}", phase.failed)), "{row}");
        }
    }
}

fn app_snapshot_phases(app: &i2k::tui::App) -> Vec<i2k::engine::model::PhaseProgress> {
    app.snapshot().phases.clone()
}

#[test]
fn run_screen_says_the_run_is_throttled_and_until_when() {
    let mut app = loaded_app();
    press(&mut app, "5");
    assert!(!render(&mut app, 160, 48).contains("throttled by"));
    let mut throttled = snapshot();
    // 1,700,000,000 is 22:13:20 UTC.
    throttled.kustomer.throttled_until = Some(1_700_000_000);
    app.apply(Update::Snapshot(throttled));
    for (width, height) in [(80, 24), (160, 48)] {
        let screen = render(&mut app, width, height);
        assert!(
            screen.contains("throttled by Kustomer until 22:13:20"),
            "{width}x{height}:\n{screen}"
        );
    }
}

#[test]
fn errors_screen_shows_the_failed_record_in_detail() {
    let mut app = loaded_app();
    press(&mut app, "6jjj");
    press_key(&mut app, KeyCode::Enter);
    app.apply(Update::FailureDetail(failure_detail()));
    snap_both("6_errors", &mut app);
}

#[test]
fn summary_screen_shows_verification_paths_and_checklist() {
    let mut app = loaded_app();
    app.apply(summary());
    press(&mut app, "7");
    snap_both("7_summary", &mut app);
}

#[test]
fn help_overlay_lists_the_screen_and_global_bindings() {
    let mut app = loaded_app();
    press(&mut app, "5?");
    snap_both("help_run", &mut app);
}

#[test]
fn quit_during_a_run_asks_first() {
    let mut app = loaded_app();
    press(&mut app, "5q");
    snap_both("confirm_quit", &mut app);
}

#[test]
fn token_entry_is_masked() {
    let mut app = loaded_app();
    press(&mut app, "1j");
    press_key(&mut app, KeyCode::Enter);
    press(&mut app, "tok_secret");
    let text = render(&mut app, 80, 24);
    assert!(!text.contains("tok_secret"), "{text}");
    snap_both("1_connect_token_entry", &mut app);
}

#[test]
fn no_color_frames_carry_no_colours() {
    let mut app = App::new(
        i2k::tui::Keymap::builtin().unwrap(),
        i2k::tui::AppOptions {
            no_color: true,
            ..Default::default()
        },
    );
    app.apply(Update::Snapshot(snapshot()));
    app.apply(Update::Failures(failures()));
    for screen in "1234567".chars() {
        press(&mut app, &screen.to_string());
        let mut terminal =
            ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 24)).unwrap();
        terminal.draw(|f| app.draw(f)).unwrap();
        let buffer = terminal.backend().buffer();
        for cell in buffer.content() {
            assert_eq!(cell.fg, ratatui::style::Color::Reset, "screen {screen}");
            assert_eq!(cell.bg, ratatui::style::Color::Reset, "screen {screen}");
        }
    }
    press(&mut app, "5");
    insta::assert_snapshot!("5_run_no_color_80x24", render(&mut app, 80, 24));
}

#[test]
fn run_screen_at_120_columns_keeps_each_phase_name_and_count_whole() {
    let mut app = loaded_app();
    press(&mut app, "5");
    let screen = render(&mut app, 120, 36);
    for phase in app.snapshot().phases.clone() {
        let settled = phase.done + phase.failed + phase.skipped + phase.unknown;
        let row = screen
            .lines()
            .find(|l| l.starts_with("│") && l.contains(&format!("{settled}/{}", phase.total)))
            .unwrap_or_else(|| panic!("{:?} without its whole count:\n{screen}", phase.phase));
        assert!(row.contains('█') || row.contains('░'), "a bar in {row}");
    }
    // The header fits its columns (it was cut to "Settled/tota" when the table took the wide
    // layout in too narrow a panel).
    assert!(!screen.contains("Settled/tota "), "{screen}");
}
