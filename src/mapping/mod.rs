//! Pure Intercom → Kustomer transforms (no I/O, no async): request bodies from Intercom records
//! plus the operator's decisions. Table-driven unit tests cover every object and data type.

pub mod activity_logs;
pub mod attributes;
pub mod clean;
pub mod companies;
pub mod conversations;
pub mod customers;
pub mod extras;
pub mod kb;
pub mod names;
pub mod people;
pub mod raw;
