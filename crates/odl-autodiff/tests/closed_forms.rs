//! Derivatives checked against closed forms from calculus.

use odl_autodiff::{
    grad, grad_graph, jacobian, jvp, power_iteration, to_dense, value_and_grad_of_sum, Hessian, LinOp, Tensor,
};
use odl_tensor::{Array, DType, Rng};

fn sym_matrix(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = Rng::seed(seed);
    let b: Vec<f64> = (0..n * n).map(|_| rng.normal_f64()).collect();
    let mut a = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            a[i * n + j] = 0.5 * (b[i * n + j] + b[j * n + i]);
        }
    }
    a
}

#[test]
fn hessian_of_quadratic_form_is_a() {
    // f(x) = ½ xᵀ A x with A symmetric: ∇²f = A exactly
    let n = 6;
    let a = sym_matrix(n, 1);
    let at = Tensor::from_f64(&a, &[n, n], DType::F64);
    let x = Tensor::param(Rng::seed(2).normal(&[n, 1], 0.0, 1.0, DType::F64));
    let f = x.t().matmul(&at).matmul(&x).sum_all().mul_scalar(0.5);
    let h = to_dense(&Hessian::new(&f, &[x]));
    for (hv, av) in h.iter().zip(&a) {
        assert!((hv - av).abs() < 1e-12, "{hv} vs {av}");
    }
}

#[test]
fn hessian_of_softmax_cross_entropy_matches_its_formula() {
    // L(W) = (1/n) Σ_i CE(W x_i, y_i);  ∇²L = (1/n) Σ_i (diag p_i − p_i p_iᵀ) ⊗ x_i x_iᵀ
    let (n, d, k) = (5, 3, 4);
    let mut rng = Rng::seed(3);
    let x = rng.normal(&[n, d], 0.0, 1.0, DType::F64);
    let w = Tensor::param(rng.normal(&[k, d], 0.0, 0.5, DType::F64));
    let y = [0usize, 3, 1, 1, 2];
    let xt = Tensor::constant(x.clone());
    let loss = xt.linear(&w, None).cross_entropy(&y);
    let h = to_dense(&Hessian::new(&loss, std::slice::from_ref(&w)));
    let p = xt.linear(&w, None).softmax(1).to_vec_f64();
    let xv = x.to_vec_f64();
    let dim = k * d;
    for r in 0..dim {
        for c in 0..dim {
            let (a, i) = (r / d, r % d);
            let (b, j) = (c / d, c % d);
            let mut want = 0.0;
            for s in 0..n {
                let pa = p[s * k + a];
                let pb = p[s * k + b];
                let cov = if a == b { pa - pa * pb } else { -pa * pb };
                want += cov * xv[s * d + i] * xv[s * d + j];
            }
            want /= n as f64;
            assert!((h[r * dim + c] - want).abs() < 1e-12, "H[{r},{c}] = {} vs {want}", h[r * dim + c]);
        }
    }
}

fn mlp_loss(p: &[Tensor], x: &Tensor, y: &[usize]) -> Tensor {
    x.linear(&p[0], Some(&p[1])).tanh().linear(&p[2], Some(&p[3])).cross_entropy(y)
}

/// Labels of the 8-row batches of [`mlp_batch`].
const LABELS: [usize; 8] = [0, 1, 2, 0, 1, 2, 2, 1];

/// An 8×4 batch of inputs for [`mlp_loss`], drawn from `rng`.
fn mlp_batch(rng: &mut Rng) -> Tensor {
    Tensor::constant(rng.normal(&[8, 4], 0.0, 1.0, DType::F64))
}

fn mlp_params(seed: u64) -> Vec<Tensor> {
    let mut rng = Rng::seed(seed);
    [vec![6, 4], vec![6], vec![3, 6], vec![3]]
        .iter()
        .map(|s| Tensor::param(rng.normal(s, 0.0, 0.7, DType::F64)))
        .collect()
}

