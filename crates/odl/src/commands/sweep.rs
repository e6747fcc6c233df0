//! `odl sweep SWEEP.toml`, `odl sweep report DIR`, and the worker command
//! `odl sweep point DIR ID` that both backends run.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use odl_sweep::file::SlurmOptions;
use odl_sweep::{Backend, Plan, Status, SweepFile};

fn parse_backend(s: &str) -> Result<Backend, String> {
    s.parse()
}

/// Arguments of `odl sweep`.
#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SweepArgs {
    #[command(subcommand)]
    cmd: Option<SweepCmd>,
    /// the sweep file (see sweeps/ for examples)
    #[arg(required = true)]
    file: Option<PathBuf>,
    /// the sweep folder (default runs/sweep-<file name>)
    #[arg(long)]
    out: Option<PathBuf>,
    /// points run at once by the local backend (default: the number of cores)
    #[arg(long)]
    jobs: Option<usize>,
    /// where points run: local (worker processes) or slurm (a job array)
    #[arg(long, default_value = "local", value_parser = parse_backend)]
    backend: Backend,
    /// continue the sweep in --out: run only points without a result (new points of an edited file too)
    #[arg(long)]
    resume: bool,
    /// run the points that failed again (with --resume)
    #[arg(long)]
    retry_failed: bool,
    /// print the points that would run (with --backend slurm: the sbatch script) and stop
    #[arg(long)]
    dry_run: bool,
    /// Slurm: --time of each task (e.g. 00:20:00)
    #[arg(long)]
    time: Option<String>,
    /// Slurm: --cpus-per-task
    #[arg(long)]
    cpus_per_task: Option<u32>,
    /// Slurm: --mem of each task (e.g. 4G)
    #[arg(long)]
    mem: Option<String>,
    /// Slurm: --partition
    #[arg(long)]
    partition: Option<String>,
    /// Slurm: at most this many tasks at once (--array=0-N%K)
    #[arg(long)]
    throttle: Option<usize>,
    /// Slurm: another sbatch flag, as written (repeatable), e.g. --sbatch=--qos=low
    #[arg(long = "sbatch", value_name = "FLAG", allow_hyphen_values = true)]
    sbatch: Vec<String>,
}

#[derive(clap::Subcommand, Debug)]
enum SweepCmd {
    /// Rebuild a sweep's report (DIR/index.html, results.csv, aggregate.csv) from its points on disk.
    Report {
        /// the sweep folder
        dir: PathBuf,
        /// also check every figure against its data; exit 1 on a problem
        #[arg(long)]
        check_figures: bool,
    },
    /// Run one point of a sweep (what the backends' workers run).
    #[command(hide = true)]
    Point {
        /// the sweep folder
        dir: PathBuf,
        /// the point's id
        id: String,
    },
}

/// `odl sweep …`: returns the exit code (0 all points fine, 1 some failed).
pub fn run(args: &SweepArgs) -> Result<u8> {
    match &args.cmd {
        Some(SweepCmd::Report { dir, check_figures }) => {
            let page = odl_sweep::report::write(dir)?;
            println!("{}", page.display());
            if *check_figures {
                let (n, problems) = odl_sweep::report::check_figures(dir)?;
                for (f, p) in &problems {
                    println!("✗ {f}: {p}");
                }
                println!("{n} figures checked, {} problem(s)", problems.len());
                return Ok(if problems.is_empty() { 0 } else { 1 });
            }
            Ok(0)
        }
        Some(SweepCmd::Point { dir, id }) => match odl_sweep::point::run(dir, id)? {
            Status::Done => Ok(0),
            Status::Failed(why) => {
                eprintln!("odl sweep point {id}: failed: {why}");
                Ok(1)
            }
            Status::Pending => Ok(2),
        },
        None => sweep(args),
    }
}

fn sweep(args: &SweepArgs) -> Result<u8> {
    let file = args.file.as_ref().context("give a sweep file")?;
    let f = SweepFile::load(file)?;
    let base = file.parent().map(PathBuf::from).unwrap_or_default();
    let plan = Plan::from_file(&f, &base).with_context(|| format!("{}", file.display()))?;
    let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "sweep".into());
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("runs").join(format!("sweep-{stem}")));
    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let o = odl_sweep::driver::Options {
        out,
        jobs,
        backend: args.backend,
        resume: args.resume,
        retry_failed: args.retry_failed,
        dry_run: args.dry_run,
        slurm: SlurmOptions {
            time: args.time.clone(),
            cpus_per_task: args.cpus_per_task,
            mem: args.mem.clone(),
            partition: args.partition.clone(),
            throttle: args.throttle,
            extra: args.sbatch.clone(),
        },
        exe: std::env::current_exe().context("finding the odl binary for the workers")?,
        poll: Duration::from_millis(
            std::env::var("ODL_SLURM_POLL_MS").ok().and_then(|s| s.parse().ok()).unwrap_or(1000),
        ),
    };
    let r = odl_sweep::driver::run(&plan, &o)?;
    let Some(page) = r.page else { return Ok(0) };
    println!(
        "{} points: {} kept, {} run now ({} done, {} failed); {} failed in all; {:.0} s. Report: {}",
        r.planned,
        r.kept,
        r.ran.done + r.ran.failed,
        r.ran.done,
        r.ran.failed,
        r.failed,
        r.wall_s,
        page.display()
    );
    Ok(if r.failed > 0 { 1 } else { 0 })
}
