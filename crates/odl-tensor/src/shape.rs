//! Shapes, row-major strides and numpy broadcasting.

use smallvec::SmallVec;

/// A shape: the size of each axis, outermost first. Stored inline up to 6 axes,
/// so building one never touches the heap for ordinary tensors.
pub type Shape = SmallVec<[usize; 6]>;

/// Builds a [`Shape`] from a slice.
pub fn shape(dims: &[usize]) -> Shape {
    Shape::from_slice(dims)
}

/// Number of elements of a shape (1 for a scalar).
#[inline]
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Row-major strides, in elements.
pub fn strides(shape: &[usize]) -> Shape {
    let mut s: Shape = smallvec::smallvec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// The numpy broadcast of two shapes, or `None` when they are incompatible.
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Option<Shape> {
    let n = a.len().max(b.len());
    let mut out: Shape = smallvec::smallvec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n { a[i + a.len() - n] } else { 1 };
        let db = if i + b.len() >= n { b[i + b.len() - n] } else { 1 };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return None;
        };
    }
    Some(out)
}

/// Strides (in elements) for reading an array of shape `from` as if it had the
/// broadcast shape `to`: broadcast axes get stride 0.
pub fn broadcast_strides(from: &[usize], to: &[usize]) -> Shape {
    let st = strides(from);
    let off = to.len() - from.len();
    let mut out: Shape = smallvec::smallvec![0; to.len()];
    for i in 0..from.len() {
        out[i + off] = if from[i] == 1 && to[i + off] != 1 { 0 } else { st[i] };
    }
    out
}

/// Normalizes a possibly negative axis index against `ndim`; panics with the op
/// name when it is out of range.
#[track_caller]
pub fn norm_axis(axis: isize, ndim: usize, op: &str) -> usize {
    let a = if axis < 0 { axis + ndim as isize } else { axis };
    assert!(
        a >= 0 && (a as usize) < ndim.max(1),
        "{op}: axis {axis} is out of range for a tensor of rank {ndim}"
    );
    a as usize
}

/// The axes along which `from` must be summed to become `to` after a broadcast
/// (leading extra axes and axes where `to` has size 1).
pub fn reduced_axes(from: &[usize], to: &[usize]) -> SmallVec<[usize; 6]> {
    let off = from.len() - to.len();
    let mut axes = SmallVec::new();
    for (i, &d) in from.iter().enumerate() {
        if i < off || (to[i - off] == 1 && d != 1) {
            axes.push(i);
        }
    }
    axes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_follows_numpy() {
        assert_eq!(broadcast_shapes(&[3, 1, 5], &[4, 1]).unwrap().as_slice(), &[3, 4, 5]);
        assert_eq!(broadcast_shapes(&[], &[2, 2]).unwrap().as_slice(), &[2, 2]);
        assert!(broadcast_shapes(&[3], &[4]).is_none());
        assert_eq!(broadcast_strides(&[4, 1], &[3, 4, 5]).as_slice(), &[0, 1, 0]);
        assert_eq!(reduced_axes(&[3, 4, 5], &[4, 1]).as_slice(), &[0, 2]);
    }
}
