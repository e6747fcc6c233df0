//! The CPU backend: generic kernels over [`crate::Element`] working on plain
//! slices. Nothing here knows about autodiff.
//!
//! Threads: only GEMM (and the GEMMs inside convolutions) is parallel, and only
//! above a size threshold, so small ops never hop to a thread pool.

pub mod conv;
pub mod elementwise;
pub mod fastmath;
pub mod matmul;
pub mod movement;
pub mod reduce;

use std::sync::atomic::{AtomicUsize, Ordering};

static THREADS: AtomicUsize = AtomicUsize::new(0);

/// Number of compute threads used for large GEMMs: `ODL_THREADS` if set, else the
/// machine's available parallelism (at least 1).
pub fn num_threads() -> usize {
    let t = THREADS.load(Ordering::Relaxed);
    if t != 0 {
        return t;
    }
    let t = std::env::var("ODL_THREADS")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|&t| t > 0)
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        });
    THREADS.store(t, Ordering::Relaxed);
    t
}

/// Runs a kernel body compiled for the best SIMD level this CPU has (AVX-512,
/// AVX2+FMA or baseline), chosen at run time, so one binary is fast on new
/// machines and still runs on old ones.
#[inline(always)]
pub fn simd<R>(f: impl FnOnce() -> R) -> R {
    pulp::Arch::new().dispatch(f)
}

/// `f` of every element of `x`, as a plain indexed loop that is inlined into
/// the caller (so it vectorizes at the SIMD level chosen by [`simd`]).
#[inline(always)]
pub fn map_vec<T: Copy, U: Copy>(x: &[T], f: impl Fn(T) -> U) -> Vec<U> {
    let mut out: Vec<U> = Vec::with_capacity(x.len());
    let dst = &mut out.spare_capacity_mut()[..x.len()];
    for (d, &v) in dst.iter_mut().zip(x) {
        d.write(f(v));
    }
    // SAFETY: the loop above initialized all x.len() slots of the capacity.
    unsafe { out.set_len(x.len()) };
    out
}

/// `f` of every pair of `a` and `b` (equal lengths), like [`map_vec`].
#[inline(always)]
pub fn zip_vec<T: Copy, U: Copy>(a: &[T], b: &[T], f: impl Fn(T, T) -> U) -> Vec<U> {
    let n = a.len().min(b.len());
    let mut out: Vec<U> = Vec::with_capacity(n);
    let dst = &mut out.spare_capacity_mut()[..n];
    for ((d, &x), &y) in dst.iter_mut().zip(&a[..n]).zip(&b[..n]) {
        d.write(f(x, y));
    }
    // SAFETY: the loop above initialized all n slots of the capacity.
    unsafe { out.set_len(n) };
    out
}

/// Sets the number of compute threads for large GEMMs (1 disables threading).
pub fn set_num_threads(n: usize) {
    THREADS.store(n.max(1), Ordering::Relaxed);
}
