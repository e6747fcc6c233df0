//! Signal propagation: how activations and back-propagated gradients evolve
//! layer by layer (Lectures 5–7), and the length of the activation vector
//! over random initializations (Hanin & Rolnick 2018).

use odl_autodiff::{grad, Tensor};
use odl_nn::{Ctx, LayerKind, Module};

/// Statistics of one layer's output on a batch.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LayerStats {
    /// the layer's name (`0`, `1.block.0`, …)
    pub name: String,
    /// `affine` (pre-activation), `relu`/`tanh`/… (post-activation), `norm`, `residual`, `other`
    pub kind: String,
    /// mean over examples and units
    pub mean: f64,
    /// variance over examples and units
    pub var: f64,
    /// mean of ‖h‖² / units over the examples (the "length" q of mean-field theory)
    pub sq_length: f64,
    /// variance of the back-propagated gradient ∂L/∂h
    pub grad_var: f64,
    /// for tanh/sigmoid: fraction of outputs within 1% of saturation
    pub saturated: f64,
    /// for ReLU: fraction of units that are zero on every example of the batch
    pub dead: f64,
}

fn kind_name(k: LayerKind) -> String {
    match k {
        LayerKind::Affine => "affine".into(),
        LayerKind::Activation(a) => format!("{a:?}").to_lowercase(),
        LayerKind::Norm => "norm".into(),
        LayerKind::Residual => "residual".into(),
        LayerKind::LinearMap => "linear-map".into(),
        LayerKind::Pool { max: true, .. } => "max-pool".into(),
        LayerKind::Pool { max: false, .. } => "avg-pool".into(),
        LayerKind::Other => "other".into(),
    }
}

/// Per-layer statistics of a forward pass on `x` (evaluation mode) and of the
/// gradient of `loss(outputs)` flowing back through it.
pub fn signal(model: &mut dyn Module, x: &Tensor, loss: impl Fn(&Tensor) -> Tensor) -> Vec<LayerStats> {
    let mut rec = Vec::new();
    let y = model.forward_traced(x, &mut Ctx::eval(), "", &mut rec);
    let l = loss(&y);
    let outs: Vec<&Tensor> = rec.iter().map(|t| &t.output).collect();
    let grads = grad(&l, &outs);
    let n = x.shape()[0];
    rec.iter()
        .zip(grads)
        .map(|(t, g)| {
            let v = t.output.value().to_vec_f64();
            let gv = g.value().to_vec_f64();
            let (mean, var) = mean_var(&v);
            let (_, grad_var) = mean_var(&gv);
            let units = v.len() / n.max(1);
            let sq_length = v.iter().map(|a| a * a).sum::<f64>() / v.len().max(1) as f64;
            let saturated = match t.kind {
                LayerKind::Activation(odl_nn::Activation::Tanh) => frac(&v, |a| a.abs() > 0.99),
                LayerKind::Activation(odl_nn::Activation::Sigmoid) => {
                    frac(&v, |a| !(0.01..=0.99).contains(&a))
                }
                _ => 0.0,
            };
            let dead = match t.kind {
                LayerKind::Activation(odl_nn::Activation::Relu) => {
                    let dead = (0..units).filter(|&u| (0..n).all(|i| v[i * units + u] <= 0.0)).count();
                    dead as f64 / units.max(1) as f64
                }
                _ => 0.0,
            };
            LayerStats {
                name: t.name.clone(),
                kind: kind_name(t.kind),
                mean,
                var,
                sq_length,
                grad_var,
                saturated,
                dead,
            }
        })
        .collect()
}

/// `‖h_l(x_i)‖² / ‖x_i‖²` for every leaf layer `l` and example `i`: the
/// squared length of the activation vector relative to the input's.
pub fn activation_lengths(model: &mut dyn Module, x: &Tensor) -> Vec<(String, LayerKind, Vec<f64>)> {
    let mut rec = Vec::new();
    odl_autodiff::no_grad(|| model.forward_traced(x, &mut Ctx::eval(), "", &mut rec));
    let n = x.shape()[0];
    let row_sq = |v: &[f64]| -> Vec<f64> {
        let d = v.len() / n;
        (0..n).map(|i| v[i * d..(i + 1) * d].iter().map(|a| a * a).sum()).collect()
    };
    let x0 = row_sq(&x.value().to_vec_f64());
    rec.iter()
        .map(|t| {
            let l = row_sq(&t.output.value().to_vec_f64());
            (t.name.clone(), t.kind, l.iter().zip(&x0).map(|(a, b)| a / b).collect())
        })
        .collect()
}

