//! # odl-gan
//!
//! Differentiable games, the part of Lecture 13 (GANs) and of the optional
//! min-max lecture that is about optimization: why gradient descent–ascent
//! cycles and what fixes it.
//!
//! - [`game`]: an n-player differentiable game (player `i` moves `θᵢ` to
//!   lower its loss `ℓᵢ(θ)`), two-player min-max games, the bilinear game
//!   `xᵀAy` and the Dirac-GAN of Mescheder et al. (2018).
//! - [`field`]: the game's vector field `ξ = (∇_{θᵢ} ℓᵢ)ᵢ`, exact products
//!   with its Jacobian (`Jᵀv` by one reverse pass, `Jv` by a second one
//!   through the first), the dense Jacobian, and the diagnostics that explain
//!   a game's dynamics: eigenvalues of `J`, its symmetric (potential) and
//!   antisymmetric (Hamiltonian) parts, `‖ξ‖²`.
//! - [`dynamics`]: simultaneous and alternating GDA, extragradient, optimistic
//!   GDA, consensus optimization, symplectic gradient adjustment, and
//!   unrolled steps of the second player differentiated through (Metz et
//!   al. 2017) — every one a derivative of derivatives, which odl's engine
//!   computes exactly.
//! - [`fdiv`]: the f-GAN family — six f-divergences with their conjugates,
//!   output activations and variational bound.
//! - [`metrics`]: FID (a stable Fréchet distance) and the unbiased KID on
//!   features the caller names.
//! - [`loss`]: minimax, non-saturating, WGAN (with weight clipping), hinge,
//!   least squares and the f-GAN losses; [`penalty`]: R1, R2, WGAN-GP's
//!   gradient penalty, BigGAN's orthogonal regularization, the generator's
//!   moving average and the truncation trick.
//! - [`mixture`]: ring-8 and grid-25 and their mode-coverage metrics.
//! - [`train`]: `odl gan SPEC.toml` — GAN training from a spec into a run
//!   folder.
//!
//! ```
//! use odl_gan::{dynamics::{Method, Solver}, game::Bilinear};
//! // f(x, y) = x·y: simultaneous GDA spirals out, extragradient spirals in
//! let g = Bilinear::new(vec![1.0], 1, 1);
//! let (mut a, mut b) = (vec![vec![1.0], vec![1.0]], vec![vec![1.0], vec![1.0]]);
//! let mut gda = Solver::new(Method::Simultaneous, 0.1);
//! let mut eg = Solver::new(Method::Extragradient, 0.1);
//! for _ in 0..100 {
//!     gda.step(&g, &mut a);
//!     eg.step(&g, &mut b);
//! }
//! let norm = |z: &Vec<Vec<f64>>| (z[0][0].powi(2) + z[1][0].powi(2)).sqrt();
//! assert!(norm(&a) > 2f64.sqrt() && norm(&b) < 2f64.sqrt());
//! ```

pub mod dynamics;
pub mod fdiv;
pub mod field;
pub mod game;
pub mod loss;
pub mod metrics;
pub mod mixture;
pub mod penalty;
pub mod train;

pub use dynamics::{trajectory, Method, Solver, Trajectory};
pub use fdiv::FDivergence;
pub use field::{diagnostics, field, jacobian, Diagnostics};
pub use game::{Bilinear, DiracGan, Game, MinMax};
pub use loss::Loss;
pub use mixture::{Coverage, Mixture};
pub use penalty::Penalty;
