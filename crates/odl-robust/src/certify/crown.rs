//! CROWN (Zhang et al. 2018): linear bounds propagated backward. A lower
//! bound of `aᵀz` for a node `z` of the network is a linear function of the
//! layer before it, and so on back to the input box, where it is minimized
//! exactly:
//!
//! - an affine or parameter-free linear layer (Linear, Conv2d, flattening,
//!   average pooling) maps the coefficients `a` to `Wᵀa` and adds `aᵀb`;
//!   `Wᵀa` is the layer's own vector-Jacobian product, so every layer odl
//!   can differentiate is handled by one rule;
//! - a (leaky) ReLU with pre-activation bounds `[l, u]` is replaced, unit by
//!   unit, by a line below it (slope 1 or the leak, whichever is closer:
//!   CROWN's adaptive choice) where the coefficient is ≥ 0 and by the chord
//!   above it where the coefficient is < 0;
//! - max pooling is bounded below by the window's entry with the largest
//!   lower bound and above by the largest upper bound.
//!
//! The pre-activation bounds the relaxations need are themselves computed
//! by CROWN (for the units IBP leaves unstable) and intersected with IBP's,
//! both being sound. The margins `z_y − z_j` of the last layer are bounded
//! as one linear function each. Cost grows with (unstable units) × (units
//! per layer): examples are bounded one at a time, in blocks of rows that
//! keep the coefficient matrices within [`BLOCK_BYTES`].

use odl_autodiff::{no_grad, vjp, Tensor};
use odl_nn::{Activation, Ctx, LayerKind, Module, Sequential};
use odl_tensor::{Array, DType};

use super::{ibp, input_box, with_f64, Certified};
use crate::classifier::Net;
use crate::threat::{Norm, Threat};

/// The largest coefficient block (bytes) held at once.
pub const BLOCK_BYTES: usize = 192 << 20;

/// How CROWN passes a layer.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Rule {
    /// `a ↦ Wᵀa`, `+ aᵀb`
    Linear,
    /// a leaky ReLU with this slope below zero (ReLU: 0; identity: 1)
    Leaky(f64),
    /// max pooling
    MaxPool,
}

fn rule(i: usize, layer: &dyn Module) -> Result<Rule, String> {
    let k = layer.kind();
    Ok(match k {
        LayerKind::Affine if layer.named_buffers().is_empty() => Rule::Linear,
        LayerKind::LinearMap | LayerKind::Pool { max: false, .. } => Rule::Linear,
        LayerKind::Pool { max: true, .. } => Rule::MaxPool,
        LayerKind::Activation(Activation::Relu) => Rule::Leaky(0.0),
        LayerKind::Activation(Activation::Identity) => Rule::Leaky(1.0),
        LayerKind::Activation(Activation::LeakyRelu(s)) if (0.0..=1.0).contains(&s) => Rule::Leaky(s),
        _ => {
            return Err(format!(
                "layer {i} ({k:?}) cannot be bounded by CROWN: odl's linear relaxations cover Linear/Conv2d, \
                 (leaky) ReLU, flattening and pooling (use --method ibp for other monotone activations)"
            ))
        }
    })
}

/// Checks that CROWN can bound every layer; `Err` names the first that it
/// cannot.
pub fn check(model: &Sequential) -> Result<(), String> {
    for (i, layer) in model.0.iter().enumerate() {
        rule(i, layer.as_ref())?;
    }
    ibp::check(model)
}

/// One example's bounds at the input of every layer (`[1, …]` tensors).
struct Bounds {
    lo: Vec<Array>,
    hi: Vec<Array>,
}

