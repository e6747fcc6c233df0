//! Certificates: for each example, a proof that no perturbation in the
//! threat model changes the prediction (sound by construction: the tests
//! check that no attack ever breaks a certified point).
//!
//! - [`ibp`]: interval bound propagation (Gowal et al. 2018) through an
//!   odl-nn `Sequential` of affine layers (Linear, Conv2d), monotone
//!   activations and monotone reshaping/pooling layers, with the last
//!   layer's margins bounded directly (elision).
//! - [`lipschitz`]: the Lipschitz-margin certificate (Tsuzuku, Sato &
//!   Sugiyama 2018): a margin larger than √2·L·ε, with L the product of the
//!   layers' spectral-norm bounds (exact for Linear, √(‖A‖₁‖A‖∞) for
//!   convolutions).
//! - [`smoothing`]: randomized smoothing's CERTIFY (Cohen et al. 2019): an
//!   ℓ2 radius `σΦ⁻¹(p̲_A)` that holds with probability `1 − α`.

pub mod ibp;
pub mod lipschitz;
pub mod smoothing;

/// What a certificate concludes for a batch.
#[derive(Clone, Debug, PartialEq)]
pub struct Certified {
    /// per example: correctly classified at the clean input
    pub correct: Vec<bool>,
    /// per example: correct and proven robust in the whole threat model
    pub certified: Vec<bool>,
    /// per example: the certificate's lower bound on the margin
    /// `z_y − max_{j≠y} z_j` over the threat model (> 0: certified), or the
    /// certified radius for radius-type certificates
    pub bound: Vec<f64>,
}

impl Certified {
    /// Fraction of examples certified.
    pub fn certified_accuracy(&self) -> f64 {
        self.certified.iter().filter(|&&c| c).count() as f64 / self.certified.len().max(1) as f64
    }
}
