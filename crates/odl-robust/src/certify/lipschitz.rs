//! The Lipschitz-margin certificate (Tsuzuku, Sato & Sugiyama 2018): if the
//! logits are L-Lipschitz in ℓ2, a margin `z_y − max_{j≠y} z_j` larger than
//! `√2·L·‖δ‖₂` cannot be overturned by `δ`, so the certified ℓ2 radius is
//! `margin / (√2 L)` (an ℓ∞ ball of radius ε lies in the ℓ2 ball of radius
//! `√d ε`).
//!
//! L is a product of upper bounds, one per layer, so the certificate is
//! sound: a Linear layer's exact spectral norm (its singular values); a
//! convolution's `√(‖A‖₁ ‖A‖∞)` (largest column and row sums of `|A|`,
//! computed with the layer's own forward and backward passes — an upper
//! bound of its spectral norm, not the norm itself); 1 for ReLU, leaky ReLU
//! with slope ≤ 1, tanh, softplus and identity, ¼ for the sigmoid; 1 for a
//! layer that reshapes without adding entries (flattening); √m for max
//! pooling and √(m/|window|) for average pooling, where an input lies in at
//! most m windows (1 and 1/k for non-overlapping k×k windows); `1/std` for the input normalization. Anything else
//! is an error naming the layer.

use odl_autodiff::{grad, no_grad, Tensor};
use odl_nn::{Activation, Ctx, LayerKind, Module, Sequential};
use odl_tensor::{Array, DType};

use super::ibp::abs_apply;
use super::Certified;
use crate::classifier::{argmax, logits_of, Net};
use crate::threat::{Norm, Threat};

/// Per layer: its name and the upper bound of its Lipschitz constant used.
pub fn layer_bounds(model: &mut Sequential, in_shape: &[usize]) -> Result<Vec<(String, f64)>, String> {
    let mut shape = vec![1];
    shape.extend(in_shape);
    let dtype = model.param_values().first().map_or(DType::F32, Array::dtype);
    let mut x = Tensor::constant(Array::zeros(&shape, dtype));
    let mut out = Vec::new();
    for (i, layer) in model.0.iter_mut().enumerate() {
        let kind = layer.kind();
        let bound = match kind {
            LayerKind::Affine if layer.named_buffers().is_empty() => {
                let ps = layer.param_values();
                if ps[0].ndim() == 2 {
                    let (r, c) = (ps[0].shape()[0], ps[0].shape()[1]);
                    linalg_sigma_max(&ps[0].to_vec_f64(), r, c)
                } else {
                    // ‖A‖₂ ≤ √(‖A‖₁‖A‖∞): row sums |A|·1, column sums |A|ᵀ·1
                    let ones = Tensor::param(Array::from_f64(&vec![1.0; x.numel()], x.shape(), dtype));
                    let rows = abs_apply(layer.as_mut(), &ones);
                    let row_max = rows.value().to_vec_f64().iter().fold(0.0f64, |m, v| m.max(v.abs()));
                    let cols = grad(&rows.sum_all(), &[&ones]).remove(0);
                    let col_max = cols.value().to_vec_f64().iter().fold(0.0f64, |m, v| m.max(v.abs()));
                    (row_max * col_max).sqrt()
                }
            }
            LayerKind::Activation(a) => match a {
                Activation::Relu | Activation::Tanh | Activation::Softplus | Activation::Identity => 1.0,
                Activation::LeakyRelu(s) if s.abs() <= 1.0 => 1.0,
                Activation::Sigmoid => 0.25,
                _ => return Err(format!("layer {i} ({a:?}): no Lipschitz bound for this activation")),
            },
            LayerKind::LinearMap => 1.0,
            // an input lies in at most m = ⌈k_h/s_h⌉·⌈k_w/s_w⌉ windows: ‖Δmax‖² ≤ m‖Δ‖², ‖Δmean‖² ≤ m/(k_h k_w)‖Δ‖²
            LayerKind::Pool { max, window: (kh, kw), stride: (sh, sw) } => {
                let m = (kh.div_ceil(sh) * kw.div_ceil(sw)) as f64;
                if max {
                    m.sqrt()
                } else {
                    (m / (kh * kw) as f64).sqrt()
                }
            }
            k => return Err(format!("layer {i} ({k:?}): the Lipschitz certificate covers Linear/Conv2d, activations, pooling and flattening")),
        };
        let y = no_grad(|| layer.forward(&x, &mut Ctx::eval()));
        if kind == LayerKind::LinearMap && y.numel() > x.numel() {
            return Err(format!(
                "layer {i}: it adds entries (upsampling?), which the certificate does not bound"
            ));
        }
        x = y;
        out.push((format!("{i}"), bound));
    }
    Ok(out)
}

fn linalg_sigma_max(a: &[f64], rows: usize, cols: usize) -> f64 {
    let m = faer::Mat::<f64>::from_fn(rows, cols, |i, j| a[i * cols + j]);
    m.singular_values().map_or(f64::INFINITY, |s| s.first().copied().unwrap_or(0.0))
}

/// The certificate on a batch `x0` (`[n, d]`, data units) with labels `y`
/// for the network behind its input normalization; `bound` holds each
/// example's certified radius in the threat model's norm (0 when
/// misclassified). Also returns L.
pub fn certify(
    net: &mut Net,
    t: &Threat,
    x0: &[f32],
    d: usize,
    y: &[usize],
) -> Result<(Certified, f64), String> {
    let in_shape = net.in_shape.clone();
    let l = layer_bounds(net.model, &in_shape)?.iter().map(|(_, b)| b).product::<f64>() / net.std;
    let z = logits_of(net, x0, d);
    let pred = argmax(&z);
    // an ℓ∞ radius ε is an ℓ2 radius √d ε
    let to_norm = match t.norm {
        Norm::L2 => 1.0,
        Norm::Linf => 1.0 / (d as f64).sqrt(),
    };
    let mut out = Certified { correct: Vec::new(), certified: Vec::new(), bound: Vec::new() };
    for (i, zi) in z.iter().enumerate() {
        let other =
            zi.iter().enumerate().filter(|&(j, _)| j != y[i]).fold(f64::NEG_INFINITY, |m, (_, &v)| m.max(v));
        let margin = zi[y[i]] - other;
        let radius = if pred[i] == y[i] { margin / (2f64.sqrt() * l) * to_norm } else { 0.0 };
        out.correct.push(pred[i] == y[i]);
        out.certified.push(pred[i] == y[i] && radius > t.eps);
        out.bound.push(radius);
    }
    Ok((out, l))
}