/// Lower bounds of `rows` linear functions `aᵣᵀ z` of the input `z` of layer
/// `upto` (`a`: `[rows, node…]`), through layers `upto−1, …, 0` and the
/// input box.
fn backsub(model: &mut Sequential, rules: &[Rule], upto: usize, a: Tensor, b: &Bounds) -> Vec<f64> {
    let rows = a.shape()[0];
    let mut a = a;
    let mut c = vec![0.0; rows];
    for j in (0..upto).rev() {
        let (lo, hi) = (&b.lo[j], &b.hi[j]);
        let mut shape = lo.shape().to_vec();
        shape[0] = rows;
        a = match rules[j] {
            Rule::Linear => {
                let x = Tensor::param(Array::zeros(&shape, DType::F64));
                let out = model.0[j].forward(&x, &mut Ctx::eval());
                // the bias: out = b at x = 0
                let ab = a.value().to_vec_f64();
                let bv = out.value().to_vec_f64();
                let w = ab.len() / rows;
                for (r, cr) in c.iter_mut().enumerate() {
                    *cr += (0..w).map(|e| ab[r * w + e] * bv[r * w + e]).sum::<f64>();
                }
                vjp(&out, &[&x], &a, false).remove(0)
            }
            Rule::Leaky(s) => {
                let (l, u) = (lo.to_vec_f64(), hi.to_vec_f64());
                let mut av = a.value().to_vec_f64();
                let w = l.len();
                for (r, cr) in c.iter_mut().enumerate() {
                    for e in 0..w {
                        let ae = &mut av[r * w + e];
                        let (le, ue) = (l[e], u[e]);
                        let (lower, upper, icpt) = if le >= 0.0 {
                            (1.0, 1.0, 0.0)
                        } else if ue <= 0.0 {
                            (s, s, 0.0)
                        } else {
                            let k = (ue - s * le) / (ue - le);
                            (if ue >= -le { 1.0 } else { s }, k, s * le - k * le)
                        };
                        if *ae >= 0.0 {
                            *ae *= lower;
                        } else {
                            *cr += *ae * icpt;
                            *ae *= upper;
                        }
                    }
                }
                Tensor::constant(Array::from_f64(&av, a.shape(), DType::F64))
            }
            Rule::MaxPool => {
                let av = a.value().to_vec_f64();
                let pos: Vec<f64> = av.iter().map(|v| v.max(0.0)).collect();
                let top = no_grad(|| model.0[j].forward(&Tensor::constant(hi.clone()), &mut Ctx::eval()));
                let top = top.value().to_vec_f64();
                let w = top.len();
                for (r, cr) in c.iter_mut().enumerate() {
                    *cr += (0..w).map(|e| av[r * w + e].min(0.0) * top[e]).sum::<f64>();
                }
                // the VJP at the lower bounds routes each coefficient to the window's argmax of l
                let x = Tensor::param(lo.expand(&shape));
                let out = model.0[j].forward(&x, &mut Ctx::eval());
                vjp(&out, &[&x], &Tensor::constant(Array::from_f64(&pos, a.shape(), DType::F64)), false)
                    .remove(0)
            }
        };
    }
    let (l, u) = (b.lo[0].to_vec_f64(), b.hi[0].to_vec_f64());
    let av = a.value().to_vec_f64();
    let w = l.len();
    for (r, cr) in c.iter_mut().enumerate() {
        *cr += (0..w)
            .map(|e| av[r * w + e])
            .zip(l.iter().zip(&u))
            .map(|(a, (l, u))| if a >= 0.0 { a * l } else { a * u })
            .sum::<f64>();
    }
    c
}

/// [`backsub`] of the rows `(unit, sign)`: `sign·z_unit`, in blocks.
fn unit_bounds(
    model: &mut Sequential,
    rules: &[Rule],
    upto: usize,
    units: &[(usize, f64)],
    node: &[usize],
    b: &Bounds,
) -> Vec<f64> {
    let width: usize = node[1..].iter().product();
    let widest = b.lo.iter().map(Array::numel).max().unwrap_or(1).max(width);
    let block = (BLOCK_BYTES / (8 * widest)).max(1);
    let mut out = Vec::with_capacity(units.len());
    for chunk in units.chunks(block) {
        let mut a = vec![0.0; chunk.len() * width];
        for (r, &(e, s)) in chunk.iter().enumerate() {
            a[r * width + e] = s;
        }
        let mut shape = node.to_vec();
        shape[0] = chunk.len();
        out.extend(backsub(model, rules, upto, Tensor::constant(Array::from_f64(&a, &shape, DType::F64)), b));
    }
    out
}

