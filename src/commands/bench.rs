//! `i2k bench`.

use std::process::ExitCode;

use crate::cli::BenchArgs;
use crate::commands::Context;

pub async fn run(_ctx: &Context, _args: BenchArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`i2k bench` is not built yet")
}
