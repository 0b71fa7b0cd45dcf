//! Typed client of Kustomer's REST API: models and endpoints, on the shared send path.
//!
//! - `endpoints`: every route, named once; `assumptions`: every UNCONFIRMED shape, named once.
//! - `models`: lenient views of the JSON:API envelopes; `bulk`: bulk jobs and their results.
//! - `client`: `KustomerClient`, one method per route the phases use; `delete`: the published
//!   delete routes a rollback uses.
//! - `roles`: the roles the API key needs, per feature, and what is lost without each.

pub mod assumptions;
pub mod bulk;
pub mod client;
pub mod delete;
pub mod endpoints;
pub mod models;
pub mod roles;
pub mod suffix;

pub use bulk::{BulkItemResult, BulkJob, BulkOutcome, BulkResource, PollPolicy};
pub use client::{KustomerClient, KustomerError};
