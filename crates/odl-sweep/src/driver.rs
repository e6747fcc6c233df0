//! Running a sweep: open its folder, choose the points without a result (and
//! with `--retry-failed` those that failed), run them on a backend, write the
//! report.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::file::SlurmOptions;
use crate::local::{self, Counts};
use crate::plan::{Plan, Point};
use crate::store::{Status, Store};
use crate::{report, slurm, Backend};

/// How to run a sweep.
#[derive(Clone, Debug)]
pub struct Options {
    /// the sweep folder
    pub out: PathBuf,
    /// points at once (local backend)
    pub jobs: usize,
    /// where points run
    pub backend: Backend,
    /// continue the sweep in `out`
    pub resume: bool,
    /// run failed points again
    pub retry_failed: bool,
    /// print what would run (the sbatch script), run nothing
    pub dry_run: bool,
    /// sbatch options from the command line (over the sweep file's)
    pub slurm: SlurmOptions,
    /// the odl binary workers run
    pub exe: PathBuf,
    /// how often Slurm is asked about its tasks
    pub poll: Duration,
}

/// What a sweep did.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// points in the plan
    pub planned: usize,
    /// finished before this run (kept)
    pub kept: usize,
    /// run now
    pub ran: Counts,
    /// failed points in the plan after this run
    pub failed: usize,
    /// the report page (none for a dry run)
    pub page: Option<PathBuf>,
    /// seconds
    pub wall_s: f64,
}

/// Runs `plan` as `o` says.
pub fn run(plan: &Plan, o: &Options) -> Result<Outcome> {
    let t0 = Instant::now();
    if o.jobs == 0 {
        bail!("--jobs 0: give at least 1 (points run at once)");
    }
    if plan.points.is_empty() {
        bail!("the sweep has no points");
    }
    let opts = plan.slurm.merged(&o.slurm);
    if o.dry_run {
        let store = Store::at(&o.out);
        let todo: Vec<Point> = plan
            .points
            .iter()
            .filter(|p| match store.status(&p.id) {
                Status::Pending => true,
                Status::Failed(_) => o.retry_failed,
                Status::Done => false,
            })
            .cloned()
            .collect();
        println!("# {}: {} of {} points would run", plan.name, todo.len(), plan.points.len());
        match o.backend {
            Backend::Slurm => print!("{}", slurm::dry_run(&store, &todo, &opts, &o.exe)),
            Backend::Local => {
                for p in &todo {
                    println!("{} {} seed={}", p.id, p.group(), p.seed);
                }
            }
        }
        return Ok(Outcome {
            planned: plan.points.len(),
            kept: 0,
            ran: Counts::default(),
            failed: 0,
            page: None,
            wall_s: 0.0,
        });
    }
    let store = Store::open(&o.out, plan, o.resume)?;
    let mut todo: Vec<Point> = Vec::new();
    let mut kept = 0;
    for p in &plan.points {
        match store.status(&p.id) {
            Status::Pending => todo.push(p.clone()),
            Status::Failed(_) if o.retry_failed => {
                store.forget(&p.id)?;
                todo.push(p.clone());
            }
            _ => kept += 1,
        }
    }
    if kept > 0 {
        eprintln!("odl sweep: keeping {kept} finished point(s) from earlier runs");
    }
    eprintln!(
        "odl sweep: {} — {} point(s) to run{} → {}",
        plan.name,
        todo.len(),
        match o.backend {
            Backend::Local => format!(", {} at a time", o.jobs),
            Backend::Slurm => " as a Slurm job array".into(),
        },
        o.out.display()
    );
    let ran = match o.backend {
        Backend::Local => local::run(&store, &todo, o.jobs, &o.exe)?,
        Backend::Slurm => {
            // tasks of earlier arrays still queued or running are tracked, not submitted again
            let active = slurm::active(&store);
            let fresh: Vec<Point> =
                todo.iter().filter(|p| !active.iter().any(|a| a.2 == p.id)).cloned().collect();
            let mut tasks: Vec<(String, usize, &Point)> = Vec::new();
            for (job, t, id) in &active {
                if let Some(p) = todo.iter().find(|p| &p.id == id) {
                    tasks.push((job.clone(), *t, p));
                }
            }
            if !active.is_empty() {
                eprintln!(
                    "odl sweep: {} point(s) still queued or running in Slurm from an earlier run",
                    tasks.len()
                );
            }
            if !fresh.is_empty() {
                let job = slurm::submit(&store, &fresh, &opts, &o.exe)?;
                eprintln!("odl sweep: submitted job array {} ({} tasks)", job.job, fresh.len());
                for (t, id) in job.points.iter().enumerate() {
                    let p = fresh.iter().find(|p| &p.id == id).expect("submitted from fresh");
                    tasks.push((job.job.clone(), t, p));
                }
            }
            slurm::track(&store, &tasks, o.poll)?
        }
    };
    let page = report::write(&o.out)?;
    let failed = plan.points.iter().filter(|p| matches!(store.status(&p.id), Status::Failed(_))).count();
    Ok(Outcome {
        planned: plan.points.len(),
        kept,
        ran,
        failed,
        page: Some(page),
        wall_s: t0.elapsed().as_secs_f64(),
    })
}
