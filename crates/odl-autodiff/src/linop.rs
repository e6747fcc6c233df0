//! Matrix-free linear operators: anything with `apply(v) = A v`. The Hessian,
//! the Gauss–Newton matrix and Jacobian products are operators; iterative
//! solvers (power iteration, Lanczos, Hutchinson, CG) work on any of them.

/// A square linear operator on flat `f64` vectors.
pub trait LinOp {
    /// The dimension `n` of `A` (`n×n`).
    fn dim(&self) -> usize;
    /// `A v`.
    fn apply(&self, v: &[f64]) -> Vec<f64>;
}

/// A dense row-major matrix as an operator (for tests and small problems).
pub struct DenseOp {
    /// the dimension
    pub n: usize,
    /// `n*n` entries, row-major
    pub a: Vec<f64>,
}

impl LinOp for DenseOp {
    fn dim(&self) -> usize {
        self.n
    }
    fn apply(&self, v: &[f64]) -> Vec<f64> {
        (0..self.n).map(|i| (0..self.n).map(|j| self.a[i * self.n + j] * v[j]).sum()).collect()
    }
}

/// Materializes an operator as a dense row-major matrix by applying it to each
/// basis vector (n applications).
pub fn to_dense(op: &dyn LinOp) -> Vec<f64> {
    let n = op.dim();
    let mut m = vec![0.0; n * n];
    let mut e = vec![0.0; n];
    for j in 0..n {
        e[j] = 1.0;
        let col = op.apply(&e);
        for i in 0..n {
            m[i * n + j] = col[i];
        }
        e[j] = 0.0;
    }
    m
}

/// Power iteration for the eigenvalue of largest magnitude, from `v0`:
/// returns `(λ, v)` after `iters` steps, where `λ = ⟨v_{k-1}, A v_{k-1}⟩`.
pub fn power_iteration(op: &dyn LinOp, v0: &[f64], iters: usize) -> (f64, Vec<f64>) {
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let n0 = norm(v0);
    let mut u: Vec<f64> = v0.iter().map(|x| x / n0).collect();
    let mut lam = 0.0;
    for _ in 0..iters {
        let w = op.apply(&u);
        lam = u.iter().zip(&w).map(|(a, b)| a * b).sum();
        let nw = norm(&w);
        if nw == 0.0 {
            return (0.0, u);
        }
        u = w.iter().map(|x| x / nw).collect();
    }
    (lam, u)
}
