//! The console's state machine: [`App`] folds [`Update`]s into its state, turns key events into
//! [`Request`]s and draws itself (drawing lives in `view` and `screens`). Nothing here touches a
//! terminal, a channel or the engine, so tests drive it with plain values.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::rc::Rc;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use tui_textarea::TextArea;

use crate::engine::model::{
    AdminDecision, AdminMapping, Bucket, CheckStatus, Command, ConnectionInfo, ErrorClass, Event,
    FailureDetail, FailureSummary, FieldDecision, FieldMapping, LogLevel, PhaseId, PrereqCheck,
    RecordRef, RunState, ScopeItem, SegmentChoice, Snapshot, TypeVerification, UserChoice,
};
use crate::http::Secret;
use crate::tui::keymap::{Action, Keymap, Layer};
use crate::tui::protocol::{FailureFilter, Request, Update};
use crate::tui::theme::Theme;

/// Lines kept in the Run screen's log tail.
pub const LOG_TAIL_LINES: usize = 500;
/// Step of the rate share keys (`+` / `-`).
pub const RATE_SHARE_STEP: f64 = 0.05;
/// The smallest share the console lets the operator pick, so a run never stalls completely.
pub const RATE_SHARE_MIN: f64 = 0.05;
/// While a run's failed count keeps changing, the failed records are read again at most this
/// often (run time, from the snapshots), so a run failing fast does not flood the glue.
pub const FAILURES_RELOAD_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);
/// Kustomer attribute type suffixes (kustomer.md "Custom attribute metadata").
pub const ATTRIBUTE_SUFFIXES: [&str; 6] = ["Str", "Txt", "Num", "Bool", "At", "Url"];

/// How the console was started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppOptions {
    /// No colours (the `NO_COLOR` convention); status stays readable through symbols.
    pub no_color: bool,
    /// Look but do not change anything: edits, decisions and run control are refused.
    pub read_only: bool,
    /// Shown in the header: the migration's name or state directory.
    pub title: String,
}

impl AppOptions {
    /// `no_color` from the `NO_COLOR` environment variable (set and not empty).
    pub fn from_env(title: impl Into<String>) -> AppOptions {
        AppOptions {
            no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
            read_only: false,
            title: title.into(),
        }
    }
}

/// The seven screens, in wizard order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Screen {
    Connect,
    Scope,
    Prerequisites,
    Mapping,
    Run,
    Errors,
    Summary,
}

impl Screen {
    pub const ALL: [Screen; 7] = [
        Screen::Connect,
        Screen::Scope,
        Screen::Prerequisites,
        Screen::Mapping,
        Screen::Run,
        Screen::Errors,
        Screen::Summary,
    ];

    pub fn number(self) -> usize {
        Screen::ALL.iter().position(|s| *s == self).unwrap_or(0) + 1
    }

    pub fn title(self) -> &'static str {
        match self {
            Screen::Connect => "Connect",
            Screen::Scope => "Scope",
            Screen::Prerequisites => "Prerequisites",
            Screen::Mapping => "Mapping",
            Screen::Run => "Run",
            Screen::Errors => "Errors",
            Screen::Summary => "Summary",
        }
    }

    pub fn short_title(self) -> &'static str {
        match self {
            Screen::Prerequisites => "Prereqs",
            other => other.title(),
        }
    }

    pub fn layer(self) -> Layer {
        Layer::Screen(self)
    }
}

/// Every list the console shows; each has its own selection and `/` filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListId {
    Connect,
    Scope,
    Segments,
    Prerequisites,
    Admins,
    Fields,
    Log,
    Failures,
    Verification,
}

/// Selection and scroll position of one list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListCursor {
    pub selected: usize,
    pub offset: usize,
    /// Rows shown at the last draw, for page up / down.
    pub page: usize,
}

/// The Connect screen's editable rows, in order.
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

/// What a text area being edited will change when the operator presses Enter.
#[derive(Debug, Clone, PartialEq)]
pub enum EditTarget {
    Url { side: String },
    Token { side: String },
    HistoryMonths,
    FieldRename { model: String, source_name: String },
    SkipReason { records: Vec<RecordRef> },
    Filter(ListId),
}

pub struct Editor {
    pub target: EditTarget,
    pub area: TextArea<'static>,
    /// Shown above or beside the text area.
    pub prompt: String,
    pub error: Option<String>,
}

/// A yes / no question before something that cannot be taken back.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirm {
    pub title: String,
    pub question: String,
    pub on_yes: Vec<Request>,
    pub quits: bool,
    /// Flags the console sets when the operator says yes.
    pub accepts_defaults: bool,
}

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

/// Which list has the keys on a two-pane screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    First,
    Second,
}

impl Pane {
    fn other(self) -> Pane {
        match self {
            Pane::First => Pane::Second,
            Pane::Second => Pane::First,
        }
    }
}

/// One line of the log tail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub level: LogLevel,
    pub message: String,
}

/// The Summary screen's data.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SummaryData {
    pub verification: Vec<TypeVerification>,
    pub report_path: Option<String>,
    pub archive_path: Option<String>,
    pub manual: Vec<String>,
    pub received: bool,
}

