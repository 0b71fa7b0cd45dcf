//! 5 Run: the phases' progress, the figures (rate budget, share, throughput), what the run is
//! doing now and the log tail; start, pause, the rate share and stop.

use std::collections::VecDeque;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Sparkline, Table, Wrap};

use crate::engine::session::{
    Command, Event, LogLevel, PhaseId, PhaseProgress, PhaseStatus, RunState, Snapshot,
};
use crate::tui::keymap::Action;
use crate::tui::list::{ListId, ListState};
use crate::tui::overlay::{Confirm, wrapped_lines};
use crate::tui::protocol::Request;
use crate::tui::screens::mapping::DEFAULTS_STATED;
use crate::tui::screens::{Component, Effect, Shared, change};
use crate::tui::theme::{Theme, phase_symbol};
use crate::tui::view::{fmt_count, fmt_count_fit, fmt_duration, panel};

/// Step of the rate share keys (`+` / `-`).
pub const RATE_SHARE_STEP: f64 = 0.05;
/// The smallest share the console lets the operator pick, so a run never stalls completely.
pub const RATE_SHARE_MIN: f64 = 0.05;
/// The ETA while the run is too young for one.
pub const ESTIMATING: &str = "estimating…";
/// How the line of what a run changed in place begins.
pub const CHANGES_LABEL: &str = "Changes: ";
/// The most lines that line takes (a narrow terminal wraps it).
const CHANGES_MAX_LINES: usize = 3;

pub(super) const KEYS: &[Action] = &[
    Action::StartRun,
    Action::PauseResume,
    Action::CancelRun,
    Action::RateUp,
    Action::RateDown,
    Action::DeltaRun,
];

/// What decides whether a run may start now.
pub struct StartGate {
    /// The request that starts the run once the checks pass (a full run or a sample).
    pub start: Request,
    pub active: bool,
    pub read_only: bool,
    /// Mapping decisions still open.
    pub unresolved: usize,
    pub defaults_accepted: bool,
    /// The workspace is read and the decisions proposed (false while extraction still runs).
    pub prepared: bool,
    /// The prerequisite checks failing that the run would not create itself.
    pub failing: Vec<String>,
}

impl StartGate {
    /// None when the run may start at once; else a notice saying why not, or a question first
    /// (open decisions unless the defaults were accepted, failing prerequisites).
    pub fn check(&self) -> Option<Effect> {
        if self.active {
            return Some(Effect::Notice("A run is already under way.".into()));
        }
        if self.read_only {
            return Some(Effect::Notice(
                "Read-only console: nothing was changed.".into(),
            ));
        }
        if !self.prepared && !self.defaults_accepted {
            return Some(Effect::Ask(Confirm {
                accepts_defaults: true,
                ..Confirm::new(
                    "Still reading the workspace",
                    format!(
                        "The workspace is still being read (2 Scope shows the counts so far): \
                         its mapping decisions are not proposed yet. Start now with the stated \
                         defaults — {DEFAULTS_STATED}? (n waits; the decisions appear on 4.)"
                    ),
                    vec![Request::AcceptDefaults, self.start.clone()],
                )
            }));
        }
        if self.unresolved > 0 && !self.defaults_accepted {
            let unresolved = self.unresolved;
            return Some(Effect::Ask(Confirm {
                accepts_defaults: true,
                ..Confirm::new(
                    "Unresolved mapping",
                    format!(
                        "{unresolved} mapping items are unresolved (press 4 to decide). \
                         Start with the stated defaults — {DEFAULTS_STATED}?"
                    ),
                    vec![Request::AcceptDefaults, self.start.clone()],
                )
            }));
        }
        (!self.failing.is_empty()).then(|| {
            let n = self.failing.len();
            let checks = if n == 1 { "check fails" } else { "checks fail" };
            Effect::Ask(Confirm::new(
                "Prerequisites",
                format!(
                    "{n} prerequisite {checks}: {} (press 3). Start anyway?",
                    self.failing.join(", ")
                ),
                vec![self.start.clone()],
            ))
        })
    }
}

/// One line of the log tail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub level: LogLevel,
    pub message: String,
}

/// Lines kept in the Run screen's log tail.
pub const LOG_TAIL_LINES: usize = 500;

/// The log tail: the newest [`LOG_TAIL_LINES`] lines and the list (filter, selection) that
/// shows them.
#[derive(Default)]
pub struct LogTail {
    pub lines: VecDeque<LogLine>,
    pub list: ListState,
}

