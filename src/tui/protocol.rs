//! The console's only link to the world: the session's protocol, under the console's names.
//! [`Request`]s go to the session, [`Update`]s come back. Plain data, so the console is a pure
//! state machine that tests drive without a terminal or an engine.

pub use crate::engine::session::{
    FailureFilter, SessionCommand as Request, SessionUpdate as Update,
};
