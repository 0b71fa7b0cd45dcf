//! The migration console (ratatui): screens that read engine snapshots and send commands.
