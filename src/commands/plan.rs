//! `i2k plan`.

use std::process::ExitCode;

use crate::cli::PlanArgs;
use crate::commands::Context;

pub async fn run(_ctx: &Context, _args: PlanArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`i2k plan` is not built yet")
}
