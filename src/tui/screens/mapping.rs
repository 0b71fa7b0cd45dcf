//! 4 Mapping: each Intercom admin to a Kustomer user (through a filterable picker) and each
//! custom field to a Kustomer attribute, with the decisions still open counted.

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph};
use tui_textarea::TextArea;

use crate::engine::session::{
    AdminDecision, AdminMapping, FieldDecision, FieldMapping, UserChoice,
};
use crate::tui::keymap::Action;
use crate::tui::list::{ListId, ListState, TableSpec};
use crate::tui::overlay::{Confirm, EditTarget, Editor};
use crate::tui::protocol::Request;
use crate::tui::screens::{Component, Effect, Pane, Shared, change};
use crate::tui::view::{centered, draw_popup, panel};

/// Kustomer attribute type suffixes (kustomer.md "Custom attribute metadata").
pub const ATTRIBUTE_SUFFIXES: [&str; 6] = ["Str", "Txt", "Num", "Bool", "At", "Url"];

/// What "accept the defaults" means, stated where the operator decides.
pub const DEFAULTS_STATED: &str =
    "admins go to the fallback user, fields to their proposed attribute or the archive";

pub(super) const KEYS: &[Action] = &[
    Action::Enter,
    Action::AcceptDefaults,
    Action::InviteUser,
    Action::FallbackUser,
    Action::ArchiveField,
];

/// One choice of the admin → user picker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PickOption {
    User(UserChoice),
    Invite,
    Fallback,
}

impl PickOption {
    pub fn label(&self) -> String {
        match self {
            PickOption::User(u) => format!("{} <{}>", u.name, u.email),
            PickOption::Invite => "+ Invite as a new Kustomer user".into(),
            PickOption::Fallback => "Fallback user (the API key's user)".into(),
        }
    }
}

/// The filterable admin → user picker.
pub struct Picker {
    pub admin_id: String,
    pub admin_label: String,
    pub query: TextArea<'static>,
    pub selected: usize,
}

#[derive(Default)]
pub struct MappingScreen {
    pub users: Vec<UserChoice>,
    pub admins: Vec<AdminMapping>,
    pub fields: Vec<FieldMapping>,
    pub picker: Option<Picker>,
    pane: Pane,
    admin_list: ListState,
    field_list: ListState,
}

impl MappingScreen {
    pub fn set_admins(&mut self, admins: Vec<AdminMapping>) {
        self.admins = admins;
        self.refresh();
    }

    pub fn set_fields(&mut self, fields: Vec<FieldMapping>) {
        self.fields = fields;
        self.refresh();
    }

    pub fn list(&self, list: ListId) -> &ListState {
        if list == ListId::Fields {
            &self.field_list
        } else {
            &self.admin_list
        }
    }

    /// Admin decisions and field decisions still open, each on its own.
    pub fn unresolved_each(&self) -> (usize, usize) {
        let admins = self
            .admins
            .iter()
            .filter(|a| a.decision == AdminDecision::Unresolved)
            .count();
        let fields = self
            .fields
            .iter()
            .filter(|f| f.decision == FieldDecision::Unresolved)
            .count();
        (admins, fields)
    }

    /// Selects the mapping a failure names (`admin:ID`, `field:MODEL:NAME`), clearing the
    /// filter of its list; false when it is not listed.
    pub fn select_key(&mut self, key: &str) -> bool {
        let mut parts = key.splitn(3, ':');
        let found = match (parts.next(), parts.next(), parts.next()) {
            (Some("admin"), Some(id), None) => self
                .admins
                .iter()
                .position(|a| a.admin_id == id)
                .map(|i| (Pane::First, i)),
            (Some("field"), Some(model), Some(name)) => self
                .fields
                .iter()
                .position(|f| f.model == model && f.source_name == name)
                .map(|i| (Pane::Second, i)),
            _ => None,
        };
        let Some((pane, index)) = found else {
            return false;
        };
        self.pane = pane;
        let list = match pane {
            Pane::First => &mut self.admin_list,
            Pane::Second => &mut self.field_list,
        };
        list.set_filter(String::new());
        self.refresh();
        let list = match pane {
            Pane::First => &mut self.admin_list,
            Pane::Second => &mut self.field_list,
        };
        list.select_row(index);
        true
    }

