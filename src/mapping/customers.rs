//! Pure Intercom → Kustomer mapping: customers.
