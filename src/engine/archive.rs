//! archive.
