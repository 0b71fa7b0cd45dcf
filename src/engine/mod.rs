//! The migration engine: plan, phases, runner and control, behind an `EngineHandle`.

pub mod context;
pub mod control;
pub mod decisions;
pub mod handle;
pub mod load;
pub mod meter;
pub mod model;
pub mod phases;
pub mod plan;
pub mod runner;
pub mod write;
