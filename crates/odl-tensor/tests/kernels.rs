//! CPU kernels against naive references.

use odl_tensor::cpu::matmul::{gemm, gemm_new, gemm_reference};
use odl_tensor::{Array, DType, ReduceOp, Rng};

#[test]
fn gemm_matches_reference_for_all_transposes_and_sizes() {
    let mut rng = Rng::seed(1);
    for &(m, n, k) in &[(1, 1, 1), (3, 5, 7), (17, 9, 33), (64, 64, 64), (130, 70, 150)] {
        for ta in [false, true] {
            for tb in [false, true] {
                let a = rng.normal(&[m * k], 0.0, 1.0, DType::F64).to_vec_f64();
                let b = rng.normal(&[k * n], 0.0, 1.0, DType::F64).to_vec_f64();
                let want = gemm_reference(m, n, k, &a, ta, &b, tb);
                let mut c = vec![0.0; m * n];
                gemm(m, n, k, &a, ta, &b, tb, &mut c, false);
                for (x, y) in c.iter().zip(&want) {
                    assert!((x - y).abs() < 1e-10, "{m}x{n}x{k} ta={ta} tb={tb}");
                }
                // the unzeroed-output path writes every element
                let fresh = gemm_new(m, n, k, &a, ta, &b, tb);
                assert_eq!(fresh.len(), m * n);
                for (x, y) in fresh.iter().zip(&want) {
                    assert!((x - y).abs() < 1e-10);
                }
                // accumulate adds onto what is there
                gemm(m, n, k, &a, ta, &b, tb, &mut c, true);
                for (x, y) in c.iter().zip(&want) {
                    assert!((x - 2.0 * y).abs() < 1e-10);
                }
            }
        }
    }
}

#[test]
fn gemm_with_empty_inner_dimension_is_zero() {
    let c = gemm_new::<f64>(3, 2, 0, &[], false, &[], false);
    assert_eq!(c, vec![0.0; 6]);
}

#[test]
fn gemm_in_f32_above_the_threading_threshold() {
    odl_tensor::set_num_threads(2);
    let (m, n, k) = (192, 160, 160);
    let mut rng = Rng::seed(2);
    let a = rng.normal(&[m * k], 0.0, 1.0, DType::F32).to_vec_f32();
    let b = rng.normal(&[k * n], 0.0, 1.0, DType::F32).to_vec_f32();
    let want = gemm_reference(m, n, k, &a, false, &b, false);
    let mut c = vec![0.0f32; m * n];
    gemm(m, n, k, &a, false, &b, false, &mut c, false);
    for (x, y) in c.iter().zip(&want) {
        assert!((x - y).abs() < 1e-3 * (1.0 + y.abs()));
    }
}

#[test]
fn reductions_match_naive_sums() {
    let x = Rng::seed(3).normal(&[3, 4, 5], 0.0, 1.0, DType::F64);
    let v = x.to_vec_f64();
    let at = |i: usize, j: usize, k: usize| v[(i * 4 + j) * 5 + k];
    let s = x.reduce(ReduceOp::Sum, &[0, 2], false).to_vec_f64();
    for j in 0..4 {
        let want: f64 = (0..3).flat_map(|i| (0..5).map(move |k| (i, k))).map(|(i, k)| at(i, j, k)).sum();
        assert!((s[j] - want).abs() < 1e-12);
    }
    let m = x.reduce(ReduceOp::Max, &[1], true);
    assert_eq!(m.shape(), &[3, 1, 5]);
    for i in 0..3 {
        for k in 0..5 {
            let want = (0..4).map(|j| at(i, j, k)).fold(f64::NEG_INFINITY, f64::max);
            assert_eq!(m.get(i * 5 + k), want);
        }
    }
}

