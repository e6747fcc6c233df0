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

/// Sets the number of compute threads for large GEMMs (1 disables threading).
pub fn set_num_threads(n: usize) {
    THREADS.store(n.max(1), Ordering::Relaxed);
}
