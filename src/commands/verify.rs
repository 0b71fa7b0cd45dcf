//! `i2k verify`.

use std::process::ExitCode;

use crate::cli::VerifyArgs;
use crate::commands::Context;

pub async fn run(_ctx: &Context, _args: VerifyArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`i2k verify` is not built yet")
}
