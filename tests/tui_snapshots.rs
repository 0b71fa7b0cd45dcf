//! Every console screen rendered on ratatui's `TestBackend` at 80×24 and 160×48 from realistic
//! updates, checked with insta. The snapshots under `tests/snapshots/` are the console's
//! screenshots: review them by eye when they change.

#[path = "support/tui_fixtures.rs"]
mod fixtures;

use fixtures::*;
use i2k::tui::{App, Update};
use ratatui::crossterm::event::KeyCode;

/// Snapshots `app` at both sizes, after `agree` checks that the figures each frame shows agree
/// with each other (and the header's with the fixtures). Fixtures hold no clock or temp paths,
/// so nothing needs scrubbing.
fn snap_both(name: &str, app: &mut App, agree: fn(&str)) {
    for (width, height) in [(80, 24), (160, 48)] {
        let screen = render(app, width, height);
        header_agrees(&screen);
        agree(&screen);
        insta::assert_snapshot!(format!("{name}_{width}x{height}"), screen);
    }
}

/// `1,830` → 1830.
fn number(token: &str) -> u64 {
    token
        .trim_matches(|c: char| !c.is_ascii_digit())
        .replace(',', "")
        .parse()
        .unwrap_or_else(|_| panic!("not a figure: {token:?}"))
}

/// The figure just before `word` on the first line that has ` N word`.
fn figure_before(screen: &str, word: &str) -> u64 {
    screen
        .lines()
        .find_map(|line| {
            let tokens: Vec<&str> = line.split_whitespace().collect();
            tokens
                .windows(2)
                .find(|w| w[1].starts_with(word) && w[0].chars().any(|c| c.is_ascii_digit()))
                .map(|w| number(w[0]))
        })
        .unwrap_or_else(|| panic!("no figure before {word:?}:\n{screen}"))
}

/// The count a panel title carries last (`╭ Scope · 13 ──`).
fn title_count(screen: &str, title: &str) -> u64 {
    let line = screen
        .lines()
        .find(|l| l.contains(&format!("╭ {title}")))
        .unwrap_or_else(|| panic!("no {title} panel:\n{screen}"));
    let after = &line[line.find(&format!("╭ {title}")).unwrap()..];
    let title_text = after.split(" ─").next().unwrap();
    number(title_text.rsplit('·').next().unwrap())
}

/// Lines of the screen containing `marker`.
fn rows_with(screen: &str, marker: &str) -> u64 {
    screen
        .lines()
        .map(|l| l.matches(marker).count() as u64)
        .sum()
}

/// The header's figures agree with the fixtures: the open mapping decisions, and the failed
/// records (the phases' ✗ and the Errors list alike).
fn header_agrees(screen: &str) {
    let header = screen.lines().next().unwrap();
    let unresolved = admins()
        .iter()
        .filter(|a| a.decision == i2k::engine::model::AdminDecision::Unresolved)
        .count()
        + fields()
            .iter()
            .filter(|f| f.decision == i2k::engine::model::FieldDecision::Unresolved)
            .count();
    assert_eq!(
        figure_before(header, "unresolved"),
        unresolved as u64,
        "{header}"
    );
    let failed: u64 = snapshot().phases.iter().map(|p| p.failed).sum();
    let unknown: u64 = snapshot().phases.iter().map(|p| p.unknown).sum();
    assert_eq!(figure_before(header, "failed"), failed, "{header}");
    assert_eq!(figure_before(header, "unknown"), unknown, "{header}");
    let of_class = |unknown: bool| {
        failures()
            .iter()
            .filter(|f| (f.class == i2k::engine::model::ErrorClass::Unknown) == unknown)
            .count() as u64
    };
    assert_eq!((of_class(false), of_class(true)), (failed, unknown));
}

/// Connect: each side's rate budget is the one the Run screen's figures count against.
fn connect_agrees(screen: &str) {
    let s = snapshot();
    for budget in [&s.intercom, &s.kustomer] {
        let said = format!(
            "{} requests / {} s",
            i2k::vocab::count_text(budget.limit.into()),
            budget.window_secs
        );
        assert!(screen.contains(&said), "{said}:\n{screen}");
    }
}

