//! The operator's decisions: admins → users, fields → custom attributes, segments in use, buckets.
//! Proposals are computed from the extracted workspace and the Kustomer org, persisted in the
//! ledger, exported to and imported from `mapping.toml`.

use std::sync::Arc;

use crate::engine::context::Ctx;

/// Computes proposals and returns what still needs the operator (one line each).
pub async fn prepare(ctx: &Arc<Ctx>) -> anyhow::Result<Vec<String>> {
    let _ = ctx;
    anyhow::bail!("decisions are not built yet")
}

/// Takes the stated default for every unresolved decision, recording each in the summary.
pub async fn apply_defaults(ctx: &Arc<Ctx>) -> anyhow::Result<()> {
    let _ = ctx;
    anyhow::bail!("decisions are not built yet")
}
