//! Lanczos with full reorthogonalization: extreme eigenpairs of a symmetric
//! operator from a few dozen operator applications (Hessian-vector products).

use odl_autodiff::LinOp;
use std::ops::Range;

use odl_tensor::Rng;

use crate::linalg::{axpy, dot, norm, sym_eig};

/// The result of `m` Lanczos steps: `Qᵀ A Q = T` with `T` tridiagonal.
pub struct Lanczos {
    /// diagonal of `T`
    pub alpha: Vec<f64>,
    /// off-diagonal of `T` (`alpha.len() − 1` entries)
    pub beta: Vec<f64>,
    /// the orthonormal Lanczos vectors `q_0 … q_{m−1}`
    pub basis: Vec<Vec<f64>>,
}

/// Runs up to `steps` Lanczos steps from `v0` (stopping early when a Krylov
/// subspace is invariant). Every new vector is orthogonalized against all
/// previous ones twice, which keeps the Ritz values free of ghost copies.
pub fn lanczos(op: &dyn LinOp, v0: &[f64], steps: usize) -> Lanczos {
    lanczos_until(op, v0, steps, &mut |_, _, _| false)
}

/// Called after each Lanczos step with `(alpha, beta, β_next)` (`β_next`:
/// the norm of the next, not yet normalized, vector): `true` stops.
type Done<'a> = &'a mut dyn FnMut(&[f64], &[f64], f64) -> bool;

/// [`lanczos`] that also stops when `done` says so after a step.
fn lanczos_until(op: &dyn LinOp, v0: &[f64], steps: usize, done: Done<'_>) -> Lanczos {
    let n = op.dim();
    assert_eq!(v0.len(), n, "lanczos: start vector of length {} for dimension {n}", v0.len());
    let steps = steps.min(n).max(1);
    let n0 = norm(v0);
    assert!(n0 > 0.0 && n0.is_finite(), "lanczos: the start vector must be non-zero and finite");
    let mut q: Vec<f64> = v0.iter().map(|x| x / n0).collect();
    let (mut alpha, mut beta, mut basis) = (Vec::new(), Vec::new(), Vec::<Vec<f64>>::new());
    for j in 0..steps {
        let mut w = op.apply(&q);
        let a = dot(&q, &w);
        alpha.push(a);
        basis.push(q);
        for _ in 0..2 {
            for b in &basis {
                let c = dot(b, &w);
                axpy(&mut w, -c, b);
            }
        }
        let bn = norm(&w);
        let scale = alpha
            .iter()
            .map(|a| a.abs())
            .fold(0.0, f64::max)
            .max(beta.iter().fold(0.0, |m: f64, b| m.max(*b)));
        let converged = bn.is_finite() && done(&alpha, &beta, bn);
        if converged || j + 1 == steps || !bn.is_finite() || bn <= 1e-12 * scale.max(1e-300) {
            break;
        }
        beta.push(bn);
        q = w.iter().map(|x| x / bn).collect();
    }
    Lanczos { alpha, beta, basis }
}

impl Lanczos {
    /// Ritz values (ascending) and, for each, its weight `(e₁ᵀ s)²` — the
    /// nodes and weights of the Gauss quadrature for `⟨v₀, f(A) v₀⟩/‖v₀‖²` —
    /// and the eigenvectors `s` of `T` (columns, row-major `m×m`).
    pub fn ritz(&self) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let m = self.alpha.len();
        let (vals, s) = tridiagonal_eig(&self.alpha, &self.beta);
        let weights = (0..m).map(|j| s[j] * s[j]).collect();
        (vals, weights, s)
    }

    /// Ritz pair `j` (in ascending order): the value and the vector `Q s_j`.
    pub fn ritz_vector(&self, s: &[f64], j: usize) -> Vec<f64> {
        let m = self.alpha.len();
        let mut v = vec![0.0; self.basis[0].len()];
        for i in 0..m {
            axpy(&mut v, s[i * m + j], &self.basis[i]);
        }
        v
    }
}

/// Eigenvalues (ascending) and eigenvectors (columns, row-major `m×m`) of
/// the symmetric tridiagonal matrix with diagonal `alpha` and off-diagonal
/// `beta`.
fn tridiagonal_eig(alpha: &[f64], beta: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let m = alpha.len();
    let mut t = vec![0.0; m * m];
    for i in 0..m {
        t[i * m + i] = alpha[i];
        if i + 1 < m {
            t[i * m + i + 1] = beta[i];
            t[(i + 1) * m + i] = beta[i];
        }
    }
    sym_eig(&t, m)
}

