//! Pure Intercom → Kustomer transforms (no I/O, no async).

pub mod attributes;
pub mod names;
pub mod people;
