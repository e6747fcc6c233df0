//! # odl-bench
//!
//! `odl bench`: the benchmark workloads W1–W8 (a 1-D chain, MLP steps, HVPs,
//! a PGD attack, a CNN step, a WGAN-GP critic step, a Jacobian spectrum;
//! `docs/workloads.md` defines them) and two GEMM calibrations, one file each
//! in [`workloads`], timed the way the peers' harness times PyTorch and JAX
//! (`scripts/bench-compare.sh`), one JSON line per workload.
//!
//! * [`workloads`] — one file per workload behind the [`workloads::Workload`]
//!   type; [`data`] — their inputs (odl's RNG, or exact values from a dump);
//! * [`alloc`] — the counting allocator the `odl` binary installs (peak heap
//!   of a gradient vs an HVP).

pub mod alloc;
pub mod data;
pub mod workloads;

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use data::Source;
use workloads::Workload;

/// What `odl bench` runs.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// comma-separated workloads (W1,…,W8,W4P,G1024,G256), `all` or `GEMM`
    pub workload: String,
    /// load exact starting values from DIR/<W>.npz written by `scripts/peers.py --dump DIR`
    pub init: Option<PathBuf>,
    /// timed iterations (default: adaptive, about `target` seconds)
    pub repeat: Option<usize>,
    /// seconds of timed iterations when `repeat` is not given
    pub target: f64,
    /// compute threads (default: PEERS_THREADS or 2, as the peers)
    pub threads: Option<usize>,
    /// run in this process, without a subprocess per workload
    pub inproc: bool,
}

fn expand(list: &str) -> Result<Vec<&'static Workload>> {
    let mut out = Vec::new();
    for w in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match w.to_ascii_uppercase().as_str() {
            "ALL" => out.extend(workloads::ALL.iter().copied()),
            "GEMM" => out.extend(workloads::GEMM.iter().copied()),
            _ => out.push(workloads::find(w).map_err(|e| anyhow::anyhow!("{e}, all, GEMM"))?),
        }
    }
    if out.is_empty() {
        bail!("--workload is empty");
    }
    Ok(out)
}

/// Entry point of `odl bench`. Several workloads run one subprocess each
/// (`<this binary> bench --inproc --workload W …`: separate allocator state
/// and peak RSS), so the calling binary must accept those arguments.
pub fn run(args: &BenchOptions) -> Result<()> {
    let threads = args
        .threads
        .or_else(|| std::env::var("PEERS_THREADS").ok().and_then(|s| s.parse().ok()))
        .unwrap_or(2);
    if threads == 0 {
        bail!("--threads must be at least 1");
    }
    if args.target <= 0.0 || args.target.is_nan() {
        bail!("--target must be a positive number of seconds, got {}", args.target);
    }
    if args.repeat == Some(0) {
        bail!("--repeat must be at least 1");
    }
    if let Some(dir) = &args.init {
        if !dir.is_dir() {
            bail!("--init {}: not a directory (make it with: python scripts/peers.py --workload all --dump DIR)", dir.display());
        }
    }
    let wls = expand(&args.workload)?;
    if wls.len() > 1 && !args.inproc {
        // a fresh process per workload: isolates allocator state and peak RSS
        let exe = std::env::current_exe().context("locating the odl binary")?;
        for wl in &wls {
            let mut cmd = Command::new(&exe);
            cmd.args([
                "bench",
                "--inproc",
                "--workload",
                wl.id,
                "--threads",
                &threads.to_string(),
                "--target",
                &args.target.to_string(),
            ]);
            if let Some(r) = args.repeat {
                cmd.args(["--repeat", &r.to_string()]);
            }
            if let Some(d) = &args.init {
                cmd.arg("--init").arg(d);
            }
            let status = cmd.status().with_context(|| format!("running {}", wl.id))?;
            if !status.success() {
                println!(
                    "{}",
                    json!({"framework": "odl", "workload": wl.id, "device": "cpu", "error": format!("exit {status}")})
                );
            }
        }
        return Ok(());
    }
    odl_tensor::set_num_threads(threads);
    let pool =
        rayon::ThreadPoolBuilder::new().num_threads(threads).build().context("starting the thread pool")?;
    faer::set_global_parallelism(if threads > 1 { faer::Par::rayon(threads) } else { faer::Par::Seq });
    let src = match &args.init {
        Some(d) => Source::Dump(d),
        None => Source::Random,
    };
    for wl in &wls {
        // run on a pool thread, so that the caller is one of the GEMM workers
        // instead of a third thread waiting for two
        let rec = pool.install(|| measure(wl, &src, args, threads))?;
        emit(&rec)?;
    }
    Ok(())
}

/// Prints one JSON line; a closed pipe (`odl bench | head -1`) ends quietly.
fn emit(rec: &Value) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{rec}").and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => Err(e).context("writing to stdout"),
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// Times one workload with the peers' procedure: one first call, warm-up of at
/// least 3 iterations and 0.5 s, then `iters` timed iterations.
fn measure(wl: &Workload, src: &Source, args: &BenchOptions, threads: usize) -> Result<Value> {
    let mut p = (wl.prepare)(src)?;
    let t0 = Instant::now();
    let check = (p.step)(true);
    let first = t0.elapsed().as_secs_f64();
    let mut warm = Vec::new();
    let tw = Instant::now();
    while warm.len() < 3 || tw.elapsed().as_secs_f64() < 0.5 {
        let t = Instant::now();
        std::hint::black_box((p.step)(false));
        warm.push(t.elapsed().as_secs_f64());
    }
    let iters = match args.repeat {
        Some(r) => r,
        None => {
            let tail = warm.len().saturating_sub(20);
            let est = median(&mut warm[tail..].to_vec()).max(1e-9);
            ((args.target / est).ceil() as usize).clamp(10, 200_000)
        }
    };
    let mut ts = Vec::with_capacity(iters);
    for _ in 0..iters {
        let t = Instant::now();
        std::hint::black_box((p.step)(false));
        ts.push(t.elapsed().as_secs_f64());
    }
    // one more step, counting the work of its matrix products
    let (_, flops) = odl_tensor::cpu::matmul::count_flops(|| (p.step)(false));
    let min = ts.iter().cloned().fold(f64::INFINITY, f64::min);
    let max = ts.iter().cloned().fold(0.0, f64::max);
    let med = median(&mut ts);
    let mut rec = json!({
        "framework": "odl",
        "workload": wl.id,
        "device": "cpu",
        "median_s": med,
        "min_s": min,
        "max_s": max,
        "iters": iters,
        "threads": threads,
        "name": wl.name,
        "warmup_iters": warm.len() + 1,
        "first_call_s": first,
        "check": check,
        "version": env!("CARGO_PKG_VERSION"),
        "init": if args.init.is_some() { "dump" } else { "odl-rng" },
    });
    let obj = rec.as_object_mut().expect("object");
    if let Some(rss) = crate::alloc::peak_rss() {
        obj.insert("peak_rss_bytes".into(), json!(rss));
    }
    // matrix-product work per step and the rate it was done at (for the
    // G* workloads, the GEMM rate itself)
    if flops > 0 {
        obj.insert("gemm_flops".into(), json!(flops));
        obj.insert("gflops_median".into(), json!(flops as f64 / med / 1e9));
        obj.insert("gflops_best".into(), json!(flops as f64 / min / 1e9));
    }
    for (k, v) in p.extra.drain(..) {
        obj.insert(k, v);
    }
    Ok(rec)
}
