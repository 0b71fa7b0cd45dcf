//! 1 Connect: both endpoints and tokens, edited in place, and what each connection check found.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use crate::engine::session::{CheckStatus, ConnectionInfo, Secret};
use crate::tui::keymap::Action;
use crate::tui::list::{ListId, ListState};
use crate::tui::overlay::{EditTarget, Editor};
use crate::tui::protocol::Request;
use crate::tui::screens::{Component, Effect, Shared, change};
use crate::tui::view::{fmt_count, panel};

/// The screen's editable rows, in order.
pub const CONNECT_ROWS: [(&str, ConnectField); 4] = [
    ("intercom", ConnectField::Url),
    ("intercom", ConnectField::Token),
    ("kustomer", ConnectField::Url),
    ("kustomer", ConnectField::Token),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectField {
    Url,
    Token,
}

pub(super) const KEYS: &[Action] = &[Action::Enter, Action::Reconnect];

pub struct ConnectScreen {
    pub connections: Vec<ConnectionInfo>,
    list: ListState,
}

impl Default for ConnectScreen {
    fn default() -> Self {
        let mut screen = ConnectScreen {
            connections: Vec::new(),
            list: ListState::default(),
        };
        screen.refresh();
        screen
    }
}

impl ConnectScreen {
    pub fn list(&self) -> &ListState {
        &self.list
    }

    fn selected_row(&self) -> usize {
        self.list.selected.min(CONNECT_ROWS.len() - 1)
    }
}

impl Component for ConnectScreen {
    fn handle(&mut self, action: Action, _: &Shared) -> Vec<Effect> {
        match action {
            Action::Reconnect => vec![change(Request::Reconnect)],
            Action::Enter => {
                let (side, field) = CONNECT_ROWS[self.selected_row()];
                let name = if side == "intercom" {
                    "Intercom"
                } else {
                    "Kustomer"
                };
                let editor = match field {
                    ConnectField::Url => {
                        let current = self
                            .connections
                            .iter()
                            .find(|c| c.side == side)
                            .map(|c| c.url.clone())
                            .unwrap_or_default();
                        Editor::new(
                            EditTarget::Url { side: side.into() },
                            &format!("{name} base URL"),
                            &current,
                            false,
                        )
                    }
                    ConnectField::Token => Editor::new(
                        EditTarget::Token { side: side.into() },
                        &format!("{name} token (hidden; kept for this session only)"),
                        "",
                        true,
                    ),
                };
                vec![Effect::Edit(Box::new(editor))]
            }
            _ => Vec::new(),
        }
    }

    fn commit(&mut self, target: &EditTarget, text: &str) -> Result<Vec<Effect>, String> {
        match target {
            EditTarget::Url { side } => {
                if !(text.starts_with("https://") || text.starts_with("http://")) {
                    return Err("a URL starts with https:// (http:// for a local simulator)".into());
                }
                if let Some(c) = self.connections.iter_mut().find(|c| &c.side == side) {
                    c.url = text.to_string();
                }
                Ok(vec![change(Request::SaveEndpoint {
                    side: side.clone(),
                    url: text.to_string(),
                })])
            }
            EditTarget::Token { side } => {
                if text.is_empty() {
                    return Err("paste the token, or Esc to keep the current one".into());
                }
                Ok(vec![change(Request::SaveToken {
                    side: side.clone(),
                    token: Secret::new(text),
                })])
            }
            _ => Ok(Vec::new()),
        }
    }

    fn focused(&self) -> Option<ListId> {
        Some(ListId::Connect)
    }

    fn list_mut(&mut self, list: ListId) -> Option<&mut ListState> {
        (list == ListId::Connect).then_some(&mut self.list)
    }

    fn refresh(&mut self) {
        self.list.refresh(
            CONNECT_ROWS.len(),
            |_| true,
            |i| CONNECT_ROWS[i].0.to_string(),
        );
    }

    fn draw(&self, frame: &mut Frame, area: Rect, shared: &Shared) {
        let sides = [("intercom", "Intercom"), ("kustomer", "Kustomer")];
        let areas = if area.width >= 120 {
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).split(area)
        } else {
            Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).split(area)
        };
        let selected = self.selected_row();
        let t = shared.theme;
        for (n, (side, name)) in sides.iter().enumerate() {
            let info = self.connections.iter().find(|c| c.side == *side);
            let title = match info.map(|c| c.status) {
                Some(s) => format!("{} {name}", s.symbol()),
                None => format!("· {name}"),
            };
            let block = panel(t, &title, true);
            let inner = block.inner(areas[n]);
            frame.render_widget(block, areas[n]);
            let label = |s: &str| Span::styled(format!("{s:<12}"), t.dim());
            let row_style = |field: ConnectField| {
                let index = CONNECT_ROWS
                    .iter()
                    .position(|(s, f)| s == side && *f == field)
                    .unwrap_or(usize::MAX);
                if index == selected {
                    t.selected()
                } else {
                    Style::new()
                }
            };
            let editor = shared.editor.as_ref().filter(|e| match &e.target {
                EditTarget::Url { side: s } | EditTarget::Token { side: s } => s == side,
                _ => false,
            });
            let dash = || "—".to_string();
            let mut lines = vec![
                Line::from(vec![
                    label("URL"),
                    Span::raw(info.map(|c| c.url.clone()).unwrap_or_else(dash)),
                    Span::styled("  ✎", t.dim()),
                ])
                .style(row_style(ConnectField::Url)),
                Line::from(vec![
                    label("Token"),
                    match info {
                        Some(c) if c.token == "missing" => Span::styled("✗ missing", t.bad()),
                        Some(c) if c.token_refused => {
                            Span::styled(format!("✗ refused ({})", c.token), t.bad())
                        }
                        Some(c) => Span::styled(format!("✓ {}", c.token), t.ok()),
                        None => Span::raw(dash()),
                    },
                    Span::styled("  ✎", t.dim()),
                ])
                .style(row_style(ConnectField::Token)),
            ];
            let Some(c) = info else {
                lines.push(Line::from(Span::styled(
                    "Checking the connection…",
                    t.dim(),
                )));
                frame.render_widget(Paragraph::new(lines), inner);
                continue;
            };
            let status_line = match c.status {
                CheckStatus::Pass => Span::styled("✓ connected", t.ok()),
                CheckStatus::Warn => Span::styled("! connected with warnings", t.warn()),
                CheckStatus::Created => Span::styled("+ connected", t.ok()),
                CheckStatus::Fail => Span::styled("✗ not connected", t.bad()),
            };
            let name_label = if *side == "intercom" {
                "Workspace"
            } else {
                "Org"
            };
            lines.push(Line::from(vec![label("Status"), status_line]));
            lines.push(Line::from(vec![
                label(name_label),
                Span::raw(c.name.clone().unwrap_or_else(dash)),
            ]));
            lines.push(Line::from(vec![
                label("Region"),
                Span::raw(c.region.clone().unwrap_or_else(dash)),
                Span::styled("   API ", t.dim()),
                Span::raw(c.api_version.clone().unwrap_or_else(dash)),
            ]));
            let budget = match (c.rate_limit, c.rate_window_secs) {
                (Some(limit), Some(window)) => {
                    format!("{} requests / {window} s", fmt_count(limit.into()))
                }
                (Some(limit), None) => fmt_count(limit.into()),
                _ => dash(),
            };
            lines.push(Line::from(vec![label("Rate budget"), Span::raw(budget)]));
            if !c.roles.is_empty() {
                lines.push(Line::from(vec![
                    label("Roles"),
                    Span::raw(c.roles.join(", ")),
                ]));
            }
            if let Some(detail) = &c.detail {
                lines.push(Line::from(Span::styled(
                    format!("{} {detail}", c.status.symbol()),
                    t.check(c.status),
                )));
            }
            frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
            // The field being edited shows its text area in place.
            if let Some(editor) = editor {
                let row = if matches!(editor.target, EditTarget::Url { .. }) {
                    0
                } else {
                    1
                };
                let rect = Rect {
                    x: inner.x + 12,
                    y: inner.y + row,
                    width: inner.width.saturating_sub(12),
                    height: 1,
                };
                frame.render_widget(Clear, rect);
                frame.render_widget(&editor.area, rect);
            }
        }
    }
}
