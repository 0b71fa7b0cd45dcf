//! i2k moves a whole Intercom workspace into Kustomer: extraction into a local ledger, an idempotent
//! load through Kustomer's API, verification and a report, driven from a terminal console or headless.
//!
//! Layers (dependencies point down only): `cli`/`commands` → `tui`/`headless` → `engine` →
//! `ledger`, `mapping` → `intercom`, `kustomer` → `http`, all on the ground floor (`vocab`, the
//! shared vocabulary; `rng`; `timefmt`), which names nothing above it. `sim` holds simulators of
//! both APIs, shares no types with the clients and names only itself and the ground floor.
//! `tests/layers.rs` enforces these rules.

pub mod bench;
pub mod cli;
pub mod commands;
pub mod config;
pub mod engine;
pub mod error_text;
pub mod headless;
pub mod http;
pub mod intercom;
pub mod kustomer;
pub mod ledger;
pub mod logging;
pub mod mapping;
pub mod rng;
pub mod sim;
pub mod timefmt;
pub mod tui;
pub mod vocab;
