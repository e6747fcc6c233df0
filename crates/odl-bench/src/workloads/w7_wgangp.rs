//! W7: one WGAN-GP critic step on 2-D data (8 Gaussians on a ring): the
//! gradient penalty on interpolates is a derivative of a derivative; Adam
//! (β = 0.5, 0.9). Every term is a mean over the 256 rows, so the batch
//! splits into one shard per compute thread.

use anyhow::Result;
use odl_autodiff::{value_and_grad_of_sum, Tensor};
use odl_nn::Activation;
use odl_optim::Transform;
use odl_tensor::{Array, DType, Rng};

use super::mlp::forward;
use super::{Prepared, Workload};
use crate::data::{maybe_open, mlp, Layer, Source};

/// The workload.
pub static WORKLOAD: Workload = Workload { id: "W7", name: "wgangp", prepare };

/// A layer list as `[W₀, b₀, W₁, b₁, …]`.
pub(super) fn flatten(layers: Vec<Layer>) -> Vec<Array> {
    layers.into_iter().flat_map(|(w, b)| [w, b]).collect()
}

/// The 2-D GAN batch of W7, W9 and W10: 256 rows of `x_real` from 8
/// Gaussians on a ring (centres `2(cos 2πk/8, sin 2πk/8)`, std 0.02) and
/// noise `z ~ N(0, 1)`, from odl's generator or the dump (`x_real`, `z`).
pub(super) fn ring_batch(npz: Option<&odl_tensor::npy::Npz>, rng: &mut Rng) -> Result<(Array, Array)> {
    Ok(match npz {
        None => {
            let k: Vec<usize> = (0..256).map(|_| rng.below(8)).collect();
            let mut xr = Vec::with_capacity(512);
            for &ki in &k {
                let ang = 2.0 * std::f64::consts::PI * ki as f64 / 8.0;
                xr.push(2.0 * ang.cos() + 0.02 * rng.normal_f64());
                xr.push(2.0 * ang.sin() + 0.02 * rng.normal_f64());
            }
            (Array::from_f64(&xr, &[256, 2], DType::F32), rng.normal(&[256, 2], 0.0, 1.0, DType::F32))
        }
        Some(npz) => {
            (npz.array("x_real", DType::F32, Some(&[256, 2]))?, npz.array("z", DType::F32, Some(&[256, 2]))?)
        }
    })
}

fn prepare(src: &Source) -> Result<Prepared> {
    let npz = maybe_open(src, "W7")?;
    let mut rng = Rng::seed(7);
    let g_params: Vec<Tensor> = flatten(mlp(src, npz.as_ref(), "G", &[2, 128, 128, 2], &mut rng)?)
        .into_iter()
        .map(Tensor::constant)
        .collect();
    let mut d_params = flatten(mlp(src, npz.as_ref(), "D", &[2, 128, 128, 1], &mut rng)?);
    let (x_real, z) = ring_batch(npz.as_ref(), &mut rng)?;
    let eps = match &npz {
        None => rng.uniform(&[256, 1], 0.0, 1.0, DType::F32),
        Some(npz) => npz.array("eps", DType::F32, Some(&[256, 1]))?,
    };
    // every term of the critic's loss is a mean over the 256 rows (real,
    // noise and mixing weight row by row), so the batch splits into one shard
    // of rows per compute thread (data parallelism)
    let n = odl_tensor::num_threads().clamp(1, 256);
    let rows = |a: &Array, lo: usize, hi: usize| {
        let w = a.shape()[1];
        Tensor::constant(Array::from_vec(a.as_slice::<f32>()[lo * w..hi * w].to_vec(), &[hi - lo, w]))
    };
    let shards: Vec<(f64, [Tensor; 3])> = (0..n)
        .map(|k| {
            let (lo, hi) = (k * 256 / n, (k + 1) * 256 / n);
            ((hi - lo) as f64 / 256.0, [rows(&x_real, lo, hi), rows(&z, lo, hi), rows(&eps, lo, hi)])
        })
        .collect();
    let mut adam = odl_optim::adam(1e-4, 0.5, 0.9, 1e-8);
    let step = move |want: bool| {
        let dp: Vec<Tensor> = d_params.iter().map(|a| Tensor::param(a.clone())).collect();
        let critic_loss = |[xr, z, e]: &[Tensor; 3]| {
            let xf = odl_autodiff::no_grad(|| forward(&g_params, z, Activation::Relu)).detach();
            let xh = Tensor::param(e.mul(xr).add(&e.neg().add_scalar(1.0).mul(&xf)).value().clone());
            let d_hat = forward(&dp, &xh, Activation::Relu).sum_all();
            let gx = odl_autodiff::grad_graph(&d_hat, &[&xh]).remove(0);
            let gp = gx.square().sum(&[1], false).sqrt().add_scalar(-1.0).square().mean_all();
            forward(&dp, &xf, Activation::Relu)
                .mean_all()
                .sub(&forward(&dp, xr, Activation::Relu).mean_all())
                .add(&gp.mul_scalar(10.0))
        };
        let refs: Vec<&Tensor> = dp.iter().collect();
        let (value, grads) = value_and_grad_of_sum(&shards, &refs, &critic_loss);
        let check = want.then_some(value);
        drop(refs);
        drop(dp);
        adam.step(&mut d_params, grads);
        check
    };
    Ok(Prepared { step: Box::new(step), extra: vec![] })
}
