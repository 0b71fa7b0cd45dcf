//! Pure Intercom → Kustomer mapping: conversations.
