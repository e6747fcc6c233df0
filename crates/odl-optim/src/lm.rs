//! Levenberg–Marquardt (Gauss–Newton with adaptive damping) for small
//! nonlinear least-squares models: minimize `½‖r(θ)‖²` over a flat parameter
//! vector θ. Each iteration forms `J` column by column with Jacobian-vector
//! products (one per parameter — the method is for models with up to a few
//! thousand parameters), solves `(JᵀJ + λI) δ = −Jᵀr`, and accepts the step if
//! the cost falls (then `λ ← λ/10`), else retries with `λ ← 10λ` (Marquardt 1963).

use faer::linalg::solvers::Solve;
use odl_autodiff::{jvp, Tensor};
use odl_tensor::{Array, DType};

/// Settings of [`levenberg_marquardt`].
#[derive(Clone, Debug)]
pub struct LmConfig {
    /// initial damping λ
    pub lambda: f64,
    /// iterations (accepted or not)
    pub max_iters: usize,
    /// stop when the cost falls below this
    pub tol: f64,
}

impl Default for LmConfig {
    fn default() -> Self {
        LmConfig { lambda: 1e-3, max_iters: 200, tol: 0.0 }
    }
}

/// What a run did.
#[derive(Clone, Debug)]
pub struct LmReport {
    /// the parameters at the end
    pub theta: Vec<f64>,
    /// cost `½‖r‖²` after each iteration (the first entry is the start)
    pub costs: Vec<f64>,
    /// damping at the end
    pub lambda: f64,
}

fn cost(r: &[f64]) -> f64 {
    0.5 * r.iter().map(|v| v * v).sum::<f64>()
}

/// Runs Levenberg–Marquardt on `residuals` (a function of the flat f64
/// parameter vector returning the residual tensor) from `theta0`.
pub fn levenberg_marquardt(
    residuals: impl Fn(&Tensor) -> Tensor,
    theta0: &[f64],
    cfg: &LmConfig,
) -> LmReport {
    let n = theta0.len();
    let eval = |t: &[f64]| residuals(&Tensor::constant(Array::from_f64(t, &[n], DType::F64))).to_vec_f64();
    let mut theta = theta0.to_vec();
    let mut r = eval(&theta);
    let mut costs = vec![cost(&r)];
    let mut lambda = cfg.lambda;
    for _ in 0..cfg.max_iters {
        if *costs.last().expect("cost") <= cfg.tol {
            break;
        }
        let m = r.len();
        // J column by column: J e_j by one Jacobian-vector product each
        let x = Array::from_f64(&theta, &[n], DType::F64);
        let mut jac = vec![0.0; m * n];
        let mut e = vec![0.0; n];
        for j in 0..n {
            e[j] = 1.0;
            let (_, col) = jvp(|t| residuals(t).reshape(&[m]), &x, &Array::from_f64(&e, &[n], DType::F64));
            for (i, v) in col.to_vec_f64().into_iter().enumerate() {
                jac[i * n + j] = v;
            }
            e[j] = 0.0;
        }
        let jm = faer::MatRef::from_row_major_slice(&jac, m, n);
        let jtj = jm.transpose() * jm;
        let rv = faer::ColRef::from_slice(&r);
        let jtr = jm.transpose() * rv;
        // damped solves until the cost falls (or λ explodes)
        let mut accepted = false;
        for _ in 0..20 {
            let mut a = jtj.clone();
            for i in 0..n {
                a[(i, i)] += lambda;
            }
            let rhs = faer::Col::from_fn(n, |i| -jtr[i]);
            let delta = a
                .llt(faer::Side::Lower)
                .map(|c| c.solve(&rhs))
                .unwrap_or_else(|_| a.partial_piv_lu().solve(&rhs));
            let trial: Vec<f64> = theta.iter().enumerate().map(|(i, t)| t + delta[i]).collect();
            let rt = eval(&trial);
            let ct = cost(&rt);
            if ct.is_finite() && ct < *costs.last().expect("cost") {
                theta = trial;
                r = rt;
                lambda = (lambda / 10.0).max(1e-12);
                accepted = true;
                break;
            }
            lambda *= 10.0;
        }
        costs.push(cost(&r));
        if !accepted {
            break;
        }
    }
    LmReport { theta, costs, lambda }
}
