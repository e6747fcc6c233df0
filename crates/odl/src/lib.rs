//! # odl
//!
//! The laboratory's top crate: the `odl` command line — training from spec
//! files, probes on trained runs, the benchmark workloads. The engine lives
//! in `odl-tensor` (arrays and kernels) and `odl-autodiff` (differentiable
//! tensors); networks in `odl-nn`, optimizers in `odl-optim`, data in
//! `odl-data`, instruments in `odl-probe`, figures in `odl-plot`.

pub mod alloc;
pub mod bench;
pub mod lab;
pub mod output;
pub mod probe;
pub mod shards;
pub mod train;
