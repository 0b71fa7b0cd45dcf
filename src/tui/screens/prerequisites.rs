//! 3 Prerequisites: what the Kustomer org must have before loading, and what i2k can create.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Wrap};

use crate::engine::session::{
    CheckStatus, KEY_ROLES_CHECK, KNOWLEDGE_BASE_CHECK, PROBE_CHECK, PROBE_QUESTION, PrereqCheck,
    USERS_CHECK, probe_plan,
};
use crate::tui::keymap::Action;
use crate::tui::list::{ListId, ListState, TableSpec};
use crate::tui::overlay::Confirm;
use crate::tui::protocol::Request;
use crate::tui::screens::{Component, Effect, Shared, status_cell};
use crate::tui::view::panel;

pub(super) const KEYS: &[Action] = &[Action::CreatePrerequisite, Action::Reconnect];

#[derive(Default)]
pub struct PrerequisitesScreen {
    pub checks: Vec<PrereqCheck>,
    /// The checks arrived: the session has read the workspace and proposed the decisions
    /// (they come last in its preparation).
    pub received: bool,
    list: ListState,
    /// How many times `c` asked about the knowledge base since the checks last changed: each
    /// press offers the next one.
    knowledge_base_offers: usize,
}

impl PrerequisitesScreen {
    pub fn set(&mut self, checks: Vec<PrereqCheck>) {
        self.checks = checks;
        self.knowledge_base_offers = 0;
        self.received = true;
        self.refresh();
    }

    pub fn list(&self) -> &ListState {
        &self.list
    }

    /// The names of the checks that fail, leaving out those a run with the defaults accepted
    /// creates itself.
    pub fn failing(&self, defaults_accepted: bool) -> Vec<String> {
        self.checks
            .iter()
            .filter(|p| p.status == CheckStatus::Fail)
            .filter(|p| !(defaults_accepted && p.can_create.is_some()))
            .map(|p| p.name.clone())
            .collect()
    }

    fn create(&mut self, read_only: bool) -> Vec<Effect> {
        let Some(check) = self.list.selected_in(&self.checks) else {
            return Vec::new();
        };
        if check.name == KEY_ROLES_CHECK {
            return vec![Self::decide_restamped_times(check, read_only)];
        }
        if check.name == KNOWLEDGE_BASE_CHECK && !check.choices.is_empty() {
            let effect = Self::choose_knowledge_base(check, read_only, self.knowledge_base_offers);
            self.knowledge_base_offers += 1;
            return vec![effect];
        }
        if check.name == PROBE_CHECK {
            return vec![Self::probe(read_only)];
        }
        if check.name == USERS_CHECK && check.status == CheckStatus::Fail {
            // Admins are matched to users on Mapping: that is where this check is fixed.
            return vec![Effect::Goto(super::Screen::Mapping)];
        }
        let effect = match (&check.status, &check.can_create) {
            (CheckStatus::Fail | CheckStatus::Warn, Some(_)) if read_only => {
                Effect::Notice("Read-only console: nothing was changed.".into())
            }
            (CheckStatus::Fail | CheckStatus::Warn, Some(what)) => Effect::Ask(Confirm::new(
                "Create prerequisite",
                format!("Create in Kustomer: {what}?"),
                vec![Request::CreatePrerequisite {
                    name: check.name.clone(),
                }],
            )),
            (CheckStatus::Fail | CheckStatus::Warn, None) => {
                Effect::Notice(format!("{}: {}", check.name, check.detail))
            }
            _ => Effect::Notice(format!("{}: nothing to create.", check.name)),
        };
        vec![effect]
    }
}

impl PrerequisitesScreen {
    /// The knowledge base the help center goes to (asked first): while open, first the one the
    /// check marks (the org's default); once chosen, first the next one. Each further `c` offers
    /// the one after (`offers` counts the presses since the checks last changed).
    fn choose_knowledge_base(check: &PrereqCheck, read_only: bool, offers: usize) -> Effect {
        if read_only {
            return Effect::Notice("Read-only console: nothing was changed.".into());
        }
        let n = check.choices.len();
        let marked = check.choices.iter().position(|c| c.chosen).unwrap_or(0);
        let first = if check.status == CheckStatus::Fail {
            marked
        } else {
            marked + 1
        };
        let choice = &check.choices[(first + offers) % n];
        if check.status != CheckStatus::Fail && choice.chosen {
            return Effect::Notice(format!("{}: {}", check.name, check.detail));
        }
        Effect::Ask(Confirm::new(
            "Knowledge base",
            format!(
                "Send KB categories and articles to knowledge base {}? (c again offers the next of {n})",
                choice.label
            ),
            vec![Request::ChooseKnowledgeBase {
                id: choice.id.clone(),
                label: choice.label.clone(),
            }],
        ))
    }

