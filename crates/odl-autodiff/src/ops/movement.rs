//! Movement ops. Reshape, permute and expand are primitives; slicing, padding,
//! concatenation and gathers are all flat-index `take`/`scatter_add`, whose
//! VJPs are each other.

use std::sync::Arc;

use odl_tensor::shape::{norm_axis, numel, strides};

use crate::op::Op;
use crate::tensor::Tensor;

impl Tensor {
    /// The same elements with another shape (no copy). One axis may be given as
    /// `usize::MAX` to be inferred.
    #[track_caller]
    pub fn reshape(&self, shape: &[usize]) -> Tensor {
        let mut s: odl_tensor::Shape = shape.into();
        if let Some(pos) = s.iter().position(|&d| d == usize::MAX) {
            let known: usize = s.iter().filter(|&&d| d != usize::MAX).product();
            assert!(
                known > 0 && self.numel().is_multiple_of(known),
                "reshape: cannot infer an axis of {shape:?} for {:?}",
                self.shape()
            );
            s[pos] = self.numel() / known;
        }
        if s.as_slice() == self.shape() {
            return self.clone();
        }
        Tensor::from_op(self.value().reshape(&s), Op::Reshape(self.clone()))
    }

    /// Flattens all axes after the first: `[n, ...] → [n, rest]`.
    pub fn flatten(&self) -> Tensor {
        let n = self.shape().first().copied().unwrap_or(1);
        self.reshape(&[n, self.numel() / n.max(1)])
    }

    /// Reorders axes: output axis `i` is input axis `perm[i]`.
    #[track_caller]
    pub fn permute(&self, perm: &[usize]) -> Tensor {
        Tensor::from_op(self.value().permute(perm), Op::Permute(self.clone(), perm.into()))
    }

    /// Swaps the last two axes.
    #[track_caller]
    pub fn t(&self) -> Tensor {
        let n = self.ndim();
        assert!(n >= 2, "t: needs at least 2 axes, got {:?}", self.shape());
        let mut p: Vec<usize> = (0..n).collect();
        p.swap(n - 2, n - 1);
        self.permute(&p)
    }

    /// Broadcasts (numpy rules) to `shape`, materializing the result.
    #[track_caller]
    pub fn expand(&self, shape: &[usize]) -> Tensor {
        if self.shape() == shape {
            return self.clone();
        }
        Tensor::from_op(self.value().expand(shape), Op::Expand(self.clone()))
    }

    /// Inserts a size-1 axis at `axis`.
    #[track_caller]
    pub fn unsqueeze(&self, axis: isize) -> Tensor {
        let mut s: Vec<usize> = self.shape().to_vec();
        let a = norm_axis(axis, s.len() + 1, "unsqueeze");
        s.insert(a, 1);
        self.reshape(&s)
    }

    /// Gathers by flat index: `out.flat[i] = x.flat[idx[i]]`, shaped `shape`.
    #[track_caller]
    pub fn take(&self, idx: Arc<[usize]>, shape: &[usize]) -> Tensor {
        Tensor::from_op(self.value().take(&idx, shape), Op::Take(self.clone(), idx))
    }

    /// Scatter-adds by flat index into zeros of `shape`.
    #[track_caller]
    pub fn scatter_add(&self, idx: Arc<[usize]>, shape: &[usize]) -> Tensor {
        Tensor::from_op(self.value().scatter_add(&idx, shape), Op::ScatterAdd(self.clone(), idx))
    }

    /// Elements `start..end` (step `step`) along `axis`.
    #[track_caller]
    pub fn slice(&self, axis: isize, start: usize, end: usize, step: usize) -> Tensor {
        let a = norm_axis(axis, self.ndim(), "slice");
        let d = self.shape()[a];
        assert!(
            step > 0 && start <= end && end <= d,
            "slice: {start}..{end} step {step} out of range for axis {a} of {:?}",
            self.shape()
        );
        let picks: Vec<usize> = (start..end).step_by(step).collect();
        self.index_select(axis, &picks)
    }

