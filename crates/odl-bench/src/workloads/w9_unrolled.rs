//! W9: one generator step of an unrolled GAN (Metz et al. 2017) on W7's
//! 2-D data: five SGD steps of the discriminator, kept differentiable, and
//! the generator's gradient through all five — derivatives of derivatives
//! five deep; Adam on the generator.

use anyhow::Result;
use odl_autodiff::{grad, grad_graph, Tensor};
use odl_nn::Activation;
use odl_optim::Transform;
use odl_tensor::Rng;

use super::mlp::forward;
use super::w7_wgangp::{flatten, ring_batch};
use super::{Prepared, Workload};
use crate::data::{maybe_open, mlp, Source};

/// The workload.
pub static WORKLOAD: Workload = Workload { id: "W9", name: "unrolled", prepare };

/// Unrolled discriminator steps and their step size.
const K: usize = 5;
const INNER_LR: f64 = 0.01;

/// The discriminator's loss `mean softplus(−D(x_real)) + mean softplus(D(x_fake))`.
pub(super) fn d_loss(d: &[Tensor], xr: &Tensor, xf: &Tensor) -> Tensor {
    forward(d, xr, Activation::Relu)
        .neg()
        .softplus()
        .mean_all()
        .add(&forward(d, xf, Activation::Relu).softplus().mean_all())
}

/// The non-saturating generator loss `mean softplus(−D(x_fake))`.
pub(super) fn g_loss(d: &[Tensor], xf: &Tensor) -> Tensor {
    forward(d, xf, Activation::Relu).neg().softplus().mean_all()
}

fn prepare(src: &Source) -> Result<Prepared> {
    let npz = maybe_open(src, "W9")?;
    let mut rng = Rng::seed(9);
    let mut g_params = flatten(mlp(src, npz.as_ref(), "G", &[2, 128, 128, 2], &mut rng)?);
    let d_params = flatten(mlp(src, npz.as_ref(), "D", &[2, 128, 128, 1], &mut rng)?);
    let (x_real, z) = ring_batch(npz.as_ref(), &mut rng)?;
    let (xr, z) = (Tensor::constant(x_real), Tensor::constant(z));
    let mut adam = odl_optim::adam(1e-4, 0.5, 0.999, 1e-8);
    let step = move |want: bool| {
        let gp: Vec<Tensor> = g_params.iter().map(|a| Tensor::param(a.clone())).collect();
        let xf = forward(&gp, &z, Activation::Relu);
        let mut d: Vec<Tensor> = d_params.iter().map(|a| Tensor::param(a.clone())).collect();
        for _ in 0..K {
            let refs: Vec<&Tensor> = d.iter().collect();
            let gd = grad_graph(&d_loss(&d, &xr, &xf), &refs);
            d = d.iter().zip(&gd).map(|(p, g)| p.sub(&g.mul_scalar(INNER_LR))).collect();
        }
        let lg = g_loss(&d, &xf);
        let refs: Vec<&Tensor> = gp.iter().collect();
        let grads: Vec<_> = grad(&lg, &refs).into_iter().map(|t| t.value().clone()).collect();
        let check = want.then(|| lg.item());
        drop(refs);
        adam.step(&mut g_params, grads);
        check
    };
    Ok(Prepared::step(step))
}
