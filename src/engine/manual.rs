//! manual.
