//! The console's link to the engine: the session ([`crate::engine::session`]) served over the
//! console's channels. The console sends [`Request`](crate::tui::Request)s (the session's
//! commands) and folds in [`Update`](crate::tui::Update)s; everything stateful is the session's.

pub use crate::engine::session::serve;
