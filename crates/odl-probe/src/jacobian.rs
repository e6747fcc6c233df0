//! Input–output Jacobians of a network: all singular values at a point,
//! per-layer Jacobian norms, and Lipschitz bounds.
//!
//! Per-example Jacobians come from one batched reverse pass: the input is
//! repeated once per output unit, and the cotangent is the identity, so row
//! `i` of the input gradient is row `i` of `J`. This needs examples that do
//! not interact (evaluation mode: BatchNorm uses running statistics).

use odl_autodiff::{grad, vjp, Tensor};
use odl_nn::{Ctx, LayerKind, Module};
use odl_tensor::Array;

use crate::linalg::singular_values;

/// The Jacobian `∂f/∂x` of `f` at one input `x` (shape `[1, …]`): a row-major
/// `m×d` matrix (`m` outputs, `d` inputs), with `(m, d)`.
#[track_caller]
pub fn input_jacobian(f: &mut dyn FnMut(&Tensor) -> Tensor, x: &Array) -> (Vec<f64>, usize, usize) {
    assert_eq!(x.shape()[0], 1, "input_jacobian: one example at a time, got a batch of {}", x.shape()[0]);
    let y0 = f(&Tensor::constant(x.clone()));
    let m = y0.numel();
    let d = x.numel();
    let mut shape = x.shape().to_vec();
    shape[0] = m;
    let xs = Tensor::param(x.expand(&shape));
    let y = f(&xs);
    assert_eq!(y.shape()[0], m, "input_jacobian: f must map a batch of n inputs to n outputs");
    let seed = Tensor::constant(Array::eye(m, y.dtype()).reshape(y.shape()));
    let g = vjp(&y, &[&xs], &seed, false).remove(0);
    (g.value().to_vec_f64(), m, d)
}

/// The singular values (descending) of the network's input–output Jacobian at `x`.
pub fn jacobian_singular_values(model: &mut dyn Module, x: &Array) -> Vec<f64> {
    let (j, m, d) = input_jacobian(&mut |t| model.forward(t, &mut Ctx::eval()).flatten(), x);
    singular_values(&j, m, d)
}

/// Per leaf layer: its name, kind and the spectral norm of its own Jacobian
/// at the activations that example `x` produces (for an affine layer, of its
/// weight as it acts; for an activation, of `diag σ'(z)`).
pub fn layer_jacobian_norms(model: &mut dyn Module, x: &Array) -> Vec<(String, LayerKind, f64)> {
    let mut rec = Vec::new();
    model.forward_traced(&Tensor::constant(x.clone()), &mut Ctx::eval(), "", &mut rec);
    let mut out = Vec::new();
    let mut input = x.clone();
    for t in rec.iter() {
        let mut layer_in = input.clone();
        // the layer's input is the previous layer's output; re-run the layer alone
        let name = t.name.clone();
        let kind = t.kind;
        let sv = {
            let mut sub = |h: &Tensor| -> Tensor { run_named(model, &name, h) };
            let (j, m, d) = input_jacobian(&mut |h| sub(h).flatten(), &layer_in);
            singular_values(&j, m, d)
        };
        out.push((name, kind, sv.first().copied().unwrap_or(0.0)));
        layer_in = t.output.value().clone();
        input = layer_in;
    }
    out
}

/// Runs only the leaf layer called `name` (as named by `forward_traced`) on `h`.
fn run_named(model: &mut dyn Module, name: &str, h: &Tensor) -> Tensor {
    // trace a pass and pick the layer out: the containers forward only through
    // children, so the leaf whose name matches is applied to `h` by passing `h`
    // through a one-layer view
    let mut found = None;
    visit_leaf(model, name, "", &mut |m| found = Some(m.forward(h, &mut Ctx::eval())));
    found.unwrap_or_else(|| panic!("no layer called {name}"))
}

fn visit_leaf(m: &mut dyn Module, target: &str, here: &str, f: &mut dyn FnMut(&mut dyn Module)) {
    if here == target {
        f(m);
        return;
    }
    for (c, child) in m.children_mut() {
        let name = if here.is_empty() { c } else { format!("{here}.{c}") };
        if target == name || target.starts_with(&format!("{name}.")) {
            visit_leaf(child, target, &name, f);
            return;
        }
    }
}

/// Lipschitz upper bound of an MLP made of linear layers and 1-Lipschitz
/// activations (ReLU, leaky ReLU, tanh, identity): the product of the
/// weights' spectral norms. (Each 2-d `…weight` parameter is one layer.)
pub fn lipschitz_upper_bound(model: &dyn Module) -> f64 {
    model
        .named_params()
        .into_iter()
        .filter(|(n, t)| n.ends_with("weight") && t.ndim() == 2)
        .map(|(_, t)| singular_values(&t.value().to_vec_f64(), t.shape()[0], t.shape()[1])[0])
        .product()
}

