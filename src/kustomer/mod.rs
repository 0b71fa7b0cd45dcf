//! Typed client of Kustomer's REST API: models and endpoints, on the shared send path.

pub mod assumptions;
