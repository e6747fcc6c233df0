//! Matrix multiplication through faer's `matmul` (chosen by measurement: see
//! `docs/gemm.md`), with transposes expressed as strides so they cost no copy.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::dtype::Element;

static COUNTING: AtomicBool = AtomicBool::new(false);
static FLOPS: AtomicU64 = AtomicU64::new(0);

/// Runs `f` and also returns the floating-point operations (2·m·n·k per
/// product) of the matrix products it ran, on any thread, convolutions
/// included. Process-wide: for measuring one workload at a time (`odl
/// bench`), not for concurrent use.
pub fn count_flops<R>(f: impl FnOnce() -> R) -> (R, u64) {
    FLOPS.store(0, Ordering::Relaxed);
    COUNTING.store(true, Ordering::Relaxed);
    let r = f();
    COUNTING.store(false, Ordering::Relaxed);
    (r, FLOPS.load(Ordering::Relaxed))
}

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
    assert!(c.len() >= m * n, "gemm: output buffer too short for {m}×{n}");
    let cm = faer::MatMut::from_row_major_slice_mut(&mut c[..m * n], m, n);
    product(cm, k, a, ta, b, tb, accumulate);
}

/// `op(a) · op(b)` into a new `m×n` vector, written once (never zero-filled first).
pub fn gemm_new<T: Element>(m: usize, n: usize, k: usize, a: &[T], ta: bool, b: &[T], tb: bool) -> Vec<T> {
    let mut c: Vec<T> = Vec::with_capacity(m * n);
    // SAFETY: the view covers exactly the m·n elements of `c`'s allocation
    // (row-major: row stride n, column stride 1), which outlives it. faer's
    // `matmul` with `Accum::Replace` does not read the destination ("the
    // preexisting values in acc are not read", faer's docs; with k = 0 it
    // fills zeros) and writes every element, so after the call all m·n
    // elements are initialized and `set_len` is sound. Tested by
    // `gemm_matches_reference_for_all_transposes_and_sizes` and
    // `gemm_with_empty_inner_dimension_is_zero` in tests/kernels.rs.
    unsafe {
        let cm = faer::MatMut::from_raw_parts_mut(c.as_mut_ptr(), m, n, n as isize, 1);
        product(cm, k, a, ta, b, tb, false);
        c.set_len(m * n);
    }
    c
}

/// `c = op(a) · op(b)` (or `c +=` with `accumulate`) for a `c` view of `m×n`.
fn product<T: Element>(
    cm: faer::MatMut<'_, T>,
    k: usize,
    a: &[T],
    ta: bool,
    b: &[T],
    tb: bool,
    accumulate: bool,
) {
    let (m, n) = (cm.nrows(), cm.ncols());
    assert!(a.len() >= m * k && b.len() >= k * n, "gemm: buffers too short for {m}×{k} · {k}×{n}");
    if COUNTING.load(Ordering::Relaxed) {
        FLOPS.fetch_add(2 * (m * n * k) as u64, Ordering::Relaxed);
    }
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
    let threads = super::threads_here();
    let par = if threads > 1 && m * n * k >= PARALLEL_MIN_FLOPS {
        faer::Par::rayon(threads)
    } else {
        faer::Par::Seq
    };
    let accum = if accumulate { faer::Accum::Add } else { faer::Accum::Replace };
    faer::linalg::matmul::matmul(cm, accum, am, bm, T::one(), par);
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
