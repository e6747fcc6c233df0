//! The workloads of `docs/workloads.md` (W1–W10) and two GEMM calibrations, one
//! file each. A workload is a [`Workload`]: its id, the peers' short name,
//! and how to build its timed step from a [`Source`] of inputs.

mod gemm;
mod mlp;
mod w10_consensus;
mod w1_chain;
mod w2_mlp;
mod w2c_mlp_compiled;
mod w3_deep_narrow;
mod w4_hvp;
mod w5_pgd;
mod w6_cnn;
mod w7_wgangp;
mod w8_jacobian;
mod w9_unrolled;

use anyhow::{bail, Result};

use crate::data::Source;

pub use mlp::{forward, MlpProblem, MlpSpec};

/// One prepared workload: `step(want_check)` runs one timed iteration and,
/// when asked, returns the workload's `check` value for that iteration.
pub struct Prepared {
    /// the timed step
    pub step: Box<dyn FnMut(bool) -> Option<f64>>,
    /// extra fields for the JSON record
    pub extra: Vec<(String, serde_json::Value)>,
}

impl Prepared {
    /// A step with no extra fields.
    pub fn step(step: impl FnMut(bool) -> Option<f64> + 'static) -> Prepared {
        Prepared { step: Box::new(step), extra: Vec::new() }
    }
}

/// A benchmark workload.
pub struct Workload {
    /// its id (`W2`)
    pub id: &'static str,
    /// the peers' short name (`mlp`)
    pub name: &'static str,
    /// builds the timed step; everything outside the timer happens here
    pub prepare: fn(&Source) -> Result<Prepared>,
}

/// The workloads of docs/workloads.md, in order.
pub static ALL: &[&Workload] = &[
    &w1_chain::WORKLOAD,
    &w2_mlp::WORKLOAD,
    &w2c_mlp_compiled::WORKLOAD,
    &w3_deep_narrow::WORKLOAD,
    &w2c_mlp_compiled::W3C,
    &w4_hvp::W4,
    &w4_hvp::W4P,
    &w5_pgd::WORKLOAD,
    &w6_cnn::WORKLOAD,
    &w7_wgangp::WORKLOAD,
    &w8_jacobian::WORKLOAD,
    &w9_unrolled::WORKLOAD,
    &w10_consensus::WORKLOAD,
];

/// The GEMM calibrations (odl's own peak rate).
pub static GEMM: &[&Workload] = &[&gemm::G1024, &gemm::G256];

/// The workload called `id` (any case).
pub fn find(id: &str) -> Result<&'static Workload> {
    match ALL.iter().chain(GEMM).find(|w| w.id.eq_ignore_ascii_case(id)) {
        Some(w) => Ok(w),
        None => bail!(
            "unknown workload '{id}' (odl runs: {})",
            ALL.iter().chain(GEMM).map(|w| w.id).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Builds the step of the workload called `id`.
pub fn prepare(id: &str, src: &Source) -> Result<Prepared> {
    (find(id)?.prepare)(src)
}