#[test]
fn conv2d_matches_direct_definition() {
    let mut rng = Rng::seed(4);
    let x = rng.normal(&[2, 3, 6, 5], 0.0, 1.0, DType::F64);
    let w = rng.normal(&[4, 3, 3, 3], 0.0, 1.0, DType::F64);
    for (stride, (ph, pw)) in [(1, (1, 1)), (2, (0, 0)), (2, (1, 1)), (1, (0, 2)), (2, (2, 0))] {
        let geom = odl_tensor::Conv2dGeom { stride, padding: (ph, pw) };
        let y = Array::conv2d(&x, &w, geom);
        let (oh, ow) = (y.shape()[2], y.shape()[3]);
        let xv = x.to_vec_f64();
        let wv = w.to_vec_f64();
        for n in 0..2 {
            for o in 0..4 {
                for i in 0..oh {
                    for j in 0..ow {
                        let mut s = 0.0;
                        for c in 0..3 {
                            for ki in 0..3 {
                                for kj in 0..3 {
                                    let (ii, jj) = (
                                        (i * stride + ki) as isize - ph as isize,
                                        (j * stride + kj) as isize - pw as isize,
                                    );
                                    if ii >= 0 && jj >= 0 && ii < 6 && jj < 5 {
                                        s += xv[((n * 3 + c) * 6 + ii as usize) * 5 + jj as usize]
                                            * wv[((o * 3 + c) * 3 + ki) * 3 + kj];
                                    }
                                }
                            }
                        }
                        let got = y.get(((n * 4 + o) * oh + i) * ow + j);
                        assert!((got - s).abs() < 1e-12, "stride {stride} pad {ph},{pw}");
                    }
                }
            }
        }
    }
}

#[test]
fn nan_propagates_through_max_and_reductions() {
    let x = Array::from_vec(vec![1.0f32, f32::NAN, 3.0], &[3]);
    assert!(x.reduce(ReduceOp::Max, &[0], false).item().is_nan());
    assert!(x.reduce(ReduceOp::Sum, &[0], false).item().is_nan());
}

#[test]
fn same_seed_same_numbers() {
    let a = Rng::seed(9).normal(&[100], 0.0, 1.0, DType::F32);
    let b = Rng::seed(9).normal(&[100], 0.0, 1.0, DType::F32);
    let c = Rng::seed(10).normal(&[100], 0.0, 1.0, DType::F32);
    assert_eq!(a.to_vec_f64(), b.to_vec_f64());
    assert_ne!(a.to_vec_f64(), c.to_vec_f64());
    let mean = a.sum_all() / 100.0;
    assert!(mean.abs() < 0.35);
}

/// Max-pool argmax by definition: the first window element whose key (NaN
/// as +∞) is largest, in row-major window order.
fn argmax_reference(x: &[f64], (n, c, h, w): (usize, usize, usize, usize), k: usize, s: usize) -> Vec<usize> {
    let key = |v: f64| if v.is_nan() { f64::INFINITY } else { v };
    let (oh, ow) = ((h - k) / s + 1, (w - k) / s + 1);
    let mut out = Vec::new();
    for p in 0..n * c {
        for oi in 0..oh {
            for oj in 0..ow {
                let mut best = None::<usize>;
                for ki in 0..k {
                    for kj in 0..k {
                        let i = p * h * w + (oi * s + ki) * w + oj * s + kj;
                        if best.is_none_or(|b| key(x[i]) > key(x[b])) {
                            best = Some(i);
                        }
                    }
                }
                out.push(best.unwrap());
            }
        }
    }
    out
}

#[test]
fn maxpool_argmax_matches_its_definition_with_ties_nans_and_infinities() {
    // small integers make ties common; sprinkle NaN and ±∞
    let mut rng = Rng::seed(9);
    let dims = (2, 3, 8, 10);
    let len = 2 * 3 * 8 * 10;
    let x: Vec<f64> = (0..len)
        .map(|_| match rng.below(20) {
            0 => f64::NAN,
            1 => f64::INFINITY,
            2 => f64::NEG_INFINITY,
            3 => -0.0,
            4 => 0.0,
            r => (r % 4) as f64 - 1.5,
        })
        .collect();
    for (k, s) in [(2, 2), (3, 2), (2, 1)] {
        let want = argmax_reference(&x, dims, k, s);
        for dtype in [DType::F64, DType::F32] {
            let a = Array::from_f64(&x, &[2, 3, 8, 10], dtype);
            let (got, shape) = a.maxpool2d_argmax((k, k), (s, s));
            assert_eq!(got, want, "k={k} s={s} {dtype}");
            assert_eq!(shape.as_slice(), &[2, 3, (8 - k) / s + 1, (10 - k) / s + 1]);
            // the values-only kernel returns exactly the elements at the argmax
            // (bit for bit: which NaN, which zero)
            let vals = a.maxpool2d((k, k), (s, s));
            assert_eq!(vals.shape(), shape.as_slice());
            let all = a.to_vec_f64();
            let bits = |v: f64| v.to_bits();
            let at: Vec<u64> = want.iter().map(|&i| bits(all[i])).collect();
            assert_eq!(
                vals.to_vec_f64().into_iter().map(bits).collect::<Vec<_>>(),
                at,
                "k={k} s={s} {dtype}"
            );
            // the VJP: the cotangent added at the reference argmax (overlapping
            // windows add up), zeros elsewhere — the 2×2 one-pass kernel too
            let gv: Vec<f64> = (0..want.len()).map(|i| i as f64 * 0.25 - 3.0).collect();
            let g = Array::from_f64(&gv, shape.as_slice(), dtype);
            let mut expect = vec![0.0; len];
            for (&i, &v) in want.iter().zip(&gv) {
                expect[i] += v;
            }
            let got = g.maxpool2d_scatter(&a, (k, k), (s, s));
            assert_eq!(got.shape(), &[2, 3, 8, 10]);
            assert_eq!(got.to_vec_f64(), expect, "scatter k={k} s={s} {dtype}");
            // the gather of other values at x's maxima, and of x itself
            let other =
                Array::from_f64(&(0..len).map(|i| i as f64).collect::<Vec<_>>(), &[2, 3, 8, 10], dtype);
            let picked: Vec<f64> = want.iter().map(|&i| i as f64).collect();
            assert_eq!(other.maxpool2d_gather(&a, (k, k), (s, s)).to_vec_f64(), picked);
            assert_eq!(
                a.maxpool2d_gather(&a, (k, k), (s, s)).to_vec_f64().into_iter().map(bits).collect::<Vec<_>>(),
                at
            );
        }
    }
}

