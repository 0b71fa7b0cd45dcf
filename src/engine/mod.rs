//! The migration engine: plan, phases, runner and control, behind an `EngineHandle`.

pub mod model;
pub mod control;
pub mod meter;
pub mod phases;
