//! Elementwise kernels: unary maps, broadcast binary maps, comparisons, select.

use super::{map_vec, push_map, push_zip, zip_vec};
use crate::dtype::Element;
use crate::ops::{BinaryOp, CmpOp, UnaryOp};
use crate::shape::{broadcast_strides, numel};

/// Applies `op` to every element.
pub fn unary<T: Element>(op: UnaryOp, x: &[T]) -> Vec<T> {
    super::simd(
        #[inline(always)]
        || unary_body(op, x),
    )
}

#[inline(always)]
fn unary_body<T: Element>(op: UnaryOp, x: &[T]) -> Vec<T> {
    use super::map_vec as map;
    match op {
        UnaryOp::Neg => map(x, |v| -v),
        UnaryOp::Exp => T::exp_slice(x),
        UnaryOp::Log => map(x, |v| v.ln()),
        UnaryOp::Sqrt => map(x, |v| v.sqrt()),
        UnaryOp::Tanh => T::tanh_slice(x),
        UnaryOp::Abs => map(x, |v| v.abs()),
        UnaryOp::Sign => map(x, |v| {
            if v > T::zero() {
                T::one()
            } else if v < T::zero() {
                -T::one()
            } else {
                v // keeps 0 as 0 and NaN as NaN
            }
        }),
        UnaryOp::Sin => map(x, |v| v.sin()),
        UnaryOp::Cos => map(x, |v| v.cos()),
        UnaryOp::Recip => map(x, |v| v.recip()),
        UnaryOp::Relu => map(x, |v| if v.is_nan() || v > T::zero() { v } else { T::zero() }),
    }
}

/// `f(a, b)` over the broadcast of `a` (shape `ash`) and `b` (shape `bsh`) into
/// `out` (their broadcast shape). Fast paths for equal shapes, scalars and
/// trailing-suffix broadcasts (bias adds); a strided walk otherwise.
pub fn zip_with<T: Copy, U: Copy, F: Fn(T, T) -> U>(
    a: &[T],
    ash: &[usize],
    b: &[T],
    bsh: &[usize],
    out: &[usize],
    f: F,
) -> Vec<U> {
    super::simd(
        #[inline(always)]
        || zip_body(a, ash, b, bsh, out, f),
    )
}

#[inline(always)]
fn zip_body<T: Copy, U: Copy, F: Fn(T, T) -> U>(
    a: &[T],
    ash: &[usize],
    b: &[T],
    bsh: &[usize],
    out: &[usize],
    f: F,
) -> Vec<U> {
    let n = numel(out);
    if n == 0 {
        return Vec::new();
    }
    if a.len() == n && b.len() == n {
        // equal numel with a broadcast-compatible shape means equal layout
        // (only size-1 axes can differ)
        return zip_vec(a, b, f);
    }
    if b.len() == 1 && a.len() == n {
        let y = b[0];
        return map_vec(a, |x| f(x, y));
    }
    if a.len() == 1 && b.len() == n {
        let x = a[0];
        return map_vec(b, |y| f(x, y));
    }
    if a.len() == n && is_suffix(bsh, out) {
        let mut r = Vec::with_capacity(n);
        for ca in a.chunks_exact(b.len()) {
            push_zip(&mut r, ca, b, &f);
        }
        return r;
    }
    if b.len() == n && is_suffix(ash, out) {
        let mut r = Vec::with_capacity(n);
        for cb in b.chunks_exact(a.len()) {
            push_zip(&mut r, a, cb, &f);
        }
        return r;
    }
    let sa = broadcast_strides(ash, out);
    let sb = broadcast_strides(bsh, out);
    let mut r = Vec::with_capacity(n);
    walk(out, &[&sa, &sb], |offs, len, steps| {
        let (oa, ob) = (offs[0], offs[1]);
        match (steps[0], steps[1]) {
            // contiguous rows, or a row against one broadcast element (a
            // column vector): vectorizable loops
            (1, 1) => push_zip(&mut r, &a[oa..oa + len], &b[ob..ob + len], &f),
            (1, 0) => {
                let y = b[ob];
                push_map(&mut r, &a[oa..oa + len], |x| f(x, y));
            }
            (0, 1) => {
                let x = a[oa];
                push_map(&mut r, &b[ob..ob + len], |y| f(x, y));
            }
            (ia, ib) => {
                for j in 0..len {
                    r.push(f(a[oa + j * ia], b[ob + j * ib]));
                }
            }
        }
    });
    r
}

/// True when `small` (after dropping leading size-1 axes) equals the trailing
/// axes of `out`.
fn is_suffix(small: &[usize], out: &[usize]) -> bool {
    let s: &[usize] = {
        let k = small.iter().take_while(|&&d| d == 1).count();
        &small[k..]
    };
    s.len() <= out.len() && &out[out.len() - s.len()..] == s
}

