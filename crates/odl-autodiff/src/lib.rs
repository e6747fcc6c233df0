//! # odl-autodiff
//!
//! Differentiable tensors for odl. A [`Tensor`] is an [`odl_tensor::Array`]
//! plus the primitive op that made it. There are ~16 primitives (unary and
//! binary elementwise, where, clamp, sum, max, batched matmul, reshape,
//! permute, expand, take/scatter-add by flat index, conv2d and its two
//! adjoints, cast); each has one VJP rule in the table in `vjp.rs`, written in
//! tensor ops, so gradients can be differentiated again. Everything else
//! (relu, softmax, cross-entropy, slicing, padding, pooling) is a composition.
//!
//! Beyond one stream of ops: [`value_and_grad_of_sum`] and [`Hessian::of_sum`]
//! spread a batch's shards over the compute threads (data parallelism), and
//! [`Compiled`] traces a computation once (a ReLU network's training step
//! included) and replays it without building a graph; [`CompiledSum`] does
//! that for each shard of a data-parallel step.
//!
//! ```
//! use odl_autodiff::{grad, grad_graph, Tensor};
//! use odl_tensor::{Array, DType};
//! // f(x) = Σ x³ ; ∇f = 3x² ; ∇²f = diag(6x)
//! let x = Tensor::param(Array::from_vec(vec![1.0f64, 2.0], &[2]));
//! let f = x.powf(3.0).sum_all();
//! let g = grad_graph(&f, &[&x]).remove(0);
//! assert_eq!(g.to_vec_f64(), vec![3.0, 12.0]);
//! let v = Tensor::from_f64(&[1.0, 1.0], &[2], DType::F64);
//! let hv = grad(&g.dot(&v), &[&x]).remove(0);
//! assert_eq!(hv.to_vec_f64(), vec![6.0, 12.0]);
//! ```

mod backward;
pub mod check;
pub mod compile;
mod compiled_sum;
mod composite;
pub mod functional;
pub mod linop;
mod op;
mod ops;
mod tensor;
mod trace;
mod vjp;

pub use backward::backward;
pub use check::{check_grads, CheckError, CheckOptions, CheckReport};
pub use compile::{CompileError, Compiled};
pub use compiled_sum::{CompiledSum, Term};
pub use functional::{grad, grad_graph, hvp, jacobian, jvp, value_and_grad_of_sum, vjp, Hessian};
pub use linop::{conjugate_gradient, power_iteration, to_dense, DenseOp, LinOp};
pub use odl_tensor;
pub use tensor::{enable_grad, is_grad_enabled, no_grad, par_map, Tensor};