fn mean_var(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let m = v.iter().sum::<f64>() / n;
    (m, v.iter().map(|a| (a - m).powi(2)).sum::<f64>() / n)
}

fn frac(v: &[f64], p: impl Fn(f64) -> bool) -> f64 {
    v.iter().filter(|&&a| p(a)).count() as f64 / v.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use odl_nn::{Activation, Init, MlpConfig};
    use odl_tensor::{DType, Rng};

    fn net(act: Activation, init: Init, depth: usize, width: usize, seed: u64) -> odl_nn::Sequential {
        let mut w = vec![width; depth + 1];
        w.push(10);
        let mut cfg = MlpConfig::new(&w, act);
        cfg.bias = false;
        cfg.init = init;
        cfg.build(&mut Rng::seed(seed), DType::F64)
    }

    #[test]
    fn he_init_keeps_relu_lengths_and_small_init_makes_them_vanish() {
        let x = Tensor::constant(Rng::seed(1).normal(&[64, 256], 0.0, 1.0, DType::F64));
        let labels: Vec<usize> = (0..64).map(|i| i % 10).collect();
        let he = signal(&mut net(Activation::Relu, Init::KaimingNormal(2f64.sqrt()), 10, 256, 2), &x, |y| {
            y.cross_entropy(&labels)
        });
        let pre: Vec<&LayerStats> = he.iter().filter(|s| s.kind == "affine").collect();
        // He: the pre-activation length q = 2·(input variance) stays of order 1
        // through 10 layers (up to the finite-width drift Hanin & Rolnick describe)
        for s in &pre[..10] {
            assert!(s.sq_length > 0.8 && s.sq_length < 5.0, "{}: q = {}", s.name, s.sq_length);
        }
        let small = signal(&mut net(Activation::Relu, Init::KaimingNormal(1.0), 10, 256, 2), &x, |y| {
            y.cross_entropy(&labels)
        });
        let q: Vec<f64> = small.iter().filter(|s| s.kind == "affine").map(|s| s.sq_length).collect();
        // gain 1 halves q per ReLU layer: q_10 ≈ 2⁻⁹
        assert!(q[9] < 0.01 && q[9] > 0.0005, "{q:?}");
        // gradients shrink backwards in the same way (first layer ≪ last)
        let g: Vec<f64> = small.iter().filter(|s| s.kind == "affine").map(|s| s.grad_var).collect();
        assert!(g[0] < g[9] * 0.01, "{g:?}");
        // on 64 Gaussian inputs a first-layer unit is dead with probability 2⁻⁶⁴
        assert_eq!(he.iter().find(|s| s.kind == "relu").unwrap().dead, 0.0);
        // a bias of −100 kills every unit
        let mut cfg = MlpConfig::new(&[256, 32, 10], Activation::Relu);
        cfg.bias_init = Some(Init::Constant(-100.0));
        let st = signal(&mut cfg.build(&mut Rng::seed(0), DType::F64), &x, |y| y.cross_entropy(&labels));
        assert_eq!(st.iter().find(|s| s.kind == "relu").unwrap().dead, 1.0);
    }

    #[test]
    fn large_tanh_weights_saturate() {
        let x = Tensor::constant(Rng::seed(1).normal(&[32, 100], 0.0, 1.0, DType::F64));
        let labels: Vec<usize> = (0..32).map(|i| i % 10).collect();
        let st = signal(&mut net(Activation::Tanh, Init::MeanField(4.0), 5, 100, 3), &x, |y| {
            y.cross_entropy(&labels)
        });
        let last_tanh = st.iter().rfind(|s| s.kind == "tanh").unwrap();
        // z ~ N(0, 16 q) with q ≈ 0.8: P(|z| > 2.65) ≈ 0.46
        assert!(last_tanh.saturated > 0.3, "{}", last_tanh.saturated);
        let st = signal(&mut net(Activation::Tanh, Init::MeanField(0.5), 5, 100, 3), &x, |y| {
            y.cross_entropy(&labels)
        });
        assert!(st.iter().all(|s| s.saturated < 0.01));
    }

    #[test]
    fn activation_lengths_are_relative_to_the_input() {
        let x = Tensor::constant(Rng::seed(1).normal(&[8, 50], 0.0, 1.0, DType::F64));
        let mut cfg = MlpConfig::new(&[50, 50, 50], Activation::Identity);
        cfg.bias = false;
        cfg.init = Init::Orthogonal(1.0);
        let lens = activation_lengths(&mut cfg.build(&mut Rng::seed(0), DType::F64), &x);
        for (_, _, l) in lens {
            assert!(l.iter().all(|v| (v - 1.0).abs() < 1e-10));
        }
    }
}
