//! Reductions over a contiguous block of axes, seen as `[outer, red, inner]`.

use crate::dtype::Element;
use crate::ops::ReduceOp;

/// Reduces `x`, viewed as `[outer, red, inner]`, over the middle axis; the
/// result is `[outer, inner]`.
pub fn reduce3<T: Element>(op: ReduceOp, x: &[T], outer: usize, red: usize, inner: usize) -> Vec<T> {
    let init = match op {
        ReduceOp::Sum => T::zero(),
        ReduceOp::Max => T::neg_infinity(),
    };
    if red == 0 {
        return vec![init; outer * inner];
    }
    if inner == 1 {
        return x
            .chunks_exact(red)
            .map(|row| match op {
                ReduceOp::Sum => sum_slice(row),
                ReduceOp::Max => row.iter().fold(init, |m, &v| max_nan(m, v)),
            })
            .collect();
    }
    let mut out = Vec::with_capacity(outer * inner);
    for o in 0..outer {
        let block = &x[o * red * inner..(o + 1) * red * inner];
        let start = out.len();
        out.extend_from_slice(&block[..inner]);
        let acc = &mut out[start..];
        for r in 1..red {
            let row = &block[r * inner..(r + 1) * inner];
            match op {
                ReduceOp::Sum => acc.iter_mut().zip(row).for_each(|(a, &v)| *a += v),
                ReduceOp::Max => acc.iter_mut().zip(row).for_each(|(a, &v)| *a = max_nan(*a, v)),
            }
        }
    }
    out
}

#[inline(always)]
fn max_nan<T: Element>(m: T, v: T) -> T {
    if v > m || v.is_nan() {
        v
    } else {
        m
    }
}

#[inline(always)]
/// Sum with 8 independent accumulators (vectorizes, and is more accurate than a
/// single running sum).
pub fn sum_slice<T: Element>(x: &[T]) -> T {
    let mut acc = [T::zero(); 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..8 {
            acc[i] += c[i];
        }
    }
    let mut s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for &v in rest {
        s += v;
    }
    s
}
