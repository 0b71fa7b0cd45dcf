//! Pure Intercom → Kustomer mapping: people.