    /// The picker's choices for a query: matching users, then invite and fallback.
    pub fn pick_options(&self, query: &str) -> Vec<PickOption> {
        let query = query.to_lowercase();
        let mut options: Vec<PickOption> = self
            .users
            .iter()
            .filter(|u| {
                query.is_empty()
                    || u.name.to_lowercase().contains(&query)
                    || u.email.to_lowercase().contains(&query)
            })
            .cloned()
            .map(PickOption::User)
            .collect();
        options.push(PickOption::Invite);
        options.push(PickOption::Fallback);
        options
    }

    /// A key while the picker is open.
    pub fn picker_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let Some(mut picker) = self.picker.take() else {
            return Vec::new();
        };
        let options = self.pick_options(&picker.query.lines().join(""));
        match key.code {
            KeyCode::Esc => return Vec::new(),
            KeyCode::Up => picker.selected = picker.selected.saturating_sub(1),
            KeyCode::Down => {
                picker.selected = (picker.selected + 1).min(options.len().saturating_sub(1))
            }
            KeyCode::Enter => {
                let Some(choice) = options.get(picker.selected) else {
                    self.picker = Some(picker);
                    return Vec::new();
                };
                let decision = match choice {
                    PickOption::User(u) => AdminDecision::User {
                        user_id: u.user_id.clone(),
                        email: u.email.clone(),
                    },
                    PickOption::Invite => AdminDecision::Invite,
                    PickOption::Fallback => AdminDecision::Fallback,
                };
                return self.decide_admin(&picker.admin_id, decision);
            }
            _ => {
                picker.query.input(key);
                picker.selected = 0;
            }
        }
        self.picker = Some(picker);
        Vec::new()
    }

    fn decide_admin(&mut self, admin_id: &str, decision: AdminDecision) -> Vec<Effect> {
        if let Some(a) = self.admins.iter_mut().find(|a| a.admin_id == admin_id) {
            a.decision = decision.clone();
        }
        self.refresh();
        vec![change(Request::DecideAdmin {
            admin_id: admin_id.to_string(),
            decision,
        })]
    }

    fn enter(&mut self) -> Vec<Effect> {
        match self.pane {
            Pane::First => {
                if let Some(admin) = self.admin_list.selected_in(&self.admins) {
                    let mut query = TextArea::default();
                    query.set_cursor_line_style(ratatui::style::Style::new());
                    query.set_placeholder_text("type to filter users");
                    self.picker = Some(Picker {
                        admin_id: admin.admin_id.clone(),
                        admin_label: format!("{} <{}>", admin.name, admin.email),
                        query,
                        selected: 0,
                    });
                }
                Vec::new()
            }
            Pane::Second => {
                let Some(field) = self.field_list.selected_in(&self.fields) else {
                    return Vec::new();
                };
                let initial = match &field.decision {
                    FieldDecision::Attribute { name } => name.clone(),
                    _ => field.proposed.clone().unwrap_or_default(),
                };
                let target = EditTarget::FieldRename {
                    model: field.model.clone(),
                    source_name: field.source_name.clone(),
                };
                let prompt = format!(
                    "Attribute name for {}.{} (keep the type suffix)",
                    field.model, field.source_name
                );
                vec![Effect::Edit(Box::new(Editor::new(
                    target, &prompt, &initial, false,
                )))]
            }
        }
    }
}

impl Component for MappingScreen {
    fn pane_mut(&mut self) -> Option<&mut Pane> {
        Some(&mut self.pane)
    }

    fn handle(&mut self, action: Action, _: &Shared) -> Vec<Effect> {
        match action {
            Action::Enter => self.enter(),
            Action::InviteUser | Action::FallbackUser if self.pane != Pane::First => {
                vec![Effect::Notice("Tab to the admins first.".into())]
            }
            Action::InviteUser | Action::FallbackUser => {
                let Some(i) = self.admin_list.selected_index() else {
                    return Vec::new();
                };
                let id = self.admins[i].admin_id.clone();
                let decision = if action == Action::InviteUser {
                    AdminDecision::Invite
                } else {
                    AdminDecision::Fallback
                };
                self.decide_admin(&id, decision)
            }
            Action::ArchiveField if self.pane != Pane::Second => {
                vec![Effect::Notice("Tab to the fields first.".into())]
            }
            Action::ArchiveField => {
                let Some(field) = self.field_list.selected_in_mut(&mut self.fields) else {
                    return Vec::new();
                };
                field.decision = FieldDecision::Archive;
                let request = Request::DecideField {
                    model: field.model.clone(),
                    source_name: field.source_name.clone(),
                    decision: FieldDecision::Archive,
                };
                self.refresh();
                vec![change(request)]
            }
            Action::AcceptDefaults => {
                let (admins, fields) = self.unresolved_each();
                let n = admins + fields;
                if n == 0 {
                    return vec![Effect::Notice("Nothing is unresolved.".into())];
                }
                vec![Effect::Ask(Confirm {
                    accepts_defaults: true,
                    ..Confirm::new(
                        "Accept defaults",
                        format!("{n} unresolved: {DEFAULTS_STATED}. Accept?"),
                        vec![Request::AcceptDefaults],
                    )
                })]
            }
            _ => Vec::new(),
        }
    }

