//! 2-d convolution (cross-correlation, NCHW/OIHW) by im2col + GEMM, its two
//! adjoints, and max-pooling's argmax.

use super::matmul::{gemm, gemm_new};
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

/// For kernel offset `k` (0-based, before padding) along an axis of input
/// length `n`: the output positions `lo..hi` whose input index
/// `o·stride + k − pad` falls inside `0..n`.
fn valid_range(out_len: usize, n: usize, k: usize, stride: usize, pad: usize) -> (usize, usize) {
    // o·s + k ≥ pad  ⇔  o ≥ ceil((pad − k)/s);  o·s + k − pad < n  ⇔  o < (n + pad − k)/s rounded up
    let lo = if pad > k { (pad - k).div_ceil(stride) } else { 0 };
    let hi = if n + pad > k { ((n + pad - k).div_ceil(stride)).min(out_len) } else { 0 };
    (lo.min(hi), hi)
}

/// Unfolds one image `[c,h,w]` into its block of columns: row `r` of the
/// `[c*kh*kw, oh*ow]` patch matrix goes to `cols[r*ld + off ..][..oh*ow]`.
fn im2col<T: Element>(x: &[T], d: &ConvDims, cols: &mut [T], ld: usize, off: usize) {
    let (s, (ph, pw)) = (d.geom.stride, d.geom.padding);
    let pix = d.pix();
    for c in 0..d.c {
        let plane = &x[c * d.h * d.w..(c + 1) * d.h * d.w];
        for ki in 0..d.kh {
            let (i_lo, i_hi) = valid_range(d.oh, d.h, ki, s, ph);
            for kj in 0..d.kw {
                let (j_lo, j_hi) = valid_range(d.ow, d.w, kj, s, pw);
                let row = (c * d.kh + ki) * d.kw + kj;
                let dst = &mut cols[row * ld + off..row * ld + off + pix];
                dst.iter_mut().for_each(|v| *v = T::zero());
                for oi in i_lo..i_hi {
                    let src = &plane[(oi * s + ki - ph) * d.w..][..d.w];
                    let out = &mut dst[oi * d.ow..(oi + 1) * d.ow];
                    if s == 1 {
                        let start = j_lo + kj - pw;
                        out[j_lo..j_hi].copy_from_slice(&src[start..start + (j_hi - j_lo)]);
                    } else {
                        for oj in j_lo..j_hi {
                            out[oj] = src[oj * s + kj - pw];
                        }
                    }
                }
            }
        }
    }
}

/// Folds one image's block of columns (laid out as for [`im2col`]) back into
/// the image `[c,h,w]`, adding overlaps.
fn col2im<T: Element>(cols: &[T], d: &ConvDims, x: &mut [T], ld: usize, off: usize) {
    let (s, (ph, pw)) = (d.geom.stride, d.geom.padding);
    let pix = d.pix();
    for c in 0..d.c {
        let plane = &mut x[c * d.h * d.w..(c + 1) * d.h * d.w];
        for ki in 0..d.kh {
            let (i_lo, i_hi) = valid_range(d.oh, d.h, ki, s, ph);
            for kj in 0..d.kw {
                let (j_lo, j_hi) = valid_range(d.ow, d.w, kj, s, pw);
                let row = (c * d.kh + ki) * d.kw + kj;
                let src_row = &cols[row * ld + off..row * ld + off + pix];
                for oi in i_lo..i_hi {
                    let dst = &mut plane[(oi * s + ki - ph) * d.w..][..d.w];
                    let src = &src_row[oi * d.ow..(oi + 1) * d.ow];
                    if s == 1 {
                        let start = j_lo + kj - pw;
                        for (a, &b) in dst[start..start + (j_hi - j_lo)].iter_mut().zip(&src[j_lo..j_hi]) {
                            *a += b;
                        }
                    } else {
                        for oj in j_lo..j_hi {
                            dst[oj * s + kj - pw] += src[oj];
                        }
                    }
                }
            }
        }
    }
}

/// Images per GEMM: as many as keep the patch matrix under 8 M elements, so
/// one product covers the batch (and can use both threads) without a huge buffer.
fn chunk(d: &ConvDims) -> usize {
    (8 << 20) / (d.patch() * d.pix()).max(1)
}

/// `y[n,o] = Σ_c w[o,c] ⋆ x[n,c]`; output `[n,o,oh,ow]`. The patches of a
/// chunk of images form one `[c·kh·kw, images·oh·ow]` matrix and one GEMM.
pub fn conv2d<T: Element>(x: &[T], w: &[T], d: &ConvDims) -> Vec<T> {
    let (patch, pix, img) = (d.patch(), d.pix(), d.c * d.h * d.w);
    let mut y = vec![T::zero(); d.n * d.o * pix];
    let step = chunk(d).clamp(1, d.n.max(1));
    for b0 in (0..d.n).step_by(step) {
        let nb = step.min(d.n - b0);
        let ld = nb * pix;
        let mut cols = vec![T::zero(); patch * ld];
        for b in 0..nb {
            im2col(&x[(b0 + b) * img..(b0 + b + 1) * img], d, &mut cols, ld, b * pix);
        }
        let y_onp = gemm_new(d.o, ld, patch, w, false, &cols, false);
        // [o, nb·pix] → [nb, o, pix]
        for b in 0..nb {
            for o in 0..d.o {
                y[((b0 + b) * d.o + o) * pix..][..pix].copy_from_slice(&y_onp[o * ld + b * pix..][..pix]);
            }
        }
    }
    y
}

