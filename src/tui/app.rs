//! The console's state machine: [`App`] routes [`Update`]s to the screens that show them and
//! keys to the screen on view (each screen is a [`Component`] in `screens/`, holding its own
//! data, lists and cursors), and keeps what is the console's own: the overlays (help, a question,
//! a text editor), the engine's latest snapshot, the log and the notice. Nothing here touches a
//! terminal, a channel or the engine, so tests drive it with plain values. Drawing is `view`'s.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::engine::session::{
    AdminMapping, ConnectionInfo, Event, FailureSummary, RunState, ScopeItem, Snapshot,
    VERIFY_FAILED,
};
use crate::tui::command::{self, CommandLine};
use crate::tui::keymap::{Action, Keymap};
use crate::tui::list::ListState;
use crate::tui::overlay::{Confirm, EditTarget, Editor};
use crate::tui::protocol::{FailureFilter, Request, Update};
use crate::tui::screens::run::{LogTail, StartGate, event_line, finished_how, run_active};
use crate::tui::screens::summary::SummaryData;
use crate::tui::screens::{Effect, Screens, Shared};
use crate::tui::theme::Theme;

pub use crate::tui::AppOptions;
pub use crate::tui::list::ListId;
pub use crate::tui::screens::Screen;
pub use crate::tui::screens::errors::FAILURES_RELOAD_INTERVAL;
pub use crate::tui::screens::run::{LOG_TAIL_LINES, LogLine};

/// The console: routing, overlays, the snapshot and the log; the screens hold the rest.
pub struct App {
    pub(crate) keymap: Keymap,
    pub(crate) options: AppOptions,
    pub(crate) screen: Screen,
    pub(crate) screens: Screens,
    /// What the app keeps that every screen may read: the snapshot, the log, the open editor.
    pub(crate) shared: Shared,
    quit: bool,
    pub(crate) help: Option<u16>,
    pub(crate) confirm: Option<Confirm>,
    pub(crate) notice: Option<String>,
    defaults_accepted: bool,
}

impl App {
    pub fn new(keymap: Keymap, options: AppOptions) -> App {
        App {
            keymap,
            shared: Shared {
                theme: Theme::new(options.no_color),
                read_only: options.read_only,
                snapshot: Snapshot::default(),
                editor: None,
                log: LogTail::default(),
            },
            options,
            screen: Screen::Connect,
            screens: Screens::default(),
            quit: false,
            help: None,
            confirm: None,
            notice: None,
            defaults_accepted: false,
        }
    }

    pub fn should_quit(&self) -> bool {
        self.quit
    }

    pub fn screen(&self) -> Screen {
        self.screen
    }

    /// Whether a text field (or the picker's query) has the keys.
    pub fn is_editing(&self) -> bool {
        self.shared.editor.is_some() || self.screens.mapping.picker.is_some()
    }

    pub fn is_help_open(&self) -> bool {
        self.help.is_some()
    }

