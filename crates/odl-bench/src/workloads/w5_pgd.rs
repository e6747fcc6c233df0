//! W5: a 20-step L∞ PGD attack (ε = 0.1, α = 0.01, no random start) on W2's
//! untrained network for 256 inputs in [0, 1]; every example is attacked on
//! its own, so the batch splits into one shard per compute thread. The check
//! is the mean absolute perturbation.

use anyhow::Result;
use odl_autodiff::{grad, par_map, Tensor};
use odl_nn::Activation;
use odl_tensor::cpu::simd;
use odl_tensor::{Array, DType, Rng};

use super::mlp::{forward, shard_rows, W2};
use super::{Prepared, Workload};
use crate::data::{maybe_open, Source};

/// The workload.
pub static WORKLOAD: Workload = Workload { id: "W5", name: "pgd", prepare };

fn prepare(src: &Source) -> Result<Prepared> {
    // W2's (untrained) network, frozen; a batch of 256 inputs in [0, 1]
    let npz = maybe_open(src, "W5")?;
    let params: Vec<Tensor> = W2.params(src, npz.as_ref())?.into_iter().map(Tensor::constant).collect();
    let (x0, y) = match &npz {
        None => {
            let mut r5 = Rng::seed(5);
            let x = r5.uniform(&[256, 784], 0.0, 1.0, DType::F32);
            (x, (0..256).map(|_| r5.below(10)).collect::<Vec<_>>())
        }
        Some(npz) => (npz.array("x", DType::F32, Some(&[256, 784]))?, npz.indices("y", Some(10))?),
    };
    let (eps, alpha) = (0.1, 0.01);
    // every example is attacked on its own (the sign of a mean loss's input
    // gradient is that of its own loss), so the batch splits into one shard
    // of rows per compute thread, each attacked start to end on its thread
    let shards: Vec<(Array, Vec<usize>)> =
        shard_rows(&x0, &y).into_iter().map(|(_, (x, y))| (x.value().clone(), y)).collect();
    let attack = move |(x0, y): &(Array, Vec<usize>)| -> Array {
        let lo = x0.binary(odl_tensor::BinaryOp::Sub, &Array::scalar(eps, DType::F32));
        let hi = x0.binary(odl_tensor::BinaryOp::Add, &Array::scalar(eps, DType::F32));
        // L∞ PGD without random start: x ← Π(x + α·sign ∇ₓ CE)
        let mut xa = x0.clone();
        for _ in 0..20 {
            let xt = Tensor::param(xa.clone());
            let loss = forward(&params, &xt, Activation::Relu).cross_entropy(y);
            let g = grad(&loss, &[&xt]).remove(0);
            drop(loss);
            drop(xt);
            // the attack's update in one fused pass (not differentiated):
            // x ← clip(min(max(x + α·sign g, x0 − ε), x0 + ε), 0, 1)
            let (gs, los, his) = (g.value().as_slice::<f32>(), lo.as_slice::<f32>(), hi.as_slice::<f32>());
            let xs = xa.as_mut_slice::<f32>();
            let a = alpha as f32;
            simd(
                #[inline(always)]
                || {
                    for (((x, &g), &l), &h) in xs.iter_mut().zip(gs).zip(los).zip(his) {
                        let s = if g > 0.0 {
                            1.0
                        } else if g < 0.0 {
                            -1.0
                        } else {
                            0.0
                        };
                        let v = *x + a * s;
                        let v = if v > l { v } else { l };
                        let v = if v < h { v } else { h };
                        *x = v.clamp(0.0, 1.0);
                    }
                },
            );
        }
        xa
    };
    let step = move |want: bool| {
        let parts = par_map(&shards, &attack);
        let mut xa = Vec::with_capacity(x0.numel());
        for p in &parts {
            xa.extend_from_slice(p.as_slice::<f32>());
        }
        let xa = Array::from_vec(xa, x0.shape());
        want.then(|| {
            let d = xa.binary(odl_tensor::BinaryOp::Sub, &x0).unary(odl_tensor::UnaryOp::Abs);
            d.sum_all() / d.numel() as f64
        })
    };
    Ok(Prepared { step: Box::new(step), extra: vec![] })
}
