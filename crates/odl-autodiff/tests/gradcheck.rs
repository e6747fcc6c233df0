//! Every primitive (and every composite) is gradient-checked in f64 by finite
//! differences along random directions, to second order where the rule is
//! differentiable, over several shapes including broadcasting and every
//! reduction axis.

use odl_autodiff::{check_grads, grad, grad_graph, CheckOptions, Tensor};
use odl_tensor::{Array, DType, Rng};

type F = fn(&[Tensor]) -> Tensor;

/// Inputs drawn from `lo..hi`, away from kinks and singularities.
fn inputs(shapes: &[&[usize]], lo: f64, hi: f64, seed: u64) -> Vec<Array> {
    let mut rng = Rng::seed(seed);
    shapes.iter().map(|s| rng.uniform(s, lo, hi, DType::F64)).collect()
}

/// Like [`inputs`] but each element's sign is random: |x| in `lo..hi`.
fn signed_inputs(shapes: &[&[usize]], lo: f64, hi: f64, seed: u64) -> Vec<Array> {
    let mut rng = Rng::seed(seed);
    shapes
        .iter()
        .map(|s| {
            let a = rng.uniform(s, lo, hi, DType::F64);
            let v: Vec<f64> =
                a.to_vec_f64().into_iter().map(|x| if rng.uniform_f64() < 0.5 { -x } else { x }).collect();
            Array::from_vec(v, s)
        })
        .collect()
}

#[track_caller]
fn check(name: &str, f: F, xs: Vec<Array>, order: usize) {
    let r = check_grads(f, &xs, &CheckOptions::order(order)).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(r.comparisons > 0, "{name}: nothing compared");
}

const UNARY_SHAPES: [&[usize]; 3] = [&[], &[5], &[3, 4]];

#[test]
fn unary_ops_first_and_second_order() {
    let table: [(&str, F, f64, f64, bool); 10] = [
        ("neg", |x| x[0].neg(), -2.0, 2.0, false),
        ("exp", |x| x[0].exp(), -2.0, 2.0, false),
        ("log", |x| x[0].log(), 0.5, 3.0, false),
        ("sqrt", |x| x[0].sqrt(), 0.5, 3.0, false),
        ("tanh", |x| x[0].tanh(), -2.0, 2.0, false),
        ("abs", |x| x[0].abs(), 0.2, 2.0, true),
        ("sin", |x| x[0].sin(), -3.0, 3.0, false),
        ("cos", |x| x[0].cos(), -3.0, 3.0, false),
        ("recip", |x| x[0].recip(), 0.5, 2.0, true),
        ("sign·x", |x| x[0].sign().mul(&x[0]), 0.2, 2.0, true),
    ];
    for (name, f, lo, hi, signed) in table {
        for (k, s) in UNARY_SHAPES.iter().enumerate() {
            let xs =
                if signed { signed_inputs(&[s], lo, hi, k as u64) } else { inputs(&[s], lo, hi, k as u64) };
            check(name, f, xs, 2);
        }
    }
}

#[test]
fn sign_has_zero_derivative() {
    let x = Tensor::param(Array::from_vec(vec![-1.5, 2.0], &[2]));
    let g = odl_autodiff::grad(&x.sign().sum_all(), &[&x]).remove(0);
    assert_eq!(g.to_vec_f64(), vec![0.0, 0.0]);
}

/// Shape pairs exercising equal shapes, scalars, suffix and general broadcasts.
const BINARY_SHAPES: [(&[usize], &[usize]); 6] = [
    (&[3, 4], &[3, 4]),
    (&[3, 4], &[]),
    (&[], &[2, 3]),
    (&[2, 3, 4], &[4]),
    (&[3, 1], &[1, 4]),
    (&[2, 1, 4], &[3, 1]),
];

