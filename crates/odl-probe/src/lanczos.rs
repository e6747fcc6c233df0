//! Lanczos with full reorthogonalization: extreme eigenpairs of a symmetric
//! operator from a few dozen operator applications (Hessian-vector products).

use odl_autodiff::LinOp;
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
        if j + 1 == steps || !bn.is_finite() || bn <= 1e-12 * scale.max(1e-300) {
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
        let mut t = vec![0.0; m * m];
        for i in 0..m {
            t[i * m + i] = self.alpha[i];
            if i + 1 < m {
                t[i * m + i + 1] = self.beta[i];
                t[(i + 1) * m + i] = self.beta[i];
            }
        }
        let (vals, s) = sym_eig(&t, m);
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
