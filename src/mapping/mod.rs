//! Pure Intercom → Kustomer transforms (no I/O, no async).
