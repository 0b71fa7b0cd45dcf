//! The migration console (ratatui): seven screens in wizard order — Connect, Scope,
//! Prerequisites, Mapping, Run, Errors, Summary — over a pure state machine.
//!
//! Shape: each screen is a module of `screens/` holding its own state behind one small trait
//! ([`screens::Component`]); [`App`] routes to them and keeps the overlays, the snapshot and the
//! log. `App::apply(Update)` folds in data, `App::handle_key` turns a key into [`Request`]s,
//! `App::draw` renders a frame. [`run_terminal`] is the only part that touches a terminal: it
//! owns raw mode and the alternate screen, and shuttles `Update`s in and `Request`s out over
//! channels to the engine's session (`glue`), whose protocol is the console's only link to it.

pub mod app;
pub mod command;
pub mod glue;
pub mod keymap;
pub mod list;
pub mod overlay;
pub mod protocol;
pub mod screens;
pub mod terminal;
pub mod theme;
pub mod view;

pub use app::{App, Screen};
pub use keymap::{Action, Keymap, KeymapError};
pub use protocol::{FailureFilter, Request, Update};
pub use terminal::{FRAME_INTERVAL, Input, event_loop, run_terminal};

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