    /// Selects `indices` along `axis` (like `torch.index_select`).
    #[track_caller]
    pub fn index_select(&self, axis: isize, indices: &[usize]) -> Tensor {
        let a = norm_axis(axis, self.ndim(), "index_select");
        let sh = self.shape();
        if let Some(&bad) = indices.iter().find(|&&i| i >= sh[a]) {
            panic!("index_select: index {bad} out of range for axis {a} of {sh:?}");
        }
        let (outer, inner) = (numel(&sh[..a]), numel(&sh[a + 1..]));
        let mut idx = Vec::with_capacity(outer * indices.len() * inner);
        for o in 0..outer {
            for &i in indices {
                let base = (o * sh[a] + i) * inner;
                idx.extend(base..base + inner);
            }
        }
        let mut out = sh.to_vec();
        out[a] = indices.len();
        self.take(idx.into(), &out)
    }

    /// `out[..., i, ...] = x[..., index[..., i, ...], ...]` along `axis`, where
    /// `index` has this tensor's shape except along `axis` (like `torch.gather`).
    #[track_caller]
    pub fn gather(&self, axis: isize, index: &[usize], index_shape: &[usize]) -> Tensor {
        let a = norm_axis(axis, self.ndim(), "gather");
        let sh = self.shape();
        assert!(
            index_shape.len() == sh.len() && index.len() == numel(index_shape),
            "gather: index shape {index_shape:?} does not fit {sh:?}"
        );
        let st = strides(sh);
        let ist = strides(index_shape);
        let mut idx = Vec::with_capacity(index.len());
        for (flat, &i) in index.iter().enumerate() {
            assert!(i < sh[a], "gather: index {i} out of range for axis {a} of {sh:?}");
            let mut off = 0;
            let mut rem = flat;
            for d in 0..sh.len() {
                let c = rem / ist[d];
                rem %= ist[d];
                off += if d == a { i } else { c } * st[d];
            }
            idx.push(off);
        }
        self.take(idx.into(), index_shape)
    }

    /// Zero-pads each axis by `(before, after)`.
    #[track_caller]
    pub fn pad(&self, pads: &[(usize, usize)]) -> Tensor {
        let sh = self.shape();
        assert_eq!(pads.len(), sh.len(), "pad: {} pad pairs for shape {sh:?}", pads.len());
        let out: Vec<usize> = sh.iter().zip(pads).map(|(&d, &(b, a))| d + b + a).collect();
        let offset: Vec<usize> = pads.iter().map(|p| p.0).collect();
        let idx = embed_indices(sh, &out, &offset);
        self.scatter_add(idx.into(), &out)
    }

    /// Concatenates along `axis`.
    #[track_caller]
    pub fn concat(parts: &[Tensor], axis: isize) -> Tensor {
        assert!(!parts.is_empty(), "concat: no tensors");
        let a = norm_axis(axis, parts[0].ndim(), "concat");
        let mut out = parts[0].shape().to_vec();
        out[a] = 0;
        for p in parts {
            let s = p.shape();
            assert!(
                s.len() == out.len() && s.iter().enumerate().all(|(i, &d)| i == a || d == out[i]),
                "concat: shape {s:?} does not fit {:?} along axis {a}",
                parts[0].shape()
            );
            out[a] += s[a];
        }
        let mut start = 0;
        let mut acc: Option<Tensor> = None;
        for p in parts {
            let mut offset = vec![0; out.len()];
            offset[a] = start;
            start += p.shape()[a];
            let placed = p.scatter_add(embed_indices(p.shape(), &out, &offset).into(), &out);
            acc = Some(match acc {
                None => placed,
                Some(t) => t.add(&placed),
            });
        }
        acc.unwrap()
    }
}

/// Flat indices in `out` of each element of an array of shape `inner` placed
/// at `offset`.
fn embed_indices(inner: &[usize], out: &[usize], offset: &[usize]) -> Vec<usize> {
    let so = strides(out);
    let mut idx = Vec::with_capacity(numel(inner));
    let base: usize = offset.iter().zip(&so).map(|(o, s)| o * s).sum();
    let si = strides(inner);
    for flat in 0..numel(inner) {
        let mut off = base;
        let mut rem = flat;
        for d in 0..inner.len() {
            off += (rem / si[d]) * so[d];
            rem %= si[d];
        }
        idx.push(off);
    }
    idx
}
