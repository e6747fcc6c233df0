//! Dense linear algebra for small problems, through faer: symmetric
//! eigendecompositions and singular values of row-major `f64` matrices.

use faer::{Mat, Side};

/// Eigenvalues (ascending) and eigenvectors (column `j` of the row-major
/// `n×n` result belongs to eigenvalue `j`) of the symmetric row-major matrix `a`.
/// The matrix is symmetrized first, so round-off asymmetry does no harm.
pub fn sym_eig(a: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    assert_eq!(a.len(), n * n, "sym_eig: {} entries for a {n}×{n} matrix", a.len());
    if n == 0 {
        return (vec![], vec![]);
    }
    let m = Mat::from_fn(n, n, |i, j| 0.5 * (a[i * n + j] + a[j * n + i]));
    let e = m.self_adjoint_eigen(Side::Lower).expect("symmetric eigendecomposition did not converge");
    let vals: Vec<f64> = (0..n).map(|i| e.S()[i]).collect();
    let u = e.U();
    let vecs = (0..n * n).map(|k| u[(k / n, k % n)]).collect();
    (vals, vecs)
}

/// Eigenvalues only (ascending) of a symmetric row-major matrix.
pub fn sym_eigvals(a: &[f64], n: usize) -> Vec<f64> {
    assert_eq!(a.len(), n * n, "sym_eigvals: {} entries for a {n}×{n} matrix", a.len());
    if n == 0 {
        return vec![];
    }
    let m = Mat::from_fn(n, n, |i, j| 0.5 * (a[i * n + j] + a[j * n + i]));
    m.self_adjoint_eigenvalues(Side::Lower).expect("symmetric eigenvalues did not converge")
}

/// Singular values (descending) of the row-major `rows×cols` matrix `a`.
pub fn singular_values(a: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    assert_eq!(a.len(), rows * cols, "singular_values: {} entries for {rows}×{cols}", a.len());
    if rows == 0 || cols == 0 {
        return vec![];
    }
    let m = Mat::from_fn(rows, cols, |i, j| a[i * cols + j]);
    m.singular_values().expect("SVD did not converge")
}

/// Top right singular vectors: the first `k` principal directions of the rows
/// of `a` (`rows×cols`, row-major), as `k` vectors of length `cols`, with the
/// singular values.
pub fn top_right_singular(a: &[f64], rows: usize, cols: usize, k: usize) -> (Vec<f64>, Vec<Vec<f64>>) {
    let m = Mat::from_fn(rows, cols, |i, j| a[i * cols + j]);
    let svd = m.thin_svd().expect("SVD did not converge");
    let k = k.min(rows.min(cols));
    let s = (0..k).map(|i| svd.S()[i]).collect();
    let v = svd.V();
    let dirs = (0..k).map(|c| (0..cols).map(|r| v[(r, c)]).collect()).collect();
    (s, dirs)
}

/// `aᵀb`, summed in 16 interleaved partial sums: a single running sum is one
/// dependent addition per element, which cannot use the vector units
/// (Lanczos' reorthogonalization spends most of its time here).
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "dot: lengths {} and {}", a.len(), b.len());
    const W: usize = 16;
    let (ca, cb) = (a.chunks_exact(W), b.chunks_exact(W));
    let tail: f64 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    let mut acc = [0.0; W];
    for (x, y) in ca.zip(cb) {
        for ((s, xi), yi) in acc.iter_mut().zip(x).zip(y) {
            *s += xi * yi;
        }
    }
    acc.iter().sum::<f64>() + tail
}

pub(crate) fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// `y += a x`
pub(crate) fn axpy(y: &mut [f64], a: f64, x: &[f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eigen_and_singular_values_of_known_matrices() {
        // [[2,1],[1,2]]: eigenvalues 1, 3
        let (v, u) = sym_eig(&[2.0, 1.0, 1.0, 2.0], 2);
        assert!((v[0] - 1.0).abs() < 1e-12 && (v[1] - 3.0).abs() < 1e-12);
        // the eigenvector of 3 is (1,1)/√2 up to sign
        assert!((u[1].abs() - 0.5f64.sqrt()).abs() < 1e-12 && (u[1] - u[3]).abs() < 1e-12);
        let s = singular_values(&[3.0, 0.0, 0.0, 0.0, -2.0, 0.0], 2, 3);
        assert!((s[0] - 3.0).abs() < 1e-12 && (s[1] - 2.0).abs() < 1e-12);
        assert_eq!(sym_eigvals(&[5.0], 1), vec![5.0]);
    }

    #[test]
    fn dot_agrees_with_a_plain_sum_at_every_length() {
        // lengths around the 16-wide blocks, with exactly representable
        // products, so any reordering gives the exact value
        for n in [0, 1, 15, 16, 17, 31, 32, 33, 100] {
            let a: Vec<f64> = (0..n).map(|i| (i % 7) as f64 - 3.0).collect();
            let b: Vec<f64> = (0..n).map(|i| 0.5 * (i % 5) as f64).collect();
            let plain: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert_eq!(dot(&a, &b), plain, "n = {n}");
        }
        assert!((norm(&[3.0, 4.0]) - 5.0).abs() < 1e-15);
    }
}