/// Bounds at the input of every layer for one example's box `[l0, u0]`.
fn all_bounds(model: &mut Sequential, rules: &[Rule], l0: Array, u0: Array) -> Bounds {
    let mut b = Bounds { lo: vec![l0], hi: vec![u0] };
    let mut nonlinear_before = false;
    let last = model.0.len() - 1;
    for i in 0..last {
        let (l, u) = no_grad(|| {
            let (l, u) = ibp::step(
                model.0[i].as_mut(),
                &Tensor::constant(b.lo[i].clone()),
                &Tensor::constant(b.hi[i].clone()),
            );
            (l.value().clone(), u.value().clone())
        });
        let (mut lv, mut uv) = (l.to_vec_f64(), u.to_vec_f64());
        let feeds_nonlinear = rules[i + 1] != Rule::Linear && rules[i + 1] != Rule::Leaky(1.0);
        if rules[i] == Rule::Linear && nonlinear_before && feeds_nonlinear {
            // CROWN for the units whose relaxation is not exact under IBP's bounds
            let units: Vec<(usize, f64)> = (0..lv.len())
                .filter(|&e| rules[i + 1] == Rule::MaxPool || (lv[e] < 0.0 && uv[e] > 0.0))
                .flat_map(|e| [(e, 1.0), (e, -1.0)])
                .collect();
            let got = unit_bounds(model, rules, i + 1, &units, l.shape(), &b);
            for (&(e, s), v) in units.iter().zip(got) {
                if s > 0.0 {
                    lv[e] = lv[e].max(v);
                } else {
                    uv[e] = uv[e].min(-v);
                }
            }
        }
        nonlinear_before |= rules[i] != Rule::Linear && rules[i] != Rule::Leaky(1.0);
        b.lo.push(Array::from_f64(&lv, l.shape(), DType::F64));
        b.hi.push(Array::from_f64(&uv, u.shape(), DType::F64));
    }
    b
}

/// CROWN on a batch `x0` (`[n, d]`, data units, inside the box) with labels
/// `y`, for the network behind its input normalization (ℓ∞ threat model).
/// `bound` is the lower bound of the worst margin.
pub fn certify(net: &mut Net, t: &Threat, x0: &[f32], d: usize, y: &[usize]) -> Result<Certified, String> {
    if t.norm != Norm::Linf {
        return Err("crown: bounds an ℓ∞ ball; use --norm linf (or the lipschitz certificate for ℓ2)".into());
    }
    check(net.model)?;
    let rules: Vec<Rule> =
        net.model.0.iter().enumerate().map(|(i, l)| rule(i, l.as_ref())).collect::<Result<_, _>>()?;
    let n = y.len();
    let (lo, hi, clean) = input_box(net, t, x0, d, DType::F64);
    Ok(with_f64(net.model, |model| {
        let z = no_grad(|| model.forward(&clean, &mut Ctx::eval())).value().to_vec_f64();
        let k = z.len() / n.max(1);
        let last = model.0.len() - 1;
        let (lv, hv) = (lo.value().to_vec_f64(), hi.value().to_vec_f64());
        let mut one_shape = lo.shape().to_vec();
        one_shape[0] = 1;
        let mut m = vec![0.0; n * k];
        for i in 0..n {
            let one = |v: &[f64]| Array::from_f64(&v[i * d..(i + 1) * d], &one_shape, DType::F64);
            let b = all_bounds(model, &rules, one(&lv), one(&hv));
            // the margins z_y − z_j as rows over the logits
            let mut a = vec![0.0; k * k];
            for j in 0..k {
                a[j * k + y[i]] += 1.0;
                a[j * k + j] -= 1.0;
            }
            let a = Tensor::constant(Array::from_f64(&a, &[k, k], DType::F64));
            let got = backsub(model, &rules, last + 1, a, &b);
            m[i * k..(i + 1) * k].copy_from_slice(&got);
        }
        Certified::from_margins(&z, &m, y)
    }))
}
