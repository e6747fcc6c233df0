//! Matrix multiplication through faer's `matmul` (chosen by measurement: see
//! `docs/gemm.md`), with transposes expressed as strides so they cost no copy.

use crate::dtype::Element;

/// Problems with at least this many multiply-adds use all compute threads;
/// smaller ones stay on the calling thread (a pool hop costs more than it saves).
pub const PARALLEL_MIN_FLOPS: usize = 1 << 22;

/// `c[m,n] = op(a) · op(b)` (if `accumulate`, `c += ...`), all row-major, where
/// `op(a)` is `a` (`[m,k]`) or, with `ta`, the transpose of `a` stored as `[k,m]`;
/// likewise `b`.
pub fn gemm<T: Element>(
    m: usize,
    n: usize,
    k: usize,
    a: &[T],
    ta: bool,
    b: &[T],
    tb: bool,
    c: &mut [T],
    accumulate: bool,
) {
    assert!(
        a.len() >= m * k && b.len() >= k * n && c.len() >= m * n,
        "gemm: buffers too short for {m}×{k} · {k}×{n}"
    );
    let am = if ta {
        faer::MatRef::from_row_major_slice(&a[..m * k], k, m).transpose()
    } else {
        faer::MatRef::from_row_major_slice(&a[..m * k], m, k)
    };
    let bm = if tb {
        faer::MatRef::from_row_major_slice(&b[..k * n], n, k).transpose()
    } else {
        faer::MatRef::from_row_major_slice(&b[..k * n], k, n)
    };
    let cm = faer::MatMut::from_row_major_slice_mut(&mut c[..m * n], m, n);
    let threads = super::num_threads();
    let par = if threads > 1 && m * n * k >= PARALLEL_MIN_FLOPS {
        faer::Par::rayon(threads)
    } else {
        faer::Par::Seq
    };
    let accum = if accumulate { faer::Accum::Add } else { faer::Accum::Replace };
    faer::linalg::matmul::matmul(cm, accum, am, bm, T::one(), par);
}

/// `op(a) · op(b)` into a new `m×n` vector.
pub fn gemm_new<T: Element>(m: usize, n: usize, k: usize, a: &[T], ta: bool, b: &[T], tb: bool) -> Vec<T> {
    let mut c = vec![T::zero(); m * n];
    gemm(m, n, k, a, ta, b, tb, &mut c, false);
    c
}

/// A naive reference product used by tests to check [`gemm`].
#[allow(clippy::too_many_arguments)]
pub fn gemm_reference<T: Element>(
    m: usize,
    n: usize,
    k: usize,
    a: &[T],
    ta: bool,
    b: &[T],
    tb: bool,
) -> Vec<T> {
    let mut c = vec![T::zero(); m * n];
    for i in 0..m {
        for j in 0..n {
            let mut s = T::zero();
            for p in 0..k {
                let av = if ta { a[p * m + i] } else { a[i * k + p] };
                let bv = if tb { b[j * k + p] } else { b[p * n + j] };
                s += av * bv;
            }
            c[i * n + j] = s;
        }
    }
    c
}
