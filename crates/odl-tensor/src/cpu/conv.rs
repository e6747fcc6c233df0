//! 2-d convolution (cross-correlation, NCHW/OIHW) by im2col + GEMM, its two
//! adjoints, and max-pooling's argmax.

use super::matmul::gemm;
use crate::dtype::Element;
use crate::ops::Conv2dGeom;

/// Sizes of one convolution.
#[derive(Clone, Copy, Debug)]
pub struct ConvDims {
    /// batch
    pub n: usize,
    /// input channels
    pub c: usize,
    /// input height
    pub h: usize,
    /// input width
    pub w: usize,
    /// output channels
    pub o: usize,
    /// kernel height
    pub kh: usize,
    /// kernel width
    pub kw: usize,
    /// output height
    pub oh: usize,
    /// output width
    pub ow: usize,
    /// stride and padding
    pub geom: Conv2dGeom,
}

impl ConvDims {
    fn patch(&self) -> usize {
        self.c * self.kh * self.kw
    }
    fn pix(&self) -> usize {
        self.oh * self.ow
    }
}

/// Unfolds one image `[c,h,w]` into columns `[c*kh*kw, oh*ow]`.
fn im2col<T: Element>(x: &[T], d: &ConvDims, cols: &mut [T]) {
    let (s, p) = (d.geom.stride as isize, d.geom.padding as isize);
    let pix = d.pix();
    for c in 0..d.c {
        for ki in 0..d.kh {
            for kj in 0..d.kw {
                let row = (c * d.kh + ki) * d.kw + kj;
                let dst = &mut cols[row * pix..(row + 1) * pix];
                for oi in 0..d.oh {
                    let ii = oi as isize * s + ki as isize - p;
                    for oj in 0..d.ow {
                        let jj = oj as isize * s + kj as isize - p;
                        dst[oi * d.ow + oj] =
                            if ii >= 0 && jj >= 0 && (ii as usize) < d.h && (jj as usize) < d.w {
                                x[(c * d.h + ii as usize) * d.w + jj as usize]
                            } else {
                                T::zero()
                            };
                    }
                }
            }
        }
    }
}

/// Folds columns `[c*kh*kw, oh*ow]` back into one image `[c,h,w]`, adding overlaps.
fn col2im<T: Element>(cols: &[T], d: &ConvDims, x: &mut [T]) {
    let (s, p) = (d.geom.stride as isize, d.geom.padding as isize);
    let pix = d.pix();
    for c in 0..d.c {
        for ki in 0..d.kh {
            for kj in 0..d.kw {
                let row = (c * d.kh + ki) * d.kw + kj;
                let src = &cols[row * pix..(row + 1) * pix];
                for oi in 0..d.oh {
                    let ii = oi as isize * s + ki as isize - p;
                    if ii < 0 || ii as usize >= d.h {
                        continue;
                    }
                    for oj in 0..d.ow {
                        let jj = oj as isize * s + kj as isize - p;
                        if jj >= 0 && (jj as usize) < d.w {
                            x[(c * d.h + ii as usize) * d.w + jj as usize] += src[oi * d.ow + oj];
                        }
                    }
                }
            }
        }
    }
}

/// `y[n,o] = Σ_c w[o,c] ⋆ x[n,c]`; output `[n,o,oh,ow]`.
pub fn conv2d<T: Element>(x: &[T], w: &[T], d: &ConvDims) -> Vec<T> {
    let (patch, pix) = (d.patch(), d.pix());
    let mut cols = vec![T::zero(); patch * pix];
    let mut y = vec![T::zero(); d.n * d.o * pix];
    for b in 0..d.n {
        im2col(&x[b * d.c * d.h * d.w..(b + 1) * d.c * d.h * d.w], d, &mut cols);
        gemm(d.o, pix, patch, w, false, &cols, false, &mut y[b * d.o * pix..(b + 1) * d.o * pix], false);
    }
    y
}

/// The adjoint of [`conv2d`] in `x`: given `g` `[n,o,oh,ow]`, returns `[n,c,h,w]`.
pub fn conv2d_input_grad<T: Element>(g: &[T], w: &[T], d: &ConvDims) -> Vec<T> {
    let (patch, pix) = (d.patch(), d.pix());
    let mut cols = vec![T::zero(); patch * pix];
    let img = d.c * d.h * d.w;
    let mut x = vec![T::zero(); d.n * img];
    for b in 0..d.n {
        gemm(patch, pix, d.o, w, true, &g[b * d.o * pix..(b + 1) * d.o * pix], false, &mut cols, false);
        col2im(&cols, d, &mut x[b * img..(b + 1) * img]);
    }
    x
}

/// The adjoint of [`conv2d`] in `w`: given `x` and `g`, returns `[o,c,kh,kw]`.
pub fn conv2d_weight_grad<T: Element>(x: &[T], g: &[T], d: &ConvDims) -> Vec<T> {
    let (patch, pix) = (d.patch(), d.pix());
    let mut cols = vec![T::zero(); patch * pix];
    let img = d.c * d.h * d.w;
    let mut gw = vec![T::zero(); d.o * patch];
    for b in 0..d.n {
        im2col(&x[b * img..(b + 1) * img], d, &mut cols);
        gemm(d.o, patch, pix, &g[b * d.o * pix..(b + 1) * d.o * pix], false, &cols, true, &mut gw, b > 0);
    }
    gw
}

/// Flat input index of the maximum of every pooling window of `x` `[n,c,h,w]`
/// (window `k×k`, given stride, no padding); output order `[n,c,oh,ow]`.
pub fn maxpool2d_argmax<T: Element>(
    x: &[T],
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    k: usize,
    stride: usize,
) -> Vec<usize> {
    let oh = (h - k) / stride + 1;
    let ow = (w - k) / stride + 1;
    let mut idx = Vec::with_capacity(n * c * oh * ow);
    for plane in 0..n * c {
        let base = plane * h * w;
        for oi in 0..oh {
            for oj in 0..ow {
                let mut best = base + oi * stride * w + oj * stride;
                for ki in 0..k {
                    for kj in 0..k {
                        let at = base + (oi * stride + ki) * w + oj * stride + kj;
                        if x[at] > x[best] || x[at].is_nan() {
                            best = at;
                        }
                    }
                }
                idx.push(best);
            }
        }
    }
    idx
}
