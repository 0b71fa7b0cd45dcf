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
use crate::tui::view::{fmt_count, panel};

pub(super) const KEYS: &[Action] = &[Action::Verify, Action::Rollback, Action::DeltaRun];

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
            let n = self.data.verification.iter().filter(|v| !v.agrees).count();
            Span::styled(format!("✗ {n} types do not add up"), t.bad())
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
        let mut widths = vec![
            Constraint::Length(2),
            Constraint::Length(if wide { 24 } else { 14 }),
            Constraint::Length(7),
            Constraint::Length(7),
            Constraint::Length(7),
        ];
        // Every column at every width, so each row's figures add up to its source on screen.
        let mut header = vec!["", "Type", "Source", "Migr.", "Target"];
        if area.width >= 100 {
            header.extend(["Archived", "Manual", "Skipped", "Failed", "N/R"]);
            widths.extend([Constraint::Length(8); 5]);
        } else {
            header.extend(["Arch.", "Man.", "Skip", "Fail", "N/R"]);
            widths.extend([Constraint::Length(6); 5]);
        }
        let spec = TableSpec {
            title: "Verification",
            focused: true,
            header,
            widths,
        };
        self.list
            .draw_table(frame, table_area, t, spec, &self.data.verification, |v| {
                let num = |n: u64| Cell::from(Line::from(fmt_count(n)).right_aligned());
                let mut cells = vec![
                    if v.agrees {
                        Cell::from(Span::styled("✓", t.ok()))
                    } else {
                        Cell::from(Span::styled("✗", t.bad()))
                    },
                    Cell::from(v.object.clone()),
                    num(v.source),
                    num(v.migrated),
                    Cell::from(
                        Line::from(v.target.map(fmt_count).unwrap_or_else(|| "—".into()))
                            .right_aligned(),
                    ),
                    num(v.archived),
                    num(v.manual),
                    num(v.skipped),
                ];
                // Records the ledger cannot read are failed too (verify counts them apart).
                let failed = v.failed + v.unreadable;
                cells.push(if failed > 0 {
                    Cell::from(Line::from(Span::styled(fmt_count(failed), t.bad())).right_aligned())
                } else {
                    num(0)
                });
                cells.push(num(v.not_retrievable));
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
