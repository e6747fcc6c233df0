//! Levenberg–Marquardt on least-squares problems with known solutions.

use odl_autodiff::Tensor;
use odl_optim::{levenberg_marquardt, LmConfig};
use odl_tensor::{Array, DType, Rng};

#[test]
fn rosenbrock_as_least_squares() {
    // r(x, y) = (1 − x, 10(y − x²)); minimum 0 at (1, 1)
    let res = |t: &Tensor| {
        let x = t.slice(0, 0, 1, 1);
        let y = t.slice(0, 1, 2, 1);
        Tensor::concat(&[x.neg().add_scalar(1.0), y.sub(&x.square()).mul_scalar(10.0)], 0)
    };
    let rep = levenberg_marquardt(res, &[-1.2, 1.0], &LmConfig { max_iters: 100, ..Default::default() });
    assert!((rep.theta[0] - 1.0).abs() < 1e-8 && (rep.theta[1] - 1.0).abs() < 1e-8, "{:?}", rep.theta);
    assert!(rep.costs.len() < 60, "{} iterations", rep.costs.len());
    assert!(rep.costs.windows(2).all(|w| w[1] <= w[0]), "the cost never increases");
}

#[test]
fn an_ill_conditioned_deep_linear_fit_that_gd_cannot_finish() {
    // Rahimi & Recht's example in small: Y = A X with cond(A) = 1e4, fitted by
    // a two-layer linear network W2 W1 (d×d each), loss ½‖W2 W1 X − Y‖²
    let (d, n) = (4, 40);
    let mut rng = Rng::seed(1);
    let sv = [1.0, 0.1, 0.01, 1e-4];
    let q = odl_nn_free_orthogonal(&mut rng, d);
    let mut a = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            a[i * d + j] = (0..d).map(|k| q[i * d + k] * sv[k] * q[j * d + k]).sum();
        }
    }
    let x = rng.normal(&[d, n], 0.0, 1.0, DType::F64);
    let y = Array::matmul(&Array::from_f64(&a, &[d, d], DType::F64), &x, false, false);
    let (xt, yt) = (Tensor::constant(x), Tensor::constant(y));
    let res = move |t: &Tensor| {
        let w1 = t.slice(0, 0, d * d, 1).reshape(&[d, d]);
        let w2 = t.slice(0, d * d, 2 * d * d, 1).reshape(&[d, d]);
        w2.matmul(&w1).matmul(&xt).sub(&yt).reshape(&[d * n])
    };
    let theta0: Vec<f64> =
        (0..2 * d * d).map(|i| if i % (d + 1) == 0 { 1.0 } else { 0.0 } + 0.1 * rng.normal_f64()).collect();
    let rep =
        levenberg_marquardt(&res, &theta0, &LmConfig { max_iters: 200, tol: 1e-24, ..Default::default() });
    let (c0, c_lm) = (rep.costs[0], *rep.costs.last().unwrap());
    assert!(c_lm < 1e-14 * c0, "LM: {c0} → {c_lm}");
    // plain GD at a stable step size, 5000 steps: stuck far above
    let mut theta = theta0.clone();
    let lr = 0.01;
    for _ in 0..5000 {
        let p = Tensor::param(Array::from_f64(&theta, &[theta.len()], DType::F64));
        let loss = res(&p).square().sum_all().mul_scalar(0.5);
        let g = odl_autodiff::grad(&loss, &[&p]).remove(0).to_vec_f64();
        theta.iter_mut().zip(&g).for_each(|(t, g)| *t -= lr * g);
    }
    let p = Tensor::constant(Array::from_f64(&theta, &[theta.len()], DType::F64));
    let c_gd = res(&p).square().sum_all().mul_scalar(0.5).item();
    assert!(c_gd > 1e4 * c_lm.max(1e-30) && c_gd > 1e-9 * c0, "GD {c_gd} vs LM {c_lm}");
}

/// A random orthogonal matrix by Gram–Schmidt (row-major).
fn odl_nn_free_orthogonal(rng: &mut Rng, d: usize) -> Vec<f64> {
    let mut cols: Vec<Vec<f64>> = Vec::new();
    while cols.len() < d {
        let mut v: Vec<f64> = (0..d).map(|_| rng.normal_f64()).collect();
        for c in &cols {
            let p: f64 = c.iter().zip(&v).map(|(a, b)| a * b).sum();
            v.iter_mut().zip(c).for_each(|(x, y)| *x -= p * y);
        }
        let nv = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        cols.push(v.iter().map(|x| x / nv).collect());
    }
    let mut q = vec![0.0; d * d];
    for (j, c) in cols.iter().enumerate() {
        for i in 0..d {
            q[i * d + j] = c[i];
        }
    }
    q
}
