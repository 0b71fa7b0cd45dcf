//! 6 Errors: the failed records, filtered by phase, type and error class, one record's source,
//! request and response; retry, skip with a reason, and the jump to the mapping behind a failure.

use std::collections::BTreeSet;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Wrap};

use crate::engine::session::{
    Command, ErrorClass, FailureDetail, FailureSummary, PhaseId, RecordRef, Snapshot,
};
use crate::tui::keymap::Action;
use crate::tui::list::{ListId, ListState, TableSpec};
use crate::tui::overlay::{Confirm, EditTarget, Editor};
use crate::tui::protocol::{FailureFilter, Request};
use crate::tui::screens::{Component, Effect, Pane, Shared, run::run_active};
use crate::tui::theme::Theme;
use crate::tui::view::panel;

/// While a run's failed count keeps changing, the failed records are read again at most this
/// often (run time, from the snapshots), so a run failing fast does not flood the session.
pub const FAILURES_RELOAD_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

pub const ERROR_CLASSES: [ErrorClass; 6] = [
    ErrorClass::Rejected,
    ErrorClass::Auth,
    ErrorClass::Transient,
    ErrorClass::Source,
    ErrorClass::Mapping,
    ErrorClass::Unknown,
];

pub(super) const KEYS: &[Action] = &[
    Action::Enter,
    Action::RetryOne,
    Action::SkipRecord,
    Action::RetryShown,
    Action::JumpToMapping,
    Action::CyclePhaseFilter,
    Action::CycleTypeFilter,
    Action::CycleClassFilter,
    Action::ClearFilters,
];

#[derive(Default)]
pub struct ErrorsScreen {
    pub failures: Vec<FailureSummary>,
    /// Every object type seen failing, for the type filter.
    failure_objects: BTreeSet<String>,
    /// Every error class seen, for the class filter: it cycles through classes that occur.
    failure_classes: Vec<ErrorClass>,
    pub filter: FailureFilter,
    pub detail: Option<FailureDetail>,
    pane: Pane,
    detail_scroll: u16,
    list: ListState,
    /// The snapshot failed count the list was last read for, and at which run time: the list
    /// follows the ledger as the count changes (see [`FAILURES_RELOAD_INTERVAL`]).
    read_for: Option<(u64, std::time::Duration)>,
}

/// The text a `/` filter matches for a failure.
fn row_text(f: &FailureSummary) -> String {
    format!(
        "{} {} {} {}",
        f.record.object,
        f.record.source_id,
        f.class.as_str(),
        f.message
    )
}

impl ErrorsScreen {
    /// The failed records the session read (replacing the list).
    pub fn set(&mut self, failures: Vec<FailureSummary>) {
        self.failure_objects
            .extend(failures.iter().map(|f| f.record.object.clone()));
        for f in &failures {
            self.saw_class(f.class);
        }
        self.failures = failures;
        self.refresh();
    }

    pub fn set_detail(&mut self, detail: FailureDetail) {
        self.detail = Some(detail);
        self.detail_scroll = 0;
    }

    /// A record failed during the run: listed at once, before the list is read again.
    pub fn record_failed(&mut self, failure: &FailureSummary) {
        self.failure_objects.insert(failure.record.object.clone());
        self.saw_class(failure.class);
        if self.failures.iter().any(|f| f.record == failure.record) {
            return;
        }
        self.failures.push(failure.clone());
        let keep = self.filter.matches(failure);
        self.list
            .append(self.failures.len() - 1, keep, || row_text(failure));
    }

    /// Keeps the classes seen in `ERROR_CLASSES`' order.
    fn saw_class(&mut self, class: ErrorClass) {
        if !self.failure_classes.contains(&class) {
            self.failure_classes.push(class);
            self.failure_classes
                .sort_by_key(|c| ERROR_CLASSES.iter().position(|x| x == c));
        }
    }

    pub fn list(&self) -> &ListState {
        &self.list
    }

    /// The failures shown: the phase / type / class filter, then the `/` text.
    pub fn shown(&self) -> Vec<&FailureSummary> {
        self.list
            .visible()
            .iter()
            .filter_map(|&i| self.failures.get(i))
            .collect()
    }

    fn selected(&self) -> Option<&FailureSummary> {
        self.list.selected_in(&self.failures)
    }

    /// Reads the failed records again with the current filter.
    pub fn reload(&self) -> Request {
        Request::LoadFailures {
            filter: self.filter.clone(),
        }
    }

    /// The screen is shown: the list may be older than the ledger (a run since, another console).
    pub fn on_show(&mut self, snapshot: &Snapshot) -> Request {
        self.read_for = Some((failed_count(snapshot), snapshot.elapsed));
        self.reload()
    }

