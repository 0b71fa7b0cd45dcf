//! `i2k demo`.

use std::process::ExitCode;

use crate::cli::DemoArgs;
use crate::commands::Context;

pub async fn run(_ctx: &Context, _args: DemoArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`i2k demo` is not built yet")
}
