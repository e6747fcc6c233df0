//! Influence-function poisoning of L2-regularized binary logistic
//! regression (Koh & Liang 2017, §5.2). The model is `θ = (w, b)`,
//! `L(θ) = (1/n) Σᵢ log(1 + exp(−sᵢ(w·xᵢ + b))) + (λ/2)‖w‖²`, `sᵢ = ±1`.
//! At its minimizer, moving a training input `xᵢ` changes the test loss at
//! the rate
//!
//! `∂L_test/∂xᵢ = −(1/n) ∇ₓ[ vᵀ∇θℓ(xᵢ, sᵢ; θ) ]`,  `v = H⁻¹ ∇θL_test`,
//!
//! where `H` is the training objective's Hessian. `v` comes from conjugate
//! gradients on Hessian-vector products and the mixed derivative from
//! differentiating the gradient once more — both second-order uses of the
//! engine. The attack ascends this gradient on a few training inputs, kept
//! in the pixel box, refitting the model between steps.

use odl_autodiff::{conjugate_gradient, grad, grad_graph, Hessian, Tensor};
use odl_tensor::{Array, DType};

/// The data and regularization of a logistic regression.
pub struct Problem<'a> {
    /// inputs `[n, d]`
    pub x: &'a [f64],
    /// labels 0 or 1
    pub y: &'a [usize],
    /// features per example
    pub d: usize,
    /// the L2 weight λ
    pub lambda: f64,
}

fn t(v: &[f64], shape: &[usize]) -> Array {
    Array::from_f64(v, shape, DType::F64)
}

/// `(1/n) Σ softplus(−s(x·w + b)) + (λ/2)‖w‖²` as a graph (`lambda = 0`:
/// the plain mean loss, as for a test set).
fn objective(w: &Tensor, b: &Tensor, x: &Tensor, y: &[usize], lambda: f64) -> Tensor {
    let n = y.len();
    let s: Vec<f64> = y.iter().map(|&c| if c == 1 { -1.0 } else { 1.0 }).collect();
    let z = x.matmul(&w.reshape(&[w.numel(), 1])).reshape(&[n]).add(&b.expand(&[n]));
    let l = z.mul(&Tensor::constant(t(&s, &[n]))).softplus().mean_all();
    if lambda == 0.0 {
        l
    } else {
        l + w.square().sum_all().mul_scalar(0.5 * lambda)
    }
}

