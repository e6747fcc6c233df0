//! # odl-probe
//!
//! Instruments for looking inside a network, built on odl's differentiable
//! gradients:
//!
//! * **spectra** — [`lanczos`] (top/bottom eigenpairs with full
//!   reorthogonalization), [`slq`] (eigenvalue density by stochastic Lanczos
//!   quadrature), [`trace`] (Hutchinson), [`hessian`] (exact spectrum of small
//!   models; the Gauss–Newton operator);
//! * **Jacobians** — [`jacobian`]: input–output singular values, per-layer
//!   norms, Lipschitz bounds;
//! * **signal propagation** — [`signal`]: per-layer statistics forward and
//!   backward, activation lengths;
//! * **landscapes** — [`landscape`]: interpolation, 1-D/2-D slices with filter
//!   normalization, PCA planes of trajectories;
//! * **sharpness** — [`sharpness`]: Keskar's ε-sharpness, Santurkar's
//!   measures along the gradient;
//! * **NTK** — [`ntk`]: the empirical tangent kernel and its movement.
//!
//! Probes see a loss as a function of a list of parameter tensors
//! ([`objective`]); any operator they build implements
//! [`odl_autodiff::LinOp`], so every spectral method works on the Hessian, the
//! Gauss–Newton matrix or a user's own operator alike.

pub mod hessian;
pub mod jacobian;
pub mod lanczos;
pub mod landscape;
pub mod linalg;
pub mod ntk;
pub mod objective;
pub mod sharpness;
pub mod signal;
pub mod slq;
pub mod trace;

pub use hessian::{exact_spectrum, Ggn};
pub use lanczos::{eigenpairs, lanczos, top_eigenpair, TopEigen, Which};
pub use objective::{flatten, forward_with, hessian_at, leaves, unflatten, ModelLoss, SumOp};
pub use slq::{slq, SpectralDensity};
pub use trace::hutchinson;
