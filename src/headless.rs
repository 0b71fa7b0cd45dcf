//! The headless front-end: progress lines (or JSON lines) and a final summary.
