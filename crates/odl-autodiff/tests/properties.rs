//! Property tests over random shapes: broadcast algebra, reshape/permute round
//! trips, VJP linearity.

use odl_autodiff::{vjp, Tensor};
use odl_tensor::{broadcast_shapes, Array, DType, Rng};
use proptest::prelude::*;

fn shape_strategy() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..4, 0..4)
}

/// A shape that broadcasts with `s`: some axes set to 1, some leading axes dropped.
fn broadcastable(s: Vec<usize>) -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    let n = s.len();
    (prop::collection::vec(any::<bool>(), n), 0..=n).prop_map(move |(ones, drop)| {
        let t: Vec<usize> = s.iter().zip(&ones).map(|(&d, &o)| if o { 1 } else { d }).skip(drop).collect();
        (s.clone(), t)
    })
}

fn rand(shape: &[usize], seed: u64) -> Array {
    Rng::seed(seed).normal(shape, 0.0, 1.0, DType::F64)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn broadcasting_is_commutative_and_matches_expand((a, b) in shape_strategy().prop_flat_map(broadcastable), seed in 0u64..1000) {
        let (x, y) = (rand(&a, seed), rand(&b, seed + 1));
        let out = broadcast_shapes(&a, &b).unwrap();
        prop_assert_eq!(out.as_slice(), a.as_slice());
        let xy = x.binary(odl_tensor::BinaryOp::Add, &y);
        let yx = y.binary(odl_tensor::BinaryOp::Add, &x);
        prop_assert_eq!(xy.to_vec_f64(), yx.to_vec_f64());
        // the fast paths agree with materializing the broadcast first
        let slow = x.binary(odl_tensor::BinaryOp::Mul, &y.expand(&out));
        let fast = x.binary(odl_tensor::BinaryOp::Mul, &y);
        prop_assert_eq!(fast.to_vec_f64(), slow.to_vec_f64());
    }

    #[test]
    fn sum_of_broadcast_gradient_counts_copies((a, b) in shape_strategy().prop_flat_map(broadcastable)) {
        // ∂/∂y Σ expand(y) = (#copies) · 1
        let y = Tensor::param(rand(&b, 3));
        let s = y.expand(&a).sum_all();
        let g = odl_autodiff::grad(&s, &[&y]).remove(0);
        let copies = a.iter().product::<usize>() / b.iter().product::<usize>().max(1);
        prop_assert!(g.to_vec_f64().iter().all(|&v| v == copies as f64));
    }

    #[test]
    fn reshape_and_permute_round_trip(s in prop::collection::vec(1usize..5, 1..5), seed in 0u64..1000) {
        let x = rand(&s, seed);
        let mut perm: Vec<usize> = (0..s.len()).collect();
        Rng::seed(seed).shuffle(&mut perm);
        let mut inv = vec![0; perm.len()];
        for (i, &p) in perm.iter().enumerate() { inv[p] = i; }
        let back = x.permute(&perm).permute(&inv);
        prop_assert_eq!(back.to_vec_f64(), x.to_vec_f64());
        let flat = x.reshape(&[x.numel()]).reshape(&s);
        prop_assert_eq!(flat.to_vec_f64(), x.to_vec_f64());
        // permute agrees with index arithmetic on one element
        let p = x.permute(&perm);
        let st = odl_tensor::shape::strides(&s);
        let pst = odl_tensor::shape::strides(p.shape());
        let last: Vec<usize> = p.shape().iter().map(|d| d - 1).collect();
        let pflat: usize = last.iter().zip(&pst).map(|(i, s)| i * s).sum();
        let xflat: usize = last.iter().zip(&perm).map(|(i, &ax)| i * st[ax]).sum();
        prop_assert_eq!(p.get(pflat), x.get(xflat));
    }

    #[test]
    fn vjp_is_linear_in_the_cotangent(m in 1usize..5, n in 1usize..5, alpha in -2.0f64..2.0, beta in -2.0f64..2.0, seed in 0u64..1000) {
        let w = Tensor::constant(rand(&[m, n], seed));
        let x = Tensor::param(rand(&[n, 2], seed + 1));
        let y = w.matmul(&x).tanh().mul(&x.sum(&[0], true));
        let (c1, c2) = (rand(y.shape(), seed + 2), rand(y.shape(), seed + 3));
        let v = |c: &Array| vjp(&y, &[&x], &Tensor::constant(c.clone()), false).remove(0).to_vec_f64();
        let comb: Vec<f64> = c1.to_vec_f64().iter().zip(c2.to_vec_f64()).map(|(a, b)| alpha * a + beta * b).collect();
        let lhs = v(&Array::from_vec(comb, y.shape()));
        let (g1, g2) = (v(&c1), v(&c2));
        for i in 0..lhs.len() {
            prop_assert!((lhs[i] - (alpha * g1[i] + beta * g2[i])).abs() < 1e-12);
        }
    }
}
