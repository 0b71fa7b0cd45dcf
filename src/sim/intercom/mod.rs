//! Simulator of Intercom's REST API 2.16.
