//! 02 — An MLP trained step by step: layers from `odl-nn`, an optimizer from
//! `odl-optim` (a chain of transformations), data from `odl-data`, and the
//! one training step every odl trainer takes (`odl_train::train_step`: loss,
//! gradient, optimizer, new parameters).
//!
//! `cargo run --release --example 02_train_mlp`

use odl_data::synthetic::two_moons;
use odl_nn::{Activation, Ctx, MlpConfig, Module};
use odl_optim::{chain, clip_by_global_norm, scale, trace};
use odl_tensor::{DType, Rng};
use odl_train::train_step;

fn main() {
    let (train, test) = two_moons(1000, 0.1, 0).split(0.8, 0);
    let mut rng = Rng::seed(0);
    let mut net = MlpConfig::new(&[2, 32, 32, 2], Activation::Tanh).build(&mut rng, DType::F64);
    // heavy-ball SGD with gradient clipping, composed: clip → momentum → −lr
    let mut opt =
        chain(vec![Box::new(clip_by_global_norm(1.0)), Box::new(trace(0.9, false)), Box::new(scale(-0.05))]);
    for epoch in 0..20 {
        let mut total = 0.0;
        for (i, b) in train.batches(32, epoch).enumerate() {
            let x = odl_autodiff::Tensor::constant(b.x.clone());
            let labels = match &b.y {
                odl_data::Targets::Classes { labels, .. } => labels.clone(),
                odl_data::Targets::Values(_) => unreachable!(),
            };
            let mut ctx = Ctx::train(epoch * 1000 + i as u64);
            let step =
                train_step(&mut net, &mut opt, |m| m.forward(&x, &mut ctx).cross_entropy(&labels), false)
                    .expect("the loss stays finite");
            total += step.loss;
        }
        if epoch % 5 == 4 {
            let logits = net.forward(&odl_autodiff::Tensor::constant(test.x.clone()), &mut Ctx::eval());
            let pred = logits.to_vec_f64();
            let acc = test
                .labels()
                .iter()
                .enumerate()
                .filter(|(i, &l)| (pred[2 * i + 1] > pred[2 * i]) == (l == 1))
                .count() as f64
                / test.len() as f64;
            println!("epoch {:2}  mean train loss {:.4}  test accuracy {:.3}", epoch + 1, total / 25.0, acc);
        }
    }
}
