//! 2-d convolution (cross-correlation, NCHW/OIHW) by im2col + GEMM, its two
//! adjoints, and max-pooling's argmax.

use super::matmul::{gemm, PARALLEL_MIN_FLOPS};
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

/// One patch row as a shifted run of its plane (see [`flat_shift`]).
struct Run {
    /// the flat output range `lo..hi` that spans the valid pixels (empty
    /// when there are none)
    lo: usize,
    hi: usize,
    /// input pixel = output pixel + `shift` for every valid pixel
    shift: isize,
    /// the valid output columns `j_lo..j_hi`: inside `lo..hi` the others
    /// wrapped around a row's edge
    j_lo: usize,
    j_hi: usize,
}

/// For stride 1 with an output as wide as the input (`ow == w`: "same"
/// padding along the width), kernel offset `(ki, kj)` maps output pixel `p`
/// (flat over `oh·ow`) to input pixel `p + shift` for every valid pixel,
/// with one `shift`: whole rows of the patch matrix are one shifted copy of
/// the plane. `None` for other geometries.
fn flat_shift(d: &ConvDims, ki: usize, kj: usize) -> Option<Run> {
    let (ph, pw) = d.geom.padding;
    if d.geom.stride != 1 || d.ow != d.w {
        return None;
    }
    let (i_lo, i_hi) = valid_range(d.oh, d.h, ki, 1, ph);
    let (j_lo, j_hi) = valid_range(d.ow, d.w, kj, 1, pw);
    if i_lo >= i_hi || j_lo >= j_hi {
        return Some(Run { lo: 0, hi: 0, shift: 0, j_lo, j_hi });
    }
    let shift = (ki as isize - ph as isize) * d.w as isize + kj as isize - pw as isize;
    Some(Run { lo: i_lo * d.ow + j_lo, hi: (i_hi - 1) * d.ow + j_hi, shift, j_lo, j_hi })
}

impl Run {
    /// The plane's part that the run covers: `plane[lo + shift ..][..hi − lo]`.
    fn source(&self) -> std::ops::Range<usize> {
        let start = (self.lo as isize + self.shift) as usize;
        start..start + (self.hi - self.lo)
    }

    /// Sets the wrapped-around columns of the output rows the run spans to zero.
    #[inline]
    fn zero_invalid_columns<T: Element>(&self, row: &mut [T], ow: usize) {
        let rows = self.lo / ow..self.hi.div_ceil(ow);
        for j in (0..self.j_lo).chain(self.j_hi..ow) {
            for r in rows.clone() {
                row[r * ow + j] = T::zero();
            }
        }
    }
}