#[test]
fn hvp_is_symmetric_and_matches_gradient_differences() {
    let mut rng = Rng::seed(4);
    let (x, y) = (mlp_batch(&mut rng), LABELS);
    let p = mlp_params(5);
    let h = Hessian::new(&mlp_loss(&p, &x, &y), &p);
    let u: Vec<f64> = (0..h.dim()).map(|_| rng.normal_f64()).collect();
    let v: Vec<f64> = (0..h.dim()).map(|_| rng.normal_f64()).collect();
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let (hu, hv) = (h.apply(&u), h.apply(&v));
    let (uhv, vhu) = (dot(&u, &hv), dot(&v, &hu));
    assert!((uhv - vhu).abs() < 1e-12 * uhv.abs().max(1.0), "{uhv} vs {vhu}");

    // H v ≈ (∇L(θ + εv) − ∇L(θ − εv)) / 2ε
    let eps = 1e-5;
    let grad_at = |sign: f64| -> Vec<f64> {
        let mut at = 0;
        let shifted: Vec<Tensor> = p
            .iter()
            .map(|t| {
                let vals: Vec<f64> =
                    t.to_vec_f64().iter().enumerate().map(|(i, w)| w + sign * eps * v[at + i]).collect();
                at += t.numel();
                Tensor::param(Array::from_vec(vals, t.shape()))
            })
            .collect();
        let refs: Vec<&Tensor> = shifted.iter().collect();
        grad(&mlp_loss(&shifted, &x, &y), &refs).iter().flat_map(|g| g.to_vec_f64()).collect()
    };
    let (gp, gm) = (grad_at(1.0), grad_at(-1.0));
    for (i, hvi) in hv.iter().enumerate() {
        let fd = (gp[i] - gm[i]) / (2.0 * eps);
        assert!((hvi - fd).abs() < 1e-7 * (1.0 + fd.abs()), "Hv[{i}] {hvi} vs {fd}");
    }
}

#[test]
fn power_iteration_finds_the_top_eigenvalue() {
    // diag(5, -2, 1, 0.5) in a random orthonormal basis has top |λ| = 5
    let n = 4;
    let d = [5.0, -2.0, 1.0, 0.5];
    let q = {
        // Gram–Schmidt on a random matrix
        let mut rng = Rng::seed(6);
        let mut cols: Vec<Vec<f64>> = Vec::new();
        while cols.len() < n {
            let mut v: Vec<f64> = (0..n).map(|_| rng.normal_f64()).collect();
            for c in &cols {
                let p: f64 = c.iter().zip(&v).map(|(a, b)| a * b).sum();
                v.iter_mut().zip(c).for_each(|(x, y)| *x -= p * y);
            }
            let nv = v.iter().map(|x| x * x).sum::<f64>().sqrt();
            cols.push(v.iter().map(|x| x / nv).collect());
        }
        cols
    };
    let mut a = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            a[i * n + j] = (0..n).map(|k| q[k][i] * d[k] * q[k][j]).sum();
        }
    }
    let x = Tensor::param(Array::zeros(&[n, 1], DType::F64));
    let at = Tensor::from_f64(&a, &[n, n], DType::F64);
    let f = x.t().matmul(&at).matmul(&x).sum_all().mul_scalar(0.5);
    let h = Hessian::new(&f, &[x]);
    let (lam, _) = power_iteration(&h, &[1.0, 0.3, -0.2, 0.1], 200);
    assert!((lam - 5.0).abs() < 1e-9, "{lam}");
}

#[test]
fn jacobian_and_jvp_of_a_linear_map_are_the_matrix() {
    let mut rng = Rng::seed(7);
    let a = rng.normal(&[3, 5], 0.0, 1.0, DType::F64);
    let at = Tensor::constant(a.clone());
    let x = rng.normal(&[5, 1], 0.0, 1.0, DType::F64);
    let j = jacobian(|x| at.matmul(x), &x);
    assert_eq!(j.shape(), &[3, 5]);
    assert!(j.max_abs_diff(&a) < 1e-14);
    let t = rng.normal(&[5, 1], 0.0, 1.0, DType::F64);
    let (_, jt) = jvp(|x| at.matmul(x), &x, &t);
    let want = Array::matmul(&a, &t, false, false);
    assert!(jt.value().max_abs_diff(&want) < 1e-13);
}

#[test]
fn jacobian_of_elementwise_tanh_is_diagonal() {
    let x = Array::from_vec(vec![0.3, -1.2, 2.0], &[3]);
    let j = jacobian(|x| x.tanh(), &x).to_vec_f64();
    for i in 0..3 {
        for k in 0..3 {
            let want = if i == k { 1.0 - x.get(i).tanh().powi(2) } else { 0.0 };
            assert!((j[i * 3 + k] - want).abs() < 1e-15);
        }
    }
}