impl LogTail {
    /// Appends `line`, dropping the oldest beyond the tail.
    pub fn push(&mut self, line: LogLine) {
        if self.lines.len() == LOG_TAIL_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
        self.refresh();
    }

    /// Recomputes the lines that pass the filter.
    pub fn refresh(&mut self) {
        let lines = &self.lines;
        self.list
            .refresh(lines.len(), |_| true, |i| lines[i].message.clone());
    }
}

/// The Run screen draws the app's snapshot and log: it holds nothing of its own.
#[derive(Default)]
pub struct RunScreen;

/// Whether the snapshot says a run is under way (quitting asks first).
pub fn run_active(snapshot: &Snapshot) -> bool {
    matches!(
        snapshot.state,
        RunState::Extracting | RunState::Running | RunState::Paused | RunState::Cancelling
    )
}

/// The log line an event makes.
pub fn event_line(event: &Event) -> LogLine {
    let (level, message) = match event {
        Event::Log { level, message } => (*level, message.clone()),
        Event::PhaseStarted { phase } => (LogLevel::Info, format!("▶ {} started", phase.label())),
        Event::PhaseFinished {
            phase,
            done,
            failed,
            skipped,
        } => (
            if *failed > 0 {
                LogLevel::Warn
            } else {
                LogLevel::Info
            },
            format!(
                "✓ {} finished: {done} done, {failed} failed, {skipped} skipped",
                phase.label()
            ),
        ),
        Event::RecordFailed { failure } => (
            LogLevel::Error,
            format!(
                "✗ {} {}: {}",
                failure.record.object, failure.record.source_id, failure.message
            ),
        ),
        Event::Finished { summary } => {
            let failed: u64 = summary.phases.iter().map(|p| p.failed).sum();
            (
                LogLevel::Info,
                format!(
                    "■ run {}: {failed} failed — press 7 for the Summary",
                    finished_how(summary.cancelled)
                ),
            )
        }
    };
    LogLine { level, message }
}

/// How a run ended, in words.
pub fn finished_how(cancelled: bool) -> &'static str {
    if cancelled {
        "stopped (resumes next time)"
    } else {
        "finished"
    }
}

impl Component for RunScreen {
    fn handle(&mut self, action: Action, shared: &Shared) -> Vec<Effect> {
        let snapshot = &shared.snapshot;
        match action {
            Action::StartRun => vec![Effect::StartRun],
            Action::DeltaRun => vec![Effect::StartDelta],
            Action::PauseResume => match snapshot.state {
                RunState::Paused => vec![change(Request::Engine(Command::Resume))],
                RunState::Running | RunState::Extracting => {
                    vec![change(Request::Engine(Command::Pause))]
                }
                _ => vec![Effect::Notice("No run to pause.".into())],
            },
            Action::RateUp | Action::RateDown => {
                let step = if action == Action::RateUp {
                    RATE_SHARE_STEP
                } else {
                    -RATE_SHARE_STEP
                };
                let share = ((snapshot.rate_share + step) * 100.0).round() / 100.0;
                let share = share.clamp(RATE_SHARE_MIN, 1.0);
                vec![
                    Effect::RateShare(share),
                    Effect::Notice(format!(
                        "Rate share {:.0}% of the Kustomer budget.",
                        share * 100.0
                    )),
                    change(Request::Engine(Command::SetRateShare { share })),
                ]
            }
            Action::CancelRun if run_active(snapshot) => vec![Effect::Ask(Confirm::new(
                "Stop the run",
                "Stop the run after in-flight requests settle? It resumes next time.".into(),
                vec![Request::Engine(Command::Cancel)],
            ))],
            Action::CancelRun => vec![Effect::Notice("No run to stop.".into())],
            _ => Vec::new(),
        }
    }

    fn focused(&self) -> Option<ListId> {
        Some(ListId::Log)
    }

    fn list_mut(&mut self, _: ListId) -> Option<&mut ListState> {
        None
    }

    fn refresh(&mut self) {}

