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
pub mod glue;
pub mod keymap;
pub mod list;
pub mod overlay;
pub mod protocol;
pub mod screens;
pub mod terminal;
pub mod theme;
pub mod view;

pub use app::{App, AppOptions, Screen};
pub use keymap::{Action, Keymap, KeymapError};
pub use protocol::{FailureFilter, Request, Update};
pub use terminal::{FRAME_INTERVAL, Input, event_loop, run_terminal};
