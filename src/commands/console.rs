//! `i2k` with no command: the migration console on the configured migration.

use std::process::ExitCode;

use crate::commands::Context;

pub async fn run(_ctx: &Context) -> anyhow::Result<ExitCode> {
    anyhow::bail!("the console is not built yet: try `i2k demo --headless` or `i2k sim`")
}