/// Scope: the title counts the rows, and the detail says the selected row's figures.
fn scope_agrees(screen: &str) {
    let rows = rows_with(screen, "▶ migrate")
        + rows_with(screen, "+ archive")
        + rows_with(screen, "! manual");
    assert_eq!(title_count(screen, "Scope"), rows, "{screen}");
    let detail = screen
        .lines()
        .find(|l| l.contains("records →"))
        .unwrap_or_else(|| panic!("no detail:\n{screen}"));
    let object = detail.trim_start_matches('│').split(':').next().unwrap();
    let row = screen
        .lines()
        .find(|l| l.trim_start_matches('│').split_whitespace().next() == Some(object))
        .unwrap();
    let tokens: Vec<&str> = row.trim_matches('│').split_whitespace().collect();
    assert_eq!(
        figure_before(detail, "records"),
        number(tokens[1]),
        "{row}\n{detail}"
    );
    if detail.contains("not retrievable") {
        assert_eq!(
            figure_before(detail, "not"),
            number(tokens[4]),
            "{row}\n{detail}"
        );
    }
}

/// Segments: the title counts the rows, as many as the Scope's segments row; the detail says
/// those in use of them.
fn segments_agree(screen: &str) {
    let (in_use, unused) = (rows_with(screen, "✓ in use"), rows_with(screen, "– unused"));
    assert_eq!(title_count(screen, "Segments"), in_use + unused, "{screen}");
    let Update::Scope { items, .. } = scope() else {
        unreachable!()
    };
    let scoped = items.iter().find(|i| i.object == "segments").unwrap().count;
    assert_eq!(scoped, in_use + unused, "{screen}");
    let said = format!("{in_use} of {} segments in use", in_use + unused);
    assert!(screen.contains(&said), "{said}:\n{screen}");
}

/// Prerequisites: the title counts the checks, "What to do" the failing ones.
fn prerequisites_agree(screen: &str) {
    let rows: u64 = ["✓ pass", "+ created", "✗ fail", "! warn"]
        .iter()
        .map(|m| rows_with(screen, m))
        .sum();
    assert_eq!(title_count(screen, "Prerequisites"), rows, "{screen}");
    assert_eq!(
        figure_before(screen, "failing"),
        rows_with(screen, "✗ fail "),
        "{screen}"
    );
}

/// Mapping: each panel's unresolved count is its `!` rows, and they add up to the header's.
fn mapping_agrees(screen: &str) {
    let header = figure_before(screen.lines().next().unwrap(), "unresolved");
    let titles: Vec<u64> = ["Admins → users", "Fields → attributes"]
        .iter()
        .filter_map(|t| {
            screen.lines().find(|l| l.contains(t)).map(|l| {
                let at = &l[l.find(t).unwrap()..];
                figure_before(at.split(" ─").next().unwrap(), "unresolved")
            })
        })
        .collect();
    // An overlay (the user picker) may hide a panel's title; the rows stay in view.
    if titles.len() == 2 {
        assert_eq!(titles.iter().sum::<u64>(), header, "{screen}");
    }
    assert_eq!(rows_with(screen, "│! "), header, "{screen}");
}

/// Errors: the list's title counts its rows, failed (✗) and of unknown outcome (?), as many of
/// each as the header says.
fn errors_agree(screen: &str) {
    let rows = |symbol: &str| {
        screen
            .lines()
            .filter(|l| {
                let t: Vec<&str> = l.trim_start_matches('│').split_whitespace().collect();
                t.len() > 4 && t[2] == symbol && t[4].parse::<u32>().is_ok()
            })
            .count() as u64
    };
    let (failed, unknown) = (rows("✗"), rows("?"));
    let title = if unknown > 0 {
        "Failed and unknown records"
    } else {
        "Failed records"
    };
    assert_eq!(title_count(screen, title), failed + unknown, "{screen}");
    let header = screen.lines().next().unwrap();
    assert_eq!(figure_before(header, "failed"), failed);
    assert_eq!(figure_before(header, "unknown"), unknown);
}