#[test]
fn binary_ops_with_broadcasting() {
    let table: [(&str, F, f64, f64); 9] = [
        ("mul_one_minus_sq", |x| x[0].mul_one_minus_sq(&x[1]), -2.0, 2.0),
        ("mul_positive", |x| x[0].mul_positive(&x[1]), -2.0, 2.0),
        ("add", |x| x[0].add(&x[1]), -2.0, 2.0),
        ("sub", |x| x[0].sub(&x[1]), -2.0, 2.0),
        ("mul", |x| x[0].mul(&x[1]), -2.0, 2.0),
        ("div", |x| x[0].div(&x[1]), 0.5, 2.0),
        ("pow", |x| x[0].pow(&x[1]), 0.5, 2.0),
        ("maximum", |x| x[0].maximum(&x[1]), -2.0, 2.0),
        ("minimum", |x| x[0].minimum(&x[1]), -2.0, 2.0),
    ];
    for (name, f, lo, hi) in table {
        for (k, (a, b)) in BINARY_SHAPES.iter().enumerate() {
            let mut xs = inputs(&[a, b], lo, hi, 10 + k as u64);
            if name == "maximum" || name == "minimum" {
                // keep the two arguments apart so no tie sits within ε
                let shift: Vec<f64> = xs[1]
                    .to_vec_f64()
                    .iter()
                    .map(|v| v + if v.fract().abs() < 0.5 { 0.3 } else { -0.3 })
                    .collect();
                xs[1] = Array::from_vec(shift, xs[1].shape());
            }
            if name == "mul_positive" {
                // keep the mask's argument away from its jump at 0
                let shift: Vec<f64> = xs[1].to_vec_f64().iter().map(|v| v + 0.3 * v.signum()).collect();
                xs[1] = Array::from_vec(shift, xs[1].shape());
            }
            check(&format!("{name} {a:?}×{b:?}"), f, xs, 2);
        }
    }
}

#[test]
fn operators_match_methods() {
    let xs = inputs(&[&[2, 3], &[3]], 0.5, 2.0, 3);
    let (a, b) = (Tensor::constant(xs[0].clone()), Tensor::constant(xs[1].clone()));
    let lhs = (&a + &b) * (&a - &b) / &b - 2.0;
    let rhs = a.add(&b).mul(&a.sub(&b)).div(&b).add_scalar(-2.0);
    assert_eq!(lhs.to_vec_f64(), rhs.to_vec_f64());
}

/// ReLU is one primitive with a fused VJP (`g · [x > 0]` in one pass); it
/// computes exactly what `maximum(x, 0)` and `g · (x > 0)` did, at ±0, ±∞,
/// NaN in the input or in the cotangent, in f32 and f64.
#[test]
fn relu_equals_maximum_with_zero_bit_for_bit() {
    let specials = [-0.0, 0.0, 1.5, -2.0, f64::INFINITY, f64::NEG_INFINITY, f64::NAN, 1e-30, -1e-30];
    for dtype in [DType::F32, DType::F64] {
        let x = Array::from_vec(specials.to_vec(), &[specials.len()]).cast(dtype);
        let g = Array::from_vec(vec![1.0, -2.0, 3.0, f64::NAN, 0.5, 2.0, 1.0, f64::INFINITY, 4.0], &[9])
            .cast(dtype);
        let xp = Tensor::param(x.clone());
        let fused = xp.relu();
        let old = xp.maximum(&xp.scalar_like(0.0));
        let bits = |t: &Tensor| t.to_vec_f64().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&fused), bits(&old), "{dtype:?} forward");
        let gt = Tensor::constant(g.clone());
        let d_fused = odl_autodiff::grad(&fused.mul(&gt).sum_all(), &[&xp]).remove(0);
        let d_old =
            gt.mul(&Tensor::constant(x.clone()).gt_mask(&Tensor::constant(x.clone()).scalar_like(0.0)));
        assert_eq!(bits(&d_fused), bits(&d_old), "{dtype:?} gradient");
    }
}

#[test]
fn where_and_clamp() {
    check(
        "where",
        |x| {
            let c = x[0].gt_mask(&x[1]);
            Tensor::where_(&c, &x[0].mul(&x[1]), &x[1].exp())
        },
        inputs(&[&[3, 4], &[4]], -2.0, 2.0, 7),
        2,
    );
    // values strictly inside or outside [-1, 1], away from the edges
    let x = Array::from_vec(vec![-1.7, -0.5, 0.2, 0.9, 1.4, 2.5], &[2, 3]);
    check("clamp", |x| x[0].clamp(-1.0, 1.0).mul(&x[0]), vec![x], 2);
}

