//! `i2k run`.

use std::process::ExitCode;

use crate::cli::RunArgs;
use crate::commands::Context;

pub async fn run(_ctx: &Context, _args: RunArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`i2k run` is not built yet")
}
