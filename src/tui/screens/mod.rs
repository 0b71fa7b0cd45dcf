//! The seven screens, one module each — Connect, Scope, Prerequisites, Mapping, Run, Errors,
//! Summary — behind one small trait, [`Component`]: a screen holds its own data, lists and
//! cursors, turns a key's action into [`Effect`]s for the app, and draws itself from its state
//! without changing it. The keys each screen offers (most important first) are a table,
//! [`Screen::keys`].

pub mod connect;
pub mod errors;
pub mod mapping;
pub mod prerequisites;
pub mod run;
pub mod scope;
pub mod summary;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::Cell;

use crate::engine::session::{CheckStatus, Snapshot};
use crate::tui::keymap::{Action, Layer};
use crate::tui::list::{ListId, ListState};
use crate::tui::overlay::{Confirm, EditTarget, Editor};
use crate::tui::protocol::Request;
use crate::tui::screens::run::LogTail;
use crate::tui::theme::Theme;

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

    /// The actions this screen offers, most important first: the key bar shows their keys in
    /// this order as far as the width allows, and the `?` help lists them in the same order.
    pub fn keys(self) -> &'static [Action] {
        match self {
            Screen::Connect => connect::KEYS,
            Screen::Scope => scope::KEYS,
            Screen::Prerequisites => prerequisites::KEYS,
            Screen::Mapping => mapping::KEYS,
            Screen::Run => run::KEYS,
            Screen::Errors => errors::KEYS,
            Screen::Summary => summary::KEYS,
        }
    }
}

/// Every screen's state.
#[derive(Default)]
pub struct Screens {
    pub connect: connect::ConnectScreen,
    pub scope: scope::ScopeScreen,
    pub prerequisites: prerequisites::PrerequisitesScreen,
    pub mapping: mapping::MappingScreen,
    pub run: run::RunScreen,
    pub errors: errors::ErrorsScreen,
    pub summary: summary::SummaryScreen,
}

impl Screens {
    pub fn get(&self, screen: Screen) -> &dyn Component {
        match screen {
            Screen::Connect => &self.connect,
            Screen::Scope => &self.scope,
            Screen::Prerequisites => &self.prerequisites,
            Screen::Mapping => &self.mapping,
            Screen::Run => &self.run,
            Screen::Errors => &self.errors,
            Screen::Summary => &self.summary,
        }
    }

    pub fn get_mut(&mut self, screen: Screen) -> &mut dyn Component {
        match screen {
            Screen::Connect => &mut self.connect,
            Screen::Scope => &mut self.scope,
            Screen::Prerequisites => &mut self.prerequisites,
            Screen::Mapping => &mut self.mapping,
            Screen::Run => &mut self.run,
            Screen::Errors => &mut self.errors,
            Screen::Summary => &mut self.summary,
        }
    }

    /// The screen that holds `list` (the log is the app's, shown on Run).
    pub fn owner(list: ListId) -> Screen {
        match list {
            ListId::Connect => Screen::Connect,
            ListId::Scope | ListId::Segments => Screen::Scope,
            ListId::Prerequisites => Screen::Prerequisites,
            ListId::Admins | ListId::Fields => Screen::Mapping,
            ListId::Log => Screen::Run,
            ListId::Failures => Screen::Errors,
            ListId::Verification => Screen::Summary,
        }
    }

    /// A list of a screen (not the log).
    pub fn list(&self, list: ListId) -> Option<&ListState> {
        match list {
            ListId::Connect => Some(self.connect.list()),
            ListId::Scope | ListId::Segments => Some(self.scope.list(list)),
            ListId::Prerequisites => Some(self.prerequisites.list()),
            ListId::Admins | ListId::Fields => Some(self.mapping.list(list)),
            ListId::Log => None,
            ListId::Failures => Some(self.errors.list()),
            ListId::Verification => Some(self.summary.list()),
        }
    }
}

/// One screen of the console.
pub trait Component {
    /// Performs one of the screen's actions (the app handles the global ones).
    fn handle(&mut self, action: Action, shared: &Shared) -> Vec<Effect>;

    /// Draws the screen into `area` from its state.
    fn draw(&self, frame: &mut Frame, area: Rect, shared: &Shared);

    /// The list that navigation and `/` act on, if any.
    fn focused(&self) -> Option<ListId>;

    /// One of the screen's lists.
    fn list_mut(&mut self, list: ListId) -> Option<&mut ListState>;

    /// Recomputes the visible rows of every list after a filter changed.
    fn refresh(&mut self);

    /// Navigation the screen handles itself (scrolling a detail pane); false leaves it to the
    /// focused list.
    fn navigate(&mut self, _action: Action) -> bool {
        false
    }

    /// The pane `Tab` moves from, on a screen of two panes (a screen of one pane has none, and
    /// `Tab` moves to the next screen).
    fn pane_mut(&mut self) -> Option<&mut Pane> {
        None
    }

    /// `Esc`: closes what is open inside the screen; false when nothing was.
    fn back(&mut self) -> bool {
        false
    }

    /// Applies the text of an editor this screen opened (Enter); an error keeps it open.
    fn commit(&mut self, _target: &EditTarget, _text: &str) -> Result<Vec<Effect>, String> {
        Ok(Vec::new())
    }
}

/// What a screen asks of the app after a key.
#[derive(Debug)]
pub enum Effect {
    /// Changes for the session, sent together unless the console is read-only (then a notice
    /// says nothing was changed).
    Change(Vec<Request>),
    /// A read (the failed records, one record's detail): sent even when read-only.
    Read(Request),
    Notice(String),
    Edit(Box<Editor>),
    Ask(Confirm),
    /// The rate share the operator asked for, shown until the engine's next snapshot.
    RateShare(f64),
    /// Start the run once the app's checks (open decisions, failing prerequisites) pass.
    StartRun,
    /// Start a sample run of this many conversations, past the same checks.
    StartSample(usize),
    /// Start a delta run (what changed in Intercom since the last completed run), past the
    /// same checks; the session asks about records deleted in Intercom first.
    StartDelta,
    /// Show the mapping behind a failure (`admin:ID`, `field:MODEL:NAME`).
    JumpToMapping(String),
    /// Show another screen.
    Goto(Screen),
}

/// One change for the session.
pub fn change(request: Request) -> Effect {
    Effect::Change(vec![request])
}

/// What the app keeps that every screen may read: the theme, whether the console is read-only,
/// the engine's latest snapshot, the open editor and the log.
pub struct Shared {
    pub theme: Theme,
    pub read_only: bool,
    pub snapshot: Snapshot,
    pub editor: Option<Editor>,
    pub log: LogTail,
}

/// A status cell: the check's symbol and `label`, in its colour.
pub fn status_cell(theme: Theme, status: CheckStatus, label: &str) -> Cell<'static> {
    Cell::from(Span::styled(
        format!("{} {label}", status.symbol()),
        theme.check(status),
    ))
}

/// Which list has the keys on a two-pane screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pane {
    #[default]
    First,
    Second,
}

impl Pane {
    pub fn other(self) -> Pane {
        match self {
            Pane::First => Pane::Second,
            Pane::Second => Pane::First,
        }
    }
}
