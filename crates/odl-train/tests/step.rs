//! The data-parallel training step: shards of a batch on replicas of the
//! model take the step the whole batch takes.

use odl_autodiff::Tensor;
use odl_nn::{Activation, Ctx, MlpConfig, Module, Sequential};
use odl_optim::{adam, Transform};
use odl_tensor::{DType, Rng};
use odl_train::shards::shards;
use odl_train::step::{train_step, train_step_sharded};

fn model() -> Sequential {
    MlpConfig::new(&[7, 16, 16, 4], Activation::Relu).build(&mut Rng::seed(5), DType::F64)
}

#[test]
fn a_sharded_step_is_the_whole_batch_step() {
    let mut rng = Rng::seed(6);
    let x = Tensor::constant(rng.normal(&[30, 7], 0.0, 1.0, DType::F64));
    let y: Vec<usize> = (0..30).map(|i| (i * 7 + 3) % 4).collect();
    let (mut whole, mut split) = (model(), model());
    let (mut o1, mut o2): (Box<dyn Transform>, Box<dyn Transform>) =
        (Box::new(adam(1e-2, 0.9, 0.999, 1e-8)), Box::new(adam(1e-2, 0.9, 0.999, 1e-8)));
    for step in 0..5 {
        let a = train_step(&mut whole, &mut *o1, |m| m.forward(&x, &mut Ctx::eval()).cross_entropy(&y), true)
            .unwrap();
        // 4 uneven shards (30 = 7 + 8 + 7 + 8 rows), weighted by their sizes
        let parts = shards(&x, &y, 4);
        assert_eq!(parts.len(), 4);
        let b = train_step_sharded(
            &mut split,
            &mut *o2,
            &parts,
            &|m, (xk, yk), _| m.forward(xk, &mut Ctx::eval()).cross_entropy(yk),
            true,
        )
        .unwrap();
        assert!((a.loss - b.loss).abs() < 1e-12 * a.loss.abs(), "step {step}: loss {} vs {}", a.loss, b.loss);
        assert!((a.grad_norm() - b.grad_norm()).abs() < 1e-10 * a.grad_norm());
        for (p, q) in whole.param_values().iter().zip(split.param_values()) {
            for (u, v) in p.to_vec_f64().iter().zip(q.to_vec_f64()) {
                assert!((u - v).abs() < 1e-10, "step {step}: {u} vs {v}");
            }
        }
    }
}

#[test]
fn a_non_finite_sharded_loss_is_a_divergence_and_changes_nothing() {
    let mut rng = Rng::seed(7);
    let mut xs = rng.normal(&[8, 7], 0.0, 1.0, DType::F64).to_vec_f64();
    xs[50] = f64::NAN; // row 7: in the second shard
    let x = Tensor::from_f64(&xs, &[8, 7], DType::F64);
    let y = vec![0; 8];
    let mut m = model();
    let before = m.param_values();
    let mut opt = adam(1e-2, 0.9, 0.999, 1e-8);
    let r = train_step_sharded(
        &mut m,
        &mut opt,
        &shards(&x, &y, 2),
        &|m, (xk, yk), _| m.forward(xk, &mut Ctx::eval()).cross_entropy(yk),
        false,
    );
    assert!(r.unwrap_err().loss.is_nan());
    for (p, q) in before.iter().zip(m.param_values()) {
        assert_eq!(p.to_vec_f64(), q.to_vec_f64());
    }
}
