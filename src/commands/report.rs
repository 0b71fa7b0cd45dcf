//! `i2k report`.

use std::process::ExitCode;

use crate::cli::ReportArgs;
use crate::commands::Context;

pub async fn run(_ctx: &Context, _args: ReportArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`i2k report` is not built yet")
}