/// All console state.
pub struct App {
    pub(crate) keymap: Keymap,
    pub(crate) options: AppOptions,
    pub(crate) theme: Theme,
    pub(crate) screen: Screen,
    pub(crate) quit: bool,
    pub(crate) help: Option<u16>,
    pub(crate) confirm: Option<Confirm>,
    pub(crate) editor: Option<Editor>,
    pub(crate) picker: Option<Picker>,
    pub(crate) notice: Option<String>,
    pub(crate) cursors: HashMap<ListId, ListCursor>,
    pub(crate) filters: HashMap<ListId, String>,
    pub(crate) connections: Vec<ConnectionInfo>,
    pub(crate) scope: Vec<ScopeItem>,
    pub(crate) segments: Vec<SegmentChoice>,
    pub(crate) history_months: Option<u32>,
    /// The disk estimate and the free space, once the workspace is read.
    pub(crate) disk: Option<(crate::engine::disk::DiskEstimate, Option<u64>)>,
    pub(crate) segments_open: bool,
    pub(crate) prerequisites: Vec<PrereqCheck>,
    pub(crate) users: Vec<UserChoice>,
    pub(crate) admins: Vec<AdminMapping>,
    pub(crate) fields: Vec<FieldMapping>,
    pub(crate) mapping_pane: Pane,
    pub(crate) defaults_accepted: bool,
    pub(crate) snapshot: Snapshot,
    pub(crate) log: VecDeque<LogLine>,
    pub(crate) failures: Vec<FailureSummary>,
    pub(crate) failure_objects: BTreeSet<String>,
    pub(crate) failure_filter: FailureFilter,
    pub(crate) detail: Option<FailureDetail>,
    pub(crate) errors_pane: Pane,
    pub(crate) detail_scroll: u16,
    pub(crate) summary: SummaryData,
    /// The snapshot failed count the failure list was last read for, and at which run time: the
    /// list follows the ledger as the count changes (see [`FAILURES_RELOAD_INTERVAL`]).
    failures_read_for: Option<(u64, std::time::Duration)>,
    /// Filtered row indices per list, computed once per change rather than once per frame, so a
    /// run with many failures keeps frames cheap. Cleared by every key and by the updates that
    /// touch a list.
    visible_cache: RefCell<HashMap<ListId, Rc<[usize]>>>,
}

