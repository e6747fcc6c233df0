//! Data movement: strided copies (permute, broadcast), gathers and scatter-adds
//! by flat index.

use super::elementwise::walk;
use crate::dtype::Element;
use crate::shape::numel;

/// Copies from `x` read with `src_strides` (one per axis of `out`) into a new
/// row-major array of shape `out`.
pub fn strided_copy<T: Copy>(x: &[T], src_strides: &[usize], out: &[usize]) -> Vec<T> {
    let mut r = Vec::with_capacity(numel(out));
    walk(out, &[src_strides], |[o], len, [s]| {
        if s == 1 {
            r.extend_from_slice(&x[o..o + len]);
        } else {
            r.extend((0..len).map(|j| x[o + j * s]));
        }
    });
    r
}

/// `out[i] = x[idx[i]]`.
pub fn take<T: Copy>(x: &[T], idx: &[usize]) -> Vec<T> {
    idx.iter().map(|&i| x[i]).collect()
}

/// Rows `idx` of `x` seen as rows of `row` elements, in that order: one
/// slice copy per row.
pub fn take_rows<T: Copy>(x: &[T], idx: &[usize], row: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(idx.len() * row);
    for &i in idx {
        out.extend_from_slice(&x[i * row..(i + 1) * row]);
    }
    out
}

/// `out = 0; out[idx[i]] += g[i]` with `out` of length `len`.
pub fn scatter_add<T: Element>(g: &[T], idx: &[usize], len: usize) -> Vec<T> {
    let mut out = vec![T::zero(); len];
    for (&i, &v) in idx.iter().zip(g) {
        out[i] += v;
    }
    out
}
