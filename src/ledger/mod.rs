//! The SQLite ledger: extracted source records, the id map, failures, decisions, runs.