    fn draw(&self, frame: &mut Frame, area: Rect, shared: &Shared) {
        let t = shared.theme;
        let wide = area.width >= 120;
        let phases_height = shared.snapshot.phases.len() as u16 + 3;
        // What a delta (or a full run's catch-up) changed in place: a line of its own, only
        // where there is something to say.
        let changes = shared.snapshot.changes_note();
        let changes_height = changes.as_ref().map_or(0, |note| {
            let text = format!("{CHANGES_LABEL}{note}");
            wrapped_lines(&text, area.width.max(1) as usize).min(CHANGES_MAX_LINES) as u16
        });
        let [top, middle, changes_area, log_area] = Layout::vertical([
            Constraint::Length(phases_height),
            Constraint::Length(if area.height >= 40 { 10 } else { 5 }),
            Constraint::Length(changes_height),
            Constraint::Min(3),
        ])
        .areas(area);
        if let Some(note) = changes {
            frame.render_widget(
                Paragraph::new(Line::from(vec![
                    Span::styled(CHANGES_LABEL, t.header()),
                    Span::raw(note),
                ]))
                .wrap(Wrap { trim: true }),
                changes_area,
            );
        }
        let [phases_area, stats_area] = Layout::horizontal([
            Constraint::Min(40),
            Constraint::Length(if wide { 56 } else { 30 }),
        ])
        .areas(top);

        // Phases
        // The phase table's own width decides its layout (the figures panel takes its share).
        let table_wide = phases_area.width >= 96;
        let bar_width: usize = if table_wide { 30 } else { 8 };
        let settled_width = if table_wide { 15 } else { 11 };
        let mut settled_texts =
            settled_column(&shared.snapshot.phases, table_wide, settled_width).into_iter();
        let rows: Vec<Row> = shared
            .snapshot
            .phases
            .iter()
            .map(|p| {
                // One figure for the count and the bar: every record settled, however.
                let settled = p.settled();
                // Not fully planned yet: of about as many as extraction staged for it.
                let size = p.size();
                let fraction = if size > 0 {
                    settled as f64 / size as f64
                } else if p.status == PhaseStatus::Done {
                    1.0
                } else {
                    0.0
                };
                let style = t.phase(p.status);
                let name = if table_wide {
                    p.phase.label()
                } else {
                    short_phase_label(p.phase)
                };
                let mut cells = vec![
                    Cell::from(Span::styled(phase_symbol(p.status), style)),
                    Cell::from(name),
                    Cell::from(
                        Line::from(settled_texts.next().unwrap_or_default()).right_aligned(),
                    ),
                    Cell::from(Span::styled(
                        text_bar(fraction, bar_width, table_wide),
                        style,
                    )),
                    Cell::from(not_loaded(p, table_wide, t).right_aligned()),
                ];
                cells.push(Cell::from(
                    Line::from(if p.in_flight > 0 {
                        format!("▶{}", p.in_flight)
                    } else {
                        String::new()
                    })
                    .right_aligned(),
                ));
                Row::new(cells)
            })
            .collect();
        let header = if table_wide {
            Row::new(vec![
                "",
                "Phase",
                "Settled/total",
                "Progress",
                "Not loaded",
                "Flight",
            ])
        } else {
            Row::new(vec!["", "Phase", "Settled", "", "Not", "Fly"])
        }
        .style(t.header().add_modifier(Modifier::UNDERLINED));
        let widths = if table_wide {
            [
                Constraint::Length(1),
                Constraint::Length(18),
                Constraint::Length(settled_width as u16),
                Constraint::Length(bar_width as u16 + 5),
                Constraint::Length(16),
                Constraint::Length(6),
            ]
        } else {
            [
                Constraint::Length(1),
                Constraint::Length(13),
                Constraint::Length(settled_width as u16),
                Constraint::Length(bar_width as u16),
                Constraint::Length(6),
                Constraint::Min(4),
            ]
        };
        // The symbols of the "not loaded" column, said where any shows.
        let exceptions = shared
            .snapshot
            .phases
            .iter()
            .any(|p| p.failed + p.skipped + p.unknown > 0);
        let title = if exceptions {
            "Phases · ✗ failed  – skipped  ? unknown"
        } else {
            "Phases"
        };
        frame.render_widget(
            Table::new(rows, widths)
                .header(header)
                .column_spacing(1)
                .block(panel(t, title, true)),
            phases_area,
        );

        // Figures
        let s = &shared.snapshot;
        let label = |text: &str| Span::styled(format!("{text:<10}"), t.dim());
        let eta = match s.eta {
            Some(eta) => fmt_duration(eta),
            // The first seconds' pace says little: no figure until the engine gives one.
            None if run_active(s) => ESTIMATING.into(),
            None => "—".into(),
        };
        let budget_ratio = if s.kustomer.allowed > 0 {
            (s.kustomer.used as f64 / s.kustomer.allowed as f64).clamp(0.0, 1.0)
        } else {
            0.0
        };
        // A share lowered mid-window leaves more sent than the new allowance: the figure stays in
        // one unit (requests of this window against its allowance) and the excess is said.
        let over_share = s.kustomer.used.saturating_sub(s.kustomer.allowed);
        let mut lines = vec![
            Line::from(vec![
                label("State"),
                Span::styled(
                    crate::tui::theme::run_state_label(&s.state),
                    t.run_state(&s.state),
                ),
            ]),
            Line::from(vec![label("Elapsed"), Span::raw(fmt_duration(s.elapsed))]),
            Line::from(vec![label("ETA"), Span::raw(eta)]),
            Line::from(vec![
                label("Kustomer"),
                Span::raw(format!(
                    "{}/{} per {} s",
                    fmt_count(s.kustomer.used.min(s.kustomer.allowed).into()),
                    fmt_count(s.kustomer.allowed.into()),
                    s.kustomer.window_secs
                )),
            ]),
            Line::from(vec![
                label("Budget"),
                Span::styled(
                    text_bar(budget_ratio, if wide { 30 } else { 11 }, true),
                    t.accent(),
                ),
            ]),
            Line::from(vec![
                label("Share"),
                Span::raw(format!(
                    "{:.0}% of {}",
                    s.rate_share * 100.0,
                    fmt_count(s.kustomer.limit.into())
                )),
                Span::styled(" +/-", t.key()),
            ]),
            Line::from(vec![
                label("Intercom"),
                // Its budget is learnt from Intercom's first answer; until then the figure is
                // only the client's cautious guess (Connect shows the workspace's own).
                Span::raw(if s.intercom.requests == 0 {
                    "no request yet".to_string()
                } else {
                    format!(
                        "{}/{} per {} s",
                        fmt_count(s.intercom.used.into()),
                        fmt_count(s.intercom.allowed.into()),
                        s.intercom.window_secs
                    )
                }),
            ]),
        ];
        if over_share > 0 {
            // After the Share line, which says what the allowance now is.
            lines.insert(
                6,
                Line::from(Span::styled(
                    format!("! {over_share} over share: waiting"),
                    t.warn(),
                )),
            );
        }
        let throttled = s.kustomer.throttled + s.intercom.throttled;
        if throttled > 0 {
            lines.push(Line::from(vec![
                label("Throttled"),
                Span::styled(format!("! {} × 429", fmt_count(throttled)), t.warn()),
            ]));
        }
        if let RunState::Failed(reason) = &s.state {
            lines.push(Line::from(Span::styled(format!("✗ {reason}"), t.bad())));
        }
        frame.render_widget(
            Paragraph::new(lines).block(panel(t, "Figures", false)),
            stats_area,
        );

        // Throughput and activity
        let [spark_area, activity_area] = Layout::horizontal([
            Constraint::Percentage(if wide { 60 } else { 50 }),
            Constraint::Min(10),
        ])
        .areas(middle);
        let spark_block = panel(
            t,
            &format!(
                "Throughput {:.0} rec/s · {:.1} req/s",
                s.records_per_sec, s.requests_per_sec
            ),
            false,
        );
        let spark_inner = spark_block.inner(spark_area);
        frame.render_widget(spark_block, spark_area);
        let skip = s
            .throughput
            .len()
            .saturating_sub(spark_inner.width as usize);
        frame.render_widget(
            Sparkline::default()
                .data(s.throughput[skip..].iter().copied())
                .style(t.accent()),
            spark_inner,
        );
        let activity = if s.activity.is_empty() {
            match s.state {
                RunState::Idle => "Press s to start the migration.".to_string(),
                RunState::Stopped => "Stopped: s resumes where it left off.".to_string(),
                _ => "—".to_string(),
            }
        } else {
            s.activity.clone()
        };
        // While a 429 holds the requests, that is what the run is doing first of all.
        let mut now = Vec::new();
        if let Some(note) = s.throttled_note() {
            now.push(Line::from(Span::styled(format!("! {note}"), t.warn())));
        }
        // Then the other reason it may be slow: jobs Kustomer has yet to finish.
        if s.bulk_jobs_waiting > 0 && run_active(s) {
            let jobs = if s.bulk_jobs_waiting == 1 {
                "job"
            } else {
                "jobs"
            };
            now.push(Line::from(format!(
                "waiting on {} Kustomer bulk {jobs}",
                s.bulk_jobs_waiting
            )));
        }
        now.push(Line::from(activity));
        frame.render_widget(
            Paragraph::new(now)
                .wrap(Wrap { trim: true })
                .block(panel(t, "Now", false)),
            activity_area,
        );

        // Log tail: the newest lines that pass the filter.
        let log = &shared.log;
        let visible = log.list.visible();
        let block = panel(t, &log.list.title("Log", log.lines.len()), false);
        let inner = block.inner(log_area);
        frame.render_widget(block, log_area);
        let height = inner.height as usize;
        let start = visible.len().saturating_sub(height);
        let lines: Vec<Line> = visible[start..]
            .iter()
            .filter_map(|&i| log.lines.get(i))
            .map(|l| {
                let style = match l.level {
                    LogLevel::Info => Style::new(),
                    LogLevel::Warn => t.warn(),
                    LogLevel::Error => t.bad(),
                };
                Line::from(Span::styled(l.message.clone(), style))
            })
            .collect();
        frame.render_widget(Paragraph::new(lines), inner);
    }
}

