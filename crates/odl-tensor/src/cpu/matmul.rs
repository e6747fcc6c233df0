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
    // SAFETY: `c` is a unique borrow of at least m·n elements.
    unsafe { gemm_into(m, n, k, a, ta, b, tb, c.as_mut_ptr(), accumulate) }
}

/// `op(a) · op(b)` into a new `m×n` vector, without zeroing it first.
pub fn gemm_new<T: Element>(m: usize, n: usize, k: usize, a: &[T], ta: bool, b: &[T], tb: bool) -> Vec<T> {
    assert!(a.len() >= m * k && b.len() >= k * n);
    let mut c: Vec<T> = Vec::with_capacity(m * n);
    // SAFETY: the capacity holds m·n elements and nothing else refers to it;
    // with `accumulate = false` the product writes every one of them (and
    // reads none), so all m·n are initialized when `set_len` runs.
    unsafe {
        gemm_into(m, n, k, a, ta, b, tb, c.as_mut_ptr(), false);
        c.set_len(m * n);
    }
    c
}

/// # Safety
/// `c` must be valid for writes (and, with `accumulate`, reads) of `m·n`
/// elements that nothing else accesses during the call, and `a`, `b` must hold
/// at least `m·k` and `k·n` elements.
unsafe fn gemm_into<T: Element>(
    m: usize,
    n: usize,
    k: usize,
    a: &[T],
    ta: bool,
    b: &[T],
    tb: bool,
    c: *mut T,
    accumulate: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m * n {
                // SAFETY: i < m·n, inside the block the caller vouches for.
                unsafe { c.add(i).write(T::zero()) };
            }
        }
        return;
    }
    // (row stride, column stride) of op(a) and op(b)
    let (a_rs, a_cs) = if ta { (1, m as isize) } else { (k as isize, 1) };
    let (b_rs, b_cs) = if tb { (1, k as isize) } else { (n as isize, 1) };
    let threads = super::gemm_threads();
    let par = if threads > 1 && m * n * k >= PARALLEL_MIN_FLOPS {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the caller guarantees the extents: every index the kernel reads,
    // (i*rs + p*cs) for i < rows, p < cols of each operand, lies inside `a`
    // and `b`, and it writes exactly the m×n row-major block at `c`. `T` is
    // f32 or f64, both supported by `gemm::gemm`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c,
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