/// Summary: the title counts the types; each row's source is what it ended as (migrated,
/// archived, manual, skipped, failed, not retrievable, unknown) and its target what it migrated;
/// ✓ where it adds up and Kustomer agrees, ? where it adds up only with records of unknown
/// outcome, ✗ where it does not; the verdict says which; the checklist's macros are the row's.
fn summary_agrees(screen: &str) {
    let mut rows = 0;
    let (mut all_agree, mut unknown) = (true, 0);
    for line in screen.lines() {
        let table = line.split("││").next().unwrap().trim_matches('│');
        let t: Vec<&str> = table.split_whitespace().collect();
        if t.len() != 11 || !["✓", "?", "✗"].contains(&t[0]) {
            continue;
        }
        rows += 1;
        let [source, migrated] = [number(t[2]), number(t[3])];
        let ended: u64 = t[5..].iter().map(|n| number(n)).sum::<u64>() + migrated;
        assert_eq!(source == ended, t[0] != "✗", "{line}");
        assert_eq!(t[0] == "?", number(t[10]) > 0 && t[0] != "✗", "{line}");
        all_agree &= t[0] == "✓";
        if t[0] == "?" {
            unknown += number(t[10]);
        }
        if t[4] != "—" {
            assert_eq!(number(t[4]), migrated, "{line}");
        }
        if t[1] == "macros" {
            let manual = number(t[6]);
            assert!(
                screen.contains(&format!("Rebuild {manual} macros")),
                "{screen}"
            );
        }
    }
    assert!(rows > 0, "{screen}");
    assert_eq!(title_count(screen, "Verification"), rows, "{screen}");
    assert_eq!(screen.contains("✓ every type accounted for"), all_agree);
    if unknown > 0 {
        assert!(
            screen.contains(&format!("? {unknown} records of unknown outcome")),
            "{screen}"
        );
    }
}

/// Run: the phases' failed records are the header's; the budget's percentage is used of
/// allowed, the allowance the share of the limit; each finished phase's log line adds up to its
/// row. (Each row's count and bar: see `run_screen_shows_progress_budget_and_log`.)
fn run_agrees(screen: &str) {
    let failed: u64 = screen
        .lines()
        .flat_map(|l| l.split_whitespace())
        .filter(|t| t.starts_with('✗') && t.len() > '✗'.len_utf8())
        .map(number)
        .sum();
    assert_eq!(
        figure_before(screen.lines().next().unwrap(), "failed"),
        failed,
        "{screen}"
    );
    let after = |label: &str| -> String {
        let line = screen.lines().find(|l| l.contains(label)).unwrap();
        line[line.find(label).unwrap()..].to_string()
    };
    let budget = after("│Kustomer ");
    let figures = budget.split_whitespace().find(|t| t.contains('/')).unwrap();
    let (used, allowed) = figures.split_once('/').unwrap();
    let (used, allowed) = (number(used), number(allowed));
    let percent = after("│Budget")
        .split_whitespace()
        .find(|t| t.ends_with('%'))
        .map(number)
        .unwrap();
    assert_eq!(
        percent,
        (used as f64 * 100.0 / allowed as f64).round() as u64,
        "{screen}"
    );
    let share = after("│Share");
    let t: Vec<&str> = share.split_whitespace().collect();
    let (share, limit) = (number(t[1]), number(t[3]));
    assert_eq!(share * limit / 100, allowed, "{screen}");
    for line in screen.lines().filter(|l| l.contains(" finished: ")) {
        let done = figure_before(line, "done");
        let failed = figure_before(line, "failed");
        let skipped = figure_before(line, "skipped");
        let phase = line.trim_matches('│').split_whitespace().nth(1).unwrap();
        let row = screen
            .lines()
            .find(|l| l.contains(phase) && l.contains('/') && !l.contains("finished"))
            .unwrap();
        let count = row.split_whitespace().find(|t| t.contains('/')).unwrap();
        assert_eq!(
            number(count.split('/').next().unwrap()),
            done + failed + skipped,
            "{row}"
        );
        if failed > 0 {
            assert!(row.contains(&format!("✗{failed}")), "{row}");
        }
    }
}

/// Overlays hide most of what is under them: the header alone is checked.
fn nothing_more(_: &str) {}

#[test]
fn connect_screen_shows_both_sides_without_tokens() {
    let mut app = loaded_app();
    press(&mut app, "1");
    snap_both("1_connect", &mut app, connect_agrees);
}

#[test]
fn scope_screen_shows_counts_and_buckets() {
    let mut app = loaded_app();
    press(&mut app, "2jjjjjjjjj");
    snap_both("2_scope", &mut app, scope_agrees);
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
    snap_both("2_scope_segments", &mut app, segments_agree);
}

#[test]
fn prerequisites_screen_says_what_to_do() {
    let mut app = loaded_app();
    press(&mut app, "3jj");
    snap_both("3_prerequisites", &mut app, prerequisites_agree);
}

#[test]
fn mapping_screen_counts_unresolved_items() {
    let mut app = loaded_app();
    press(&mut app, "4j");
    snap_both("4_mapping", &mut app, mapping_agrees);
}

