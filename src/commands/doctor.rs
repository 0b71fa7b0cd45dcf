//! `i2k doctor`.

use std::process::ExitCode;

use crate::cli::DoctorArgs;
use crate::commands::Context;

pub async fn run(_ctx: &Context, _args: DoctorArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`i2k doctor` is not built yet")
}