    fn commit(&mut self, target: &EditTarget, text: &str) -> Result<Vec<Effect>, String> {
        let EditTarget::FieldRename { model, source_name } = target else {
            return Ok(Vec::new());
        };
        let is_it = |f: &FieldMapping| &f.model == model && &f.source_name == source_name;
        let proposed_suffix = self
            .fields
            .iter()
            .find(|f| is_it(f))
            .and_then(|f| f.proposed.as_deref())
            .and_then(attribute_suffix);
        check_attribute_name(text, proposed_suffix)?;
        let decision = FieldDecision::Attribute {
            name: text.to_string(),
        };
        if let Some(f) = self.fields.iter_mut().find(|f| is_it(f)) {
            f.decision = decision.clone();
        }
        self.refresh();
        Ok(vec![change(Request::DecideField {
            model: model.clone(),
            source_name: source_name.clone(),
            decision,
        })])
    }

    fn focused(&self) -> Option<ListId> {
        Some(match self.pane {
            Pane::First => ListId::Admins,
            Pane::Second => ListId::Fields,
        })
    }

    fn list_mut(&mut self, list: ListId) -> Option<&mut ListState> {
        match list {
            ListId::Admins => Some(&mut self.admin_list),
            ListId::Fields => Some(&mut self.field_list),
            _ => None,
        }
    }

    fn refresh(&mut self) {
        self.admin_list.refresh_rows(&self.admins, |a| {
            let open = if a.decision == AdminDecision::Unresolved {
                "unresolved"
            } else {
                ""
            };
            format!("{} {} {} {open}", a.name, a.email, admin_decision_label(a))
        });
        self.field_list.refresh_rows(&self.fields, |f| {
            let open = if f.decision == FieldDecision::Unresolved {
                "unresolved"
            } else {
                ""
            };
            format!(
                "{}.{} {} {} {open}",
                f.model,
                f.source_name,
                f.source_type,
                field_decision_label(f)
            )
        });
    }

    fn draw(&self, frame: &mut Frame, area: Rect, shared: &Shared) {
        let t = shared.theme;
        let wide = area.width >= 140;
        let [admins_area, fields_area] = if wide {
            Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(area)
        } else {
            Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area)
        };
        let (admins_unresolved, fields_unresolved) = self.unresolved_each();
        let unresolved_note = |n: usize| {
            if n > 0 {
                format!(" · ! {n} unresolved")
            } else {
                String::new()
            }
        };
        let admin_title = format!("Admins → users{}", unresolved_note(admins_unresolved));
        let field_title = format!("Fields → attributes{}", unresolved_note(fields_unresolved));
        let spec = TableSpec {
            title: &admin_title,
            focused: self.pane == Pane::First,
            header: vec!["", "Admin", "Email", "Kustomer user"],
            widths: vec![
                Constraint::Length(1),
                Constraint::Length(18),
                Constraint::Length(if wide { 26 } else { 24 }),
                Constraint::Min(12),
            ],
        };
        self.admin_list
            .draw_table(frame, admins_area, t, spec, &self.admins, |a| {
                let (symbol, style) = match a.decision {
                    AdminDecision::Unresolved => ("!", t.warn()),
                    AdminDecision::Invite => ("+", t.ok()),
                    _ => ("✓", t.ok()),
                };
                vec![
                    Cell::from(Span::styled(symbol, style)),
                    Cell::from(a.name.clone()),
                    Cell::from(Span::styled(a.email.clone(), t.dim())),
                    Cell::from(Span::styled(admin_decision_label(a), style)),
                ]
            });
        let spec = TableSpec {
            title: &field_title,
            focused: self.pane == Pane::Second,
            header: vec!["", "Field", "Type", "Attribute", "Note"],
            widths: vec![
                Constraint::Length(1),
                Constraint::Length(if wide { 30 } else { 24 }),
                Constraint::Length(8),
                Constraint::Length(if wide { 34 } else { 30 }),
                Constraint::Min(4),
            ],
        };
        self.field_list
            .draw_table(frame, fields_area, t, spec, &self.fields, |f| {
                let (symbol, style) = match f.decision {
                    FieldDecision::Unresolved => ("!", t.warn()),
                    FieldDecision::Archive => ("+", t.accent()),
                    FieldDecision::Attribute { .. } => ("✓", t.ok()),
                };
                vec![
                    Cell::from(Span::styled(symbol, style)),
                    Cell::from(format!("{}.{}", f.model, f.source_name)),
                    Cell::from(Span::styled(f.source_type.clone(), t.dim())),
                    Cell::from(Span::styled(field_decision_label(f), style)),
                    Cell::from(Span::styled(f.note.clone(), t.dim())),
                ]
            });
        if let Some(picker) = &self.picker {
            self.draw_picker(frame, area, shared, picker);
        }
    }
}

