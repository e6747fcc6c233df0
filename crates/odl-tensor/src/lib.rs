//! # odl-tensor
//!
//! The bottom layer of odl: immutable, contiguous, row-major n-dimensional
//! arrays of `f32` or `f64` ([`Array`]), the CPU kernels that compute on them
//! ([`cpu`]) behind a backend seam ([`Storage`]), seeded random numbers
//! ([`Rng`]) and `.npy`/`.npz` I/O ([`npy`]).
//!
//! Arrays know nothing about gradients; `odl-autodiff` builds its
//! differentiable `Tensor` on top of them.
//!
//! ```
//! use odl_tensor::{Array, BinaryOp, DType, ReduceOp};
//! let a = Array::from_vec(vec![1.0f64, 2.0, 3.0, 4.0], &[2, 2]);
//! let b = Array::from_vec(vec![10.0f64, 20.0], &[2]); // broadcast over rows
//! let c = a.binary(BinaryOp::Add, &b);
//! assert_eq!(c.to_vec_f64(), vec![11.0, 22.0, 13.0, 24.0]);
//! assert_eq!(c.reduce(ReduceOp::Sum, &[0], false).to_vec_f64(), vec![24.0, 46.0]);
//! assert_eq!(c.dtype(), DType::F64);
//! ```

pub mod array;
pub mod cpu;
pub mod dtype;
pub mod npy;
pub mod ops;
pub mod rng;
pub mod shape;
pub mod storage;

pub use array::Array;
pub use cpu::{join, num_threads, set_num_threads};
pub use dtype::{DType, Element};
pub use ops::{BinaryOp, CmpOp, Conv2dGeom, ReduceOp, UnaryOp};
pub use rng::Rng;
pub use shape::{broadcast_shapes, numel, Shape};
pub use storage::{CpuStorage, Storage};
