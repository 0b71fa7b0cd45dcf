//! `i2k extract`.

use std::process::ExitCode;

use crate::cli::ExtractArgs;
use crate::commands::Context;

pub async fn run(_ctx: &Context, _args: ExtractArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`i2k extract` is not built yet")
}