#[test]
fn gradient_penalty_derivative_matches_closed_form() {
    // D(x) = wᵀx·s with x ∈ R², ∇ₓD = s·w; GP = (‖s w‖ − 1)²; ∂GP/∂w = 2(‖sw‖−1)·s·w/‖w‖
    let w = Tensor::param(Array::from_vec(vec![0.6, -1.1], &[2, 1]));
    let x = Tensor::param(Array::from_vec(vec![0.2, 0.4], &[1, 2]));
    let s = 1.7;
    let d = x.matmul(&w).mul_scalar(s).sum_all();
    let gx = grad_graph(&d, &[&x]).remove(0);
    let gp = gx.square().sum_all().sqrt().add_scalar(-1.0).square();
    let gw = grad(&gp, &[&w]).remove(0).to_vec_f64();
    let nw = (0.6f64 * 0.6 + 1.1 * 1.1).sqrt();
    for (i, wi) in [0.6, -1.1].iter().enumerate() {
        let want = 2.0 * (s * nw - 1.0) * s * wi / nw;
        assert!((gw[i] - want).abs() < 1e-12, "{} vs {want}", gw[i]);
    }
}

#[test]
fn third_derivative_of_a_cubic() {
    // f(x) = x³: f''' = 6
    let x = Tensor::param(Array::scalar(0.7, DType::F64));
    let g1 = grad_graph(&x.powf(3.0), &[&x]).remove(0);
    let g2 = grad_graph(&g1, &[&x]).remove(0);
    let g3 = grad(&g2, &[&x]).remove(0);
    assert!((g1.item() - 3.0 * 0.49).abs() < 1e-14);
    assert!((g2.item() - 6.0 * 0.7).abs() < 1e-14);
    assert!((g3.item() - 6.0).abs() < 1e-14);
}

#[test]
fn unused_inputs_get_zero_gradients_and_no_grad_records_nothing() {
    let a = Tensor::param(Array::from_vec(vec![1.0, 2.0], &[2]));
    let b = Tensor::param(Array::from_vec(vec![3.0], &[1]));
    let g = grad(&a.square().sum_all(), &[&a, &b]);
    assert_eq!(g[0].to_vec_f64(), vec![2.0, 4.0]);
    assert_eq!(g[1].to_vec_f64(), vec![0.0]);
    let y = odl_autodiff::no_grad(|| a.square());
    assert!(!y.requires_grad() && y.is_leaf());
    assert!(a.square().requires_grad());
    // first-order gradients are plain constants
    assert!(!g[0].requires_grad());
}

#[test]
fn accumulating_cotangents_never_writes_into_tensors_the_caller_holds() {
    // x feeds y three times, so its cotangent is a sum: the backward pass adds
    // in place where it may, and must leave the caller's seeds and its own
    // earlier results alone
    let x = Tensor::param(Array::from_vec(vec![1.0, -2.0, 3.0], &[3]));
    let y = x.add(&x).add(&x.mul_scalar(2.0));
    let s1 = Tensor::constant(Array::from_vec(vec![1.0, 10.0, 100.0], &[3]));
    let s2 = Tensor::constant(Array::from_vec(vec![0.5, 0.25, 0.125], &[3]));
    let s1_again = s1.clone();
    // two seeds on one output: their sum is accumulated too
    let g = odl_autodiff::backward(&[(&y, s1.clone()), (&y, s2.clone())], &[&x], false);
    let want: Vec<f64> = [1.5, 10.25, 100.125].iter().map(|s| 4.0 * s).collect();
    assert_eq!(g[0].to_vec_f64(), want);
    assert_eq!(s1.to_vec_f64(), vec![1.0, 10.0, 100.0]);
    assert_eq!(s1_again.to_vec_f64(), vec![1.0, 10.0, 100.0]);
    assert_eq!(s2.to_vec_f64(), vec![0.5, 0.25, 0.125]);
    // y = x (identity through a reshape): the seed itself reaches x; a
    // second pass must not add into the first pass's result
    let z = x.reshape(&[3]).add(&x.reshape(&[3]));
    let first = odl_autodiff::backward(&[(&z, s1.clone())], &[&x], false).remove(0);
    let second = odl_autodiff::backward(&[(&z, s1.clone())], &[&x], false).remove(0);
    assert_eq!(first.to_vec_f64(), vec![2.0, 20.0, 200.0]);
    assert_eq!(second.to_vec_f64(), first.to_vec_f64());
    assert_eq!(s1.to_vec_f64(), vec![1.0, 10.0, 100.0]);
}

