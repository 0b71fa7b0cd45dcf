//! Phase Metadata.

use std::sync::Arc;

use crate::engine::context::Ctx;

pub async fn run(ctx: &Arc<Ctx>) -> anyhow::Result<()> {
    let _ = ctx;
    anyhow::bail!("this phase is not built yet")
}
