//! Interval bound propagation. An input box `[l, u]` (the ℓ∞ ball ∩ the
//! data's box, then the network's input normalization) is pushed through the
//! layers: an affine layer `Wx + b` maps the center `c` and radius `r` to
//! `Wc + b` and `|W|r` (computed by the layer's own forward pass with its
//! weights replaced by their absolute values and no bias); a coordinatewise
//! nondecreasing layer (ReLU and the other monotone activations, max and
//! average pooling, flattening) maps `l ↦ f(l)`, `u ↦ f(u)`. The last
//! Linear layer is not bounded per logit but per margin: the lower bound of
//! `(w_y − w_j)·h + b_y − b_j` over the hidden box is exact for that layer.
//! Any other layer (BatchNorm, residual blocks, GELU, spectral
//! normalization) is an error naming it.
//!
//! The bounds are graph operations on the parameters, so the same code
//! certifies (in f64, without a graph) and trains (IBP training
//! differentiates the worst-case margins, Gowal et al. 2018).

use odl_autodiff::{no_grad, Tensor};
use odl_nn::{Activation, Ctx, LayerKind, Module, Sequential};
use odl_tensor::DType;

use super::{input_box, with_f64, Certified};
use crate::classifier::Net;
use crate::threat::{Norm, Threat};

/// Whether the layer is a monotone (coordinatewise nondecreasing) map.
fn monotone(kind: LayerKind) -> bool {
    match kind {
        LayerKind::Activation(a) => match a {
            Activation::LeakyRelu(s) => s >= 0.0,
            Activation::Gelu => false,
            _ => true,
        },
        LayerKind::LinearMap | LayerKind::Pool { .. } => true,
        _ => false,
    }
}

/// Checks that IBP can bound every layer; `Err` names the first that it
/// cannot.
pub fn check(model: &Sequential) -> Result<(), String> {
    for (i, layer) in model.0.iter().enumerate() {
        let k = layer.kind();
        let ok = match k {
            LayerKind::Affine => layer.named_buffers().is_empty(),
            _ => monotone(k),
        };
        if !ok {
            return Err(format!(
                "layer {i} ({k:?}{}) cannot be bounded: odl's bounds cover Linear/Conv2d, monotone activations, \
                 pooling and flattening",
                if k == LayerKind::Affine { " with buffers, e.g. spectral normalization" } else { "" }
            ));
        }
    }
    match model.0.last() {
        Some(l) if l.kind() == LayerKind::Affine && l.named_params()[0].1.ndim() == 2 => Ok(()),
        _ => Err("the last layer must be Linear (its margins are bounded directly)".into()),
    }
}

/// Runs an affine layer's forward pass with its weights replaced by `f(W)`
/// (graph operations on the parameters) and no bias.
pub(crate) fn apply_with(layer: &mut dyn Module, x: &Tensor, f: impl Fn(&Tensor) -> Tensor) -> Tensor {
    let names: Vec<bool> = layer.named_params().iter().map(|(n, _)| n.ends_with("bias")).collect();
    let saved: Vec<Tensor> = layer.params_mut().iter().map(|t| (*t).clone()).collect();
    for ((p, bias), s) in layer.params_mut().into_iter().zip(&names).zip(&saved) {
        *p = if *bias { s.zeros_like() } else { f(s) };
    }
    let out = layer.forward(x, &mut Ctx::eval());
    for (p, s) in layer.params_mut().into_iter().zip(saved) {
        *p = s;
    }
    out
}

/// `|W|r` of an affine layer: its forward pass on `r` with `|W|` and no bias.
pub(crate) fn abs_apply(layer: &mut dyn Module, r: &Tensor) -> Tensor {
    apply_with(layer, r, Tensor::abs)
}

/// The interval `[l, u]` (model units, `[n, …]`) pushed through `layers`.
pub fn propagate(layers: &mut [Box<dyn Module>], mut l: Tensor, mut u: Tensor) -> (Tensor, Tensor) {
    for layer in layers {
        (l, u) = step(layer.as_mut(), &l, &u);
    }
    (l, u)
}

/// One layer of [`propagate`].
pub(crate) fn step(layer: &mut dyn Module, l: &Tensor, u: &Tensor) -> (Tensor, Tensor) {
    if layer.kind() == LayerKind::Affine {
        let c = (l + u).mul_scalar(0.5);
        let r = (u - l).mul_scalar(0.5);
        let (c2, r2) = (layer.forward(&c, &mut Ctx::eval()), abs_apply(layer, &r));
        (&c2 - &r2, &c2 + &r2)
    } else {
        (layer.forward(l, &mut Ctx::eval()), layer.forward(u, &mut Ctx::eval()))
    }
}

/// Lower bounds `[n, k]` of the margins `z_y − z_j` (0 at `j = y`) of a
/// Linear layer `last` over the box `[l, u]` of its input: exact for that
/// layer, and differentiable in its parameters.
pub fn margins(last: &dyn Module, l: &Tensor, u: &Tensor, y: &[usize]) -> Tensor {
    let ps = last.named_params();
    let w = ps[0].1;
    let (k, h) = (w.shape()[0], w.shape()[1]);
    let n = y.len();
    let c = (l + u).mul_scalar(0.5).reshape(&[n, 1, h]);
    let r = (u - l).mul_scalar(0.5).reshape(&[n, 1, h]);
    // D[i, j] = w_{y_i} − w_j
    let dw = w.index_select(0, y).reshape(&[n, 1, h]).sub(&w.reshape(&[1, k, h]));
    let mut m = dw.mul(&c).sum(&[-1], false).sub(&dw.abs().mul(&r).sum(&[-1], false));
    if let Some((_, b)) = ps.get(1) {
        m = m.add(&b.index_select(0, y).reshape(&[n, 1]).sub(&b.reshape(&[1, k])));
    }
    m
}

/// The worst-case margins of a batch of model-unit boxes `[l, u]` through
/// the whole network (IBP with last-layer elision): `[n, k]`, differentiable
/// in the parameters. IBP training minimizes the cross-entropy of `−margins`.
pub fn worst_margins(model: &mut Sequential, l: Tensor, u: Tensor, y: &[usize]) -> Tensor {
    let last = model.0.len() - 1;
    let (l, u) = propagate(&mut model.0[..last], l, u);
    let n = y.len();
    margins(model.0[last].as_ref(), &l.reshape(&[n, l.numel() / n]), &u.reshape(&[n, u.numel() / n]), y)
}

/// IBP on a batch `x0` (`[n, d]`, data units, inside the box) with labels
/// `y`, for the network behind its input normalization; the threat model
/// must be ℓ∞.
pub fn certify(net: &mut Net, t: &Threat, x0: &[f32], d: usize, y: &[usize]) -> Result<Certified, String> {
    if t.norm != Norm::Linf {
        return Err("ibp: bounds an ℓ∞ ball; use --norm linf (or the lipschitz certificate for ℓ2)".into());
    }
    check(net.model)?;
    let (lo, hi, clean) = input_box(net, t, x0, d, DType::F64);
    Ok(with_f64(net.model, |model| {
        no_grad(|| {
            let m = worst_margins(model, lo, hi, y).value().to_vec_f64();
            let z = model.forward(&clean, &mut Ctx::eval()).value().to_vec_f64();
            Certified::from_margins(&z, &m, y)
        })
    }))
}