#[test]
fn a_very_long_chain_drops_without_overflowing_the_stack() {
    let x = Tensor::param(Array::scalar(1.0, DType::F64));
    let mut h = x.clone();
    for _ in 0..200_000 {
        h = h.mul_scalar(1.0);
    }
    let g = grad(&h, &[&x]).remove(0);
    assert_eq!(g.item(), 1.0);
    drop(h);
}

#[test]
fn hessian_of_shards_is_hessian_of_the_batch() {
    // mean CE over 8 rows = (3/8)·mean over rows 0..3 + (5/8)·mean over rows 3..8,
    // so the two-term Hessian (its gradient too) equals the batch's
    let mut rng = Rng::seed(6);
    let (x, y) = (mlp_batch(&mut rng), LABELS);
    let rows = |lo: usize, hi: usize| x.slice(0, lo, hi, 1);
    let p = mlp_params(7);
    let whole = Hessian::new(&mlp_loss(&p, &rows(0, 8), &y), &p);
    let terms =
        [(3.0 / 8.0, mlp_loss(&p, &rows(0, 3), &y[..3])), (5.0 / 8.0, mlp_loss(&p, &rows(3, 8), &y[3..]))];
    let sharded = Hessian::sum(&terms, &p);
    assert_eq!(sharded.dim(), whole.dim());
    let v: Vec<f64> = (0..whole.dim()).map(|_| rng.normal_f64()).collect();
    let (a, b) = (whole.apply(&v), sharded.apply(&v));
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() < 1e-12 * (1.0 + x.abs()), "{x} vs {y}");
    }
    let flat = |g: Vec<Array>| g.iter().flat_map(|a| a.to_vec_f64()).collect::<Vec<f64>>();
    for (x, y) in flat(whole.gradient()).iter().zip(&flat(sharded.gradient())) {
        assert!((x - y).abs() < 1e-12 * (1.0 + x.abs()), "{x} vs {y}");
    }
    // one term with weight w is w times that term's Hessian
    let half = Hessian::sum(&[(0.5, mlp_loss(&p, &rows(0, 8), &y))], &p).apply(&v);
    for (x, y) in a.iter().zip(&half) {
        assert!((0.5 * x - y).abs() < 1e-12 * (1.0 + x.abs()));
    }
}

#[test]
fn gradient_of_shards_is_gradient_of_the_batch() {
    let mut rng = Rng::seed(8);
    let (x, y) = (mlp_batch(&mut rng), [2, 1, 0, 0, 1, 2, 2, 1]);
    let rows = |lo: usize, hi: usize| x.slice(0, lo, hi, 1);
    let p = mlp_params(9);
    let refs: Vec<&Tensor> = p.iter().collect();
    let whole = mlp_loss(&p, &rows(0, 8), &y);
    let want = grad(&whole, &refs);
    let shards = [(0.25, (0, 2)), (0.5, (2, 6)), (0.25, (6, 8))];
    let (value, got) = value_and_grad_of_sum(&shards, &refs, &|&(lo, hi): &(usize, usize)| {
        mlp_loss(&p, &rows(lo, hi), &y[lo..hi])
    });
    assert!((value - whole.item()).abs() < 1e-12, "{value} vs {}", whole.item());
    for (w, g) in want.iter().zip(&got) {
        assert_eq!(w.shape(), g.shape());
        for (a, b) in w.to_vec_f64().iter().zip(g.to_vec_f64()) {
            assert!((a - b).abs() < 1e-12 * (1.0 + a.abs()), "{a} vs {b}");
        }
    }
}

#[test]
fn gradients_kept_for_differentiation_read_the_same_as_plain_ones() {
    // with create_graph a weight gradient δᵀh is recorded lazily (an HVP never
    // reads it); reading it must give the plain gradient, shape and dtype too
    let mut rng = Rng::seed(10);
    let (x, y) = (mlp_batch(&mut rng), LABELS);
    let p = mlp_params(11);
    let refs: Vec<&Tensor> = p.iter().collect();
    let loss = mlp_loss(&p, &x, &y);
    let kept = grad_graph(&loss, &refs);
    let plain = grad(&loss, &refs);
    for (k, g) in kept.iter().zip(&plain) {
        assert_eq!(k.shape(), g.shape());
        assert_eq!(k.dtype(), g.dtype());
        assert!(k.requires_grad());
        assert_eq!(k.to_vec_f64(), g.to_vec_f64());
    }
}
