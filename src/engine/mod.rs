//! The migration engine: plan, phases, runner and control, behind an `EngineHandle`.

pub mod archive;
pub mod backups;
pub mod connect;
pub mod context;
pub mod control;
pub mod decisions;
pub mod disk;
pub mod extract;
pub mod found;
pub mod handle;
pub mod interrupt;
pub mod kinds;
pub mod load;
pub mod manual;
pub mod meter;
pub mod model;
pub mod phases;
pub mod plan;
pub mod probe;
pub mod report;
pub mod rollback;
pub mod runner;
pub mod sample;
pub mod session;
pub mod verify;
pub mod write;
