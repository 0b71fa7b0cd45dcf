//! `i2k bench`: runs the speed and budget benchmarks against in-process simulators and prints one
//! line per figure with its target (see `engine::bench`).

use std::process::ExitCode;

use crate::cli::BenchArgs;
use crate::commands::Context;

/// The seed of the benchmarked workspace (the simulators' default).
const SEED: u64 = 42;

pub async fn run(ctx: &Context, args: BenchArgs) -> anyhow::Result<ExitCode> {
    // Each bench starts fresh simulators, so its state must start fresh too.
    let work_dir = match &ctx.state {
        Some(dir) => dir.join(format!(
            "bench-{}-{}",
            args.size,
            crate::timefmt::now_unix()
        )),
        None => std::env::temp_dir().join(format!(
            "i2k-bench-{}-{}-{}",
            args.size,
            std::process::id(),
            crate::timefmt::now_unix()
        )),
    };
    println!(
        "i2k bench: a {} workspace (seed {SEED}), simulators in-process; Intercom {} per 10 s, Kustomer {} per minute × {:.2}; state in {}",
        args.size,
        crate::engine::bench::INTERCOM_RATE,
        crate::engine::bench::kustomer_rate_for(args.size),
        crate::engine::bench::RATE_SHARE,
        work_dir.display()
    );
    let report = crate::engine::bench::run_all(args.size, SEED, &work_dir).await?;
    for line in report.lines() {
        println!("{line}");
    }
    // Only the temporary directory is ours to remove; a --state directory keeps its bench runs.
    if ctx.state.is_none() {
        let _ = std::fs::remove_dir_all(&work_dir);
    }
    Ok(ExitCode::SUCCESS)
}
