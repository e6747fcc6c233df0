//! Data poisoning: the training set itself is the attack surface.
//!
//! - [`flips`]: label flipping, at random and greedy by loss.
//! - [`backdoor`]: BadNets (Gu et al. 2017) — a trigger patch stamped on a
//!   fraction of the training images, relabelled to a target class.
//! - [`influence`]: optimization-based poisoning of L2-regularized logistic
//!   regression through influence functions (Koh & Liang 2017): the
//!   gradient of the test loss with respect to a training input is
//!   `−(1/n) ∇θL_testᵀ H⁻¹ ∇ₓ∇θℓ(xᵢ)`, with `H⁻¹∇θL_test` found by
//!   conjugate gradients on Hessian-vector products and the mixed derivative
//!   by differentiating the gradient — the engine's second order.

pub mod backdoor;
pub mod flips;
pub mod influence;
