//! Simulator of Kustomer's REST API.