#[test]
fn mapping_picker_filters_users() {
    let mut app = loaded_app();
    press(&mut app, "4j");
    press_key(&mut app, KeyCode::Enter);
    press(&mut app, "b");
    snap_both("4_mapping_picker", &mut app, mapping_agrees);
}

#[test]
fn run_screen_shows_progress_budget_and_log() {
    let mut app = loaded_app();
    press(&mut app, "5");
    snap_both("5_run", &mut app, run_agrees);
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

/// The Run screen does not say `said` until the snapshot is changed by `change`, then says it
/// at both sizes.
fn run_screen_says_after(change: impl FnOnce(&mut i2k::engine::model::Snapshot), said: &str) {
    let mut app = loaded_app();
    press(&mut app, "5");
    assert!(!render(&mut app, 160, 48).contains(said));
    let mut changed = snapshot();
    change(&mut changed);
    app.apply(Update::Snapshot(changed));
    for (width, height) in [(80, 24), (160, 48)] {
        let screen = render(&mut app, width, height);
        assert!(screen.contains(said), "{width}x{height}:\n{screen}");
    }
}

#[test]
fn run_screen_says_the_run_is_throttled_and_until_when() {
    // 1,700,000,000 is 22:13:20 UTC.
    run_screen_says_after(
        |s| s.kustomer.throttled_until = Some(1_700_000_000),
        "throttled by Kustomer until 22:13:20",
    );
}

#[test]
fn errors_screen_shows_the_failed_record_in_detail() {
    let mut app = loaded_app();
    press(&mut app, "6jjj");
    press_key(&mut app, KeyCode::Enter);
    app.apply(Update::FailureDetail(failure_detail()));
    snap_both("6_errors", &mut app, errors_agree);
}

#[test]
fn summary_screen_shows_verification_paths_and_checklist() {
    let mut app = loaded_app();
    app.apply(summary());
    press(&mut app, "7");
    snap_both("7_summary", &mut app, summary_agrees);
}

#[test]
fn help_overlay_lists_the_screen_and_global_bindings() {
    let mut app = loaded_app();
    press(&mut app, "5?");
    snap_both("help_run", &mut app, nothing_more);
}

#[test]
fn quit_during_a_run_asks_first() {
    let mut app = loaded_app();
    press(&mut app, "5q");
    snap_both("confirm_quit", &mut app, nothing_more);
}

#[test]
fn token_entry_is_masked() {
    let mut app = loaded_app();
    press(&mut app, "1j");
    press_key(&mut app, KeyCode::Enter);
    press(&mut app, "tok_secret");
    let text = render(&mut app, 80, 24);
    assert!(!text.contains("tok_secret"), "{text}");
    snap_both("1_connect_token_entry", &mut app, connect_agrees);
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
    let screen = render(&mut app, 80, 24);
    run_agrees(&screen);
    insta::assert_snapshot!("5_run_no_color_80x24", screen);
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
            .find(|l| {
                // With thousands separators, or without where the column fits only so.
                let [s, t] = [settled, phase.total].map(i2k::vocab::count_text);
                let whole = [format!("{s}/{t}"), format!("{settled}/{}", phase.total)];
                l.starts_with("│") && whole.iter().any(|w| l.contains(&format!(" {w} ")))
            })
            .unwrap_or_else(|| panic!("{:?} without its whole count:\n{screen}", phase.phase));
        assert!(row.contains('█') || row.contains('░'), "a bar in {row}");
    }
    // The header fits its columns (it was cut to "Settled/tota" when the table took the wide
    // layout in too narrow a panel).
    assert!(!screen.contains("Settled/tota "), "{screen}");
}

#[test]
fn run_screen_keeps_the_budget_in_one_unit_after_the_share_is_lowered() {
    let mut app = loaded_app();
    press(&mut app, "5");
    // 703 requests went out in this window before the share fell to 5 % (50 a window).
    let mut lowered = snapshot();
    lowered.rate_share = 0.05;
    lowered.kustomer.used = 703;
    lowered.kustomer.allowed = 50;
    app.apply(Update::Snapshot(lowered));
    for (width, height) in [(80, 24), (160, 48)] {
        let screen = render(&mut app, width, height);
        assert!(!screen.contains("703/50"), "{width}x{height}:\n{screen}");
        assert!(
            screen.contains("50/50 per 60 s"),
            "{width}x{height}:\n{screen}"
        );
        assert!(
            screen.contains("! 653 over share: waiting"),
            "{width}x{height}:\n{screen}"
        );
        header_agrees(&screen);
        run_agrees(&screen);
    }
}

