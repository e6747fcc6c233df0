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
/// first maximum in row-major window order wins; NaN counts as +∞, so it wins
/// over every finite number (and the first of NaN and +∞ wins).
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
        // the common 2×2/2 window, in a form that vectorizes: first the
        // window offset of each maximum, coded 0..3 as a float, then the
        // flat index. A NaN beats every number: compare keys that map NaN
        // to +∞, so the first of several NaNs wins, as does the first of
        // equal maxima (a window holding both +∞ and a NaN picks the first
        // of the two).
        idx.resize(n * c * oh * ow, 0);
        let mut code = vec![T::zero(); ow];
        let (one, two, three) = (T::one(), T::of(2.0), T::of(3.0));
        super::simd(
            #[inline(always)]
            || {
                for plane in 0..n * c {
                    let base = plane * h * w;
                    for oi in 0..oh {
                        let r0 = base + 2 * oi * w;
                        let (row0, row1) = (&x[r0..r0 + w], &x[r0 + w..r0 + 2 * w]);
                        let pairs = row0.chunks_exact(2).zip(row1.chunks_exact(2));
                        for (k, (p0, p1)) in code.iter_mut().zip(pairs) {
                            let key = |v: T| if v.is_nan() { T::infinity() } else { v };
                            let (ka, kb, kc, kd) = (key(p0[0]), key(p0[1]), key(p1[0]), key(p1[1]));
                            let (m, i) = if kb > ka { (kb, one) } else { (ka, T::zero()) };
                            let (m, i) = if kc > m { (kc, two) } else { (m, i) };
                            *k = if kd > m { three } else { i };
                        }
                        let out = &mut idx[(plane * oh + oi) * ow..][..ow];
                        for (oj, (o, &k)) in out.iter_mut().zip(&code).enumerate() {
                            // offsets 0, 1, w, w + 1 in the window
                            let k = k.to_f64() as usize;
                            *o = r0 + 2 * oj + (k & 1) + (k >> 1) * w;
                        }
                    }
                }
            },
        );
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
                        // branch-free select: the data decide, not the predictor;
                        // keys as in the 2×2 path (NaN as +∞, first wins)
                        let key = |v: T| if v.is_nan() { T::infinity() } else { v };
                        let better = first | (key(v) > key(*bv));
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