    /// Asks for the failed records again when the snapshot's failed count changed since the
    /// list was read: at once when the run has settled, else once per reload interval.
    pub fn follow(&mut self, snapshot: &Snapshot) -> Option<Request> {
        let failed = failed_count(snapshot);
        let now = snapshot.elapsed;
        let due = match self.read_for {
            None => true,
            Some((count, _)) if count == failed => false,
            // A new run's clock starts again at zero.
            Some((_, at)) => {
                !run_active(snapshot) || now < at || now - at >= FAILURES_RELOAD_INTERVAL
            }
        };
        if !due {
            return None;
        }
        self.read_for = Some((failed, now));
        Some(self.reload())
    }

    fn filter_changed(&mut self) -> Vec<Effect> {
        self.list.selected = 0;
        self.refresh();
        vec![Effect::Read(self.reload())]
    }
}

/// The first spans of a failure's detail: its record and the class of the failure.
fn headline(s: &FailureSummary, t: Theme) -> Vec<Span<'static>> {
    vec![
        Span::styled(
            format!("{} {} ", s.record.object, s.record.source_id),
            t.header(),
        ),
        class_span(s.class, t),
    ]
}

/// `✗ rejected`; a write of unknown outcome is no failure: `? unknown`.
fn class_span(class: ErrorClass, t: Theme) -> Span<'static> {
    if class == ErrorClass::Unknown {
        Span::styled("? unknown", t.warn())
    } else {
        Span::styled(format!("✗ {}", class.as_str()), t.bad())
    }
}

/// What the detail says of a record of unknown outcome, under its reason.
const UNKNOWN_OUTCOME: &str = "Sent, and its answer was lost; Kustomer has no route to look it \
    up. It is never sent again (it could be recorded twice): check it in Kustomer, then S marks \
    it settled.";

/// The failed count of a snapshot, over every phase.
fn failed_count(snapshot: &Snapshot) -> u64 {
    snapshot.phases.iter().map(|p| p.failed).sum()
}

/// The widest of `values` (in characters), at least `min` and at most [`ID_COLUMN`].
fn column_width<'a>(values: impl Iterator<Item = &'a String>, min: usize) -> u16 {
    let widest = values.map(|v| v.chars().count()).max().unwrap_or(0);
    u16::try_from(widest.clamp(min, ID_COLUMN)).unwrap_or(4)
}

/// The widest the type and id columns grow.
const ID_COLUMN: usize = 24;

/// An id as the list shows it: whole when it fits the column, else `…` and its end (Intercom's
/// ids differ at the end: `conv_…0042`, `conv_…0043`).
fn id_end(id: &str) -> String {
    let n = id.chars().count();
    if n <= ID_COLUMN {
        return id.to_string();
    }
    let tail: String = id.chars().skip(n - (ID_COLUMN - 1)).collect();
    format!("…{tail}")
}

/// None → first → … → last → None.
fn cycle<T: Clone + PartialEq>(all: &[T], current: Option<T>) -> Option<T> {
    match current {
        None => all.first().cloned(),
        Some(c) => all
            .iter()
            .position(|x| *x == c)
            .and_then(|i| all.get(i + 1))
            .cloned(),
    }
}

impl Component for ErrorsScreen {
    fn pane_mut(&mut self) -> Option<&mut Pane> {
        Some(&mut self.pane)
    }

    fn handle(&mut self, action: Action, _: &Shared) -> Vec<Effect> {
        match action {
            Action::Enter => {
                let Some(record) = self.selected().map(|f| f.record.clone()) else {
                    return Vec::new();
                };
                self.pane = Pane::Second;
                let loaded = self
                    .detail
                    .as_ref()
                    .is_some_and(|d| d.summary.record == record);
                if loaded {
                    Vec::new()
                } else {
                    vec![Effect::Read(Request::LoadFailureDetail { record })]
                }
            }
            Action::CyclePhaseFilter => {
                self.filter.phase = cycle(&PhaseId::ALL, self.filter.phase);
                self.filter_changed()
            }
            Action::CycleTypeFilter => {
                let objects: Vec<String> = self.failure_objects.iter().cloned().collect();
                self.filter.object = cycle(&objects, self.filter.object.clone());
                self.filter_changed()
            }
            Action::CycleClassFilter => {
                self.filter.class = cycle(&self.failure_classes, self.filter.class);
                self.filter_changed()
            }
            Action::ClearFilters => {
                self.filter = FailureFilter::default();
                self.list.set_filter(String::new());
                self.filter_changed()
            }
            Action::RetryOne => match self.selected() {
                Some(f) => vec![Effect::Change(vec![
                    Request::Engine(Command::Retry {
                        records: vec![f.record.clone()],
                    }),
                    self.reload(),
                ])],
                None => Vec::new(),
            },
            Action::RetryShown => {
                let records: Vec<RecordRef> =
                    self.shown().into_iter().map(|f| f.record.clone()).collect();
                if records.is_empty() {
                    return vec![Effect::Notice("No failed records shown.".into())];
                }
                let n = records.len();
                vec![Effect::Ask(Confirm::new(
                    "Retry",
                    format!("Retry the {n} failed records shown?"),
                    vec![Request::Engine(Command::Retry { records }), self.reload()],
                ))]
            }
            Action::SkipRecord => match self.selected() {
                Some(f) => {
                    let record = f.record.clone();
                    let prompt = format!(
                        "Skip {} {}: why? (goes into the report)",
                        record.object, record.source_id
                    );
                    let target = EditTarget::SkipReason {
                        records: vec![record],
                    };
                    vec![Effect::Edit(Box::new(Editor::new(
                        target, &prompt, "", false,
                    )))]
                }
                None => Vec::new(),
            },
            Action::JumpToMapping => {
                let key = self
                    .selected()
                    .and_then(|f| {
                        self.detail
                            .as_ref()
                            .filter(|d| d.summary.record == f.record)
                    })
                    .and_then(|d| d.mapping_key.clone());
                match key {
                    Some(key) => vec![Effect::JumpToMapping(key)],
                    None => vec![Effect::Notice(
                        "No mapping behind this failure (open it with Enter first).".into(),
                    )],
                }
            }
            _ => Vec::new(),
        }
    }