impl App {
    pub fn new(keymap: Keymap, options: AppOptions) -> App {
        App {
            keymap,
            theme: Theme::new(options.no_color),
            options,
            screen: Screen::Connect,
            quit: false,
            help: None,
            confirm: None,
            editor: None,
            picker: None,
            notice: None,
            cursors: HashMap::new(),
            filters: HashMap::new(),
            connections: Vec::new(),
            scope: Vec::new(),
            segments: Vec::new(),
            history_months: None,
            disk: None,
            segments_open: false,
            prerequisites: Vec::new(),
            users: Vec::new(),
            admins: Vec::new(),
            fields: Vec::new(),
            mapping_pane: Pane::First,
            defaults_accepted: false,
            snapshot: Snapshot::default(),
            log: VecDeque::new(),
            failures: Vec::new(),
            failure_objects: BTreeSet::new(),
            failure_filter: FailureFilter::default(),
            detail: None,
            errors_pane: Pane::First,
            detail_scroll: 0,
            summary: SummaryData::default(),
            failures_read_for: None,
            visible_cache: RefCell::new(HashMap::new()),
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
        self.editor.is_some() || self.picker.is_some()
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
        matches!(
            self.snapshot.state,
            RunState::Extracting | RunState::Running | RunState::Paused | RunState::Cancelling
        )
    }

    /// Admin and field decisions still open; the run does not start while any is, unless the
    /// operator accepts the stated defaults.
    pub fn unresolved(&self) -> usize {
        let (admins, fields) = self.unresolved_each();
        admins + fields
    }

    /// Admin decisions and field decisions still open, each on its own (the Mapping screen's
    /// pane titles).
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

    /// The failures the Errors screen shows: the phase / type / class filter, then the `/` text.
    pub fn shown_failures(&self) -> Vec<&FailureSummary> {
        self.visible(ListId::Failures)
            .iter()
            .filter_map(|&i| self.failures.get(i))
            .collect()
    }

    pub fn failure_filter(&self) -> &FailureFilter {
        &self.failure_filter
    }

    /// The connection checks as last received.
    pub fn connections(&self) -> &[ConnectionInfo] {
        &self.connections
    }

    /// The Scope rows as last received.
    pub fn scope(&self) -> &[ScopeItem] {
        &self.scope
    }

    /// The admins the Mapping screen lists.
    pub fn admins(&self) -> &[AdminMapping] {
        &self.admins
    }

    /// The engine's latest snapshot.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// What the Summary screen shows.
    pub fn summary(&self) -> &SummaryData {
        &self.summary
    }

    // ---------------------------------------------------------------- updates

    /// Folds data from the glue into the console, and returns what it needs read again: the
    /// failed records, when a snapshot's failed count says the list no longer matches the ledger.
    pub fn apply(&mut self, update: Update) -> Vec<Request> {
        let touched: &[ListId] = match &update {
            Update::Connections(_) => &[ListId::Connect],
            Update::Scope { .. } => &[ListId::Scope, ListId::Segments],
            Update::Prerequisites(_) => &[ListId::Prerequisites],
            Update::Users(_) | Update::Admins(_) => &[ListId::Admins],
            Update::Fields(_) => &[ListId::Fields],
            Update::Event(_) => &[ListId::Log, ListId::Failures],
            Update::Failures(_) => &[ListId::Failures],
            Update::Summary { .. } => &[ListId::Verification],
            Update::Snapshot(_)
            | Update::FailureDetail(_)
            | Update::Notice(_)
            | Update::Disk { .. } => &[],
        };
        {
            let mut cache = self.visible_cache.borrow_mut();
            for list in touched {
                cache.remove(list);
            }
        }
        match update {
            Update::Connections(c) => self.connections = c,
            Update::Scope {
                items,
                segments,
                history_months,
            } => {
                self.scope = items;
                self.segments = segments;
                self.history_months = history_months;
            }
            Update::Prerequisites(p) => self.prerequisites = p,
            Update::Disk { estimate, free } => self.disk = Some((estimate, free)),
            Update::Users(u) => self.users = u,
            Update::Admins(a) => self.admins = a,
            Update::Fields(f) => self.fields = f,
            Update::Snapshot(s) => {
                self.snapshot = s;
                return self.follow_failed_count();
            }
            Update::Event(e) => self.apply_event(e),
            Update::Failures(f) => {
                self.failure_objects
                    .extend(f.iter().map(|f| f.record.object.clone()));
                self.failures = f;
            }
            Update::FailureDetail(d) => {
                self.detail = Some(d);
                self.detail_scroll = 0;
            }
            Update::Summary {
                verification,
                report_path,
                archive_path,
                manual,
            } => {
                self.summary = SummaryData {
                    verification,
                    report_path,
                    archive_path,
                    manual,
                    received: true,
                };
            }
            Update::Notice(n) => self.notice = Some(n),
        }
        Vec::new()
    }

    /// The failed count of the latest snapshot, over every phase.
    fn snapshot_failed(&self) -> u64 {
        self.snapshot.phases.iter().map(|p| p.failed).sum()
    }

    /// Asks for the failed records again when the snapshot's failed count changed since the
    /// list was read: at once when the run has settled, else once per reload interval.
    fn follow_failed_count(&mut self) -> Vec<Request> {
        let failed = self.snapshot_failed();
        let now = self.snapshot.elapsed;
        let due = match self.failures_read_for {
            None => true,
            Some((count, _)) if count == failed => false,
            // A new run's clock starts again at zero.
            Some((_, at)) => !self.run_active() || now < at || now - at >= FAILURES_RELOAD_INTERVAL,
        };
        if !due {
            return Vec::new();
        }
        self.failures_read_for = Some((failed, now));
        vec![self.load_failures()]
    }

    /// Reads the failed records again with the current filter, keeping the selection.
    fn load_failures(&self) -> Request {
        Request::LoadFailures {
            filter: self.failure_filter.clone(),
        }
    }

    fn apply_event(&mut self, event: Event) {
        match event {
            Event::Log { level, message } => self.log_line(level, message),
            Event::PhaseStarted { phase } => {
                self.log_line(LogLevel::Info, format!("▶ {} started", phase.label()))
            }
            Event::PhaseFinished {
                phase,
                done,
                failed,
                skipped,
            } => {
                let level = if failed > 0 {
                    LogLevel::Warn
                } else {
                    LogLevel::Info
                };
                self.log_line(
                    level,
                    format!(
                        "✓ {} finished: {done} done, {failed} failed, {skipped} skipped",
                        phase.label()
                    ),
                );
            }
            Event::RecordFailed { failure } => {
                self.log_line(
                    LogLevel::Error,
                    format!(
                        "✗ {} {}: {}",
                        failure.record.object, failure.record.source_id, failure.message
                    ),
                );
                self.failure_objects.insert(failure.record.object.clone());
                let known = self.failures.iter().any(|f| f.record == failure.record);
                if !known {
                    self.failures.push(failure);
                }
            }
            Event::Finished { summary } => {
                let failed: u64 = summary.phases.iter().map(|p| p.failed).sum();
                let how = if summary.cancelled {
                    "stopped (resumes next time)"
                } else {
                    "finished"
                };
                self.log_line(
                    LogLevel::Info,
                    format!("■ run {how}: {failed} failed — press 7 for the Summary"),
                );
                self.snapshot.state = if summary.cancelled {
                    RunState::Idle
                } else {
                    RunState::Finished
                };
                self.notice = Some(format!("Run {how}. Press 7 for the Summary."));
            }
        }
    }

    fn log_line(&mut self, level: LogLevel, message: String) {
        if self.log.len() == LOG_TAIL_LINES {
            self.log.pop_front();
        }
        self.log.push_back(LogLine { level, message });
    }

    // ---------------------------------------------------------------- keys

    /// Turns one key press into state changes and requests for the glue.
    pub fn handle_key(&mut self, key: KeyEvent) -> Vec<Request> {
        self.visible_cache.borrow_mut().clear();
        let out = self.handle_key_inner(key);
        // A key may have changed lists after something looked at them.
        self.visible_cache.borrow_mut().clear();
        out
    }

    fn handle_key_inner(&mut self, key: KeyEvent) -> Vec<Request> {
        let mut out = Vec::new();
        if key.kind == KeyEventKind::Release {
            return out;
        }
        if self.confirm.is_some() {
            self.confirm_key(key, &mut out);
            return out;
        }
        if self.picker.is_some() {
            self.picker_key(key, &mut out);
            return out;
        }
        if self.editor.is_some() {
            self.editor_key(key, &mut out);
            return out;
        }
        self.notice = None;
        let Some(action) = self.keymap.action(self.screen.layer(), &key) else {
            return out;
        };
        if let Some(scroll) = self.help {
            match action {
                Action::Help | Action::Back => self.help = None,
                Action::Quit => {
                    self.help = None;
                    self.perform(Action::Quit, &mut out);
                }
                Action::Down => self.help = Some(scroll.saturating_add(1)),
                Action::Up => self.help = Some(scroll.saturating_sub(1)),
                Action::PageDown => self.help = Some(scroll.saturating_add(10)),
                Action::PageUp => self.help = Some(scroll.saturating_sub(10)),
                _ => {}
            }
            return out;
        }
        self.perform(action, &mut out);
        out
    }

    fn confirm_key(&mut self, key: KeyEvent, out: &mut Vec<Request>) {
        let Some(confirm) = self.confirm.take() else {
            return;
        };
        match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => {
                out.extend(confirm.on_yes);
                if confirm.quits {
                    self.quit = true;
                }
                if confirm.accepts_defaults {
                    self.defaults_accepted = true;
                }
                if out.contains(&Request::StartRun) {
                    self.screen = Screen::Run;
                }
            }
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => {}
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {}
            _ => self.confirm = Some(confirm),
        }
    }

