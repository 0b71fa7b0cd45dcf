//! Pure Intercom → Kustomer mapping: extras.