#[test]
fn reductions_over_every_axis() {
    let shape: &[usize] = &[2, 3, 4];
    let axes_sets: [&[isize]; 8] = [&[0], &[1], &[2], &[-1], &[0, 1], &[1, 2], &[0, 2], &[0, 1, 2]];
    for (k, axes) in axes_sets.iter().enumerate() {
        for keep in [false, true] {
            let xs = inputs(&[shape], -2.0, 2.0, 20 + k as u64);
            let ax = axes.to_vec();
            let f_sum = move |x: &[Tensor]| x[0].sum(&ax, keep).square();
            check_grads(f_sum, &xs, &CheckOptions::order(2))
                .unwrap_or_else(|e| panic!("sum {axes:?} keep={keep}: {e}"));
            let ax = axes.to_vec();
            let f_max = move |x: &[Tensor]| x[0].max(&ax, keep).square();
            check_grads(f_max, &xs, &CheckOptions::order(2))
                .unwrap_or_else(|e| panic!("max {axes:?} keep={keep}: {e}"));
            let ax = axes.to_vec();
            let f_mean = move |x: &[Tensor]| x[0].mean(&ax, keep).exp();
            check_grads(f_mean, &xs, &CheckOptions::order(2))
                .unwrap_or_else(|e| panic!("mean {axes:?}: {e}"));
        }
    }
}

#[test]
fn max_splits_gradient_between_ties() {
    let x = Tensor::param(Array::from_vec(vec![1.0, 3.0, 3.0, 0.0], &[4]));
    let g = odl_autodiff::grad(&x.max(&[0], false), &[&x]).remove(0);
    assert_eq!(g.to_vec_f64(), vec![0.0, 0.5, 0.5, 0.0]);
}

#[test]
fn matmul_all_transposes_and_batches() {
    let cases: [(&[usize], &[usize], bool, bool); 7] = [
        (&[3, 4], &[4, 5], false, false),
        (&[4, 3], &[4, 5], true, false),
        (&[3, 4], &[5, 4], false, true),
        (&[4, 3], &[5, 4], true, true),
        (&[2, 3, 4], &[2, 4, 5], false, false),
        (&[2, 3, 4], &[4, 5], false, false),
        (&[3, 4], &[2, 5, 4], false, true),
    ];
    for (k, (a, b, ta, tb)) in cases.iter().enumerate() {
        let (ta, tb) = (*ta, *tb);
        let f = move |x: &[Tensor]| x[0].matmul_t(&x[1], ta, tb).tanh();
        check_grads(f, &inputs(&[a, b], -1.0, 1.0, 30 + k as u64), &CheckOptions::order(2))
            .unwrap_or_else(|e| panic!("matmul {a:?}{ta} {b:?}{tb}: {e}"));
    }
}

#[test]
fn movement_ops() {
    let table: [(&str, F, &[usize]); 10] = [
        ("reshape", |x| x[0].reshape(&[4, 3]).exp(), &[3, 4]),
        ("permute", |x| x[0].permute(&[2, 0, 1]).exp().mul(&x[0].permute(&[2, 0, 1])), &[2, 3, 4]),
        ("t", |x| x[0].t().matmul(&x[0]), &[3, 4]),
        ("expand", |x| x[0].expand(&[2, 3, 4]).sin(), &[3, 1]),
        ("slice", |x| x[0].slice(1, 1, 4, 2).square(), &[3, 5]),
        ("index_select", |x| x[0].index_select(0, &[2, 0, 2]).exp(), &[3, 2]),
        ("gather", |x| x[0].gather(1, &[0, 2, 1, 1, 0, 0], &[3, 2]).exp(), &[3, 3]),
        ("pad", |x| x[0].pad(&[(1, 0), (2, 1)]).exp(), &[2, 3]),
        ("concat", |x| Tensor::concat(&[x[0].clone(), x[0].square()], 1).exp(), &[2, 3]),
        ("unsqueeze", |x| x[0].unsqueeze(1).expand(&[3, 2]).square(), &[3]),
    ];
    for (name, f, s) in table {
        check(name, f, inputs(&[s], -1.0, 1.0, 40), 2);
    }
}

#[test]
fn take_and_scatter_add_are_adjoint() {
    // ⟨take(x), y⟩ = ⟨x, scatter_add(y)⟩
    let idx: std::sync::Arc<[usize]> = vec![3, 0, 3, 1].into();
    let xs = inputs(&[&[5], &[4]], -1.0, 1.0, 41);
    let x = Tensor::constant(xs[0].clone());
    let y = Tensor::constant(xs[1].clone());
    let lhs = x.take(idx.clone(), &[4]).dot(&y).item();
    let rhs = x.dot(&y.scatter_add(idx, &[5])).item();
    assert!((lhs - rhs).abs() < 1e-12);
    check("take", |x| x[0].take(vec![3, 0, 3, 1].into(), &[2, 2]).exp(), vec![xs[0].clone()], 2);
    check("scatter_add", |x| x[0].scatter_add(vec![3, 0, 3, 1].into(), &[5]).exp(), vec![xs[1].clone()], 2);
}

