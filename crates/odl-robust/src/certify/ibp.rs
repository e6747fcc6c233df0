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

use odl_autodiff::{no_grad, Tensor};
use odl_nn::{Activation, Ctx, LayerKind, Module, Sequential};
use odl_tensor::{Array, DType};

use super::Certified;
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
        LayerKind::Other => true,
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
    match model.0.last().map(|l| l.kind()) {
        Some(LayerKind::Affine) => Ok(()),
        _ => Err("the last layer must be Linear (its margins are bounded directly)".into()),
    }
}

/// `|W|r` of an affine layer: its forward pass on `r` with `|W|` and no bias.
pub(crate) fn abs_apply(layer: &mut dyn Module, r: &Tensor) -> Tensor {
    let saved = layer.param_values();
    let abs: Vec<Array> = layer
        .named_params()
        .iter()
        .map(|(n, t)| {
            let v = t.value();
            if n.ends_with("bias") {
                Array::zeros(v.shape(), v.dtype())
            } else {
                v.unary(odl_tensor::UnaryOp::Abs)
            }
        })
        .collect();
    layer.set_param_values(abs);
    let out = layer.forward(r, &mut Ctx::eval());
    layer.set_param_values(saved);
    out
}

/// IBP on a batch `x0` (`[n, d]`, data units, inside the box) with labels
/// `y`, for the network behind its input normalization; the threat model
/// must be ℓ∞.
pub fn certify(net: &mut Net, t: &Threat, x0: &[f32], d: usize, y: &[usize]) -> Result<Certified, String> {
    let (mean, std, in_shape) = (net.mean, net.std, net.in_shape.clone());
    let model = &mut *net.model;
    if t.norm != Norm::Linf {
        return Err("ibp: bounds an ℓ∞ ball; use --norm linf (or the lipschitz certificate for ℓ2)".into());
    }
    check(model)?;
    let n = y.len();
    let mut shape = vec![n];
    shape.extend(&in_shape);
    let to_model = |v: Vec<f64>| Tensor::constant(Array::from_f64(&v, &shape, DType::F64));
    let lo: Vec<f64> = x0.iter().map(|&v| ((v as f64 - t.eps).max(t.lo) - mean) / std).collect();
    let hi: Vec<f64> = x0.iter().map(|&v| ((v as f64 + t.eps).min(t.hi) - mean) / std).collect();
    debug_assert_eq!(lo.len(), n * d);
    // the bounds in f64: the network is cast for the computation and back
    let dtype = model.param_values().first().map_or(DType::F32, Array::dtype);
    let cast = |m: &mut Sequential, to: DType| {
        let v: Vec<Array> = m.param_values().iter().map(|a| a.cast(to)).collect();
        m.set_param_values(v);
    };
    cast(model, DType::F64);
    let result = no_grad(|| {
        let (mut l, mut u) = (to_model(lo), to_model(hi));
        let last = model.0.len() - 1;
        for layer in &mut model.0[..last] {
            if layer.kind() == LayerKind::Affine {
                let c = (&l + &u).mul_scalar(0.5);
                let r = (&u - &l).mul_scalar(0.5);
                let (c2, r2) = (layer.forward(&c, &mut Ctx::eval()), abs_apply(layer.as_mut(), &r));
                l = &c2 - &r2;
                u = &c2 + &r2;
            } else {
                l = layer.forward(&l, &mut Ctx::eval());
                u = layer.forward(&u, &mut Ctx::eval());
            }
        }
        // the last layer, margin by margin
        let ps = model.0[last].param_values();
        let (w, b) = (ps[0].to_vec_f64(), ps.get(1).map(Array::to_vec_f64));
        let (k, h) = (ps[0].shape()[0], ps[0].shape()[1]);
        let (lv, uv) = (l.value().to_vec_f64(), u.value().to_vec_f64());
        let clean =
            model.forward(&to_model(x0.iter().map(|&v| (v as f64 - mean) / std).collect()), &mut Ctx::eval());
        let z = clean.value().to_vec_f64();
        let mut out = Certified { correct: Vec::new(), certified: Vec::new(), bound: Vec::new() };
        for i in 0..n {
            let (li, ui) = (&lv[i * h..(i + 1) * h], &uv[i * h..(i + 1) * h]);
            let zi = &z[i * k..(i + 1) * k];
            let pred = (0..k).fold(0, |bst, j| if zi[j] > zi[bst] { j } else { bst });
            let mut worst = f64::INFINITY;
            for j in (0..k).filter(|&j| j != y[i]) {
                let mut m = b.as_ref().map_or(0.0, |b| b[y[i]] - b[j]);
                for q in 0..h {
                    let dw = w[y[i] * h + q] - w[j * h + q];
                    m += if dw >= 0.0 { dw * li[q] } else { dw * ui[q] };
                }
                worst = worst.min(m);
            }
            out.correct.push(pred == y[i]);
            out.certified.push(pred == y[i] && worst > 0.0);
            out.bound.push(worst);
        }
        out
    });
    cast(model, dtype);
    Ok(result)
}
