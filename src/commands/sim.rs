//! `i2k sim`.

use std::process::ExitCode;

use crate::cli::SimArgs;
use crate::commands::Context;

pub async fn run(_ctx: &Context, _args: SimArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`i2k sim` is not built yet")
}
