//! One pass instead of three: an optimizer step's elementwise transformation,
//! the learning-rate scaling and `p ← p + u`, fused per element and split over
//! the compute threads ([`odl_tensor::cpu::par_for_each`]).
//!
//! The fused kernels round exactly where the separate passes do (every
//! stored value is rounded to the array's element type after the same f64
//! arithmetic), so a fused step is bit-identical to `update` followed by
//! [`crate::apply_updates`]; `tests/optimizers.rs` checks this for every
//! fused optimizer in f32 and f64.

use odl_tensor::cpu::{par_for_each, simd, PAR_MIN_ELEMENTS, PIECE};
use odl_tensor::{Array, DType};

/// An element type the kernels compute in f64 and store back.
pub(crate) trait Real: Copy + Send + Sync + odl_tensor::Element {
    /// widened to f64
    fn f(self) -> f64;
    /// rounded from f64
    fn r(v: f64) -> Self;
}

impl Real for f32 {
    #[inline(always)]
    fn f(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn r(v: f64) -> f32 {
        v as f32
    }
}

impl Real for f64 {
    #[inline(always)]
    fn f(self) -> f64 {
        self
    }
    #[inline(always)]
    fn r(v: f64) -> f64 {
        v
    }
}

/// One piece of a parameter, its `S` state buffers and its gradient.
type Piece<'a, T, const S: usize> = (&'a mut [T], [&'a mut [T]; S], &'a [T]);

/// A kernel over one piece: parameter, state buffers, gradient.
pub(crate) type Kernel<'k, T, const S: usize> = &'k (dyn Fn(&mut [T], [&mut [T]; S], &[T]) + Sync);

/// Whether every parameter, state buffer and gradient holds `dtype` with
/// matching lengths (the fused kernels need one element type throughout).
pub(crate) fn uniform<const S: usize>(
    params: &[Array],
    state: &[&mut [Array]; S],
    grads: &[Array],
) -> Option<DType> {
    let d = params.first()?.dtype();
    let ok = params.len() == grads.len()
        && state.iter().all(|s| s.len() == params.len())
        && params.iter().zip(grads).enumerate().all(|(i, (p, g))| {
            p.dtype() == d
                && g.dtype() == d
                && p.shape() == g.shape()
                && state.iter().all(|s| s[i].dtype() == d && s[i].shape() == p.shape())
        });
    ok.then_some(d)
}

/// Runs `kernel` over aligned pieces of every parameter, its state buffers
/// and its gradient, the pieces spread over the compute threads. The caller
/// has checked the element types with [`uniform`].
pub(crate) fn for_pieces<T: Real, const S: usize>(
    params: &mut [Array],
    state: [&mut [Array]; S],
    grads: &[Array],
    kernel: Kernel<'_, T, S>,
) {
    let mut state = state;
    let mut pieces: Vec<Piece<'_, T, S>> = Vec::new();
    // each state list, one array per parameter, as an iterator
    let mut per_param: Vec<[&mut Array; S]> = Vec::with_capacity(params.len());
    {
        let mut iters = state.each_mut().map(|s| s.iter_mut());
        for _ in 0..params.len() {
            per_param.push(iters.each_mut().map(|it| it.next().expect("one state array per parameter")));
        }
    }
    for ((p, g), s) in params.iter_mut().zip(grads).zip(per_param) {
        let mut chunks = s.map(|a| a.as_mut_slice::<T>().chunks_mut(PIECE));
        for (pc, gc) in p.as_mut_slice::<T>().chunks_mut(PIECE).zip(g.as_slice::<T>().chunks(PIECE)) {
            pieces.push((pc, chunks.each_mut().map(|c| c.next().expect("same length")), gc));
        }
    }
    par_for_each(pieces, |piece| piece.2.len(), PAR_MIN_ELEMENTS, &|(p, s, g)| simd(|| kernel(p, s, g)));
}

/// `p ← p + round(c·g)` for every parameter: the last two passes of any
/// optimizer (its scaling by the learning rate, then the update), fused.
pub(crate) fn scale_apply(params: &mut [Array], grads: &[Array], c: f64) {
    match uniform::<0>(params, &[], grads) {
        Some(DType::F32) => for_pieces::<f32, 0>(params, [], grads, &|p, [], g| scale_apply_kernel(p, g, c)),
        Some(DType::F64) => for_pieces::<f64, 0>(params, [], grads, &|p, [], g| scale_apply_kernel(p, g, c)),
        None => {
            // mixed element types: one array at a time, same arithmetic
            assert_eq!(
                params.len(),
                grads.len(),
                "optimizer: {} parameters, {} updates",
                params.len(),
                grads.len()
            );
            for (p, g) in params.iter_mut().zip(grads) {
                let mut u = g.clone();
                crate::transform::map_mut(&mut u, |v| c * v);
                crate::transform::zip_mut(p, &u, |p, u| p + u);
            }
        }
    }
}

#[inline(always)]
fn scale_apply_kernel<T: Real>(p: &mut [T], g: &[T], c: f64) {
    for (p, g) in p.iter_mut().zip(g) {
        let u = T::r(c * g.f());
        *p = T::r(p.f() + u.f());
    }
}