#[test]
fn maxpool_scatter_leaves_rows_and_columns_outside_every_window_zero() {
    // 5×7 planes under 2×2/2 windows: the last row and column belong to
    // none (three planes, so a plane's odd last row sits between others)
    let x = Array::from_f64(
        &(0..105).map(|i| ((i * 7) % 11) as f64 + 1.0).collect::<Vec<_>>(),
        &[1, 3, 5, 7],
        DType::F32,
    );
    let (idx, shape) = x.maxpool2d_argmax((2, 2), (2, 2));
    assert_eq!(shape.as_slice(), &[1, 3, 2, 3]);
    let g = Array::from_f64(&(1..=18).map(|k| k as f64).collect::<Vec<_>>(), &[1, 3, 2, 3], DType::F32);
    let got = g.maxpool2d_scatter(&x, (2, 2), (2, 2)).to_vec_f64();
    let mut expect = vec![0.0; 105];
    for (k, &i) in idx.iter().enumerate() {
        expect[i] = (k + 1) as f64;
    }
    assert_eq!(got, expect);
}

/// Direct (naive) convolution, stride 1, zero padding `p`, NCHW/OIHW.
fn conv_reference(
    x: &[f64],
    w: &[f64],
    (n, c, h, wd): (usize, usize, usize, usize),
    o: usize,
    k: usize,
    p: usize,
) -> Vec<f64> {
    let (oh, ow) = (h + 2 * p - k + 1, wd + 2 * p - k + 1);
    let mut y = vec![0.0; n * o * oh * ow];
    for b in 0..n {
        for oc in 0..o {
            for i in 0..oh {
                for j in 0..ow {
                    let mut s = 0.0;
                    for ic in 0..c {
                        for ki in 0..k {
                            for kj in 0..k {
                                let (r, q) = ((i + ki) as isize - p as isize, (j + kj) as isize - p as isize);
                                if r >= 0 && q >= 0 && (r as usize) < h && (q as usize) < wd {
                                    s += x[((b * c + ic) * h + r as usize) * wd + q as usize]
                                        * w[((oc * c + ic) * k + ki) * k + kj];
                                }
                            }
                        }
                    }
                    y[((b * o + oc) * oh + i) * ow + j] = s;
                }
            }
        }
    }
    y
}

