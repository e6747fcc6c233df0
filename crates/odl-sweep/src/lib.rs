//! # odl-sweep
//!
//! A claim checked on one seed is an anecdote. A sweep runs one thing — a
//! lab experiment at a scale, or a training spec — over a grid of `--set`
//! values × seeds, each point in its own folder, and aggregates the
//! results over seeds (mean, standard deviation, 95 % confidence interval,
//! each claim's hold rate).
//!
//! * [`driver`] — running a sweep: which points, which backend, the report;
//! * [`file`] — the sweep file (TOML), validated;
//! * [`plan`] — the points it names, each with a stable id (a hash of its
//!   resolved parameters), every point checked before anything runs;
//! * [`store`] — the sweep folder: which points are done, failed or left;
//!   results written atomically, so a sweep killed at any moment resumes;
//! * [`point`] — running one point (what a worker process does);
//! * [`local`] — the local backend: worker processes, `--jobs` at a time;
//! * [`slurm`] — the Slurm backend: one job array, tracked to the end;
//! * [`stats`] — means and t-based confidence intervals;
//! * [`report`] — `results.csv`, `aggregate.csv` and the HTML page;
//! * [`seeds`] — the lab over several seeds (`odl lab --seeds`): each claim's
//!   hold rate.
//!
//! The folder of a sweep:
//! ```text
//! DIR/sweep.json          what the sweep is and every point it has planned
//! DIR/points/<id>/        one finished point: params.json, result.json, its files
//! DIR/logs/<id>.log       a point's output (Slurm: slurm-<job>_<task>.out)
//! DIR/slurm/              job-array scripts, their point lists, submitted jobs
//! DIR/index.html, results.csv, aggregate.csv    the report
//! ```

pub mod driver;
pub mod file;
pub mod local;
pub mod plan;
pub mod point;
pub mod report;
pub mod seeds;
pub mod slurm;
pub mod stats;
pub mod store;

pub use file::SweepFile;
pub use plan::{Plan, Point, Target};
pub use store::{Status, Store};

/// Where a sweep's points run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// worker processes on this machine
    Local,
    /// a Slurm job array
    Slurm,
}

impl std::str::FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Backend, String> {
        match s {
            "local" => Ok(Backend::Local),
            "slurm" => Ok(Backend::Slurm),
            _ => Err(format!("unknown backend '{s}' (local or slurm)")),
        }
    }
}