#[test]
fn run_screen_says_it_waits_on_bulk_jobs() {
    run_screen_says_after(
        |s| s.bulk_jobs_waiting = 3,
        "waiting on 3 Kustomer bulk jobs",
    );
}

#[test]
fn a_phase_planned_in_part_shows_the_staged_estimate_and_a_young_run_no_eta() {
    let mut app = loaded_app();
    press(&mut app, "5");
    let mut early = snapshot();
    // 20 customers planned early (named by conversations) while 520 contacts are staged.
    let customers = early
        .phases
        .iter_mut()
        .find(|p| p.phase == i2k::engine::model::PhaseId::Customers)
        .unwrap();
    customers.status = i2k::engine::model::PhaseStatus::Waiting;
    (
        customers.total,
        customers.done,
        customers.failed,
        customers.unknown,
    ) = (20, 0, 0, 0);
    customers.in_flight = 0;
    customers.expected = 520;
    early.eta = None;
    early.elapsed = std::time::Duration::from_secs(2);
    app.apply(Update::Snapshot(early));
    let wide = render(&mut app, 160, 48);
    let row = wide.lines().find(|l| l.contains("Customers")).unwrap();
    assert!(row.contains("0/~520"), "{row}");
    assert!(row.contains("  0%"), "{row}");
    assert!(!wide.contains("0/20"), "{wide}");
    let narrow = render(&mut app, 80, 24);
    let row = narrow.lines().find(|l| l.contains("Customers")).unwrap();
    assert!(row.contains("0/~520"), "{row}");
    for screen in [&wide, &narrow] {
        let eta = screen.lines().find(|l| l.contains("ETA")).unwrap();
        assert!(eta.contains("estimating…"), "{eta}");
    }
}

#[test]
fn before_any_intercom_request_the_run_screen_does_not_show_the_guessed_budget() {
    let mut app = loaded_app();
    press(&mut app, "5");
    let mut reopened = snapshot();
    // A console reopened on a stopped run: its Intercom client has not been answered yet, so
    // its limit is only the client's guess.
    reopened.intercom.requests = 0;
    reopened.intercom.used = 0;
    reopened.intercom.allowed = 166;
    app.apply(Update::Snapshot(reopened));
    for screen in [render(&mut app, 160, 48), render(&mut app, 80, 24)] {
        let line = screen.lines().find(|l| l.contains("│Intercom")).unwrap();
        assert!(line.contains("no request yet"), "{line}");
        assert!(!line.contains("166"), "{line}");
    }
}

/// A delta run's changes by kind of change, in the words of the Run screen's line.
fn delta_changes() -> Vec<i2k::engine::model::ChangeCount> {
    [
        ("updated", 5),
        ("closed", 2),
        ("reopened", 1),
        ("snoozed", 1),
        ("reassigned", 2),
        ("conflict", 1),
        ("removed", 2),
    ]
    .into_iter()
    .map(|(change, count)| i2k::engine::model::ChangeCount {
        change: change.into(),
        count,
    })
    .collect()
}

#[test]
fn a_delta_run_says_what_it_changed_by_kind_of_change() {
    let mut app = loaded_app();
    press(&mut app, "5");
    // A run that changed nothing in place has no such line (the frames above).
    assert!(!render(&mut app, 160, 48).contains("Changes:"));
    let mut delta = snapshot();
    delta.changes = delta_changes();
    app.apply(Update::Snapshot(delta));
    snap_both("5_run_delta", &mut app, run_agrees);
    let said = "Changes: 5 updated · 2 closed · 1 reopened · 1 snoozed · 2 reassigned · \
                1 conflict (kept the agent's value) · 2 removed in Intercom";
    let wide = render(&mut app, 160, 48);
    assert!(
        wide.lines().any(|l| l == said),
        "one line at 160 columns:\n{wide}"
    );
    // Narrow, the line wraps and still says it all.
    let narrow = render(&mut app, 80, 24);
    let start = narrow
        .lines()
        .position(|l| l.starts_with("Changes:"))
        .unwrap_or_else(|| panic!("no changes line:\n{narrow}"));
    let joined = narrow
        .lines()
        .skip(start)
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(joined, said, "{narrow}");
    // Asked to overwrite, the conflict says so.
    let mut overwriting = snapshot();
    overwriting.changes = delta_changes();
    overwriting.overwrite_conflicts = true;
    app.apply(Update::Snapshot(overwriting));
    let wide = render(&mut app, 160, 48);
    assert!(wide.contains("1 conflict (overwritten as asked)"), "{wide}");
}

