//! W10: one step of consensus optimization (Mescheder et al. 2017) for both
//! players of W7's 2-D GAN: the game field ξ = (∇_G L_G, ∇_D L_D) and the
//! gradient of ½‖ξ‖², a reverse pass through both players' gradients.

use anyhow::Result;
use odl_autodiff::{grad, grad_graph, Tensor};
use odl_nn::Activation;
use odl_optim::Transform;
use odl_tensor::{Array, Rng};

use super::mlp::forward;
use super::w7_wgangp::{flatten, ring_batch};
use super::w9_unrolled::{d_loss, g_loss};
use super::{Prepared, Workload};
use crate::data::{maybe_open, mlp, Source};

/// The workload.
pub static WORKLOAD: Workload = Workload { id: "W10", name: "consensus", prepare };

/// Consensus weight γ and the step size.
const GAMMA: f64 = 0.1;
const LR: f64 = 1e-4;

fn prepare(src: &Source) -> Result<Prepared> {
    let npz = maybe_open(src, "W10")?;
    let mut rng = Rng::seed(10);
    let mut params = flatten(mlp(src, npz.as_ref(), "G", &[2, 128, 128, 2], &mut rng)?);
    let n_g = params.len();
    params.extend(flatten(mlp(src, npz.as_ref(), "D", &[2, 128, 128, 1], &mut rng)?));
    let (x_real, z) = ring_batch(npz.as_ref(), &mut rng)?;
    let (xr, z) = (Tensor::constant(x_real), Tensor::constant(z));
    let mut sgd = odl_optim::sgd(LR);
    let step = move |want: bool| {
        let ps: Vec<Tensor> = params.iter().map(|a| Tensor::param(a.clone())).collect();
        let (g, d) = ps.split_at(n_g);
        let xf = forward(g, &z, Activation::Relu);
        let gref: Vec<&Tensor> = g.iter().collect();
        let dref: Vec<&Tensor> = d.iter().collect();
        let mut xi = grad_graph(&g_loss(d, &xf), &gref);
        xi.extend(grad_graph(&d_loss(d, &xr, &xf), &dref));
        let mut h = xi[0].square().sum_all();
        for t in &xi[1..] {
            h = h.add(&t.square().sum_all());
        }
        let h = h.mul_scalar(0.5);
        let all: Vec<&Tensor> = ps.iter().collect();
        let jt_xi = grad(&h, &all);
        let check = want.then(|| h.item());
        drop((gref, dref, all));
        // p ← p − η (ξ + γ Jᵀξ)
        let update: Vec<Array> = xi
            .iter()
            .zip(&jt_xi)
            .map(|(x, j)| x.detach().add(&j.mul_scalar(GAMMA)).value().clone())
            .collect();
        sgd.step(&mut params, update);
        check
    };
    Ok(Prepared::step(step))
}
