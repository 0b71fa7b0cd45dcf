//! Typed client of Intercom's REST API (version 2.16): models and endpoints, on the shared send path.
