//! Losses against their closed forms and the gradient checker.

use odl_autodiff::{check_grads, grad, CheckOptions, Tensor};
use odl_nn::{bce_with_logits, cross_entropy_smoothed, hinge, lp_loss};
use odl_tensor::{Array, DType, Rng};

#[test]
fn losses_have_their_closed_forms() {
    let z = Tensor::from_f64(&[2.0, -1.0, 0.5], &[3], DType::F64);
    let t = Tensor::from_f64(&[1.0, 0.0, 1.0], &[3], DType::F64);
    let bce: f64 = [(2.0f64, 1.0f64), (-1.0, 0.0), (0.5, 1.0)]
        .iter()
        .map(|&(z, t)| {
            -(t * (1.0 / (1.0 + (-z).exp())).ln() + (1.0 - t) * (1.0 - 1.0 / (1.0 + (-z).exp())).ln())
        })
        .sum::<f64>()
        / 3.0;
    assert!((bce_with_logits(&z, &t).item() - bce).abs() < 1e-14);
    // stable for huge logits
    let big = Tensor::from_f64(&[800.0, -800.0], &[2], DType::F64);
    let tb = Tensor::from_f64(&[1.0, 0.0], &[2], DType::F64);
    assert!(bce_with_logits(&big, &tb).item().abs() < 1e-12);
    let s = Tensor::from_f64(&[0.5, -2.0, 3.0], &[3], DType::F64);
    let y = Tensor::from_f64(&[1.0, -1.0, -1.0], &[3], DType::F64);
    assert!((hinge(&s, &y).item() - (0.5 + 0.0 + 4.0) / 3.0).abs() < 1e-15);
    let p = Tensor::from_f64(&[1.0, -1.0], &[2], DType::F64);
    let q = Tensor::from_f64(&[0.0, 1.0], &[2], DType::F64);
    assert!((lp_loss(&p, &q, 4.0).item() - (1.0 + 16.0) / 2.0).abs() < 1e-13);
    assert!((lp_loss(&p, &q, 2.0).item() - p.mse(&q).item()).abs() < 1e-15);
    // label smoothing: ε = 0 is CE; its gradient pushes toward the smoothed target
    let logits = Tensor::param(Array::from_f64(&[1.0, 2.0, 0.5, -1.0, 0.0, 3.0], &[2, 3], DType::F64));
    let ce = logits.cross_entropy(&[1, 2]).item();
    assert!((cross_entropy_smoothed(&logits, &[1, 2], 0.0).item() - ce).abs() < 1e-15);
    let g = grad(&cross_entropy_smoothed(&logits, &[1, 2], 0.3), &[&logits]).remove(0).to_vec_f64();
    let sm = logits.softmax(1).to_vec_f64();
    for i in 0..2 {
        for k in 0..3 {
            let target = 0.7 * f64::from(u8::from(k == [1, 2][i])) + 0.3 / 3.0;
            assert!((g[i * 3 + k] - (sm[i * 3 + k] - target) / 2.0).abs() < 1e-14);
        }
    }
}

#[test]
fn losses_pass_the_gradient_checker() {
    let mut rng = Rng::seed(1);
    let z = rng.normal(&[4, 3], 0.0, 1.0, DType::F64);
    let t = rng.uniform(&[4, 3], 0.0, 1.0, DType::F64);
    let opts = CheckOptions::order(2);
    check_grads(|x| bce_with_logits(&x[0], &x[1]), &[z.clone(), t.clone()], &opts).unwrap();
    check_grads(|x| cross_entropy_smoothed(&x[0], &[0, 2, 1, 1], 0.2), std::slice::from_ref(&z), &opts)
        .unwrap();
    // keep |pred − target| away from 0 for |·|^p, and y·s away from the hinge's kink
    let far = Array::from_f64(&[1.5, -0.8, 2.2, -1.7, 0.9, -1.1], &[6], DType::F64);
    check_grads(|x| lp_loss(&x[0], &Tensor::zeros(&[6], DType::F64), 3.0), std::slice::from_ref(&far), &opts)
        .unwrap();
    let signs = Tensor::from_f64(&[1.0, -1.0, 1.0, 1.0, -1.0, 1.0], &[6], DType::F64);
    check_grads(move |x| hinge(&x[0], &signs), &[far], &opts).unwrap();
}
