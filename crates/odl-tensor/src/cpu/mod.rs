//! The CPU backend: generic kernels over [`crate::Element`] working on plain
//! slices. Nothing here knows about autodiff.
//!
//! Threads: GEMM (and the GEMMs inside convolutions) fans out above a size
//! threshold; [`join`] and [`par_for_each`] split larger pieces of work;
//! small ops never hop to a thread pool.

pub mod conv;
pub mod elementwise;
pub mod fastmath;
pub mod matmul;
pub mod movement;
pub mod reduce;

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

static THREADS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// How many compute threads work started on this thread may use: set
    /// inside [`join`] to each half's share of the caller's (0: not set, all
    /// of them). A half with one thread runs its GEMMs single-threaded.
    static BUDGET: Cell<usize> = const { Cell::new(0) };
}

/// The compute threads that kernels started on this thread may use.
pub(crate) fn threads_here() -> usize {
    match BUDGET.with(Cell::get) {
        0 => num_threads(),
        b => b,
    }
}

/// Whether kernels on this thread may use more than one thread.
pub(crate) fn may_fan_out() -> bool {
    threads_here() > 1
}

/// Runs two independent computations at once, each with half of the compute
/// threads this thread may use (inter-op instead of intra-op parallelism):
/// on two cores, one thread each, with single-threaded GEMMs inside. Two
/// medium GEMMs side by side on one core each beat the same two GEMMs one
/// after the other split across both cores: no barrier per GEMM and better
/// cache use per core. Nested joins split a half again, so recursive halving
/// (`par_map`, per-image convolutions) reaches every thread. With one thread
/// to use, runs `a` then `b` on the calling thread.
pub fn join<RA: Send, RB: Send>(a: impl FnOnce() -> RA + Send, b: impl FnOnce() -> RB + Send) -> (RA, RB) {
    let threads = threads_here();
    if threads < 2 {
        return (a(), b());
    }
    let half = threads / 2;
    rayon::join(|| with_thread_budget(half, a), || with_thread_budget(threads - half, b))
}

/// Runs `f` with at most `n` compute threads for the work it starts on this
/// thread (GEMMs, [`join`], [`par_for_each`]); the previous budget is
/// restored on the way out, panics included. For computations that already
/// run side by side — the lab's experiments, `--jobs` at a time — so that
/// together they use the cores once instead of each fanning out over all of
/// them (oversubscribed GEMM barriers spin and wait on descheduled threads).
pub fn with_thread_budget<R>(n: usize, f: impl FnOnce() -> R) -> R {
    struct Restore(usize);
    impl Drop for Restore {
        fn drop(&mut self) {
            BUDGET.with(|s| s.set(self.0));
        }
    }
    let _restore = Restore(BUDGET.with(|s| s.replace(n.max(1))));
    f()
}

/// Calls `f` on every item, the items cut into two runs of about equal total
/// `size` that go side by side through [`join`] when the total reaches
/// `min_total` (else all on the calling thread, in order). For memory-bound
/// passes over many arrays at once (an optimizer step, a sum of gradients),
/// given as pieces of disjoint slices.
pub fn par_for_each<T: Send>(
    mut items: Vec<T>,
    size: impl Fn(&T) -> usize,
    min_total: usize,
    f: &(dyn Fn(T) + Sync),
) {
    let total: usize = items.iter().map(&size).sum();
    if items.len() < 2 || total < min_total || !may_fan_out() {
        items.into_iter().for_each(f);
        return;
    }
    let (mut acc, mut cut) = (0, items.len() - 1);
    for (i, it) in items.iter().enumerate() {
        acc += size(it);
        if 2 * acc >= total {
            cut = i + 1;
            break;
        }
    }
    let cut = cut.clamp(1, items.len() - 1);
    let rest = items.split_off(cut);
    join(|| items.into_iter().for_each(f), || rest.into_iter().for_each(f));
}

/// Elements per piece when [`par_for_each`] work is cut out of large arrays.
pub const PIECE: usize = 1 << 14;

/// Memory-bound passes over fewer elements than this stay on one thread
/// (handing half to another thread costs a few microseconds).
pub const PAR_MIN_ELEMENTS: usize = 1 << 17;

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
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
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

/// Appends `f(v)` for every `v` in `x` to `out`, writing straight into its
/// spare capacity in a loop that is inlined into the caller (so it vectorizes
/// at the SIMD level chosen by [`simd`]).
#[inline(always)]
pub fn push_map<T: Copy, U: Copy>(out: &mut Vec<U>, x: &[T], f: impl Fn(T) -> U) {
    out.reserve(x.len());
    let len = out.len();
    let dst = &mut out.spare_capacity_mut()[..x.len()];
    for (d, &v) in dst.iter_mut().zip(x) {
        d.write(f(v));
    }
    // SAFETY: the loop above initialized the x.len() slots after `len`.
    unsafe { out.set_len(len + x.len()) };
}

/// Appends `f(a_i, b_i)` for the common length of `a` and `b`, like [`push_map`].
#[inline(always)]
pub fn push_zip<T: Copy, U: Copy>(out: &mut Vec<U>, a: &[T], b: &[T], f: impl Fn(T, T) -> U) {
    let n = a.len().min(b.len());
    out.reserve(n);
    let len = out.len();
    let dst = &mut out.spare_capacity_mut()[..n];
    for ((d, &x), &y) in dst.iter_mut().zip(&a[..n]).zip(&b[..n]) {
        d.write(f(x, y));
    }
    // SAFETY: the loop above initialized the n slots after `len`.
    unsafe { out.set_len(len + n) };
}

/// `f` of every element of `x`, in a new vector (see [`push_map`]).
#[inline(always)]
pub fn map_vec<T: Copy, U: Copy>(x: &[T], f: impl Fn(T) -> U) -> Vec<U> {
    let mut out = Vec::with_capacity(x.len());
    push_map(&mut out, x, f);
    out
}

/// `f` of every pair of `a` and `b`, in a new vector (see [`push_zip`]).
#[inline(always)]
pub fn zip_vec<T: Copy, U: Copy>(a: &[T], b: &[T], f: impl Fn(T, T) -> U) -> Vec<U> {
    let mut out = Vec::with_capacity(a.len().min(b.len()));
    push_zip(&mut out, a, b, f);
    out
}

/// Sets the number of compute threads for large GEMMs (1 disables threading).
pub fn set_num_threads(n: usize) {
    THREADS.store(n.max(1), Ordering::Relaxed);
}