#[test]
fn convolution_and_its_adjoints_on_two_threads() {
    // big enough that the batch is split across two threads
    odl_tensor::set_num_threads(2);
    let (n, c, h, w, o) = (16, 16, 16, 16, 32);
    let mut rng = Rng::seed(12);
    let x = rng.normal(&[n, c, h, w], 0.0, 1.0, DType::F64);
    let k = rng.normal(&[o, c, 3, 3], 0.0, 1.0, DType::F64);
    let g = rng.normal(&[n, o, h, w], 0.0, 1.0, DType::F64);
    let geom = odl_tensor::Conv2dGeom::square(1, 1);
    let y = Array::conv2d(&x, &k, geom);
    let want = conv_reference(&x.to_vec_f64(), &k.to_vec_f64(), (n, c, h, w), o, 3, 1);
    for (a, b) in y.to_vec_f64().iter().zip(&want) {
        assert!((a - b).abs() < 1e-9 * (1.0 + b.abs()), "{a} vs {b}");
    }
    // adjoints: ⟨conv(x, k), g⟩ = ⟨x, Aᵀg⟩ = ⟨k, Bᵀg⟩
    let dot =
        |a: &Array, b: &Array| a.to_vec_f64().iter().zip(b.to_vec_f64()).map(|(p, q)| p * q).sum::<f64>();
    let lhs = dot(&y, &g);
    let gx = Array::conv2d_input_grad(&g, &k, x.shape(), geom);
    let gk = Array::conv2d_weight_grad(&x, &g, k.shape(), geom);
    assert!((lhs - dot(&x, &gx)).abs() < 1e-9 * lhs.abs().max(1.0), "input adjoint");
    assert!((lhs - dot(&k, &gk)).abs() < 1e-9 * lhs.abs().max(1.0), "weight adjoint");
}

#[test]
fn stride_one_convolutions_and_adjoints_match_the_direct_sums_for_every_kernel_and_padding() {
    // "same" padding (k = 2p + 1: the shifted-run im2col/col2im), narrower
    // and wider outputs (the row-by-row path), on a non-square image
    let (n, c, h, w, o) = (2, 3, 7, 5, 4);
    let mut rng = Rng::seed(21);
    let x = rng.normal(&[n, c, h, w], 0.0, 1.0, DType::F64);
    for (k, p) in [(3, 1), (5, 2), (1, 0), (3, 0), (3, 2), (5, 1), (7, 3)] {
        let kern = rng.normal(&[o, c, k, k], 0.0, 1.0, DType::F64);
        let geom = odl_tensor::Conv2dGeom::square(1, p);
        let y = Array::conv2d(&x, &kern, geom);
        let want = conv_reference(&x.to_vec_f64(), &kern.to_vec_f64(), (n, c, h, w), o, k, p);
        for (a, b) in y.to_vec_f64().iter().zip(&want) {
            assert!((a - b).abs() < 1e-12 * (1.0 + b.abs()), "k {k} p {p}: {a} vs {b}");
        }
        // each input entry's gradient of ⟨conv(x, k), g⟩ is the sum over the
        // outputs it feeds: probe it with unit cotangents summed by linearity
        let g = rng.normal(y.shape(), 0.0, 1.0, DType::F64);
        let gx = Array::conv2d_input_grad(&g, &kern, x.shape(), geom).to_vec_f64();
        let gk = Array::conv2d_weight_grad(&x, &g, kern.shape(), geom).to_vec_f64();
        let gv = g.to_vec_f64();
        let f = |xv: &[f64], kv: &[f64]| {
            conv_reference(xv, kv, (n, c, h, w), o, k, p).iter().zip(&gv).map(|(a, b)| a * b).sum::<f64>()
        };
        let (xv, kv) = (x.to_vec_f64(), kern.to_vec_f64());
        // the map is linear in x (and in k): the gradient entry is f(eᵢ)
        for i in 0..xv.len() {
            let mut e = vec![0.0; xv.len()];
            e[i] = 1.0;
            let want = f(&e, &kv);
            assert!((gx[i] - want).abs() < 1e-12 * (1.0 + want.abs()), "k {k} p {p} input entry {i}");
        }
        for i in 0..kv.len() {
            let mut e = vec![0.0; kv.len()];
            e[i] = 1.0;
            let want = f(&xv, &e);
            assert!((gk[i] - want).abs() < 1e-12 * (1.0 + want.abs()), "k {k} p {p} weight entry {i}");
        }
    }
}

#[test]
fn take_rows_copies_whole_rows_in_the_given_order() {
    let x = Rng::seed(3).normal(&[5, 2, 3], 0.0, 1.0, DType::F32);
    let idx = [4, 0, 4, 2];
    let got = x.take_rows(&idx);
    assert_eq!(got.shape(), &[4, 2, 3]);
    let (v, g) = (x.to_vec_f64(), got.to_vec_f64());
    for (k, &i) in idx.iter().enumerate() {
        assert_eq!(g[k * 6..(k + 1) * 6], v[i * 6..(i + 1) * 6], "row {k} is not input row {i}");
    }
    assert_eq!(x.take_rows(&[]).shape(), &[0, 2, 3]);
    let out_of_range = std::panic::catch_unwind(|| x.take_rows(&[5]));
    assert!(out_of_range.is_err(), "row 5 of 5 must be refused");
}
