//! Pure Intercom → Kustomer mapping: kb.
