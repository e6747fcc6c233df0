//! GAN losses: what the discriminator minimizes given its outputs (logits or
//! critic values) on real and generated samples, and what the generator
//! minimizes given the outputs on its samples. Each is a few tensor ops, so
//! every loss can be differentiated again (gradient penalties, consensus,
//! unrolled steps).
//!
//! | loss | discriminator | generator |
//! |---|---|---|
//! | minimax (Goodfellow et al. 2014) | `E softplus(−D(x)) + E softplus(D(G(z)))` | `−E softplus(D(G(z)))` (= `E log(1 − σ(D))`) |
//! | non-saturating | same | `E softplus(−D(G(z)))` |
//! | WGAN (Arjovsky et al. 2017) | `E D(G(z)) − E D(x)` | `−E D(G(z))` |
//! | hinge (Miyato et al. 2018) | `E relu(1 − D(x)) + E relu(1 + D(G(z)))` | `−E D(G(z))` |
//! | least squares (Mao et al. 2017) | `½E (D(x) − 1)² + ½E D(G(z))²` | `½E (D(G(z)) − 1)²` |
//! | f-GAN (Nowozin et al. 2016) | `−E g_f(V(x)) + E f*(g_f(V(G(z))))` | `−E f*(g_f(V(G(z))))` |
//!
//! WGAN's Lipschitz constraint is not part of the loss: weight clipping is
//! [`clip_weights`], the gradient penalty (WGAN-GP) is in [`crate::penalty`].

use odl_autodiff::Tensor;
use odl_tensor::Array;

use crate::fdiv::FDivergence;

/// A GAN loss (see the module table).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Loss {
    /// the original minimax game
    Minimax,
    /// the generator maximizes `log D(G(z))` instead
    NonSaturating,
    /// the Wasserstein critic
    Wasserstein,
    /// the hinge loss
    Hinge,
    /// least squares (a = 0, b = c = 1)
    LeastSquares,
    /// an f-divergence's variational bound
    FGan(FDivergence),
}

impl Loss {
    /// The discriminator's loss from its outputs on real (`real`) and
    /// generated (`fake`) samples, each `[n, 1]` or `[n]`.
    pub fn discriminator(self, real: &Tensor, fake: &Tensor) -> Tensor {
        match self {
            Loss::Minimax | Loss::NonSaturating => (-real).softplus().mean_all() + fake.softplus().mean_all(),
            Loss::Wasserstein => fake.mean_all() - real.mean_all(),
            Loss::Hinge => (-real + 1.0).relu().mean_all() + (fake + 1.0).relu().mean_all(),
            Loss::LeastSquares => ((real - 1.0).square().mean_all() + fake.square().mean_all()) * 0.5,
            Loss::FGan(f) => -f.activation(real).mean_all() + f.conjugate_of_activation(fake).mean_all(),
        }
    }

    /// The generator's loss from the discriminator's outputs on its samples.
    pub fn generator(self, fake: &Tensor) -> Tensor {
        match self {
            Loss::Minimax => -fake.softplus().mean_all(),
            Loss::NonSaturating => (-fake).softplus().mean_all(),
            Loss::Wasserstein | Loss::Hinge => -fake.mean_all(),
            Loss::LeastSquares => (fake - 1.0).square().mean_all() * 0.5,
            Loss::FGan(f) => -f.conjugate_of_activation(fake).mean_all(),
        }
    }

    /// Whether the discriminator's output is a probability's logit (so
    /// `σ(D)` is its belief that a sample is real).
    pub fn is_logit(self) -> bool {
        matches!(self, Loss::Minimax | Loss::NonSaturating | Loss::FGan(FDivergence::Gan))
    }
}

/// WGAN's weight clipping: every parameter value into `[−c, c]`.
pub fn clip_weights(values: &mut [Array], c: f64) {
    for a in values.iter_mut() {
        let v: Vec<f64> = a.to_vec_f64().iter().map(|x| x.clamp(-c, c)).collect();
        *a = Array::from_f64(&v, a.shape(), a.dtype());
    }
}
