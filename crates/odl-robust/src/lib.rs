//! odl-robust: adversarial robustness on odl's engine (Lecture 12).
//!
//! - [`threat`]: the threat model — an ℓ∞ or ℓ2 ball of radius ε around
//!   each input, intersected with the data's box, in the data's own units.
//! - [`classifier`]: what is attacked — anything that maps a batch `[n, d]`
//!   of inputs in data units to logits `[n, k]` (an odl-nn network with its
//!   input normalization, or a closure).
//! - [`losses`]: the per-example objectives attacks ascend (cross-entropy,
//!   Carlini–Wagner margin, DLR and targeted DLR).
//! - [`attacks`]: FGSM, PGD, APGD (Croce & Hein 2020), the Square attack
//!   (Andriushchenko et al. 2020; no gradients) and an AutoAttack-style
//!   ensemble that stops, per example, at the first attack that succeeds.
//! - [`certify`]: certificates — interval bound propagation, CROWN, the
//!   Lipschitz-margin radius and randomized smoothing.
//! - [`training`]: the inner maximization of adversarial training (PGD-AT,
//!   FGSM with random start, TRADES) and IBP training's worst-case logits.
//! - [`poison`]: data poisoning — label flips, BadNets backdoors and
//!   influence-function poisoning of logistic regression.
//!
//! Every attack is batched and seeded, and returns points inside the threat
//! model (tested): a reported robust accuracy is an upper bound on the true
//! one that no attack can undercut by leaving the ball.

pub mod attacks;
pub mod certify;
pub mod classifier;
pub mod losses;
pub mod poison;
pub mod threat;
pub mod training;

pub use attacks::{Attack, AttackName, Outcome};
pub use classifier::{Classifier, Net};
pub use threat::{Norm, Threat};