    fn commit(&mut self, target: &EditTarget, text: &str) -> Result<Vec<Effect>, String> {
        let EditTarget::SkipReason { records } = target else {
            return Ok(Vec::new());
        };
        if text.is_empty() {
            return Err("type why these records are skipped (it goes into the report)".into());
        }
        let skipped: std::collections::HashSet<&RecordRef> = records.iter().collect();
        self.failures.retain(|f| !skipped.contains(&f.record));
        self.refresh();
        Ok(vec![Effect::Change(vec![
            Request::Engine(Command::Skip {
                records: records.clone(),
                reason: text.to_string(),
            }),
            self.reload(),
        ])])
    }

    fn navigate(&mut self, action: Action) -> bool {
        if self.pane == Pane::Second {
            self.detail_scroll = match action {
                Action::Up => self.detail_scroll.saturating_sub(1),
                Action::Down => self.detail_scroll.saturating_add(1),
                Action::PageUp => self.detail_scroll.saturating_sub(10),
                Action::PageDown => self.detail_scroll.saturating_add(10),
                Action::Top => 0,
                _ => self.detail_scroll,
            };
        } else {
            self.list.navigate(action);
            self.detail_scroll = 0;
        }
        true
    }

    fn back(&mut self) -> bool {
        std::mem::replace(&mut self.pane, Pane::First) == Pane::Second
    }

    fn focused(&self) -> Option<ListId> {
        (self.pane == Pane::First).then_some(ListId::Failures)
    }

    fn list_mut(&mut self, list: ListId) -> Option<&mut ListState> {
        (list == ListId::Failures).then_some(&mut self.list)
    }

    fn refresh(&mut self) {
        let (failures, filter) = (&self.failures, &self.filter);
        self.list.refresh(
            failures.len(),
            |i| filter.matches(&failures[i]),
            |i| row_text(&failures[i]),
        );
    }