/// A lower bound on the (ℓ₂) Lipschitz constant: the largest input-gradient
/// norm `‖∇ₓ f_c(x)‖` over the examples of `x` and the outputs `c`.
pub fn lipschitz_lower_bound(model: &mut dyn Module, x: &Array) -> f64 {
    let xs = Tensor::param(x.clone());
    let y = model.forward(&xs, &mut Ctx::eval()).flatten();
    let (n, m) = (y.shape()[0], y.shape()[1]);
    let mut best: f64 = 0.0;
    for c in 0..m {
        let mut e = vec![0.0; n * m];
        for i in 0..n {
            e[i * m + c] = 1.0;
        }
        let g = grad(&y.mul(&Tensor::from_f64(&e, &[n, m], y.dtype())).sum_all(), &[&xs]).remove(0);
        let gv = g.value().to_vec_f64();
        let d = gv.len() / n;
        for i in 0..n {
            best = best.max(gv[i * d..(i + 1) * d].iter().map(|v| v * v).sum::<f64>().sqrt());
        }
    }
    best
}

/// Example `i` of the batch `x`, with a leading batch axis of 1 (same dtype).
pub fn one_example(x: &Array, i: usize) -> Array {
    let d: usize = x.shape()[1..].iter().product();
    let v = x.to_vec_f64()[i * d..(i + 1) * d].to_vec();
    let mut shape = x.shape().to_vec();
    shape[0] = 1;
    Array::from_f64(&v, &shape, x.dtype())
}

#[cfg(test)]
mod tests {
    use super::*;
    use odl_nn::{Activation, Init, MlpConfig};
    use odl_tensor::{DType, Rng};

    fn deep_linear(depth: usize, width: usize, init: Init, seed: u64) -> odl_nn::Sequential {
        let mut cfg = MlpConfig::new(&vec![width; depth + 1], Activation::Identity);
        cfg.bias = false;
        cfg.init = init;
        cfg.build(&mut Rng::seed(seed), DType::F64)
    }

    #[test]
    fn orthogonal_deep_linear_nets_are_isometries() {
        let mut net = deep_linear(6, 400, Init::Orthogonal(1.0), 1);
        let x = Rng::seed(2).normal(&[1, 400], 0.0, 1.0, DType::F64);
        let sv = jacobian_singular_values(&mut net, &x);
        assert_eq!(sv.len(), 400);
        for s in sv {
            assert!((s - 1.0).abs() < 1e-10, "singular value {s}");
        }
    }

    #[test]
    fn gaussian_deep_linear_nets_spread_like_the_depth() {
        // for products of L Gaussian N(0, 1/n) matrices, the eigenvalues of JJᵀ
        // have mean 1 and variance L (Fuss–Catalan moments)
        let x = Rng::seed(2).normal(&[1, 400], 0.0, 1.0, DType::F64);
        for depth in [1usize, 2, 4] {
            let mut net = deep_linear(depth, 400, Init::Normal((1.0f64 / 400.0).sqrt()), 10 + depth as u64);
            let ev: Vec<f64> = jacobian_singular_values(&mut net, &x).iter().map(|s| s * s).collect();
            let mean = ev.iter().sum::<f64>() / 400.0;
            let var = ev.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / 400.0;
            assert!((mean - 1.0).abs() < 0.15, "depth {depth}: mean {mean}");
            assert!((var / depth as f64 - 1.0).abs() < 0.3, "depth {depth}: var {var}");
        }
    }

    #[test]
    fn jacobian_matches_the_autodiff_jacobian_and_bounds_are_ordered() {
        let mut rng = Rng::seed(3);
        let mut net = MlpConfig::new(&[5, 8, 8, 3], Activation::Tanh).build(&mut rng, DType::F64);
        let x = rng.normal(&[1, 5], 0.0, 1.0, DType::F64);
        let (j, m, d) = input_jacobian(&mut |t| net.forward(t, &mut Ctx::eval()), &x);
        let want = {
            let cell = std::cell::RefCell::new(&mut net);
            odl_autodiff::jacobian(
                |t| cell.borrow_mut().forward(&t.reshape(&[1, 5]), &mut Ctx::eval()).reshape(&[3]),
                &x.reshape(&[5]),
            )
        };
        assert_eq!((m, d), (3, 5));
        let diff = j.iter().zip(want.to_vec_f64()).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(diff < 1e-12);
        let batch = rng.normal(&[16, 5], 0.0, 1.0, DType::F64);
        let lo = lipschitz_lower_bound(&mut net, &batch);
        let top = jacobian_singular_values(&mut net, &one_example(&batch, 0))[0];
        let hi = lipschitz_upper_bound(&net);
        assert!(lo > 0.0 && lo <= hi && top <= hi + 1e-12, "{lo} {top} {hi}");
        // the layer norms multiply to at least the Jacobian's norm
        let layers = layer_jacobian_norms(&mut net, &x);
        assert_eq!(layers.len(), 5, "{:?}", layers.iter().map(|l| &l.0).collect::<Vec<_>>());
        let prod: f64 = layers.iter().map(|l| l.2).product();
        let sv = jacobian_singular_values(&mut net, &x)[0];
        assert!(prod >= sv * (1.0 - 1e-12), "{prod} < {sv}");
        assert!(layers.iter().all(|l| l.1 != LayerKind::Affine || l.2 > 0.0));
    }
}
