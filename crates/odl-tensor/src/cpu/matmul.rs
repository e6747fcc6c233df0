//! Matrix multiplication through the `gemm` crate (chosen by measurement: see
//! `docs/gemm.md`), with transposes expressed as strides so they cost nothing.

use crate::dtype::Element;

/// Problems with at least this many multiply-adds use all compute threads;
/// smaller ones stay on the calling thread (a pool hop costs more than it saves).
pub const PARALLEL_MIN_FLOPS: usize = 1 << 22;

/// `c[m,n] = op(a) · op(b)` (if `accumulate`, `c += ...`), all row-major, where
/// `op(a)` is `a` (`[m,k]`) or, with `ta`, the transpose of `a` stored as `[k,m]`;
/// likewise `b`.
#[allow(clippy::too_many_arguments)]
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
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c[..m * n].iter_mut().for_each(|v| *v = T::zero());
        }
        return;
    }
    // (row stride, column stride) of op(a) and op(b)
    let (a_rs, a_cs) = if ta { (1, m as isize) } else { (k as isize, 1) };
    let (b_rs, b_cs) = if tb { (1, k as isize) } else { (n as isize, 1) };
    let threads = super::num_threads();
    let par = if threads > 1 && m * n * k >= PARALLEL_MIN_FLOPS {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the asserts above guarantee that every index the kernel reads,
    // (i*rs + p*cs) for i < rows, p < cols of each operand, lies inside `a`, `b`
    // and `c`; `c` is borrowed mutably and so does not alias `a` or `b`.
    // `T` is f32 or f64, both supported by `gemm::gemm`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            if accumulate { T::one() } else { T::zero() },
            T::one(),
            false,
            false,
            false,
            par,
        );
    }
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