    fn draw(&self, frame: &mut Frame, area: Rect, shared: &Shared) {
        let t = shared.theme;
        let [filters_area, rest] =
            Layout::vertical([Constraint::Length(1), Constraint::Min(4)]).areas(area);
        let f = self.filter.clone();
        let chip = |key: &str, name: &str, value: Option<String>| {
            vec![
                Span::styled(format!(" {key} "), t.key()),
                Span::styled(format!("{name} "), t.dim()),
                match value {
                    Some(v) => Span::styled(v, t.accent().add_modifier(Modifier::BOLD)),
                    None => Span::raw("all"),
                },
                Span::raw("  "),
            ]
        };
        let mut spans = Vec::new();
        spans.extend(chip("f", "phase", f.phase.map(|p| p.label().to_string())));
        spans.extend(chip("t", "type", f.object.clone()));
        spans.extend(chip("e", "class", f.class.map(|c| c.as_str().to_string())));
        frame.render_widget(Paragraph::new(Line::from(spans)), filters_area);

        let wide = area.width >= 120;
        let [list_area, detail_area] = if wide {
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(rest)
        } else {
            Layout::vertical([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(rest)
        };
        let list_focused = self.pane == Pane::First;
        let spec = TableSpec {
            title: if self.failures.iter().any(|f| f.class == ErrorClass::Unknown) {
                "Failed and unknown records"
            } else {
                "Failed records"
            },
            focused: list_focused,
            header: vec!["Type", "Id", "Class", "Try", "Reason"],
            // Full type names and ids up to a bound; a longer id keeps its distinguishing end.
            widths: vec![
                Constraint::Length(column_width(
                    self.failures.iter().map(|f| &f.record.object),
                    4,
                )),
                Constraint::Length(column_width(
                    self.failures.iter().map(|f| &f.record.source_id),
                    2,
                )),
                Constraint::Length(11),
                Constraint::Length(3),
                Constraint::Min(10),
            ],
        };
        self.list
            .draw_table(frame, list_area, t, spec, &self.failures, |f| {
                vec![
                    Cell::from(f.record.object.clone()),
                    Cell::from(id_end(&f.record.source_id)),
                    Cell::from(class_span(f.class, t)),
                    Cell::from(Line::from(f.attempts.to_string()).right_aligned()),
                    Cell::from(f.message.clone()),
                ]
            });

        let selected = self.selected();
        let detail = self
            .detail
            .as_ref()
            .filter(|d| selected.is_some_and(|s| s.record == d.summary.record));
        let mut lines: Vec<Line> = Vec::new();
        match (selected, detail) {
            (None, _) => lines.push(Line::from(Span::styled(
                "No failed record selected.",
                t.dim(),
            ))),
            (Some(s), None) => {
                lines.push(Line::from(headline(s, t)));
                lines.push(Line::from(format!(
                    "{} · {} attempts",
                    s.phase.label(),
                    s.attempts
                )));
                lines.push(Line::from(s.message.clone()));
                if s.class == ErrorClass::Unknown {
                    lines.push(Line::from(Span::styled(UNKNOWN_OUTCOME, t.warn())));
                }
                lines.push(Line::from(""));
                lines.push(Line::from(Span::styled(
                    "enter shows the source record, request and response",
                    t.dim(),
                )));
            }
            (Some(_), Some(d)) => {
                let s = &d.summary;
                let mut first = headline(s, t);
                first.push(Span::styled(
                    format!("  {} · {} attempts", s.phase.label(), s.attempts),
                    t.dim(),
                ));
                lines.push(Line::from(first));
                lines.push(Line::from(vec![
                    Span::styled("Reason   ", t.dim()),
                    Span::raw(s.message.clone()),
                ]));
                if s.class == ErrorClass::Unknown {
                    lines.push(Line::from(Span::styled(UNKNOWN_OUTCOME, t.warn())));
                }
                if let Some(key) = &d.mapping_key {
                    lines.push(Line::from(vec![
                        Span::styled("Mapping  ", t.dim()),
                        Span::raw(key.clone()),
                        Span::styled("  m", t.key()),
                        Span::raw(" jumps there"),
                    ]));
                }
                for (title, body) in [
                    ("Request", &d.request),
                    ("Response", &d.response),
                    ("Source record", &d.source),
                ] {
                    lines.push(Line::from(Span::styled(
                        format!("── {title} "),
                        t.accent().add_modifier(Modifier::BOLD),
                    )));
                    lines.extend(body.lines().map(|l| Line::from(l.to_string())));
                }
            }
        }
        let focused = self.pane == Pane::Second;
        let block = panel(t, "Detail (tab focuses, ↑↓ scroll)", focused);
        frame.render_widget(
            Paragraph::new(lines)
                .block(block)
                .wrap(Wrap { trim: false })
                .scroll((self.detail_scroll, 0)),
            detail_area,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_ids_keep_their_distinguishing_end() {
        let a = format!("conversation_{}0042", "0".repeat(20));
        let b = format!("conversation_{}0043", "0".repeat(20));
        assert_eq!(id_end("215"), "215");
        assert_eq!(id_end(&a).chars().count(), ID_COLUMN);
        assert!(id_end(&a).ends_with("0042") && id_end(&b).ends_with("0043"));
        assert_ne!(id_end(&a), id_end(&b));
        let types = ["conversation_parts".to_string(), "tags".to_string()];
        assert_eq!(column_width(types.iter(), 4), 18);
        assert_eq!(column_width(std::iter::empty(), 4), 4);
    }

    #[test]
    fn the_class_filter_cycles_through_the_classes_that_occur() {
        let mut screen = ErrorsScreen::default();
        for class in [
            ErrorClass::Rejected,
            ErrorClass::Transient,
            ErrorClass::Rejected,
        ] {
            screen.saw_class(class);
        }
        let mut seen = Vec::new();
        let mut current = None;
        loop {
            current = cycle(&screen.failure_classes, current);
            match current {
                Some(c) => seen.push(c),
                None => break,
            }
        }
        let mut expected = vec![ErrorClass::Rejected, ErrorClass::Transient];
        expected.sort_by_key(|c| ERROR_CLASSES.iter().position(|x| x == c));
        assert_eq!(seen, expected);
    }
}