#[test]
fn conv2d_and_its_adjoints() {
    let cases: [(&[usize], &[usize], usize, usize); 3] = [
        (&[2, 2, 5, 5], &[3, 2, 3, 3], 1, 1),
        (&[1, 1, 6, 6], &[2, 1, 3, 3], 2, 0),
        (&[2, 3, 4, 5], &[2, 3, 2, 2], 1, 0),
    ];
    for (k, (xs, ws, stride, pad)) in cases.iter().enumerate() {
        let (s, p) = (*stride, *pad);
        let f = move |x: &[Tensor]| x[0].conv2d(&x[1], s, p).tanh();
        check_grads(f, &inputs(&[xs, ws], -1.0, 1.0, 50 + k as u64), &CheckOptions::order(2))
            .unwrap_or_else(|e| panic!("conv2d {xs:?} {ws:?} s{s} p{p}: {e}"));
    }
    // rectangular kernels with padding along one axis (1-d convolutions)
    let geom = odl_tensor::Conv2dGeom { stride: 1, padding: (0, 2) };
    let f = move |x: &[Tensor]| x[0].conv2d_geom(&x[1], geom).tanh();
    check_grads(f, &inputs(&[&[2, 2, 1, 7], &[3, 2, 1, 5]], -1.0, 1.0, 56), &CheckOptions::order(2)).unwrap();
    let g = odl_tensor::Conv2dGeom { stride: 2, padding: (1, 0) };
    let f = move |x: &[Tensor]| x[0].conv2d_geom(&x[1], g).tanh();
    check_grads(f, &inputs(&[&[1, 2, 5, 6], &[2, 2, 3, 2]], -1.0, 1.0, 57), &CheckOptions::order(2)).unwrap();
    // third order: the adjoint primitives are themselves differentiated
    let f = |x: &[Tensor]| x[0].conv2d(&x[1], 1, 1).tanh();
    check_grads(f, &inputs(&[&[1, 1, 4, 4], &[2, 1, 3, 3]], -1.0, 1.0, 55), &CheckOptions::order(3)).unwrap();
}

#[test]
fn upsample_nearest_to_third_order() {
    // the adjoint of 2× upsampling sums each 2×2 block: ⟨up(x), y⟩ = ⟨x, sum-pool(y)⟩
    let x = Array::from_vec((0..2 * 3 * 2 * 2).map(|i| i as f64 * 0.3 - 1.0).collect(), &[2, 3, 2, 2]);
    let up = Tensor::constant(x.clone()).upsample_nearest(2);
    assert_eq!(up.shape(), &[2, 3, 4, 4]);
    let (u, xv) = (up.to_vec_f64(), x.to_vec_f64());
    for (k, v) in u.iter().enumerate() {
        let (nc, r, c) = (k / 16, (k % 16) / 4, k % 4);
        assert_eq!(*v, xv[nc * 4 + (r / 2) * 2 + c / 2]);
    }
    check("upsample ×2", |x| x[0].upsample_nearest(2).sin().square(), vec![x.clone()], 3);
    let f = |x: &[Tensor]| x[0].upsample_nearest(3).conv2d(&x[1], 1, 1).tanh();
    check_grads(f, &inputs(&[&[1, 2, 2, 2], &[2, 2, 3, 3]], -1.0, 1.0, 56), &CheckOptions::order(2)).unwrap();
}

#[test]
fn max_pool2d() {
    // distinct values so that no window has a tie within ε
    let mut rng = Rng::seed(60);
    let perm = rng.permutation(2 * 2 * 6 * 6);
    let v: Vec<f64> = perm.iter().map(|&p| p as f64 * 0.1).collect();
    let x = Array::from_vec(v, &[2, 2, 6, 6]);
    check("max_pool2d k2", |x| x[0].max_pool2d(2, 2).square(), vec![x.clone()], 2);
    check("max_pool2d k3 s2", |x| x[0].max_pool2d(3, 2).exp(), vec![x.clone()], 2);
    check("max_pool2d 1×3", |x| x[0].max_pool2d_rect((1, 3), (1, 3)).exp(), vec![x.clone()], 2);
    check("max_pool2d 2×1 s(2,1)", |x| x[0].max_pool2d_rect((2, 1), (2, 1)).sin(), vec![x], 2);
}