impl Problem<'_> {
    fn n(&self) -> usize {
        self.y.len()
    }

    /// The objective and its parts as graphs at `theta = (w, b)`.
    fn graph(&self, theta: &[f64]) -> (Tensor, Tensor, Tensor) {
        let d = self.d;
        let w = Tensor::param(t(&theta[..d], &[d]));
        let b = Tensor::param(t(&theta[d..], &[1]));
        let x = Tensor::constant(t(self.x, &[self.n(), d]));
        (objective(&w, &b, &x, self.y, self.lambda), w, b)
    }

    /// The minimizer by Newton's method with conjugate-gradient steps on
    /// Hessian-vector products (strongly convex for λ > 0), from `start` or
    /// zero, until the gradient norm is below `1e-9`.
    pub fn fit(&self, start: Option<&[f64]>) -> Vec<f64> {
        let mut theta = start.map_or_else(|| vec![0.0; self.d + 1], <[f64]>::to_vec);
        for _ in 0..50 {
            let (l, w, b) = self.graph(&theta);
            let g: Vec<f64> = grad_graph(&l, &[&w, &b]).iter().flat_map(|g| g.value().to_vec_f64()).collect();
            if g.iter().map(|v| v * v).sum::<f64>().sqrt() < 1e-9 {
                break;
            }
            let h = Hessian::new(&l, &[w, b]);
            let (step, _, _) = conjugate_gradient(&h, &g, 1e-10, 4 * (self.d + 1));
            // a damped step keeps Newton safe far from the minimizer
            let f0 = l.item();
            let mut a = 1.0;
            loop {
                let cand: Vec<f64> = theta.iter().zip(&step).map(|(t, s)| t - a * s).collect();
                if self.graph(&cand).0.item() <= f0 || a < 1e-6 {
                    theta = cand;
                    break;
                }
                a *= 0.5;
            }
        }
        theta
    }

    /// Mean loss and error rate of `theta` on `(x, y)`.
    pub fn evaluate(&self, theta: &[f64], x: &[f64], y: &[usize]) -> (f64, f64) {
        let d = self.d;
        let n = y.len();
        let mut loss = 0.0;
        let mut wrong = 0;
        for i in 0..n {
            let z: f64 = (0..d).map(|q| x[i * d + q] * theta[q]).sum::<f64>() + theta[d];
            let s = if y[i] == 1 { 1.0 } else { -1.0 };
            loss += (-s * z).exp().ln_1p().max(-s * z);
            wrong += usize::from((z > 0.0) != (y[i] == 1));
        }
        (loss / n.max(1) as f64, wrong as f64 / n.max(1) as f64)
    }

    /// `∂L_test/∂xᵢ` for every training input (`[n, d]`) at the minimizer
    /// `theta`, with the test loss on `(x_test, y_test)`; also CG's
    /// products and relative residual.
    pub fn input_influence(&self, theta: &[f64], x_test: &[f64], y_test: &[usize]) -> (Vec<f64>, usize, f64) {
        let d = self.d;
        let n = self.n();
        // v = H⁻¹ ∇θ L_test
        let w = Tensor::param(t(&theta[..d], &[d]));
        let b = Tensor::param(t(&theta[d..], &[1]));
        let xt = Tensor::constant(t(x_test, &[y_test.len(), d]));
        let lt = objective(&w, &b, &xt, y_test, 0.0);
        let gt: Vec<f64> = grad(&lt, &[&w, &b]).iter().flat_map(|g| g.value().to_vec_f64()).collect();
        let (l, w2, b2) = self.graph(theta);
        let h = Hessian::new(&l, &[w2, b2]);
        let (v, iters, res) = conjugate_gradient(&h, &gt, 1e-10, 4 * (d + 1));
        // ∇ₓ[vᵀ ∇θ Σᵢ ℓᵢ] row by row (each row depends on its own xᵢ only)
        let w = Tensor::param(t(&theta[..d], &[d]));
        let b = Tensor::param(t(&theta[d..], &[1]));
        let x = Tensor::param(t(self.x, &[n, d]));
        let sum = objective(&w, &b, &x, self.y, 0.0).mul_scalar(n as f64);
        let g = grad_graph(&sum, &[&w, &b]);
        let vw = Tensor::constant(t(&v[..d], &[d]));
        let vb = Tensor::constant(t(&v[d..], &[1]));
        let dot = g[0].mul(&vw).sum_all() + g[1].mul(&vb).sum_all();
        let gx = grad(&dot, &[&x]).remove(0).value().to_vec_f64();
        (gx.iter().map(|v| -v / n as f64).collect(), iters, res)
    }
}