    /// The open yes / no question, if any.
    pub fn confirmation(&self) -> Option<&Confirm> {
        self.confirm.as_ref()
    }

    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }

    pub fn keymap(&self) -> &Keymap {
        &self.keymap
    }

    /// Whether an engine run is under way (quitting asks first).
    pub fn run_active(&self) -> bool {
        run_active(&self.shared.snapshot)
    }

    /// Admin and field decisions still open; the run does not start while any is, unless the
    /// operator accepts the stated defaults.
    pub fn unresolved(&self) -> usize {
        let (admins, fields) = self.screens.mapping.unresolved_each();
        admins + fields
    }

    /// The failures the Errors screen shows: the phase / type / class filter, then the `/` text.
    pub fn shown_failures(&self) -> Vec<&FailureSummary> {
        self.screens.errors.shown()
    }

    pub fn failure_filter(&self) -> &FailureFilter {
        &self.screens.errors.filter
    }

    /// The connection checks as last received.
    pub fn connections(&self) -> &[ConnectionInfo] {
        &self.screens.connect.connections
    }

    /// The Scope rows as last received.
    pub fn scope(&self) -> &[ScopeItem] {
        &self.screens.scope.items
    }

    /// The admins the Mapping screen lists.
    pub fn admins(&self) -> &[AdminMapping] {
        &self.screens.mapping.admins
    }

    /// The engine's latest snapshot.
    pub fn snapshot(&self) -> &Snapshot {
        &self.shared.snapshot
    }

    /// What the Summary screen shows.
    pub fn summary(&self) -> &SummaryData {
        &self.screens.summary.data
    }

    fn list(&self, list: ListId) -> &ListState {
        self.screens.list(list).unwrap_or(&self.shared.log.list)
    }

    /// Indices of the rows of `list` that pass its filters.
    pub fn visible(&self, list: ListId) -> &[usize] {
        self.list(list).visible()
    }

    /// The underlying index of the selected row of `list`, after filtering.
    pub fn selected_index(&self, list: ListId) -> Option<usize> {
        self.list(list).selected_index()
    }

    pub fn filter_text(&self, list: ListId) -> Option<&str> {
        self.list(list).filter()
    }

    /// The list that the navigation keys and `/` act on, on the current screen.
    pub fn focused_list(&self) -> Option<ListId> {
        self.screens.get(self.screen).focused()
    }

    // ---------------------------------------------------------------- updates

    /// Folds data from the session into the screens, and returns what they need read again: the
    /// failed records, when a snapshot's failed count says the list no longer matches the ledger.
    pub fn apply(&mut self, update: Update) -> Vec<Request> {
        let s = &mut self.screens;
        match update {
            Update::Connections(c) => s.connect.connections = c,
            Update::Scope {
                items,
                segments,
                history_months,
            } => s.scope.set(items, segments, history_months),
            Update::Prerequisites(p) => s.prerequisites.set(p),
            Update::Disk { estimate, free } => s.scope.disk = Some((estimate, free)),
            Update::Users(u) => s.mapping.users = u,
            Update::Admins(a) => s.mapping.set_admins(a),
            Update::Fields(f) => s.mapping.set_fields(f),
            Update::Snapshot(snapshot) => {
                self.shared.snapshot = snapshot;
                return s.errors.follow(&self.shared.snapshot).into_iter().collect();
            }
            Update::Event(e) => self.apply_event(e),
            Update::Failures(f) => s.errors.set(f),
            Update::FailureDetail(d) => s.errors.set_detail(d),
            Update::Summary {
                verification,
                report_path,
                archive_path,
                manual,
            } => s.summary.set(SummaryData {
                verification,
                report_path,
                archive_path,
                manual,
                received: true,
            }),
            Update::RollbackPlan(plan) => {
                self.confirm = Some(Confirm::new(
                    "Rollback",
                    format!(
                        "{plan}\nEach record is checked by its externalId first; matched records are never touched. Delete them from Kustomer now?"
                    ),
                    vec![Request::Rollback { confirmed: true }],
                ));
            }
            Update::RemovedKept { records } => {
                let delta = |delete| Request::StartDelta {
                    delete_removed: Some(delete),
                };
                self.confirm = Some(Confirm {
                    on_no: vec![delta(false)],
                    ..Confirm::new(
                        "Delta run",
                        format!(
                            "{} record(s) deleted in Intercom are still in Kustomer: delete them \
                             there too? (y/N)\nn runs the delta and keeps them (the report lists \
                             them); esc starts nothing.",
                            crate::vocab::count_text(records)
                        ),
                        vec![delta(true)],
                    )
                });
            }
            Update::Notice(n) => {
                // A verification that could not finish says so in a notice.
                if n.starts_with(VERIFY_FAILED) {
                    s.summary.verifying = false;
                }
                self.notice = Some(n)
            }
        }
        Vec::new()
    }

    fn apply_event(&mut self, event: Event) {
        let line = event_line(&event);
        self.shared.log.push(line);
        match event {
            Event::RecordFailed { failure } => self.screens.errors.record_failed(&failure),
            Event::Finished { summary } => {
                self.shared.snapshot.state = if summary.cancelled {
                    RunState::Stopped
                } else {
                    RunState::Finished
                };
                // A completed run is verified next (the session does it): the Summary says so.
                self.screens.summary.verifying = !summary.cancelled;
                let how = finished_how(summary.cancelled);
                self.notice = Some(format!("Run {how}. Press 7 for the Summary."));
            }
            _ => {}
        }
    }

    // ---------------------------------------------------------------- keys

    /// Turns one key press into state changes and requests for the session.
    pub fn handle_key(&mut self, key: KeyEvent) -> Vec<Request> {
        let mut out = Vec::new();
        if key.kind == KeyEventKind::Release {
            return out;
        }
        if let Some(confirm) = self.confirm.take() {
            self.confirm_key(confirm, key, &mut out);
            return out;
        }
        if self.screens.mapping.picker.is_some() {
            let effects = self.screens.mapping.picker_key(key);
            self.effects(effects, &mut out);
            return out;
        }
        if let Some(editor) = self.shared.editor.take() {
            self.editor_key(editor, key, &mut out);
            return out;
        }
        self.notice = None;
        let Some(action) = self.keymap.action(self.screen.layer(), &key) else {
            return out;
        };
        if let Some(scroll) = self.help {
            self.help = match action {
                Action::Help | Action::Back => None,
                Action::Quit => {
                    self.perform(Action::Quit, &mut out);
                    None
                }
                Action::Down => Some(scroll.saturating_add(1)),
                Action::Up => Some(scroll.saturating_sub(1)),
                Action::PageDown => Some(scroll.saturating_add(10)),
                Action::PageUp => Some(scroll.saturating_sub(10)),
                _ => Some(scroll),
            };
            return out;
        }
        self.perform(action, &mut out);
        out
    }

    fn confirm_key(&mut self, confirm: Confirm, key: KeyEvent, out: &mut Vec<Request>) {
        match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => {
                out.extend(confirm.on_yes);
                self.quit |= confirm.quits;
                self.defaults_accepted |= confirm.accepts_defaults;
                if out.iter().any(starts_a_run) {
                    self.screen = Screen::Run;
                }
            }
            KeyCode::Char('n') | KeyCode::Char('N') => {
                out.extend(confirm.on_no);
                if out.iter().any(starts_a_run) {
                    self.screen = Screen::Run;
                }
            }
            KeyCode::Esc => {}
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {}
            _ => self.confirm = Some(confirm),
        }
    }

    fn editor_key(&mut self, mut editor: Editor, key: KeyEvent, out: &mut Vec<Request>) {
        match key.code {
            KeyCode::Esc => {
                if let EditTarget::Filter(list) = editor.target {
                    self.set_filter(list, String::new());
                }
            }
            // The `:` line completes its command.
            KeyCode::Tab if editor.target == EditTarget::Command => {
                let completed = command::complete(&editor.text());
                self.shared.editor = Some(Editor::new(EditTarget::Command, ":", &completed, false));
            }
            KeyCode::Enter => {
                let text = editor.text();
                let owner = match &editor.target {
                    EditTarget::Filter(_) | EditTarget::Command => None,
                    EditTarget::Url { .. } | EditTarget::Token { .. } => Some(Screen::Connect),
                    EditTarget::HistoryMonths | EditTarget::SampleSize => Some(Screen::Scope),
                    EditTarget::FieldRename { .. } => Some(Screen::Mapping),
                    EditTarget::SkipReason { .. } => Some(Screen::Errors),
                };
                let done = match owner {
                    _ if editor.target == EditTarget::Command => self.run_command(&text, out),
                    Some(screen) => self
                        .screens
                        .get_mut(screen)
                        .commit(&editor.target, text.trim())
                        .map(|effects| self.effects(effects, out)),
                    None => Ok(()),
                };
                if let Err(message) = done {
                    editor.error = Some(message);
                    self.shared.editor = Some(editor);
                }
            }
            _ => {
                editor.area.input(key);
                editor.error = None;
                if let EditTarget::Filter(list) = editor.target {
                    self.set_filter(list, editor.text());
                }
                self.shared.editor = Some(editor);
            }
        }
    }

    /// Performs a `:` command line as its key would (showing the screen it belongs to first),
    /// or says why it cannot.
    fn run_command(&mut self, line: &str, out: &mut Vec<Request>) -> Result<(), String> {
        match command::parse(line)? {
            CommandLine::Show(screen) => self.show(screen, out),
            CommandLine::Perform { action, screen } => {
                if let Some(screen) = screen
                    && screen != self.screen
                {
                    self.show(screen, out);
                }
                self.perform(action, out);
            }
        }
        Ok(())
    }

    /// Sets the `/` text of `list` and recomputes its rows.
    fn set_filter(&mut self, list: ListId, text: String) {
        if list == ListId::Log {
            self.shared.log.list.set_filter(text);
            self.shared.log.refresh();
        } else {
            let screen = self.screens.get_mut(Screens::owner(list));
            if let Some(state) = screen.list_mut(list) {
                state.set_filter(text);
            }
            screen.refresh();
        }
    }

    fn perform(&mut self, action: Action, out: &mut Vec<Request>) {
        let focused = self.focused_list();
        match action {
            Action::Noop => {}
            Action::Quit if self.run_active() => {
                self.confirm = Some(Confirm {
                    quits: true,
                    ..Confirm::new(
                        "Quit",
                        "A run is active. Quit now? It stops safely and resumes where it left \
                         off next time."
                            .into(),
                        vec![Request::Quit],
                    )
                });
            }
            Action::Quit => {
                out.push(Request::Quit);
                self.quit = true;
            }
            Action::Help => self.help = Some(0),
            Action::Command => {
                self.shared.editor = Some(Editor::new(EditTarget::Command, ":", "", false));
            }
            Action::Filter => match focused.filter(|l| *l != ListId::Connect) {
                Some(list) => {
                    let current = self.list(list).filter().unwrap_or_default().to_string();
                    self.shared.editor =
                        Some(Editor::new(EditTarget::Filter(list), "/", &current, false));
                }
                None => self.notice = Some("Nothing to filter here.".into()),
            },
            Action::Back => {
                if !self.screens.get_mut(self.screen).back()
                    && let Some(list) = focused
                {
                    self.set_filter(list, String::new());
                }
            }
            Action::Up
            | Action::Down
            | Action::PageUp
            | Action::PageDown
            | Action::Top
            | Action::Bottom => {
                if !self.screens.get_mut(self.screen).navigate(action) {
                    match focused {
                        Some(ListId::Log) => {
                            self.shared.log.list.navigate(action);
                        }
                        Some(list) => {
                            if let Some(state) = self.screens.get_mut(self.screen).list_mut(list) {
                                state.navigate(action);
                            }
                        }
                        None => {}
                    }
                }
            }
            Action::ShowConnect => self.show(Screen::Connect, out),
            Action::ShowScope => self.show(Screen::Scope, out),
            Action::ShowPrerequisites => self.show(Screen::Prerequisites, out),
            Action::ShowMapping => self.show(Screen::Mapping, out),
            Action::ShowRun => self.show(Screen::Run, out),
            Action::ShowErrors => self.show(Screen::Errors, out),
            Action::ShowSummary => self.show(Screen::Summary, out),
            Action::NextScreen => self.show_next(1, out),
            Action::PrevScreen => self.show_next(Screen::ALL.len() - 1, out),
            Action::NextPane => match self.screens.get_mut(self.screen).pane_mut() {
                Some(pane) => *pane = pane.other(),
                None => self.show_next(1, out),
            },
            screen_action => {
                let effects = self
                    .screens
                    .get_mut(self.screen)
                    .handle(screen_action, &self.shared);
                self.effects(effects, out);
            }
        }
    }

    fn show(&mut self, screen: Screen, out: &mut Vec<Request>) {
        self.screen = screen;
        if screen == Screen::Errors {
            out.push(self.screens.errors.on_show(&self.shared.snapshot));
        }
    }

    /// The screen `step` places after this one in the tab order (wrapping).
    fn show_next(&mut self, step: usize, out: &mut Vec<Request>) {
        let at = Screen::ALL
            .iter()
            .position(|s| *s == self.screen)
            .unwrap_or(0);
        self.show(Screen::ALL[(at + step) % Screen::ALL.len()], out);
    }

    /// Does what a screen asked for.
    fn effects(&mut self, effects: Vec<Effect>, out: &mut Vec<Request>) {
        for effect in effects {
            match effect {
                Effect::Change(_) if self.options.read_only => {
                    self.notice = Some("Read-only console: nothing was changed.".into());
                }
                Effect::Change(requests) => out.extend(requests),
                Effect::Read(request) => out.push(request),
                Effect::Notice(text) => self.notice = Some(text),
                Effect::Edit(editor) => self.shared.editor = Some(*editor),
                Effect::Ask(confirm) => self.confirm = Some(confirm),
                Effect::RateShare(share) => self.shared.snapshot.rate_share = share,
                Effect::StartRun => self.start_run(out, Request::StartRun),
                Effect::StartSample(conversations) => {
                    self.start_run(out, Request::StartSample { conversations });
                }
                Effect::StartDelta => {
                    self.start_run(
                        out,
                        Request::StartDelta {
                            delete_removed: None,
                        },
                    );
                }
                Effect::JumpToMapping(key) => {
                    if self.screens.mapping.select_key(&key) {
                        self.screen = Screen::Mapping;
                    } else {
                        self.notice =
                            Some(format!("Mapping `{key}` is not on the Mapping screen."));
                    }
                }
                Effect::Goto(screen) => self.screen = screen,
            }
        }
    }

    /// Starts the run (`start`: a full one or a sample), unless the Run screen's checks ask a
    /// question or say why not first.
    fn start_run(&mut self, out: &mut Vec<Request>, start: Request) {
        let gate = StartGate {
            start: start.clone(),
            active: self.run_active(),
            read_only: self.options.read_only,
            unresolved: self.unresolved(),
            defaults_accepted: self.defaults_accepted,
            prepared: self.screens.prerequisites.received,
            failing: self.screens.prerequisites.failing(self.defaults_accepted),
        };
        match gate.check() {
            Some(effect) => self.effects(vec![effect], out),
            None => {
                out.push(start);
                self.screen = Screen::Run;
            }
        }
    }
}

/// Whether `request` starts a run (a full one, a sample or a delta): the console then shows
/// 5 Run.
fn starts_a_run(request: &Request) -> bool {
    matches!(
        request,
        Request::StartRun | Request::StartSample { .. } | Request::StartDelta { .. }
    )
}
