//! The migration engine: plan, phases, runner and control, behind an `EngineHandle`.

pub mod control;
pub mod extract;
pub mod handle;
pub mod meter;
pub mod model;
pub mod phases;
pub mod plan;