/// The largest eigenpair of a symmetric operator, from [`top_eigenpair`].
#[derive(Clone, Debug)]
pub struct TopEigen {
    /// the Ritz value θ (the largest eigenvalue, to within `residual`)
    pub value: f64,
    /// its unit Ritz vector `v`
    pub vector: Vec<f64>,
    /// the residual `‖Av − θv‖`, read off the recurrence (`β_m·|s_m|`)
    pub residual: f64,
    /// operator applications used
    pub steps: usize,
}

/// The largest (algebraic) eigenpair by Lanczos from `start`, stopping as
/// soon as the top Ritz pair's residual `‖Av − θv‖` is at most `tol·|θ|`
/// (then some eigenvalue lies within that distance of θ), after at least
/// `steps.start` and at most `steps.end` operator applications. The
/// minimum matters for warm starts: a small residual says θ is *an*
/// eigenvalue, and a few more steps let a larger one that the start barely
/// touches grow into the Krylov space. The residual costs nothing extra: it is the
/// next β times the last entry of the pair's eigenvector of `T`. A start
/// near the answer — the previous eigenvector along a training run, mixed
/// with some noise so that a new top direction still shows up in the
/// Krylov space — converges in a few products where a random start needs
/// a few dozen.
pub fn top_eigenpair(op: &dyn LinOp, start: &[f64], steps: Range<usize>, tol: f64) -> TopEigen {
    assert!(tol >= 0.0, "top_eigenpair: the tolerance must be ≥ 0, got {tol}");
    let (min_steps, max_steps) = (steps.start, steps.end);
    let mut residual = f64::NAN;
    let lz = lanczos_until(op, start, max_steps, &mut |alpha, beta, bn| {
        let m = alpha.len();
        let (vals, s) = tridiagonal_eig(alpha, beta);
        residual = bn * s[(m - 1) * m + m - 1].abs();
        m >= min_steps && residual <= tol * vals[m - 1].abs()
    });
    let (vals, _, s) = lz.ritz();
    let m = vals.len();
    TopEigen { value: vals[m - 1], vector: lz.ritz_vector(&s, m - 1), residual, steps: m }
}

/// Which end of the spectrum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    /// the largest (algebraic) eigenvalues
    Largest,
    /// the smallest (most negative) eigenvalues
    Smallest,
}