/// A phase's records settled without loading: `✗` failed, `–` skipped (a decision, the
/// history window), `?` unknown (sent, answer lost, no lookup). Narrow: the largest one only.
fn not_loaded(p: &PhaseProgress, wide: bool, t: Theme) -> Line<'static> {
    let parts: Vec<(char, u64, Style)> = [
        ('✗', p.failed, t.bad()),
        ('–', p.skipped, t.dim()),
        ('?', p.unknown, t.warn()),
    ]
    .into_iter()
    .filter(|(_, n, _)| *n > 0)
    .collect();
    if wide {
        let mut spans = Vec::new();
        for (symbol, n, style) in parts {
            if !spans.is_empty() {
                spans.push(Span::raw(" "));
            }
            spans.push(Span::styled(
                format!("{symbol}{}", fmt_count_fit(n, 5)),
                style,
            ));
        }
        Line::from(spans)
    } else {
        match parts.iter().max_by_key(|(_, n, _)| *n) {
            Some((symbol, n, style)) => Line::from(Span::styled(
                format!("{symbol}{}", fmt_count_fit(*n, 5)),
                *style,
            )),
            None => Line::default(),
        }
    }
}

/// `████░░░░ 52%` (the percentage only when asked for).
fn text_bar(fraction: f64, width: usize, percent: bool) -> String {
    let fraction = fraction.clamp(0.0, 1.0);
    let filled = (fraction * width as f64).round() as usize;
    let bar = format!("{}{}", "█".repeat(filled), "░".repeat(width - filled));
    if percent {
        format!("{bar} {:>3.0}%", fraction * 100.0)
    } else {
        bar
    }
}