/// A figure as a column shows it: whole (`3,111,000`, `3111000`) or shortened (`3.11M`).
/// Returns the value and how far it may be from the true one (half its last shown digit).
fn shown_figure(token: &str) -> (f64, f64) {
    try_figure(token).unwrap_or_else(|| panic!("not a figure: {token:?}"))
}

fn try_figure(token: &str) -> Option<(f64, f64)> {
    let (digits, unit) = match token.chars().last() {
        Some('k') => (&token[..token.len() - 1], 1e3),
        Some('M') => (&token[..token.len() - 1], 1e6),
        Some('G') => (&token[..token.len() - 1], 1e9),
        _ => (token, 1.0),
    };
    let digits = digits.replace(',', "");
    let decimals = digits.split_once('.').map_or(0, |(_, d)| d.len());
    let value: f64 = digits.parse().ok()?;
    let step = if unit == 1.0 {
        0.0
    } else {
        0.5 * unit / 10f64.powi(decimals as i32)
    };
    Some((value * unit, step))
}

/// A workspace 1,700 times the fixtures' (millions of records a type): at both sizes every
/// figure of Summary and Run is the true one, whole or shortened, never with digits cut off.
#[test]
fn figures_too_wide_for_their_columns_are_shortened_never_cut() {
    const SCALE: u64 = 1_700;
    let mut app = loaded_app();
    let Update::Summary {
        mut verification,
        report_path,
        archive_path,
        manual,
    } = summary()
    else {
        unreachable!()
    };
    for v in verification.iter_mut() {
        for n in [
            &mut v.source,
            &mut v.migrated,
            &mut v.archived,
            &mut v.manual,
            &mut v.failed,
            &mut v.not_retrievable,
            &mut v.unknown,
        ] {
            *n *= SCALE;
        }
        v.target = v.target.map(|t| t * SCALE);
    }
    app.apply(Update::Summary {
        verification: verification.clone(),
        report_path,
        archive_path,
        manual,
    });
    let mut run = snapshot();
    for p in run.phases.iter_mut() {
        p.total *= SCALE;
        p.done *= SCALE;
        p.failed *= SCALE;
    }
    app.apply(Update::Snapshot(run.clone()));
    let close = |token: &str, truth: u64, line: &str| {
        let (value, step) = shown_figure(token);
        assert!(
            (value - truth as f64).abs() <= step,
            "{token} shown for {truth}: {line}"
        );
    };
    for (width, height) in [(80, 24), (160, 48)] {
        press(&mut app, "7");
        let screen = render(&mut app, width, height);
        let mut rows = 0;
        for v in &verification {
            let (line, t) = screen
                .lines()
                .map(|l| {
                    let table = l.split("││").next().unwrap().trim_matches('│');
                    (l, table.split_whitespace().collect::<Vec<&str>>())
                })
                .find(|(_, t)| t.get(1) == Some(&v.object.as_str()))
                .unwrap_or_else(|| panic!("no {} row:\n{screen}", v.object));
            let truth = [
                v.source,
                v.migrated,
                v.target.unwrap_or(0),
                v.archived,
                v.manual,
                v.skipped,
                v.failed,
                v.not_retrievable,
                v.unknown,
            ];
            assert_eq!(t.len(), 11, "{line}");
            for (token, truth) in t[2..].iter().zip(truth) {
                if *token != "—" {
                    close(token, truth, line);
                }
            }
            rows += 1;
        }
        assert_eq!(rows, verification.len());
        // At 80 columns the largest figures cannot be whole: the test sees them shortened.
        if width == 80 {
            assert!(screen.contains("M "), "{screen}");
        }

        press(&mut app, "5");
        let screen = render(&mut app, width, height);
        for p in &run.phases {
            let shown = screen
                .lines()
                .filter(|l| l.starts_with("│"))
                .flat_map(|l| l.split_whitespace())
                .find_map(|t| {
                    let (settled, total) = t.split_once('/')?;
                    let total = total.trim_start_matches('~');
                    let ok = |token: &str, truth: u64| {
                        try_figure(token)
                            .is_some_and(|(value, step)| (value - truth as f64).abs() <= step)
                    };
                    (ok(settled, p.settled()) && ok(total, p.size())).then_some(t)
                });
            assert!(
                shown.is_some(),
                "{:?}: no true settled/total:\n{screen}",
                p.phase
            );
        }
    }
}
