//! 7 Summary: the verification of every type (source, migrated, Kustomer's own count), where the
//! report and the archive are, and the manual checklist.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Wrap};

use crate::engine::session::TypeVerification;
use crate::tui::keymap::Action;
use crate::tui::list::{ListId, ListState, TableSpec};
use crate::tui::protocol::Request;
use crate::tui::screens::{Component, Effect, Shared, change};
use crate::tui::view::{count_width, fmt_count, fmt_count_fit, panel};

pub(super) const KEYS: &[Action] = &[Action::Verify, Action::Rollback, Action::DeltaRun];

/// A figure column of the Verification table: its header (wide, narrow), a row's figure (`None`:
/// not countable, shown `—`) and how a figure other than 0 stands out.
struct Column {
    long: &'static str,
    short: &'static str,
    figure: fn(&TypeVerification) -> Option<u64>,
    tone: Tone,
}

#[derive(Clone, Copy, PartialEq)]
enum Tone {
    Plain,
    Bad,
    Warn,
}

impl Column {
    const fn new(
        long: &'static str,
        short: &'static str,
        figure: fn(&TypeVerification) -> Option<u64>,
        tone: Tone,
    ) -> Column {
        Column {
            long,
            short,
            figure,
            tone,
        }
    }

    fn header(&self, narrow: bool) -> &'static str {
        if narrow { self.short } else { self.long }
    }
}

/// Every column at every width, so each row's figures add up to its source on screen.
const COLUMNS: [Column; 9] = [
    Column::new("Source", "Source", |v| Some(v.source), Tone::Plain),
    Column::new("Migr.", "Migr.", |v| Some(v.migrated), Tone::Plain),
    Column::new("Target", "Target", |v| v.target, Tone::Plain),
    Column::new("Archived", "Arch.", |v| Some(v.archived), Tone::Plain),
    Column::new("Manual", "Man.", |v| Some(v.manual), Tone::Plain),
    Column::new("Skipped", "Skip", |v| Some(v.skipped), Tone::Plain),
    // Records the ledger cannot read are failed too (verify counts them apart).
    Column::new(
        "Failed",
        "Fail",
        |v| Some(v.failed + v.unreadable),
        Tone::Bad,
    ),
    Column::new("N/R", "N/R", |v| Some(v.not_retrievable), Tone::Plain),
    Column::new("Unknown", "Unkn.", |v| Some(v.unknown), Tone::Warn),
];

/// The Summary screen's data.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SummaryData {
    pub verification: Vec<TypeVerification>,
    pub report_path: Option<String>,
    pub archive_path: Option<String>,
    pub manual: Vec<String>,
    pub received: bool,
}

#[derive(Default)]
pub struct SummaryScreen {
    pub data: SummaryData,
    list: ListState,
    /// A verification was asked for and its result has not arrived yet.
    pub verifying: bool,
}

impl SummaryScreen {
    pub fn set(&mut self, data: SummaryData) {
        self.data = data;
        self.verifying = false;
        self.refresh();
    }

    pub fn list(&self) -> &ListState {
        &self.list
    }
}

impl Component for SummaryScreen {
    fn handle(&mut self, action: Action, _: &Shared) -> Vec<Effect> {
        match action {
            Action::Verify => {
                self.verifying = true;
                vec![change(Request::Verify)]
            }
            // The session answers with the plan, which the app asks about.
            Action::Rollback => vec![change(Request::Rollback { confirmed: false })],
            Action::DeltaRun => vec![Effect::StartDelta],
            _ => Vec::new(),
        }
    }

    fn focused(&self) -> Option<ListId> {
        Some(ListId::Verification)
    }

    fn list_mut(&mut self, list: ListId) -> Option<&mut ListState> {
        (list == ListId::Verification).then_some(&mut self.list)
    }

    fn refresh(&mut self) {
        self.list
            .refresh_rows(&self.data.verification, |v| v.object.clone());
    }

