//! # odl-lab
//!
//! The lab: one experiment per lecture, each stating what a paper claims,
//! measuring it, drawing it, and checking the measurement against the claim.
//! The pipeline, as criterion keeps its own: experiment → typed
//! [`Summary`] on disk → report, so `odl report DIR` (and sweeps) need
//! nothing but the files.
//!
//! * [`experiment`] — what an experiment is ([`Experiment`]), what it may use
//!   ([`Run`]) and hands back ([`Outcome`]), the [`Scale`]s;
//! * [`claim`] — [`Claim`]s built from [`Check`]s, whose prediction text and
//!   verdict come from the same numbers;
//! * [`params`] — typed parameters and `--set` overrides;
//! * [`summary`] — the typed result on disk;
//! * [`runner`] — resolving, running (atomically, panics caught), the whole
//!   lab in parallel; [`report`] — the HTML page;
//! * helpers the experiments share: [`data`] (Fashion-MNIST for every
//!   machine), [`trainer`] (loops on odl-train's one step), [`fit`] (scaling
//!   laws), [`teacher_student`];
//! * [`experiments`] — one file each.
//!
//! A new experiment is one file in `experiments/` and one line in
//! [`experiments::ALL`].

pub mod claim;
pub mod data;
pub mod experiment;
pub mod experiments;
pub mod fit;
pub mod params;
pub mod report;
pub mod runner;
pub mod summary;
pub mod teacher_student;
pub mod trainer;

pub use claim::{g3, Check, Claim};
pub use experiment::{Experiment, Fig, Outcome, Run, Scale};
pub use params::{Param, Params};
pub use runner::{claims_table, find, lab, list, resolve, run_one, LabOptions, LabResult};
pub use summary::{HoldRate, HoldRates, Metric, Summary};
