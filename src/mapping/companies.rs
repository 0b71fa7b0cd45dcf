//! Pure Intercom → Kustomer mapping: companies.