/// Unfolds one image `[c,h,w]` into its block of columns: row `r` of the
/// `[c*kh*kw, oh*ow]` patch matrix goes to `cols[r*ld + off ..][..oh*ow]`.
/// With stride 1 and `ow == w` each row is one shifted copy of its plane
/// (then the few columns that wrapped around a row's edge are zeroed);
/// otherwise it is copied output row by output row.
fn im2col<T: Element>(x: &[T], d: &ConvDims, cols: &mut [T], ld: usize, off: usize) {
    let (s, (ph, pw)) = (d.geom.stride, d.geom.padding);
    let pix = d.pix();
    for c in 0..d.c {
        let plane = &x[c * d.h * d.w..(c + 1) * d.h * d.w];
        for ki in 0..d.kh {
            let (i_lo, i_hi) = valid_range(d.oh, d.h, ki, s, ph);
            for kj in 0..d.kw {
                let row = (c * d.kh + ki) * d.kw + kj;
                let dst = &mut cols[row * ld + off..row * ld + off + pix];
                if let Some(run) = flat_shift(d, ki, kj) {
                    dst[..run.lo].iter_mut().for_each(|v| *v = T::zero());
                    dst[run.hi..].iter_mut().for_each(|v| *v = T::zero());
                    if run.lo < run.hi {
                        dst[run.lo..run.hi].copy_from_slice(&plane[run.source()]);
                        run.zero_invalid_columns(dst, d.ow);
                    }
                    continue;
                }
                let (j_lo, j_hi) = valid_range(d.ow, d.w, kj, s, pw);
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
/// the image `[c,h,w]`, adding overlaps. `cols` is scratch: with stride 1
/// and `ow == w` the entries that belong to padding are zeroed so that each
/// row can be added as one shifted run (see [`im2col`]).
fn col2im<T: Element>(cols: &mut [T], d: &ConvDims, x: &mut [T], ld: usize, off: usize) {
    let (s, (ph, pw)) = (d.geom.stride, d.geom.padding);
    let pix = d.pix();
    for c in 0..d.c {
        let plane = &mut x[c * d.h * d.w..(c + 1) * d.h * d.w];
        for ki in 0..d.kh {
            let (i_lo, i_hi) = valid_range(d.oh, d.h, ki, s, ph);
            for kj in 0..d.kw {
                let row = (c * d.kh + ki) * d.kw + kj;
                let src_row = &mut cols[row * ld + off..row * ld + off + pix];
                if let Some(run) = flat_shift(d, ki, kj) {
                    if run.lo < run.hi {
                        run.zero_invalid_columns(src_row, d.ow);
                        for (a, &b) in plane[run.source()].iter_mut().zip(&src_row[run.lo..run.hi]) {
                            *a += b;
                        }
                    }
                    continue;
                }
                let (j_lo, j_hi) = valid_range(d.ow, d.w, kj, s, pw);
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

/// Runs `f(first image, its output block)` over the images of a batch whose
/// output has `per` elements per image. A batch with enough work is halved
/// across the compute threads ([`super::join`]), each half sequential with
/// its own scratch buffer; `f` gets `(image range start, the range's output)`.
fn over_images<T: Element>(
    out: &mut [T],
    per: usize,
    first: usize,
    work_per_image: usize,
    f: &(dyn Fn(usize, &mut [T]) + Sync),
) {
    let count = out.len() / per.max(1);
    if count > 1 && super::may_fan_out() && count * work_per_image >= PARALLEL_MIN_FLOPS {
        let (lo, hi) = out.split_at_mut(count / 2 * per);
        super::join(
            || over_images(lo, per, first, work_per_image, f),
            || over_images(hi, per, first + count / 2, work_per_image, f),
        );
    } else {
        f(first, out);
    }
}

/// `y[n,o] = Σ_c w[o,c] ⋆ x[n,c]`; output `[n,o,oh,ow]`. One GEMM per image,
/// `[o, c·kh·kw] · [c·kh·kw, oh·ow]`, written straight into the image's output
/// block (NCHW needs no reordering that way); the patch matrix is a small
/// scratch buffer reused image after image.
pub fn conv2d<T: Element>(x: &[T], w: &[T], d: &ConvDims) -> Vec<T> {
    let (patch, pix, img) = (d.patch(), d.pix(), d.c * d.h * d.w);
    let mut y = vec![T::zero(); d.n * d.o * pix];
    over_images(&mut y, d.o * pix, 0, d.o * patch * pix, &|b0, ys| {
        let mut cols = vec![T::zero(); patch * pix];
        for (i, yb) in ys.chunks_exact_mut(d.o * pix).enumerate() {
            let b = b0 + i;
            im2col(&x[b * img..(b + 1) * img], d, &mut cols, pix, 0);
            gemm(d.o, pix, patch, w, false, &cols, false, yb, false);
        }
    });
    y
}

/// The adjoint of [`conv2d`] in `x`: given `g` `[n,o,oh,ow]`, returns `[n,c,h,w]`.
/// Per image: the columns `wᵀ g_b` (`[c·kh·kw, oh·ow]`), folded back by col2im.
pub fn conv2d_input_grad<T: Element>(g: &[T], w: &[T], d: &ConvDims) -> Vec<T> {
    let (patch, pix, img) = (d.patch(), d.pix(), d.c * d.h * d.w);
    let mut x = vec![T::zero(); d.n * img];
    over_images(&mut x, img, 0, d.o * patch * pix, &|b0, xs| {
        let mut cols = vec![T::zero(); patch * pix];
        for (i, xb) in xs.chunks_exact_mut(img).enumerate() {
            let b = b0 + i;
            gemm(patch, pix, d.o, w, true, &g[b * d.o * pix..(b + 1) * d.o * pix], false, &mut cols, false);
            col2im(&mut cols, d, xb, pix, 0);
        }
    });
    x
}

/// The adjoint of [`conv2d`] in `w`: given `x` and `g`, returns `[o,c,kh,kw]`:
/// `Σ_b g_b · cols_bᵀ`, accumulated image by image (each thread's share of the
/// batch into its own sum, the sums added at the end).
pub fn conv2d_weight_grad<T: Element>(x: &[T], g: &[T], d: &ConvDims) -> Vec<T> {
    let (patch, pix, img) = (d.patch(), d.pix(), d.c * d.h * d.w);
    let part = |b0: usize, b1: usize| {
        let mut gw = vec![T::zero(); d.o * patch];
        let mut cols = vec![T::zero(); patch * pix];
        for b in b0..b1 {
            im2col(&x[b * img..(b + 1) * img], d, &mut cols, pix, 0);
            gemm(d.o, patch, pix, &g[b * d.o * pix..(b + 1) * d.o * pix], false, &cols, true, &mut gw, true);
        }
        gw
    };
    fn split<T: Element>(
        b0: usize,
        b1: usize,
        work: usize,
        part: &(dyn Fn(usize, usize) -> Vec<T> + Sync),
    ) -> Vec<T> {
        let count = b1 - b0;
        if count > 1 && super::may_fan_out() && count * work >= PARALLEL_MIN_FLOPS {
            let mid = b0 + count / 2;
            let (mut a, b) = super::join(|| split(b0, mid, work, part), || split(mid, b1, work, part));
            for (x, y) in a.iter_mut().zip(&b) {
                *x += *y;
            }
            a
        } else {
            part(b0, b1)
        }
    }
    split(0, d.n, d.o * patch * pix, &part)
}

/// The key a maximum is found by: NaN counts as +∞ (it beats every number).
#[inline(always)]
fn key<T: Element>(v: T) -> T {
    if v.is_nan() {
        T::infinity()
    } else {
        v
    }
}

/// The first half of finding each 2×2 window's first maximum, in a form
/// that vectorizes: the first maximum of each horizontal pair `(x[2i],
/// x[2i+1])` into `v[i]`, and — when `RIGHT` — `right[i]` = 1 where it is
/// the right one (the forward pass needs no `right`: pass an empty slice).
/// The pairs of rows `r` of width `w` (`2·(w/2)` columns used) — as one flat
/// loop when `w` is even.
#[inline(always)]
fn pair_max<T: Element, const RIGHT: bool>(x: &[T], w: usize, v: &mut [T], right: &mut [T]) {
    let ow = w / 2;
    let pairs = |x: &[T], v: &mut [T], right: &mut [T]| {
        if RIGHT {
            for ((v, r), p) in v.iter_mut().zip(right.iter_mut()).zip(x.as_chunks::<2>().0) {
                let rt = key(p[1]) > key(p[0]);
                *v = if rt { p[1] } else { p[0] };
                *r = if rt { T::one() } else { T::zero() };
            }
        } else {
            for (v, p) in v.iter_mut().zip(x.as_chunks::<2>().0) {
                *v = if key(p[1]) > key(p[0]) { p[1] } else { p[0] };
            }
        }
    };
    if w.is_multiple_of(2) {
        pairs(x, v, right);
    } else {
        for (r, (xr, vr)) in x.chunks_exact(w).zip(v.chunks_exact_mut(ow)).enumerate() {
            let rr = if RIGHT { &mut right[r * ow..(r + 1) * ow] } else { &mut [] };
            pairs(&xr[..2 * ow], vr, rr);
        }
    }
}

/// The second half: for each window of output row `q`, whether the lower
/// pair's winner beats the upper one's (on equal keys the upper comes first).
#[inline(always)]
fn lower_wins<T: Element>(top: T, bottom: T) -> bool {
    key(bottom) > key(top)
}

/// The maxima of `kh×kw` windows with strides `(sh, sw)` over `[n,c,h,w]`:
/// the values [`maxpool2d_argmax`] picks (a NaN beats every number, the
/// first of equal maxima wins), without indices — for passes that record
/// no graph. The 2×2/2 window is computed directly, others by gathering at
/// the argmax.
#[allow(clippy::too_many_arguments)]
pub fn maxpool2d_values<T: Element>(
    x: &[T],
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    (kh, kw): (usize, usize),
    (sh, sw): (usize, usize),
) -> Vec<T> {
    if (kh, kw, sh, sw) != (2, 2, 2, 2) {
        return maxpool2d_argmax(x, n, c, h, w, (kh, kw), (sh, sw)).into_iter().map(|i| x[i]).collect();
    }
    let (oh, ow) = (h / 2, w / 2);
    let mut out = vec![T::zero(); n * c * oh * ow];
    let mut v = vec![T::zero(); n * c * h * ow];
    super::simd(
        #[inline(always)]
        || {
            pair_max::<T, false>(x, w, &mut v, &mut []);
            for plane in 0..n * c {
                for oi in 0..oh {
                    let top = &v[(plane * h + 2 * oi) * ow..][..ow];
                    let bottom = &v[(plane * h + 2 * oi + 1) * ow..][..ow];
                    let dst = &mut out[(plane * oh + oi) * ow..][..ow];
                    for ((o, &t), &b) in dst.iter_mut().zip(top).zip(bottom) {
                        *o = if lower_wins(t, b) { b } else { t };
                    }
                }
            }
        },
    );
    out
}

/// Max pooling's VJP: zeros of `x`'s shape `[n,c,h,w]` with each window's
/// cotangent `g` (`[n,c,oh,ow]`) added at that window's maximum — the
/// element [`maxpool2d_argmax`] picks. The 2×2/2 window in three flat,
/// vectorizable passes (each horizontal pair's winner; each pair's share of
/// its window's cotangent; the shares placed left or right), measured
/// 1.05–1.3× faster than one pass over the windows, and still 2.6× the
/// values kernel's time; other windows scatter-add at the argmax
/// (overlapping windows add up).
#[allow(clippy::too_many_arguments)]
pub fn maxpool2d_scatter<T: Element>(
    g: &[T],
    x: &[T],
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    (kh, kw): (usize, usize),
    (sh, sw): (usize, usize),
) -> Vec<T> {
    if (kh, kw, sh, sw) != (2, 2, 2, 2) {
        let idx = maxpool2d_argmax(x, n, c, h, w, (kh, kw), (sh, sw));
        return super::movement::scatter_add(g, &idx, x.len());
    }
    let (oh, ow) = (h / 2, w / 2);
    let (mut v, mut right) = (vec![T::zero(); n * c * h * ow], vec![T::zero(); n * c * h * ow]);
    let mut out = vec![T::zero(); x.len()];
    super::simd(
        #[inline(always)]
        || {
            pair_max::<T, true>(x, w, &mut v, &mut right);
            // each pair's share of the cotangent, written over its maximum
            // in `v`: its window's, if it holds the window's winner, else 0
            for plane in 0..n * c {
                for oi in 0..oh {
                    let r_top = (plane * h + 2 * oi) * ow;
                    let gr = &g[(plane * oh + oi) * ow..][..ow];
                    let (top, bottom) = v[r_top..r_top + 2 * ow].split_at_mut(ow);
                    for ((t, b), &gv) in top.iter_mut().zip(bottom.iter_mut()).zip(gr) {
                        let low = lower_wins(*t, *b);
                        *t = if low { T::zero() } else { gv };
                        *b = if low { gv } else { T::zero() };
                    }
                }
                // an odd height's last row belongs to no window
                if !h.is_multiple_of(2) {
                    v[(plane * h + h - 1) * ow..][..ow].iter_mut().for_each(|s| *s = T::zero());
                }
            }
            let share = &v;
            // each pair's share goes to its left or right element
            let place = |out: &mut [T], share: &[T], right: &[T]| {
                for ((d, &sv), &rt) in out.as_chunks_mut::<2>().0.iter_mut().zip(share).zip(right) {
                    let on_right = rt > T::zero();
                    d[0] = if on_right { T::zero() } else { sv };
                    d[1] = if on_right { sv } else { T::zero() };
                }
            };
            if w.is_multiple_of(2) {
                place(&mut out, share, &right);
            } else {
                // the last column of each row belongs to no window: stays 0
                let rows = out.chunks_exact_mut(w).zip(share.chunks_exact(ow).zip(right.chunks_exact(ow)));
                for (o, (sr, rr)) in rows {
                    place(&mut o[..2 * ow], sr, rr);
                }
            }
        },
    );
    out
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