/// `g` `[n,o,pix]` for images `b0..b0+nb` as the matrix `[o, nb·pix]`.
fn gather_onp<T: Element>(g: &[T], d: &ConvDims, b0: usize, nb: usize) -> Vec<T> {
    let pix = d.pix();
    let ld = nb * pix;
    let mut out = vec![T::zero(); d.o * ld];
    for b in 0..nb {
        for o in 0..d.o {
            out[o * ld + b * pix..][..pix].copy_from_slice(&g[((b0 + b) * d.o + o) * pix..][..pix]);
        }
    }
    out
}

/// The adjoint of [`conv2d`] in `x`: given `g` `[n,o,oh,ow]`, returns `[n,c,h,w]`.
pub fn conv2d_input_grad<T: Element>(g: &[T], w: &[T], d: &ConvDims) -> Vec<T> {
    let (patch, pix, img) = (d.patch(), d.pix(), d.c * d.h * d.w);
    let mut x = vec![T::zero(); d.n * img];
    let step = chunk(d).clamp(1, d.n.max(1));
    for b0 in (0..d.n).step_by(step) {
        let nb = step.min(d.n - b0);
        let ld = nb * pix;
        let g_onp = gather_onp(g, d, b0, nb);
        let cols = gemm_new(patch, ld, d.o, w, true, &g_onp, false);
        for b in 0..nb {
            col2im(&cols, d, &mut x[(b0 + b) * img..(b0 + b + 1) * img], ld, b * pix);
        }
    }
    x
}

/// The adjoint of [`conv2d`] in `w`: given `x` and `g`, returns `[o,c,kh,kw]`.
pub fn conv2d_weight_grad<T: Element>(x: &[T], g: &[T], d: &ConvDims) -> Vec<T> {
    let (patch, pix, img) = (d.patch(), d.pix(), d.c * d.h * d.w);
    let mut gw = vec![T::zero(); d.o * patch];
    let step = chunk(d).clamp(1, d.n.max(1));
    for (i, b0) in (0..d.n).step_by(step).enumerate() {
        let nb = step.min(d.n - b0);
        let ld = nb * pix;
        let mut cols = vec![T::zero(); patch * ld];
        for b in 0..nb {
            im2col(&x[(b0 + b) * img..(b0 + b + 1) * img], d, &mut cols, ld, b * pix);
        }
        let g_onp = gather_onp(g, d, b0, nb);
        gemm(d.o, patch, ld, &g_onp, false, &cols, true, &mut gw, i > 0);
    }
    gw
}

/// Flat input index of the maximum of every pooling window of `x` `[n,c,h,w]`
/// (window `kh×kw`, strides `(sh, sw)`, no padding); output order `[n,c,oh,ow]`. The
/// first maximum in row-major window order wins; NaN wins over numbers.
pub fn maxpool2d_argmax<T: Element>(
    x: &[T],
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    (kh, kw): (usize, usize),
    (sh, sw): (usize, usize),
) -> Vec<usize> {
    let oh = (h - kh) / sh + 1;
    let ow = (w - kw) / sw + 1;
    let mut idx = Vec::with_capacity(n * c * oh * ow);
    if (kh, kw, sh, sw) == (2, 2, 2, 2) {
        // the common 2×2/2 window, straight-line
        // branch-free (`|`, `&`): on random data a branch mispredicts half the time
        let pick = |a: (T, usize), b: (T, usize)| {
            let better = (b.0 > a.0) | (b.0.is_nan() & !a.0.is_nan());
            (if better { b.0 } else { a.0 }, if better { b.1 } else { a.1 })
        };
        for plane in 0..n * c {
            let base = plane * h * w;
            for oi in 0..oh {
                let r0 = base + 2 * oi * w;
                let (row0, row1) = (&x[r0..r0 + w], &x[r0 + w..r0 + 2 * w]);
                for oj in 0..ow {
                    let j = 2 * oj;
                    let m = pick(
                        pick(pick((row0[j], r0 + j), (row0[j + 1], r0 + j + 1)), (row1[j], r0 + w + j)),
                        (row1[j + 1], r0 + w + j + 1),
                    );
                    idx.push(m.1);
                }
            }
        }
        return idx;
    }
    let mut best_v = vec![T::zero(); ow];
    let mut best_i = vec![0usize; ow];
    for plane in 0..n * c {
        let base = plane * h * w;
        let img = &x[base..base + h * w];
        for oi in 0..oh {
            for ki in 0..kh {
                let r = oi * sh + ki;
                let row = &img[r * w..(r + 1) * w];
                for kj in 0..kw {
                    let first = ki == 0 && kj == 0;
                    for (oj, (bv, bi)) in best_v.iter_mut().zip(best_i.iter_mut()).enumerate() {
                        let col = oj * sw + kj;
                        let v = row[col];
                        // branch-free select: the data decide, not the predictor
                        let better = first | (v > *bv) | (v.is_nan() & !bv.is_nan());
                        *bv = if better { v } else { *bv };
                        *bi = if better { base + r * w + col } else { *bi };
                    }
                }
            }
            idx.extend_from_slice(&best_i);
        }
    }
    idx
}