#[test]
fn composites() {
    let table: [(&str, F, &[usize], f64, f64); 9] = [
        ("relu", |x| x[0].relu().square(), &[3, 4], 0.1, 2.0),
        ("leaky_relu", |x| x[0].leaky_relu(0.1).square(), &[3, 4], 0.1, 2.0),
        ("sigmoid", |x| x[0].sigmoid(), &[3, 4], -3.0, 3.0),
        ("softplus", |x| x[0].softplus(), &[3, 4], -3.0, 3.0),
        ("gelu", |x| x[0].gelu(), &[3, 4], -3.0, 3.0),
        ("logsumexp", |x| x[0].logsumexp(1, false), &[3, 4], -3.0, 3.0),
        ("softmax", |x| x[0].softmax(-1), &[3, 4], -3.0, 3.0),
        ("log_softmax", |x| x[0].log_softmax(0), &[3, 4], -3.0, 3.0),
        ("cross_entropy", |x| x[0].cross_entropy(&[1, 0, 3]), &[3, 4], -3.0, 3.0),
    ];
    for (name, f, s, lo, hi) in table {
        let xs =
            if name.contains("relu") { signed_inputs(&[s], lo, hi, 70) } else { inputs(&[s], lo, hi, 70) };
        check(name, f, xs, 2);
    }
    check("mse", |x| x[0].mse(&x[1]), inputs(&[&[3, 2], &[3, 2]], -1.0, 1.0, 71), 2);
    // logits and (soft) targets both differentiated; rows of any sum are fine for the check
    check(
        "cross_entropy_targets",
        |x| x[0].cross_entropy_targets(&x[1]),
        inputs(&[&[3, 4], &[3, 4]], 0.1, 1.0, 72),
        2,
    );
}

#[test]
fn third_order_through_a_small_network() {
    let f = |x: &[Tensor]| x[0].matmul(&x[1]).tanh().matmul(&x[2]).sigmoid().sum_all();
    check_grads(f, &inputs(&[&[2, 3], &[3, 4], &[4, 2]], -1.0, 1.0, 80), &CheckOptions::order(3)).unwrap();
}

#[test]
fn the_checker_catches_a_wrong_rule() {
    // sign·x has derivative sign(x) a.e.; a function whose "gradient" we break
    // by detaching part of it must be rejected.
    let bad = |x: &[Tensor]| x[0].mul(&x[0].detach());
    let err = check_grads(bad, &inputs(&[&[4]], 0.5, 1.5, 90), &CheckOptions::order(1)).unwrap_err();
    assert!(err.0.contains("order 1"), "{err}");
}

#[test]
fn a_derivative_that_is_nan_on_both_sides_is_a_failure() {
    // √x at x < 0: the value, autodiff and finite differences are all NaN —
    // they "agree", but nothing has been checked
    let x = Array::from_vec(vec![-1.0, -2.0], &[2]);
    let e = check_grads(|t| t[0].sqrt().sum_all(), &[x], &CheckOptions::order(1));
    assert!(e.is_err(), "NaN against NaN must not pass a gradient check");
    // the same function where it is defined passes
    let x = Array::from_vec(vec![1.0, 2.0], &[2]);
    check_grads(|t| t[0].sqrt().sum_all(), &[x], &CheckOptions::order(2)).unwrap();
}

/// Where a composite is built from kinks (`max`, `|x|`), its derivative at the
/// kink must still be the smooth function's: softplus at exactly 0 has
/// slope ½ and curvature ¼ (the Dirac-GAN's equilibrium sits there).
#[test]
fn softplus_is_smooth_at_zero_to_second_order() {
    let x = Tensor::param(Array::from_vec(vec![0.0f64, 0.0], &[2]));
    let g = grad_graph(&x.softplus().sum_all(), &[&x]).remove(0);
    assert_eq!(g.to_vec_f64(), vec![0.5, 0.5]);
    let h = grad(&g.sum_all(), &[&x]).remove(0);
    assert_eq!(h.to_vec_f64(), vec![0.25, 0.25]);
}