/// Each phase's `settled/total` for a column `width` wide, in one form for the whole column
/// where one fits every row: with thousands separators, else (the narrow table) without them.
/// Else each row in the first form that fits it, its figures shortened where none does, never
/// cut (`2.05M/3.11M`). `~` marks a total still estimated.
fn settled_column(phases: &[PhaseProgress], wide: bool, width: usize) -> Vec<String> {
    let about = |p: &PhaseProgress| if p.estimated() { "~" } else { "" };
    // Each row's whole forms, best first: separated, then (narrow table) plain.
    let forms: Vec<Vec<String>> = phases
        .iter()
        .map(|p| {
            let (settled, size, about) = (p.settled(), p.size(), about(p));
            let mut forms = vec![format!("{}/{about}{}", fmt_count(settled), fmt_count(size))];
            if !wide {
                forms.push(format!("{settled}/{about}{size}"));
            }
            forms
        })
        .collect();
    let fits = |text: &String| text.chars().count() <= width;
    let whole_column = (0..if wide { 1 } else { 2 }).find(|&i| forms.iter().all(|f| fits(&f[i])));
    if let Some(i) = whole_column {
        return forms.into_iter().map(|mut f| f.swap_remove(i)).collect();
    }
    phases
        .iter()
        .zip(forms)
        .map(|(p, forms)| {
            forms.into_iter().find(fits).unwrap_or_else(|| {
                // Both figures to the same precision, so they compare at a glance.
                let about = about(p);
                let half = width.saturating_sub(1 + about.len()) / 2;
                let [settled, size] = [p.settled(), p.size()].map(|n| fmt_count_fit(n, half));
                format!("{settled}/{about}{size}")
            })
        })
        .collect()
}

fn short_phase_label(phase: PhaseId) -> &'static str {
    match phase {
        PhaseId::Prerequisites => "Prereqs",
        PhaseId::UsersTeams => "Users & teams",
        PhaseId::Metadata => "Metadata",
        PhaseId::Companies => "Companies",
        PhaseId::Customers => "Customers",
        PhaseId::Kb => "Knowledge",
        PhaseId::Conversations => "Conversations",
        PhaseId::Extras => "Events/extras",
    }
}
