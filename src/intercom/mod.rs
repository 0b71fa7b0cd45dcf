//! Typed client of Intercom's REST API (version 2.16): models and endpoints, on the shared send path.
//!
//! `models` reads records leniently (payloads are messier than the schema); `endpoints` names every
//! route i2k reads; `client` pages through each listing in the style its endpoint uses (search
//! cursors in the body, the companies scroll, page numbers, `has_more` sub-lists, `pages.next` URLs).

pub mod client;
pub mod endpoints;
pub mod lenient;
pub mod models;

pub use client::{IntercomClient, IntercomError, Listing, Page, Pager, Position, ScrollTiming};
pub use endpoints::{Searchable, WholeList};
pub use lenient::Id;