    /// The decision on a key without `org.admin`: go ahead with re-stamped times (asked first).
    fn decide_restamped_times(check: &PrereqCheck, read_only: bool) -> Effect {
        match check.status {
            CheckStatus::Fail if read_only => {
                Effect::Notice("Read-only console: nothing was changed.".into())
            }
            CheckStatus::Fail => Effect::Ask(Confirm::new(
                "Re-stamped times",
                format!(
                    "{}. Go ahead without org.admin for this migration (the report says so)?",
                    check.detail
                ),
                vec![Request::AcceptRestampedTimes { accept: true }],
            )),
            _ => Effect::Notice(format!("{}: {}", check.name, check.detail)),
        }
    }
}

impl PrerequisitesScreen {
    /// The probe of the org's assumptions: says what it creates and asks first (the question
    /// `i2k doctor --probe` asks), however the last probe ended.
    fn probe(read_only: bool) -> Effect {
        if read_only {
            return Effect::Notice("Read-only console: nothing was changed.".into());
        }
        let plan = format!(
            "The probe creates: {}. {PROBE_QUESTION}",
            probe_plan().join("; ")
        );
        Effect::Ask(Confirm::new("Probe the org", plan, vec![Request::RunProbe]))
    }
}

impl Component for PrerequisitesScreen {
    fn handle(&mut self, action: Action, shared: &Shared) -> Vec<Effect> {
        match action {
            Action::CreatePrerequisite | Action::Enter => self.create(shared.read_only),
            Action::Reconnect => vec![super::change(Request::Reconnect)],
            _ => Vec::new(),
        }
    }

    fn focused(&self) -> Option<ListId> {
        Some(ListId::Prerequisites)
    }

    fn list_mut(&mut self, list: ListId) -> Option<&mut ListState> {
        (list == ListId::Prerequisites).then_some(&mut self.list)
    }

    fn refresh(&mut self) {
        self.list
            .refresh_rows(&self.checks, |c| format!("{} {}", c.name, c.detail));
    }

    fn draw(&self, frame: &mut Frame, area: Rect, shared: &Shared) {
        let t = shared.theme;
        let [list_area, detail_area] =
            Layout::vertical([Constraint::Min(5), Constraint::Length(5)]).areas(area);
        let wide = area.width >= 120;
        let spec = TableSpec {
            title: "Prerequisites",
            focused: true,
            header: vec!["Status", "Check", "Detail"],
            widths: vec![
                Constraint::Length(10),
                Constraint::Length(if wide { 34 } else { 24 }),
                Constraint::Min(10),
            ],
        };
        self.list
            .draw_table(frame, list_area, t, spec, &self.checks, |p| {
                let label = match p.status {
                    CheckStatus::Pass => "pass",
                    CheckStatus::Fail => "fail",
                    CheckStatus::Created => "created",
                    CheckStatus::Warn => "warn",
                };
                vec![
                    status_cell(t, p.status, label),
                    Cell::from(p.name.clone()),
                    Cell::from(p.detail.clone()),
                ]
            });
        let mut lines = Vec::new();
        if let Some(p) = self.list.selected_in(&self.checks) {
            lines.push(Line::from(vec![
                Span::styled(format!("{} ", p.status.symbol()), t.check(p.status)),
                Span::styled(p.name.clone(), t.header()),
                Span::raw(format!(": {}", p.detail)),
            ]));
            match (&p.status, &p.can_create) {
                _ if p.name == KNOWLEDGE_BASE_CHECK && p.choices.len() > 1 => {
                    lines.push(Line::from(vec![
                        Span::styled("c", t.key()),
                        Span::raw(format!(
                            " chooses among: {} (asks first)",
                            p.choices
                                .iter()
                                .map(|c| c.label.as_str())
                                .collect::<Vec<_>>()
                                .join(" · ")
                        )),
                    ]))
                }
                (CheckStatus::Fail | CheckStatus::Warn, Some(what)) => {
                    lines.push(Line::from(vec![
                        Span::styled("c", t.key()),
                        Span::raw(format!(" creates: {what}")),
                    ]))
                }
                (CheckStatus::Fail, None) if p.name == KEY_ROLES_CHECK => {
                    lines.push(Line::from(vec![
                        Span::styled("c", t.key()),
                        Span::raw(" goes ahead with re-stamped times (asks first)"),
                    ]))
                }
                (CheckStatus::Fail, None) if p.name == USERS_CHECK => lines.push(Line::from(vec![
                    Span::styled("c", t.key()),
                    Span::raw(
                        " opens 4 Mapping: decide each admin there, or D accepts the defaults",
                    ),
                ])),
                (CheckStatus::Fail, None) => lines.push(Line::from(Span::styled(
                    "i2k cannot create this: fix it in Kustomer, then r checks again.",
                    t.warn(),
                ))),
                _ => {}
            }
        }
        let failing = self.failing(false).len();
        let title = if failing > 0 {
            format!("What to do · ✗ {failing} failing")
        } else {
            "What to do".to_string()
        };
        frame.render_widget(
            Paragraph::new(lines)
                .block(panel(t, &title, false))
                .wrap(Wrap { trim: true }),
            detail_area,
        );
    }
}