/// `k` eigenpairs at one end of the spectrum by Lanczos with `steps` steps
/// (`steps ≥ 2k + 10` is plenty for well-separated ends) from a seeded random
/// start. Returns `(values, vectors)`, largest first for [`Which::Largest`],
/// most negative first for [`Which::Smallest`].
pub fn eigenpairs(
    op: &dyn LinOp,
    k: usize,
    steps: usize,
    which: Which,
    seed: u64,
) -> (Vec<f64>, Vec<Vec<f64>>) {
    let mut rng = Rng::seed(seed);
    let v0: Vec<f64> = (0..op.dim()).map(|_| rng.normal_f64()).collect();
    let lz = lanczos(op, &v0, steps);
    let (vals, _, s) = lz.ritz();
    let m = vals.len();
    let order: Vec<usize> = match which {
        Which::Largest => (0..m).rev().collect(),
        Which::Smallest => (0..m).collect(),
    };
    let pick: Vec<usize> = order.into_iter().take(k).collect();
    let values = pick.iter().map(|&j| vals[j]).collect();
    let vectors = pick.iter().map(|&j| lz.ritz_vector(&s, j)).collect();
    (values, vectors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use odl_autodiff::DenseOp;

    fn random_sym(n: usize, spectrum: &[f64], seed: u64) -> DenseOp {
        // Q diag(s) Qᵀ with Q orthogonal from a QR of a Gaussian matrix
        let mut rng = Rng::seed(seed);
        let g = faer::Mat::from_fn(n, n, |_, _| rng.normal_f64());
        let q = g.qr().compute_Q();
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = (0..n).map(|k| q[(i, k)] * spectrum[k] * q[(j, k)]).sum();
            }
        }
        DenseOp { n, a }
    }

    #[test]
    fn extreme_eigenvalues_of_a_known_spectrum() {
        let n = 200;
        let spec: Vec<f64> = (0..n)
            .map(|i| if i < 3 { 50.0 - 10.0 * i as f64 } else { -5.0 + 10.0 * (i as f64 / n as f64) })
            .collect();
        let op = random_sym(n, &spec, 1);
        let (top, vecs) = eigenpairs(&op, 3, 40, Which::Largest, 7);
        for (t, e) in top.iter().zip([50.0, 40.0, 30.0]) {
            assert!((t - e).abs() < 1e-8, "{top:?}");
        }
        // the Ritz vector is an eigenvector: ‖Av − λv‖ small
        let av = op.apply(&vecs[0]);
        let r: f64 = av.iter().zip(&vecs[0]).map(|(a, v)| (a - 50.0 * v).powi(2)).sum::<f64>().sqrt();
        assert!(r < 1e-6, "residual {r}");
        let (low, _) = eigenpairs(&op, 1, 60, Which::Smallest, 7);
        // the smallest is −5 + 10·3/200 = −4.85, inside a dense bulk: slower, still converged
        assert!((low[0] + 4.85).abs() < 1e-3, "{low:?}");
    }

    #[test]
    fn top_eigenpair_stops_at_its_tolerance_and_reports_the_true_residual() {
        let n = 300;
        let spec: Vec<f64> =
            (0..n).map(|i| if i == 0 { 10.0 } else { 11.0 * i as f64 / n as f64 - 2.0 }).collect();
        let op = random_sym(n, &spec, 3);
        let mut rng = Rng::seed(4);
        let cold: Vec<f64> = (0..n).map(|_| rng.normal_f64()).collect();
        let residual = |e: &TopEigen| {
            let av = op.apply(&e.vector);
            av.iter().zip(&e.vector).map(|(a, v)| (a - e.value * v).powi(2)).sum::<f64>().sqrt()
        };
        let a = top_eigenpair(&op, &cold, 1..60, 1e-6);
        assert!(a.steps < 60, "converged before the cap: {} steps", a.steps);
        assert!(
            a.residual <= 1e-5 && (residual(&a) - a.residual).abs() < 1e-9,
            "{} vs {}",
            a.residual,
            residual(&a)
        );
        assert!((a.value - 10.0).abs() <= a.residual, "{}", a.value);
        // started from the answer plus noise of the same size: fewer products
        let warm: Vec<f64> = a.vector.iter().zip(&cold).map(|(v, c)| v + c / (n as f64).sqrt()).collect();
        let b = top_eigenpair(&op, &warm, 1..60, 1e-6);
        assert!(b.steps < a.steps, "warm {} vs cold {} steps", b.steps, a.steps);
        assert!((b.value - 10.0).abs() <= 1e-5, "{}", b.value);
        // a loose tolerance stops earlier, and its bound still holds
        let c = top_eigenpair(&op, &cold, 1..60, 1e-2);
        assert!(c.steps < a.steps && (c.value - 10.0).abs() <= c.residual + 1e-12);
        // the cap: the residual is still reported, and is above the tolerance
        let d = top_eigenpair(&op, &cold, 1..3, 1e-12);
        assert_eq!(d.steps, 3);
        assert!((residual(&d) - d.residual).abs() < 1e-9 && d.residual > 1e-12 * d.value);
        // the minimum: a warm start keeps going past its early convergence
        let e = top_eigenpair(&op, &warm, b.steps + 4..60, 1e-6);
        assert_eq!(e.steps, b.steps + 4);
        assert!((e.value - 10.0).abs() <= 1e-6, "{}", e.value);
    }

    #[test]
    fn an_invariant_subspace_stops_early() {
        // a start vector inside a 2-dimensional eigenspace
        let op = DenseOp {
            n: 4,
            a: vec![1.0, 0.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 3.0, 0.0, 0.0, 0.0, 0.0, 4.0],
        };
        let lz = lanczos(&op, &[1.0, 1.0, 0.0, 0.0], 4);
        assert_eq!(lz.alpha.len(), 2);
        let (vals, w, _) = lz.ritz();
        assert!((vals[0] - 1.0).abs() < 1e-12 && (vals[1] - 2.0).abs() < 1e-12);
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
}
