//! # odl
//!
//! The laboratory's top crate: the `odl` command line and the benchmark
//! workloads. The engine lives in `odl-tensor` (arrays and kernels) and
//! `odl-autodiff` (differentiable tensors).

pub mod alloc;
pub mod bench;
pub mod train;
