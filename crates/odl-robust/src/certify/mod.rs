//! Certificates: for each example, a proof that no perturbation in the
//! threat model changes the prediction (sound by construction: the tests
//! check that no attack ever breaks a certified point).
//!
//! - [`ibp`]: interval bound propagation (Gowal et al. 2018) through an
//!   odl-nn `Sequential` of affine layers (Linear, Conv2d), monotone
//!   activations and monotone reshaping/pooling layers, with the last
//!   layer's margins bounded directly (elision).
//! - [`crown`]: CROWN's linear bounds (Zhang et al. 2018), propagated
//!   backward through Linear/Conv2d, (leaky) ReLU, flattening and pooling.
//! - [`lipschitz`]: the Lipschitz-margin certificate (Tsuzuku, Sato &
//!   Sugiyama 2018): a margin larger than √2·L·ε, with L the product of the
//!   layers' spectral-norm bounds (exact for Linear, √(‖A‖₁‖A‖∞) for
//!   convolutions).
//! - [`smoothing`]: randomized smoothing's CERTIFY (Cohen et al. 2019): an
//!   ℓ2 radius `σΦ⁻¹(p̲_A)` that holds with probability `1 − α`.

pub mod crown;
pub mod ibp;
pub mod lipschitz;
pub mod smoothing;

use odl_autodiff::Tensor;
use odl_nn::{Module, Sequential};
use odl_tensor::{Array, DType};

use crate::classifier::Net;
use crate::threat::Threat;

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

    /// From clean logits `z` (`[n, k]`) and lower bounds `m` (`[n, k]`) of
    /// the margins `z_y − z_j` (the entry `j = y` ignored).
    pub(crate) fn from_margins(z: &[f64], m: &[f64], y: &[usize]) -> Certified {
        let n = y.len();
        let k = z.len() / n.max(1);
        let mut out = Certified { correct: Vec::new(), certified: Vec::new(), bound: Vec::new() };
        for i in 0..n {
            let zi = &z[i * k..(i + 1) * k];
            let pred = (0..k).fold(0, |b, j| if zi[j] > zi[b] { j } else { b });
            let worst = (0..k).filter(|&j| j != y[i]).map(|j| m[i * k + j]).fold(f64::INFINITY, f64::min);
            out.correct.push(pred == y[i]);
            out.certified.push(pred == y[i] && worst > 0.0);
            out.bound.push(worst);
        }
        out
    }
}

/// The ℓ∞ box of a batch in model units, `([n, in_shape…] lower, upper)`,
/// and the clean inputs, as constants of type `dtype`.
pub fn input_box(net: &Net, t: &Threat, x0: &[f32], d: usize, dtype: DType) -> (Tensor, Tensor, Tensor) {
    let n = x0.len() / d.max(1);
    let (mean, std) = (net.mean, net.std);
    let mut shape = vec![n];
    shape.extend(&net.in_shape);
    debug_assert_eq!(x0.len(), n * d);
    let to_model = |v: Vec<f64>| Tensor::constant(Array::from_f64(&v, &shape, dtype));
    let lo = x0.iter().map(|&v| ((v as f64 - t.eps).max(t.lo) - mean) / std).collect();
    let hi = x0.iter().map(|&v| ((v as f64 + t.eps).min(t.hi) - mean) / std).collect();
    let clean = x0.iter().map(|&v| (v as f64 - mean) / std).collect();
    (to_model(lo), to_model(hi), to_model(clean))
}

/// Runs `f` on the network cast to f64 (bounds are computed in double
/// precision), restoring its dtype afterwards.
pub(crate) fn with_f64<T>(model: &mut Sequential, f: impl FnOnce(&mut Sequential) -> T) -> T {
    let dtype = model.param_values().first().map_or(DType::F32, Array::dtype);
    let cast = |m: &mut Sequential, to: DType| {
        let v: Vec<Array> = m.param_values().iter().map(|a| a.cast(to)).collect();
        m.set_param_values(v);
    };
    cast(model, DType::F64);
    let out = f(model);
    cast(model, dtype);
    out
}
