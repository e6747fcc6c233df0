//! 03 — Curvature of a trained network: the top Hessian eigenvalue of the
//! loss by power iteration on the Hessian operator, against the exact
//! spectrum of the full (small) Hessian.
//!
//! `cargo run --release --example 03_hessian_spectrum`

use odl_autodiff::{power_iteration, to_dense, Hessian, LinOp, Tensor};
use odl_data::synthetic::gaussian_mixture;
use odl_nn::{Activation, Ctx, MlpConfig, Module};
use odl_optim::adam;
use odl_tensor::{DType, Rng};
use odl_train::train_step;

fn main() {
    let data = gaussian_mixture(200, 3, 2, 2.0, 0.5, 1);
    let x = Tensor::constant(data.x.clone());
    let mut rng = Rng::seed(2);
    let mut net = MlpConfig::new(&[2, 8, 3], Activation::Tanh).build(&mut rng, DType::F64);
    let mut opt = adam(0.05, 0.9, 0.999, 1e-8);
    for _ in 0..300 {
        train_step(
            &mut net,
            &mut opt,
            |m| m.forward(&x, &mut Ctx::eval()).cross_entropy(data.labels()),
            false,
        )
        .expect("the loss stays finite");
    }
    let params: Vec<Tensor> = net.params().into_iter().cloned().collect();
    let loss = net.forward(&x, &mut Ctx::eval()).cross_entropy(data.labels());
    let h = Hessian::new(&loss, &params);
    println!("loss {:.4}, {} parameters", loss.item(), h.dim());
    let (lam, _) = power_iteration(&h, &vec![1.0; h.dim()], 200);
    println!("power iteration (200 HVPs): λ_max ≈ {lam:.6}");
    // exact: the dense Hessian's largest eigenvalue by faer
    let n = h.dim();
    let dense = to_dense(&h);
    let m = faer::MatRef::from_row_major_slice(&dense, n, n);
    let eig = m.self_adjoint_eigenvalues(faer::Side::Lower).expect("symmetric eigenvalues");
    let (lo, hi) = (
        eig.iter().cloned().fold(f64::INFINITY, f64::min),
        eig.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
    );
    println!("exact spectrum: λ_min {lo:.3e}, λ_max {hi:.6}");
}