/// Koh & Liang's attack: the `count` training inputs with the largest
/// influence (‖∂L_test/∂xᵢ‖₁) take `steps` signed-gradient steps of
/// `step` each on the test loss, projected to `[lo, hi]`, the model refit
/// after each. Returns the poisoned inputs and the indices chosen.
pub fn poison_inputs(
    p: &Problem,
    x_test: &[f64],
    y_test: &[usize],
    count: usize,
    steps: usize,
    step: f64,
    (lo, hi): (f64, f64),
) -> (Vec<f64>, Vec<usize>) {
    let d = p.d;
    let mut xs = p.x.to_vec();
    let mut theta = p.fit(None);
    let (g, _, _) = p.input_influence(&theta, x_test, y_test);
    let mut order: Vec<usize> = (0..p.n()).collect();
    let l1 = |i: usize| g[i * d..(i + 1) * d].iter().map(|v| v.abs()).sum::<f64>();
    order.sort_by(|&a, &b| l1(b).total_cmp(&l1(a)));
    let chosen: Vec<usize> = order.into_iter().take(count).collect();
    for _ in 0..steps {
        let cur = Problem { x: &xs, ..*p };
        let (g, _, _) = cur.input_influence(&theta, x_test, y_test);
        for &i in &chosen {
            for q in 0..d {
                let v = &mut xs[i * d + q];
                *v = (*v + step * g[i * d + q].signum()).clamp(lo, hi);
            }
        }
        theta = Problem { x: &xs, ..*p }.fit(Some(&theta));
    }
    (xs, chosen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use odl_tensor::Rng;

    fn blobs(n: usize, d: usize, seed: u64) -> (Vec<f64>, Vec<usize>) {
        let mut r = Rng::seed(seed);
        let y: Vec<usize> = (0..n).map(|i| i % 2).collect();
        let x = (0..n * d).map(|k| r.normal_f64() * 0.8 + if y[k / d] == 1 { 0.4 } else { -0.4 }).collect();
        (x, y)
    }

    #[test]
    fn newton_cg_reaches_the_minimizer() {
        let (x, y) = blobs(60, 5, 1);
        let p = Problem { x: &x, y: &y, d: 5, lambda: 0.01 };
        let th = p.fit(None);
        let (l, w, b) = p.graph(&th);
        let g: f64 = grad(&l, &[&w, &b]).iter().flat_map(|g| g.value().to_vec_f64()).map(|v| v * v).sum();
        assert!(g.sqrt() < 1e-9, "gradient norm {}", g.sqrt());
    }

    #[test]
    fn influence_predicts_the_refit_test_loss() {
        // the first-order prediction ⟨∂L_test/∂xᵢ, δ⟩ matches refitting with xᵢ + δ
        let (x, y) = blobs(80, 4, 2);
        let (xt, yt) = blobs(40, 4, 3);
        let p = Problem { x: &x, y: &y, d: 4, lambda: 0.05 };
        let th = p.fit(None);
        let (g, iters, res) = p.input_influence(&th, &xt, &yt);
        assert!(res < 1e-9 && iters <= 20, "CG: {iters} products, residual {res}");
        let base = p.evaluate(&th, &xt, &yt).0;
        for i in [0, 7, 33] {
            let h = 1e-4;
            let delta = [0.3, -0.5, 0.2, 0.8];
            let mut x2 = x.clone();
            for q in 0..4 {
                x2[i * 4 + q] += h * delta[q];
            }
            let th2 = Problem { x: &x2, ..p }.fit(Some(&th));
            let actual = (p.evaluate(&th2, &xt, &yt).0 - base) / h;
            let predicted: f64 = (0..4).map(|q| g[i * 4 + q] * delta[q]).sum();
            assert!(
                (actual - predicted).abs() <= 1e-3 * predicted.abs().max(1e-6) + 1e-7,
                "example {i}: refit {actual}, influence {predicted}"
            );
        }
    }

    #[test]
    fn poisoning_raises_the_test_loss() {
        let (x, y) = blobs(100, 4, 4);
        let (xt, yt) = blobs(60, 4, 5);
        let p = Problem { x: &x, y: &y, d: 4, lambda: 0.01 };
        let before = p.evaluate(&p.fit(None), &xt, &yt).0;
        let (xs, chosen) = poison_inputs(&p, &xt, &yt, 5, 10, 0.3, (-3.0, 3.0));
        assert_eq!(chosen.len(), 5);
        let after = p.evaluate(&Problem { x: &xs, ..p }.fit(None), &xt, &yt).0;
        assert!(after > before * 1.1, "test loss {before} → {after}");
        // only the chosen rows moved
        let moved = (0..100).filter(|&i| (0..4).any(|q| xs[i * 4 + q] != x[i * 4 + q])).count();
        assert_eq!(moved, 5);
    }
}