#[inline(always)]
/// Walks the index space of `shape` row by row (the innermost axis is one
/// row) and calls `row(offsets, len, steps)` with, for each strided operand,
/// the offset of the row's first element and the stride along the row.
pub fn walk<const K: usize>(
    shape: &[usize],
    strides: &[&[usize]; K],
    mut row: impl FnMut([usize; K], usize, [usize; K]),
) {
    let nd = shape.len();
    if numel(shape) == 0 {
        return;
    }
    if nd == 0 {
        row([0; K], 1, [0; K]);
        return;
    }
    let last = shape[nd - 1];
    let steps: [usize; K] = std::array::from_fn(|k| strides[k][nd - 1]);
    let outer = numel(&shape[..nd - 1]);
    let mut idx = [0usize; 8];
    assert!(nd <= 9, "tensors of rank above 9 are not supported");
    let mut offs = [0usize; K];
    for _ in 0..outer {
        row(offs, last, steps);
        for d in (0..nd - 1).rev() {
            idx[d] += 1;
            for k in 0..K {
                offs[k] += strides[k][d];
            }
            if idx[d] < shape[d] {
                break;
            }
            for k in 0..K {
                offs[k] -= strides[k][d] * shape[d];
            }
            idx[d] = 0;
        }
    }
}

/// Binds `$f` to the elementwise function of a [`BinaryOp`] on `$t` and
/// evaluates `$body` with it: the one definition of each binary op, inlined
/// into whichever loop uses it.
macro_rules! with_binary_fn {
    ($op:expr, $t:ty, |$f:ident| $body:expr) => {
        match $op {
            BinaryOp::Add => {
                let $f = |x: $t, y: $t| x + y;
                $body
            }
            BinaryOp::Sub => {
                let $f = |x: $t, y: $t| x - y;
                $body
            }
            BinaryOp::Mul => {
                let $f = |x: $t, y: $t| x * y;
                $body
            }
            BinaryOp::Div => {
                let $f = |x: $t, y: $t| x / y;
                $body
            }
            BinaryOp::Pow => {
                let $f = |x: $t, y: $t| x.powf(y);
                $body
            }
            // NaN-propagating, like numpy's maximum/minimum
            BinaryOp::Max => {
                let $f = |x: $t, y: $t| if x.is_nan() || x > y { x } else { y };
                $body
            }
            BinaryOp::Min => {
                let $f = |x: $t, y: $t| if x.is_nan() || x < y { x } else { y };
                $body
            }
            BinaryOp::MulOneMinusSq => {
                let $f = |x: $t, y: $t| x * (<$t>::one() - y * y);
                $body
            }
            BinaryOp::MulPositive => {
                let $f = |x: $t, y: $t| x * if y > <$t>::zero() { <$t>::one() } else { <$t>::zero() };
                $body
            }
        }
    };
}

/// Applies a binary op with broadcasting.
pub fn binary<T: Element>(
    op: BinaryOp,
    a: &[T],
    ash: &[usize],
    b: &[T],
    bsh: &[usize],
    out: &[usize],
) -> Vec<T> {
    with_binary_fn!(op, T, |f| zip_with(a, ash, b, bsh, out, f))
}

/// Applies a binary op to equal-length `a` and `b`, writing into `out`.
pub fn binary_into<T: Element>(op: BinaryOp, a: &[T], b: &[T], out: &mut [T]) {
    #[inline(always)]
    fn run<T: Copy>(a: &[T], b: &[T], out: &mut [T], f: impl Fn(T, T) -> T) {
        for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
            *o = f(x, y);
        }
    }
    // a few elements (a replayed scalar chain) do not pay the SIMD dispatch
    if out.len() < 64 {
        with_binary_fn!(op, T, |f| run(a, b, out, f))
    } else {
        super::simd(
            #[inline(always)]
            || with_binary_fn!(op, T, |f| run(a, b, out, f)),
        )
    }
}

/// A comparison with broadcasting; 1.0 where it holds, 0.0 elsewhere.
pub fn compare<T: Element>(
    op: CmpOp,
    a: &[T],
    ash: &[usize],
    b: &[T],
    bsh: &[usize],
    out: &[usize],
) -> Vec<T> {
    let m = |c: bool| if c { T::one() } else { T::zero() };
    match op {
        CmpOp::Eq => zip_with(a, ash, b, bsh, out, |x, y| m(x == y)),
        CmpOp::Ne => zip_with(a, ash, b, bsh, out, |x, y| m(x != y)),
        CmpOp::Lt => zip_with(a, ash, b, bsh, out, |x, y| m(x < y)),
        CmpOp::Le => zip_with(a, ash, b, bsh, out, |x, y| m(x <= y)),
        CmpOp::Gt => zip_with(a, ash, b, bsh, out, |x, y| m(x > y)),
        CmpOp::Ge => zip_with(a, ash, b, bsh, out, |x, y| m(x >= y)),
    }
}

/// `cond != 0 ? a : b`, all three already of the same shape.
pub fn select<T: Element>(cond: &[T], a: &[T], b: &[T]) -> Vec<T> {
    super::simd(
        #[inline(always)]
        || {
            let mut out = Vec::with_capacity(cond.len());
            for ((&c, &x), &y) in cond.iter().zip(a).zip(b) {
                out.push(if c != T::zero() { x } else { y });
            }
            out
        },
    )
}

/// Clamps every element to `[lo, hi]` (NaN stays NaN).
pub fn clamp<T: Element>(x: &[T], lo: T, hi: T) -> Vec<T> {
    super::simd(
        #[inline(always)]
        || {
            map_vec(x, |v| {
                if v < lo {
                    lo
                } else if v > hi {
                    hi
                } else {
                    v
                }
            })
        },
    )
}

/// 1.0 where `lo <= x <= hi`, else 0.0.
pub fn in_range<T: Element>(x: &[T], lo: T, hi: T) -> Vec<T> {
    x.iter().map(|&v| if v >= lo && v <= hi { T::one() } else { T::zero() }).collect()
}
