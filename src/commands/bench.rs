//! `i2k bench`: runs the speed and budget benchmarks against simulators and prints one line per
//! figure with its target (see `bench`; `medium` and `large` in `bench::scale`).

use std::process::ExitCode;

use crate::cli::BenchArgs;
use crate::commands::Context;
use crate::sim::SizePreset;

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
    let lines = match args.size {
        SizePreset::Tiny | SizePreset::Small => in_process(&args, &work_dir).await?,
        SizePreset::Medium | SizePreset::Large => {
            use crate::bench::scale;
            println!(
                "i2k bench: a {} workspace (seed {SEED}), simulators in a child process; {}state in {}",
                args.size,
                if args.extraction_only {
                    format!(
                        "extraction only, Intercom {} per 10 s; ",
                        scale::INTERCOM_BUDGET_PER_WINDOW
                    )
                } else {
                    format!(
                        "Intercom {} per 10 s, Kustomer {} per minute × {:.2}, latency {} ms, then both unlimited; ",
                        scale::INTERCOM_BUDGET_PER_WINDOW,
                        scale::KUSTOMER_BUDGET_PER_MIN,
                        scale::RATE_SHARE,
                        args.latency_ms
                    )
                },
                work_dir.display()
            );
            let options = scale::ScaleOptions {
                size: args.size,
                seed: SEED,
                work_dir: work_dir.clone(),
                latency_ms: args.latency_ms,
                extraction_only: args.extraction_only,
                budget_run: args.budget_run,
            };
            // Each run's figures are printed as soon as it ends (a `large` run takes hours).
            scale::run_scale(&options, &mut |line| println!("{line}")).await?;
            Vec::new()
        }
    };
    for line in lines {
        println!("{line}");
    }
    // Only the temporary directory is ours to remove; a --state directory keeps its bench runs.
    if ctx.state.is_none() {
        let _ = std::fs::remove_dir_all(&work_dir);
    }
    Ok(ExitCode::SUCCESS)
}

/// `tiny` and `small`: every figure against simulators in this process.
async fn in_process(args: &BenchArgs, work_dir: &std::path::Path) -> anyhow::Result<Vec<String>> {
    use crate::bench;
    println!(
        "i2k bench: a {} workspace (seed {SEED}), simulators in-process; Intercom {} per 10 s, Kustomer {} per minute × {:.2}; state in {}",
        args.size,
        bench::INTERCOM_RATE,
        bench::kustomer_rate_for(args.size),
        bench::RATE_SHARE,
        work_dir.display()
    );
    if args.extraction_only {
        let figures = bench::bench_extraction(
            args.size,
            SEED,
            bench::INTERCOM_RATE,
            &work_dir.join("extraction"),
        )
        .await?;
        return Ok(figures.lines());
    }
    Ok(bench::run_all(args.size, SEED, work_dir).await?.lines())
}
