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

/// Conjugate gradients for `A x = b` with `A` symmetric positive definite,
/// from `x = 0`: stops when `‖b − Ax‖ ≤ tol·‖b‖` or after `max_iter`
/// products. Returns `x`, the products used and the final relative residual.
pub fn conjugate_gradient(op: &dyn LinOp, b: &[f64], tol: f64, max_iter: usize) -> (Vec<f64>, usize, f64) {
    let dot = |a: &[f64], c: &[f64]| a.iter().zip(c).map(|(x, y)| x * y).sum::<f64>();
    let nb = dot(b, b).sqrt();
    let mut x = vec![0.0; b.len()];
    if nb == 0.0 {
        return (x, 0, 0.0);
    }
    let mut r = b.to_vec();
    let mut p = r.clone();
    let mut rr = dot(&r, &r);
    for k in 0..max_iter {
        if rr.sqrt() <= tol * nb {
            return (x, k, rr.sqrt() / nb);
        }
        let ap = op.apply(&p);
        let alpha = rr / dot(&p, &ap);
        for i in 0..x.len() {
            x[i] += alpha * p[i];
            r[i] -= alpha * ap[i];
        }
        let rr2 = dot(&r, &r);
        let beta = rr2 / rr;
        rr = rr2;
        for i in 0..p.len() {
            p[i] = r[i] + beta * p[i];
        }
    }
    (x, max_iter, rr.sqrt() / nb)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conjugate_gradient_solves_an_spd_system_in_at_most_n_steps() {
        // A = MᵀM + I (SPD), 6×6: exact after ≤ 6 products (up to rounding)
        let m: Vec<f64> = (0..36).map(|i| ((i * 7 % 11) as f64 - 5.0) / 3.0).collect();
        let mut a = vec![0.0; 36];
        for i in 0..6 {
            for j in 0..6 {
                a[i * 6 + j] = (0..6).map(|k| m[k * 6 + i] * m[k * 6 + j]).sum::<f64>() + f64::from(i == j);
            }
        }
        let op = DenseOp { n: 6, a };
        let b = [1.0, -2.0, 0.5, 3.0, 0.0, -1.0];
        let (x, k, res) = conjugate_gradient(&op, &b, 1e-12, 50);
        let ax = op.apply(&x);
        assert!(k <= 8 && res <= 1e-12, "{k} steps, residual {res}");
        assert!(ax.iter().zip(&b).all(|(u, v)| (u - v).abs() < 1e-9), "{ax:?}");
    }
}