    fn editor_key(&mut self, key: KeyEvent, out: &mut Vec<Request>) {
        let Some(mut editor) = self.editor.take() else {
            return;
        };
        match key.code {
            KeyCode::Esc => {
                if let EditTarget::Filter(list) = editor.target {
                    self.filters.remove(&list);
                }
            }
            KeyCode::Enter => {
                let text = editor.area.lines().join("");
                if let Err(message) = self.commit_edit(&editor.target, text.trim(), out) {
                    editor.error = Some(message);
                    self.editor = Some(editor);
                }
            }
            _ => {
                editor.area.input(key);
                editor.error = None;
                if let EditTarget::Filter(list) = editor.target {
                    let text = editor.area.lines().join("");
                    self.set_filter(list, text);
                }
                self.editor = Some(editor);
            }
        }
    }

    fn set_filter(&mut self, list: ListId, text: String) {
        if text.is_empty() {
            self.filters.remove(&list);
        } else {
            self.filters.insert(list, text);
        }
        self.cursor_mut(list).selected = 0;
    }

    fn commit_edit(
        &mut self,
        target: &EditTarget,
        text: &str,
        out: &mut Vec<Request>,
    ) -> Result<(), String> {
        match target {
            EditTarget::Filter(_) => {}
            EditTarget::Url { side } => {
                if !(text.starts_with("https://") || text.starts_with("http://")) {
                    return Err("a URL starts with https:// (http:// for a local simulator)".into());
                }
                if let Some(c) = self.connections.iter_mut().find(|c| &c.side == side) {
                    c.url = text.to_string();
                }
                self.send(
                    out,
                    Request::SaveEndpoint {
                        side: side.clone(),
                        url: text.to_string(),
                    },
                );
            }
            EditTarget::Token { side } => {
                if text.is_empty() {
                    return Err("paste the token, or Esc to keep the current one".into());
                }
                self.send(
                    out,
                    Request::SaveToken {
                        side: side.clone(),
                        token: Secret::new(text),
                    },
                );
            }
            EditTarget::HistoryMonths => {
                let months = if text.is_empty() || text.eq_ignore_ascii_case("all") {
                    None
                } else {
                    match text.parse::<u32>() {
                        Ok(n) if n > 0 => Some(n),
                        _ => return Err("a number of months (1, 2, …) or `all`".into()),
                    }
                };
                self.history_months = months;
                self.send(out, Request::SetHistoryMonths(months));
            }
            EditTarget::FieldRename { model, source_name } => {
                let proposed_suffix = self
                    .fields
                    .iter()
                    .find(|f| &f.model == model && &f.source_name == source_name)
                    .and_then(|f| f.proposed.as_deref())
                    .and_then(attribute_suffix);
                check_attribute_name(text, proposed_suffix)?;
                let decision = FieldDecision::Attribute {
                    name: text.to_string(),
                };
                if let Some(f) = self
                    .fields
                    .iter_mut()
                    .find(|f| &f.model == model && &f.source_name == source_name)
                {
                    f.decision = decision.clone();
                }
                self.send(
                    out,
                    Request::DecideField {
                        model: model.clone(),
                        source_name: source_name.clone(),
                        decision,
                    },
                );
            }
            EditTarget::SkipReason { records } => {
                if text.is_empty() {
                    return Err(
                        "type why these records are skipped (it goes into the report)".into(),
                    );
                }
                let skipped: std::collections::HashSet<&RecordRef> = records.iter().collect();
                self.failures.retain(|f| !skipped.contains(&f.record));
                self.send(
                    out,
                    Request::Engine(Command::Skip {
                        records: records.clone(),
                        reason: text.to_string(),
                    }),
                );
                if !self.options.read_only {
                    out.push(self.load_failures());
                }
            }
        }
        Ok(())
    }