    fn draw(&self, frame: &mut Frame, area: Rect, shared: &Shared) {
        let t = shared.theme;
        let wide = area.width >= 140;
        let manual_height = (self.data.manual.len() as u16 + 2).clamp(3, if wide { 40 } else { 6 });
        let [paths_area, rest] =
            Layout::vertical([Constraint::Length(2), Constraint::Min(4)]).areas(area);
        let [table_area, manual_area] = if wide {
            Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)]).areas(rest)
        } else {
            Layout::vertical([Constraint::Min(4), Constraint::Length(manual_height)]).areas(rest)
        };
        let dash = "—".to_string();
        let verdict = if self.verifying {
            Span::styled(
                "Verifying against Kustomer: counting every type and sampling fields…",
                t.accent(),
            )
        } else if !self.data.received || self.data.verification.is_empty() {
            Span::styled("No run verified yet: press v to verify.", t.dim())
        } else if self.data.verification.iter().all(|v| v.agrees) {
            Span::styled("✓ every type accounted for", t.ok())
        } else {
            let rows = &self.data.verification;
            let short: Vec<&TypeVerification> =
                rows.iter().filter(|v| v.short_only_by_unknown()).collect();
            let unknown = short.len();
            let bad = rows.iter().filter(|v| !v.agrees).count() - unknown;
            let records: u64 = short.iter().map(|v| v.unknown).sum();
            let short = format!("{} records of unknown outcome", fmt_count(records));
            let apart = match bad {
                1 => "1 type does not add up".to_string(),
                n => format!("{n} types do not add up"),
            };
            match (bad, unknown) {
                // The rows marked ? are short only by these: the Errors screen lists them.
                (0, _) => Span::styled(format!("? {short}"), t.warn()),
                (_, 0) => Span::styled(format!("✗ {apart}"), t.bad()),
                _ => Span::styled(format!("✗ {apart}; ? {short}"), t.bad()),
            }
        };
        let paths = vec![
            Line::from(vec![
                Span::styled(" Report  ", t.dim()),
                Span::raw(self.data.report_path.clone().unwrap_or(dash.clone())),
                Span::raw("   "),
                verdict,
            ]),
            Line::from(vec![
                Span::styled(" Archive ", t.dim()),
                Span::raw(self.data.archive_path.clone().unwrap_or(dash)),
            ]),
        ];
        frame.render_widget(Paragraph::new(paths), paths_area);
        // Each figure column as wide as its widest figure, shortened (never cut) where the table
        // is too narrow for them all.
        let rows = &self.data.verification;
        let narrow = area.width < 100;
        // The type names whole where there is room.
        let names = rows
            .iter()
            .map(|v| v.object.chars().count() as u16)
            .max()
            .unwrap_or(4)
            .max(4);
        let mut type_width = names;
        // What each column's figures need, and the width it takes where there is room.
        let content: Vec<u16> = COLUMNS
            .iter()
            .map(|c| count_width(c.header(narrow), rows.iter().filter_map(c.figure)))
            .collect();
        let floor = |i: usize| match (i, narrow) {
            (0..=2, _) => 7,
            (_, true) => 6,
            (_, false) => 8,
        };
        let mut figure_widths: Vec<u16> = content
            .iter()
            .enumerate()
            .map(|(i, c)| (*c).max(floor(i)))
            .collect();
        // Inside the borders: the symbol, the type and the figures, a space between columns.
        let room = table_area.width.saturating_sub(2);
        let needed = |type_width: u16, figures: &[u16]| {
            2 + 1 + type_width + figures.iter().map(|w| 1 + w).sum::<u16>()
        };
        // Too wide: spare figure width goes first, then type names past 14 characters, then
        // the widest figures are shortened, and last the names down to 8.
        while needed(type_width, &figure_widths) > room {
            let slack = (0..figure_widths.len())
                .filter(|&i| figure_widths[i] > content[i])
                .max_by_key(|&i| figure_widths[i] - content[i]);
            let widest = (0..figure_widths.len()).max_by_key(|&i| figure_widths[i]);
            match (slack, widest) {
                (Some(i), _) => figure_widths[i] -= 1,
                _ if type_width > 14 => type_width -= 1,
                (_, Some(i)) if figure_widths[i] > 4 => figure_widths[i] -= 1,
                _ if type_width > 8 => type_width -= 1,
                _ => break,
            }
        }
        let mut widths = vec![Constraint::Length(2), Constraint::Length(type_width)];
        widths.extend(figure_widths.iter().map(|w| Constraint::Length(*w)));
        let mut header = vec!["", "Type"];
        header.extend(COLUMNS.iter().map(|c| c.header(narrow)));
        let spec = TableSpec {
            title: "Verification",
            focused: true,
            header,
            widths,
        };
        self.list.draw_table(frame, table_area, t, spec, rows, |v| {
            let mut cells = vec![
                if v.agrees {
                    Cell::from(Span::styled("✓", t.ok()))
                } else if v.short_only_by_unknown() {
                    // Every record is accounted for; Kustomer may or may not hold some.
                    Cell::from(Span::styled("?", t.warn()))
                } else {
                    Cell::from(Span::styled("✗", t.bad()))
                },
                Cell::from(v.object.clone()),
            ];
            for (column, width) in COLUMNS.iter().zip(&figure_widths) {
                let cell = match (column.figure)(v) {
                    None => Span::raw("—"),
                    Some(n) => Span::styled(
                        fmt_count_fit(n, *width as usize),
                        match column.tone {
                            _ if n == 0 => ratatui::style::Style::default(),
                            Tone::Plain => ratatui::style::Style::default(),
                            Tone::Bad => t.bad(),
                            Tone::Warn => t.warn(),
                        },
                    ),
                };
                cells.push(Cell::from(Line::from(cell).right_aligned()));
            }
            cells
        });
        let lines: Vec<Line> = if self.data.manual.is_empty() {
            vec![Line::from(Span::styled(
                "Nothing to rebuild by hand.",
                t.dim(),
            ))]
        } else {
            self.data
                .manual
                .iter()
                .map(|m| Line::from(vec![Span::styled("☐ ", t.warn()), Span::raw(m.clone())]))
                .collect()
        };
        frame.render_widget(
            Paragraph::new(lines).wrap(Wrap { trim: true }).block(panel(
                t,
                "Manual checklist (MANUAL.md)",
                false,
            )),
            manual_area,
        );
    }
}
