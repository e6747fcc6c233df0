//! One pass instead of three: an optimizer step's elementwise transformation,
//! the learning-rate scaling and `p ← p + u`, fused per element and split over
//! the compute threads ([`odl_tensor::cpu::par_for_each`]).
//!
//! The fused kernels round exactly where the separate passes do (every
//! stored value is rounded to the array's element type after the same
//! arithmetic — f64 widened from the element type, or, for Adam's moments,
//! the element type's own, as in PyTorch), so a fused step is bit-identical
//! to `update` followed by [`crate::apply_updates`]; `tests/optimizers.rs`
//! checks this for every fused optimizer in f32 and f64.

use odl_tensor::cpu::{par_for_each, simd, PAR_MIN_ELEMENTS, PIECE};
use odl_tensor::{Array, DType};

/// An element type the kernels compute in (natively, or in f64 and stored back).
pub(crate) trait Real:
    Copy
    + Send
    + Sync
    + odl_tensor::Element
    + std::ops::Add<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
{
    /// widened to f64
    fn f(self) -> f64;
    /// rounded from f64
    fn r(v: f64) -> Self;
    /// the square root, in this type
    fn sqrt(self) -> Self;
    /// the larger (the other one if `self` is NaN)
    fn max(self, other: Self) -> Self;
}

macro_rules! real {
    ($t:ty) => {
        impl Real for $t {
            #[inline(always)]
            fn f(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn r(v: f64) -> $t {
                v as $t
            }
            #[inline(always)]
            fn sqrt(self) -> $t {
                <$t>::sqrt(self)
            }
            #[inline(always)]
            fn max(self, other: $t) -> $t {
                <$t>::max(self, other)
            }
        }
    };
}
real!(f32);
real!(f64);

/// One piece of a parameter, its `S` state buffers and its gradient.
type Piece<'a, T, const S: usize> = (&'a mut [T], [&'a mut [T]; S], &'a [T]);

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
/// has checked the element types with [`uniform`]. Each kernel wraps its
/// loop in [`simd`] with an `#[inline(always)]` closure: only code inlined
/// into that call is compiled for the CPU's vector units (a closure that
/// `simd` merely calls — as a kernel passed in here would be — runs as
/// baseline SSE2 code; measured: Adam's step took twice as long).
pub(crate) fn for_pieces<T: Real, const S: usize>(
    params: &mut [Array],
    state: [&mut [Array]; S],
    grads: &[Array],
    kernel: &(impl Fn(&mut [T], [&mut [T]; S], &[T]) + Sync),
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
    par_for_each(pieces, |piece| piece.2.len(), PAR_MIN_ELEMENTS, &|(p, s, g)| kernel(p, s, g));
}

/// `p ← p + round(c·g)` for every parameter: the last two passes of any
/// optimizer (its scaling by the learning rate, then the update), fused.
pub(crate) fn scale_apply(params: &mut [Array], grads: &[Array], c: f64) {
    match uniform::<0>(params, &[], grads) {
        Some(DType::F32) => for_pieces::<f32, 0>(params, [], grads, &|p, [], g| {
            simd(
                #[inline(always)]
                || scale_apply_kernel(p, g, c),
            )
        }),
        Some(DType::F64) => for_pieces::<f64, 0>(params, [], grads, &|p, [], g| {
            simd(
                #[inline(always)]
                || scale_apply_kernel(p, g, c),
            )
        }),
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