    fn picker_key(&mut self, key: KeyEvent, out: &mut Vec<Request>) {
        let Some(mut picker) = self.picker.take() else {
            return;
        };
        let options = self.pick_options(&picker.query.lines().join(""));
        match key.code {
            KeyCode::Esc => return,
            KeyCode::Up => picker.selected = picker.selected.saturating_sub(1),
            KeyCode::Down => {
                picker.selected = (picker.selected + 1).min(options.len().saturating_sub(1))
            }
            KeyCode::Enter => {
                let Some(choice) = options.get(picker.selected) else {
                    self.picker = Some(picker);
                    return;
                };
                let decision = match choice {
                    PickOption::User(u) => AdminDecision::User {
                        user_id: u.user_id.clone(),
                        email: u.email.clone(),
                    },
                    PickOption::Invite => AdminDecision::Invite,
                    PickOption::Fallback => AdminDecision::Fallback,
                };
                self.decide_admin(&picker.admin_id, decision, out);
                return;
            }
            _ => {
                picker.query.input(key);
                picker.selected = 0;
            }
        }
        self.picker = Some(picker);
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

    /// Sends a request unless the console is read-only.
    fn send(&mut self, out: &mut Vec<Request>, request: Request) {
        if self.options.read_only {
            self.notice = Some("Read-only console: nothing was changed.".into());
        } else {
            out.push(request);
        }
    }

    fn open_editor(&mut self, target: EditTarget, prompt: &str, initial: &str, masked: bool) {
        let mut area = TextArea::new(vec![initial.to_string()]);
        area.move_cursor(tui_textarea::CursorMove::End);
        area.set_cursor_line_style(ratatui::style::Style::new());
        if masked {
            area.set_mask_char('•');
        }
        self.editor = Some(Editor {
            target,
            area,
            prompt: prompt.to_string(),
            error: None,
        });
    }

    fn ask(&mut self, title: &str, question: String, on_yes: Vec<Request>) {
        self.confirm = Some(Confirm {
            title: title.to_string(),
            question,
            on_yes,
            quits: false,
            accepts_defaults: false,
        });
    }

    /// The list that the navigation keys and `/` act on, on the current screen.
    pub fn focused_list(&self) -> Option<ListId> {
        match self.screen {
            Screen::Connect => Some(ListId::Connect),
            Screen::Scope if self.segments_open => Some(ListId::Segments),
            Screen::Scope => Some(ListId::Scope),
            Screen::Prerequisites => Some(ListId::Prerequisites),
            Screen::Mapping => Some(match self.mapping_pane {
                Pane::First => ListId::Admins,
                Pane::Second => ListId::Fields,
            }),
            Screen::Run => Some(ListId::Log),
            Screen::Errors if self.errors_pane == Pane::Second => None,
            Screen::Errors => Some(ListId::Failures),
            Screen::Summary => Some(ListId::Verification),
        }
    }

    pub(crate) fn cursor_mut(&mut self, list: ListId) -> &mut ListCursor {
        self.cursors.entry(list).or_default()
    }

    pub(crate) fn cursor(&self, list: ListId) -> ListCursor {
        self.cursors.get(&list).copied().unwrap_or_default()
    }

    pub fn filter_text(&self, list: ListId) -> Option<&str> {
        self.filters.get(&list).map(String::as_str)
    }

    /// The text a `/` filter matches for row `i` of `list`.
    fn row_text(&self, list: ListId, i: usize) -> String {
        match list {
            ListId::Connect => CONNECT_ROWS
                .get(i)
                .map(|(side, _)| side.to_string())
                .unwrap_or_default(),
            ListId::Scope => self
                .scope
                .get(i)
                .map(|s| format!("{} {} {}", s.object, s.bucket.label(), s.note))
                .unwrap_or_default(),
            ListId::Segments => self
                .segments
                .get(i)
                .map(|s| format!("{} {}", s.name, if s.in_use { "in use" } else { "unused" }))
                .unwrap_or_default(),
            ListId::Prerequisites => self
                .prerequisites
                .get(i)
                .map(|p| format!("{} {}", p.name, p.detail))
                .unwrap_or_default(),
            ListId::Admins => self
                .admins
                .get(i)
                .map(|a| {
                    let open = if a.decision == AdminDecision::Unresolved {
                        "unresolved"
                    } else {
                        ""
                    };
                    format!("{} {} {} {open}", a.name, a.email, admin_decision_label(a))
                })
                .unwrap_or_default(),
            ListId::Fields => self
                .fields
                .get(i)
                .map(|f| {
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
                })
                .unwrap_or_default(),
            ListId::Log => self
                .log
                .get(i)
                .map(|l| l.message.clone())
                .unwrap_or_default(),
            ListId::Failures => self
                .failures
                .get(i)
                .map(|f| {
                    format!(
                        "{} {} {} {}",
                        f.record.object,
                        f.record.source_id,
                        f.class.as_str(),
                        f.message
                    )
                })
                .unwrap_or_default(),
            ListId::Verification => self
                .summary
                .verification
                .get(i)
                .map(|v| v.object.clone())
                .unwrap_or_default(),
        }
    }

    /// How many rows `list` holds before its `/` filter.
    pub(crate) fn list_len(&self, list: ListId) -> usize {
        match list {
            ListId::Connect => CONNECT_ROWS.len(),
            ListId::Scope => self.scope.len(),
            ListId::Segments => self.segments.len(),
            ListId::Prerequisites => self.prerequisites.len(),
            ListId::Admins => self.admins.len(),
            ListId::Fields => self.fields.len(),
            ListId::Log => self.log.len(),
            ListId::Failures => self.failures.len(),
            ListId::Verification => self.summary.verification.len(),
        }
    }

    /// Indices of the rows of `list` that pass its filters. A filter starting with `!` excludes.
    pub fn visible(&self, list: ListId) -> Rc<[usize]> {
        if let Some(hit) = self.visible_cache.borrow().get(&list) {
            return hit.clone();
        }
        let rows: Rc<[usize]> = self.filter_rows(list).into();
        self.visible_cache.borrow_mut().insert(list, rows.clone());
        rows
    }

    fn filter_rows(&self, list: ListId) -> Vec<usize> {
        let text = self.filters.get(&list).map(|t| t.to_lowercase());
        let (negate, needle) = match text.as_deref() {
            Some(t) if t.starts_with('!') => (true, t[1..].to_string()),
            Some(t) => (false, t.to_string()),
            None => (false, String::new()),
        };
        (0..self.list_len(list))
            .filter(|&i| {
                list != ListId::Failures
                    || self
                        .failures
                        .get(i)
                        .is_some_and(|f| self.failure_filter.matches(f))
            })
            .filter(|&i| {
                needle.is_empty()
                    || self.row_text(list, i).to_lowercase().contains(&needle) != negate
            })
            .collect()
    }

    /// The underlying index of the selected row of `list`, after filtering.
    pub fn selected_index(&self, list: ListId) -> Option<usize> {
        let visible = self.visible(list);
        let selected = self.cursor(list).selected;
        visible
            .get(selected.min(visible.len().saturating_sub(1)))
            .copied()
    }

    fn move_selection(&mut self, list: ListId, action: Action) {
        let len = self.visible(list).len();
        let cursor = self.cursor_mut(list);
        let page = cursor.page.max(1);
        let last = len.saturating_sub(1);
        let current = cursor.selected.min(last);
        cursor.selected = match action {
            Action::Up => current.saturating_sub(1),
            Action::Down => (current + 1).min(last),
            Action::PageUp => current.saturating_sub(page),
            Action::PageDown => (current + page).min(last),
            Action::Top => 0,
            Action::Bottom => last,
            _ => current,
        };
    }

    fn show(&mut self, screen: Screen) {
        self.screen = screen;
    }

    fn perform(&mut self, action: Action, out: &mut Vec<Request>) {
        match action {
            Action::Noop => {}
            Action::Quit => {
                if self.run_active() {
                    self.confirm = Some(Confirm {
                        title: "Quit".into(),
                        question: "A run is active. Quit now? It stops safely and resumes \
                                   where it left off next time."
                            .into(),
                        on_yes: vec![Request::Quit],
                        quits: true,
                        accepts_defaults: false,
                    });
                } else {
                    out.push(Request::Quit);
                    self.quit = true;
                }
            }
            Action::Help => self.help = Some(0),
            Action::Filter => match self.focused_list() {
                Some(list) if list != ListId::Connect => {
                    let current = self.filters.get(&list).cloned().unwrap_or_default();
                    self.open_editor(EditTarget::Filter(list), "/", &current, false);
                }
                _ => self.notice = Some("Nothing to filter here.".into()),
            },
            Action::Back => self.back(),
            Action::Up
            | Action::Down
            | Action::PageUp
            | Action::PageDown
            | Action::Top
            | Action::Bottom => {
                if self.screen == Screen::Errors && self.errors_pane == Pane::Second {
                    self.detail_scroll = match action {
                        Action::Up => self.detail_scroll.saturating_sub(1),
                        Action::Down => self.detail_scroll.saturating_add(1),
                        Action::PageUp => self.detail_scroll.saturating_sub(10),
                        Action::PageDown => self.detail_scroll.saturating_add(10),
                        Action::Top => 0,
                        _ => self.detail_scroll,
                    };
                } else if let Some(list) = self.focused_list() {
                    self.move_selection(list, action);
                    if list == ListId::Failures {
                        self.detail_scroll = 0;
                    }
                }
            }
            Action::NextPane => match self.screen {
                Screen::Mapping => self.mapping_pane = self.mapping_pane.other(),
                Screen::Errors => self.errors_pane = self.errors_pane.other(),
                _ => {}
            },
            Action::ShowConnect => self.show(Screen::Connect),
            Action::ShowScope => self.show(Screen::Scope),
            Action::ShowPrerequisites => self.show(Screen::Prerequisites),
            Action::ShowMapping => self.show(Screen::Mapping),
            Action::ShowRun => self.show(Screen::Run),
            Action::ShowErrors => {
                self.show(Screen::Errors);
                // The list may be older than the ledger (a run since, another console).
                self.failures_read_for = Some((self.snapshot_failed(), self.snapshot.elapsed));
                out.push(self.load_failures());
            }
            Action::ShowSummary => self.show(Screen::Summary),
            Action::Enter => self.enter(out),
            Action::Reconnect => self.send(out, Request::Reconnect),
            Action::CycleBucket => {
                if self.segments_open {
                    self.toggle_segment(out);
                } else {
                    self.cycle_bucket(out);
                }
            }
            Action::ToggleSegment => {
                if self.segments_open {
                    self.toggle_segment(out);
                } else {
                    self.notice = Some("Open the segments with Enter on the segments row.".into());
                }
            }
            Action::EditHistory => {
                let current = self
                    .history_months
                    .map(|m| m.to_string())
                    .unwrap_or_default();
                self.open_editor(
                    EditTarget::HistoryMonths,
                    "Conversations updated in the last N months (empty = all)",
                    &current,
                    false,
                );
            }
            Action::CreatePrerequisite => self.create_prerequisite(),
            Action::InviteUser | Action::FallbackUser => {
                if self.mapping_pane != Pane::First {
                    self.notice = Some("Tab to the admins first.".into());
                } else if let Some(i) = self.selected_index(ListId::Admins) {
                    let id = self.admins[i].admin_id.clone();
                    let decision = if action == Action::InviteUser {
                        AdminDecision::Invite
                    } else {
                        AdminDecision::Fallback
                    };
                    self.decide_admin(&id, decision, out);
                }
            }
            Action::ArchiveField => {
                if self.mapping_pane != Pane::Second {
                    self.notice = Some("Tab to the fields first.".into());
                } else if let Some(i) = self.selected_index(ListId::Fields) {
                    let field = &mut self.fields[i];
                    field.decision = FieldDecision::Archive;
                    let request = Request::DecideField {
                        model: field.model.clone(),
                        source_name: field.source_name.clone(),
                        decision: FieldDecision::Archive,
                    };
                    self.send(out, request);
                }
            }
            Action::AcceptDefaults => {
                let n = self.unresolved();
                if n == 0 {
                    self.notice = Some("Nothing is unresolved.".into());
                } else {
                    self.confirm = Some(Confirm {
                        title: "Accept defaults".into(),
                        question: format!("{n} unresolved: {DEFAULTS_STATED}. Accept?"),
                        on_yes: vec![Request::AcceptDefaults],
                        quits: false,
                        accepts_defaults: true,
                    });
                }
            }
            Action::StartRun => self.start_run(out),
            Action::PauseResume => match self.snapshot.state {
                RunState::Paused => {
                    self.send(out, Request::Engine(Command::Resume));
                }
                RunState::Running | RunState::Extracting => {
                    self.send(out, Request::Engine(Command::Pause));
                }
                _ => self.notice = Some("No run to pause.".into()),
            },
            Action::RateUp | Action::RateDown => {
                let step = if action == Action::RateUp {
                    RATE_SHARE_STEP
                } else {
                    -RATE_SHARE_STEP
                };
                let share = ((self.snapshot.rate_share + step) * 100.0).round() / 100.0;
                let share = share.clamp(RATE_SHARE_MIN, 1.0);
                self.snapshot.rate_share = share;
                self.notice = Some(format!(
                    "Rate share {:.0}% of the Kustomer budget.",
                    share * 100.0
                ));
                self.send(out, Request::Engine(Command::SetRateShare { share }));
            }
            Action::CancelRun => {
                if self.run_active() {
                    self.ask(
                        "Stop the run",
                        "Stop the run after in-flight requests settle? It resumes next time."
                            .into(),
                        vec![Request::Engine(Command::Cancel)],
                    );
                } else {
                    self.notice = Some("No run to stop.".into());
                }
            }
            Action::CyclePhaseFilter => {
                self.failure_filter.phase = cycle(&PhaseId::ALL, self.failure_filter.phase);
                self.failure_filter_changed(out);
            }
            Action::CycleTypeFilter => {
                let objects: Vec<String> = self.failure_objects.iter().cloned().collect();
                self.failure_filter.object = cycle(&objects, self.failure_filter.object.clone());
                self.failure_filter_changed(out);
            }
            Action::CycleClassFilter => {
                self.failure_filter.class = cycle(&ERROR_CLASSES, self.failure_filter.class);
                self.failure_filter_changed(out);
            }
            Action::ClearFilters => {
                self.failure_filter = FailureFilter::default();
                self.filters.remove(&ListId::Failures);
                self.failure_filter_changed(out);
            }
            Action::RetryOne => {
                if let Some(i) = self.selected_index(ListId::Failures) {
                    let record = self.failures[i].record.clone();
                    self.send(
                        out,
                        Request::Engine(Command::Retry {
                            records: vec![record],
                        }),
                    );
                    if !self.options.read_only {
                        out.push(self.load_failures());
                    }
                }
            }
            Action::RetryShown => {
                let records: Vec<RecordRef> = self
                    .shown_failures()
                    .into_iter()
                    .map(|f| f.record.clone())
                    .collect();
                if records.is_empty() {
                    self.notice = Some("No failed records shown.".into());
                } else {
                    let n = records.len();
                    self.ask(
                        "Retry",
                        format!("Retry the {n} failed records shown?"),
                        vec![
                            Request::Engine(Command::Retry { records }),
                            self.load_failures(),
                        ],
                    );
                }
            }
            Action::SkipRecord => {
                if let Some(i) = self.selected_index(ListId::Failures) {
                    let record = self.failures[i].record.clone();
                    let prompt = format!(
                        "Skip {} {}: why? (goes into the report)",
                        record.object, record.source_id
                    );
                    self.open_editor(
                        EditTarget::SkipReason {
                            records: vec![record],
                        },
                        &prompt,
                        "",
                        false,
                    );
                }
            }
            Action::JumpToMapping => self.jump_to_mapping(),
            Action::Verify => self.send(out, Request::Verify),
        }
    }

    fn back(&mut self) {
        if self.screen == Screen::Scope && self.segments_open {
            self.segments_open = false;
        } else if self.screen == Screen::Errors && self.errors_pane == Pane::Second {
            self.errors_pane = Pane::First;
        } else if let Some(list) = self.focused_list() {
            self.filters.remove(&list);
        }
    }

    fn enter(&mut self, out: &mut Vec<Request>) {
        match self.screen {
            Screen::Connect => {
                let row = self
                    .cursor(ListId::Connect)
                    .selected
                    .min(CONNECT_ROWS.len() - 1);
                let (side, field) = CONNECT_ROWS[row];
                let side_name = if side == "intercom" {
                    "Intercom"
                } else {
                    "Kustomer"
                };
                match field {
                    ConnectField::Url => {
                        let current = self
                            .connections
                            .iter()
                            .find(|c| c.side == side)
                            .map(|c| c.url.clone())
                            .unwrap_or_default();
                        self.open_editor(
                            EditTarget::Url { side: side.into() },
                            &format!("{side_name} base URL"),
                            &current,
                            false,
                        );
                    }
                    ConnectField::Token => self.open_editor(
                        EditTarget::Token { side: side.into() },
                        &format!("{side_name} token (hidden; kept for this session only)"),
                        "",
                        true,
                    ),
                }
            }
            Screen::Scope => {
                if self.segments_open {
                    return;
                }
                if let Some(i) = self.selected_index(ListId::Scope) {
                    if self.scope[i].object == "segments" {
                        self.segments_open = true;
                    } else {
                        self.notice = Some(format!(
                            "{}: the detail is shown below the list.",
                            self.scope[i].object
                        ));
                    }
                }
            }
            Screen::Mapping => match self.mapping_pane {
                Pane::First => {
                    if let Some(i) = self.selected_index(ListId::Admins) {
                        let admin = &self.admins[i];
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
                }
                Pane::Second => {
                    if let Some(i) = self.selected_index(ListId::Fields) {
                        let field = &self.fields[i];
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
                        self.open_editor(target, &prompt, &initial, false);
                    }
                }
            },
            Screen::Errors => {
                if let Some(i) = self.selected_index(ListId::Failures) {
                    let record = self.failures[i].record.clone();
                    self.errors_pane = Pane::Second;
                    let loaded = self
                        .detail
                        .as_ref()
                        .is_some_and(|d| d.summary.record == record);
                    if !loaded {
                        out.push(Request::LoadFailureDetail { record });
                    }
                }
            }
            Screen::Prerequisites => self.create_prerequisite(),
            Screen::Run | Screen::Summary => {}
        }
    }

    fn cycle_bucket(&mut self, out: &mut Vec<Request>) {
        let Some(i) = self.selected_index(ListId::Scope) else {
            return;
        };
        let item = &mut self.scope[i];
        item.bucket = match item.bucket {
            Bucket::Migrate => Bucket::Manual,
            Bucket::Manual => Bucket::Archive,
            Bucket::Archive => Bucket::Migrate,
        };
        let request = Request::SetBucket {
            object: item.object.clone(),
            bucket: item.bucket,
        };
        self.send(out, request);
    }

    fn toggle_segment(&mut self, out: &mut Vec<Request>) {
        let Some(i) = self.selected_index(ListId::Segments) else {
            return;
        };
        let segment = &mut self.segments[i];
        segment.in_use = !segment.in_use;
        let request = Request::SetSegmentInUse {
            id: segment.id.clone(),
            in_use: segment.in_use,
        };
        self.send(out, request);
    }

    fn create_prerequisite(&mut self) {
        let Some(i) = self.selected_index(ListId::Prerequisites) else {
            return;
        };
        let check = &self.prerequisites[i];
        match (&check.status, &check.can_create) {
            (CheckStatus::Fail | CheckStatus::Warn, Some(what)) => {
                let question = format!("Create in Kustomer: {what}?");
                let name = check.name.clone();
                if self.options.read_only {
                    self.notice = Some("Read-only console: nothing was changed.".into());
                } else {
                    self.ask(
                        "Create prerequisite",
                        question,
                        vec![Request::CreatePrerequisite { name }],
                    );
                }
            }
            (CheckStatus::Fail | CheckStatus::Warn, None) => {
                self.notice = Some(format!("{}: {}", check.name, check.detail));
            }
            _ => self.notice = Some(format!("{}: nothing to create.", check.name)),
        }
    }

    fn decide_admin(&mut self, admin_id: &str, decision: AdminDecision, out: &mut Vec<Request>) {
        if let Some(a) = self.admins.iter_mut().find(|a| a.admin_id == admin_id) {
            a.decision = decision.clone();
        }
        self.send(
            out,
            Request::DecideAdmin {
                admin_id: admin_id.to_string(),
                decision,
            },
        );
    }

    fn start_run(&mut self, out: &mut Vec<Request>) {
        if self.run_active() {
            self.notice = Some("A run is already under way.".into());
            return;
        }
        if self.options.read_only {
            self.notice = Some("Read-only console: nothing was changed.".into());
            return;
        }
        let unresolved = self.unresolved();
        if unresolved > 0 && !self.defaults_accepted {
            self.confirm = Some(Confirm {
                title: "Unresolved mapping".into(),
                question: format!(
                    "{unresolved} mapping items are unresolved (press 4 to decide). \
                     Start with the stated defaults — {DEFAULTS_STATED}?"
                ),
                on_yes: vec![Request::AcceptDefaults, Request::StartRun],
                quits: false,
                accepts_defaults: true,
            });
            return;
        }
        // With the defaults accepted the run creates what it can, so only the rest is asked about.
        let failing = self
            .prerequisites
            .iter()
            .filter(|p| p.status == CheckStatus::Fail)
            .filter(|p| !(self.defaults_accepted && p.can_create.is_some()))
            .count();
        if failing > 0 {
            self.ask(
                "Prerequisites",
                format!("{failing} prerequisite checks fail (press 3). Start anyway?"),
                vec![Request::StartRun],
            );
            return;
        }
        out.push(Request::StartRun);
        self.screen = Screen::Run;
    }

    fn failure_filter_changed(&mut self, out: &mut Vec<Request>) {
        self.cursor_mut(ListId::Failures).selected = 0;
        out.push(Request::LoadFailures {
            filter: self.failure_filter.clone(),
        });
    }

    fn jump_to_mapping(&mut self) {
        let key = self
            .selected_index(ListId::Failures)
            .and_then(|i| self.failures.get(i))
            .and_then(|f| {
                self.detail
                    .as_ref()
                    .filter(|d| d.summary.record == f.record)
            })
            .and_then(|d| d.mapping_key.clone());
        let Some(key) = key else {
            self.notice = Some("No mapping behind this failure (open it with Enter first).".into());
            return;
        };
        let mut parts = key.splitn(3, ':');
        let target = match (parts.next(), parts.next(), parts.next()) {
            (Some("admin"), Some(id), None) => self
                .admins
                .iter()
                .position(|a| a.admin_id == id)
                .map(|i| (Pane::First, ListId::Admins, i)),
            (Some("field"), Some(model), Some(name)) => self
                .fields
                .iter()
                .position(|f| f.model == model && f.source_name == name)
                .map(|i| (Pane::Second, ListId::Fields, i)),
            _ => None,
        };
        match target {
            Some((pane, list, index)) => {
                self.filters.remove(&list);
                self.cursor_mut(list).selected = index;
                self.mapping_pane = pane;
                self.screen = Screen::Mapping;
            }
            None => self.notice = Some(format!("Mapping `{key}` is not on the Mapping screen.")),
        }
    }
}

/// What "accept the defaults" means, stated where the operator decides.
pub const DEFAULTS_STATED: &str =
    "admins go to the fallback user, fields to their proposed attribute or the archive";

pub const ERROR_CLASSES: [ErrorClass; 6] = [
    ErrorClass::Rejected,
    ErrorClass::Auth,
    ErrorClass::Transient,
    ErrorClass::Source,
    ErrorClass::Mapping,
    ErrorClass::Unknown,
];

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
