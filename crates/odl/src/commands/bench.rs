//! `odl bench`.

use std::path::PathBuf;

use anyhow::Result;
use odl_bench::BenchOptions;

/// Arguments of `odl bench`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Comma-separated workloads (W1,W2,W2C,W3,W3C,W4,W4P,W5,W6,W7,W8,W9,W10,G1024,G256), `all` or `GEMM`.
    #[arg(long, default_value = "all")]
    workload: String,
    /// Load exact starting values from DIR/<W>.npz written by `scripts/peers.py --dump DIR`.
    #[arg(long, value_name = "DIR")]
    init: Option<PathBuf>,
    /// Timed iterations (default: adaptive, about --target seconds).
    #[arg(long)]
    repeat: Option<usize>,
    /// Seconds of timed iterations when --repeat is not given.
    #[arg(long, default_value_t = 3.0)]
    target: f64,
    /// Compute threads (default: PEERS_THREADS or 2, as the peers).
    #[arg(long)]
    threads: Option<usize>,
    /// Run in this process, without a subprocess per workload.
    #[arg(long, hide = true)]
    inproc: bool,
}

/// `odl bench`.
pub fn run(args: &BenchArgs) -> Result<()> {
    odl_bench::run(&BenchOptions {
        workload: args.workload.clone(),
        init: args.init.clone(),
        repeat: args.repeat,
        target: args.target,
        threads: args.threads,
        inproc: args.inproc,
    })
}