impl MappingScreen {
    /// The admin → user picker, over the screen.
    fn draw_picker(&self, frame: &mut Frame, body: Rect, shared: &Shared, picker: &Picker) {
        let t = shared.theme;
        let options = self.pick_options(&picker.query.lines().join(""));
        let width = body.width.saturating_sub(10).clamp(40, 80);
        let height = (options.len() as u16 + 5).clamp(8, body.height);
        let area = centered(body, width, height);
        let block = panel(t, &format!("Map {} to", picker.admin_label), true);
        let inner = draw_popup(frame, area, block);
        let [query_area, list_area, hint] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(1),
            Constraint::Length(1),
        ])
        .areas(inner);
        let [label, input] =
            Layout::horizontal([Constraint::Length(3), Constraint::Min(1)]).areas(query_area);
        frame.render_widget(Paragraph::new(Span::styled(" / ", t.key())), label);
        frame.render_widget(&picker.query, input);
        let selected = picker.selected.min(options.len().saturating_sub(1));
        let height = list_area.height as usize;
        let start = (selected + 1).saturating_sub(height);
        let lines: Vec<Line> = options
            .iter()
            .enumerate()
            .skip(start)
            .take(height)
            .map(|(n, o)| {
                let line = Line::from(format!(" {}", o.label()));
                if n == selected {
                    line.style(t.selected())
                } else {
                    line
                }
            })
            .collect();
        frame.render_widget(Paragraph::new(lines), list_area);
        frame.render_widget(
            Paragraph::new(t.hints(&[
                (" ↑↓", " choose  "),
                ("enter", " map  "),
                ("esc", " cancel"),
            ])),
            hint,
        );
    }
}

pub fn admin_decision_label(admin: &AdminMapping) -> String {
    match &admin.decision {
        AdminDecision::Unresolved => match &admin.suggestion {
            Some(s) => format!("suggested {}", s.email),
            None => "no match: pick a user".into(),
        },
        AdminDecision::User { email, .. } => format!("user {email}"),
        AdminDecision::Invite => "invite as new user".into(),
        AdminDecision::Fallback => "fallback user".into(),
    }
}

pub fn field_decision_label(field: &FieldMapping) -> String {
    match &field.decision {
        FieldDecision::Unresolved => match &field.proposed {
            Some(p) => format!("proposed {p}"),
            None => "no attribute type fits".into(),
        },
        FieldDecision::Attribute { name } => name.clone(),
        FieldDecision::Archive => "archive".into(),
    }
}

fn attribute_suffix(name: &str) -> Option<&'static str> {
    ATTRIBUTE_SUFFIXES
        .iter()
        .copied()
        .filter(|s| name.len() > s.len() && name.ends_with(s))
        .max_by_key(|s| s.len())
}

/// A Kustomer custom attribute name: camelCase letters and digits ending in a type suffix (the same
/// suffix as the proposal, since the suffix decides the type).
pub fn check_attribute_name(name: &str, required_suffix: Option<&str>) -> Result<(), String> {
    let starts_lower = name.chars().next().is_some_and(|c| c.is_ascii_lowercase());
    if !starts_lower || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err("camelCase letters and digits only, starting with a lower-case letter".into());
    }
    match (attribute_suffix(name), required_suffix) {
        (None, _) => Err(format!(
            "end with a type suffix: {}",
            ATTRIBUTE_SUFFIXES.join(", ")
        )),
        (Some(found), Some(required)) if found != required => Err(format!(
            "keep the `{required}` suffix: it sets the attribute's type"
        )),
        _ => Ok(()),
    }
}
