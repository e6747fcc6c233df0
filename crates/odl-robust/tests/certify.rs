//! Certificates are sound — no attack breaks a certified point — exact where
//! theory says so (IBP on a linear model), and refuse what they cannot bound.

use odl_nn::{Activation, BatchNorm, Conv2d, Flatten, Init, Linear, MlpConfig, Module, Pool2d, Sequential};
use odl_robust::certify::{crown, ibp, lipschitz, Certified};
use odl_robust::{Attack, AttackName, Net, Norm, Threat};
use odl_tensor::{DType, Rng};

const D: usize = 16;

fn mlp(widths: &[usize], seed: u64) -> Sequential {
    MlpConfig::new(widths, Activation::Relu).build(&mut Rng::seed(seed), DType::F32)
}

fn cnn(seed: u64) -> Sequential {
    let mut rng = Rng::seed(seed);
    let init = Init::KaimingNormal(2f64.sqrt());
    let mut s = Sequential::new();
    s.push(Conv2d::new(1, 4, 3, 1, 1, true, &init, &mut rng, DType::F32));
    s.push(Activation::Relu);
    s.push(Pool2d::Max(2, 2));
    s.push(Flatten);
    s.push(Linear::new(4 * 2 * 2, 3, true, &init, None, &mut rng, DType::F32));
    s
}

fn inputs(n: usize, d: usize, seed: u64) -> Vec<f32> {
    let mut r = Rng::seed(seed);
    (0..n * d).map(|_| r.uniform_f64() as f32).collect()
}

/// The network on unnormalized inputs of shape `shape`.
fn plain<'a>(m: &'a mut Sequential, shape: &[usize]) -> Net<'a> {
    Net { model: m, in_shape: shape.to_vec(), mean: 0.0, std: 1.0 }
}

/// Labels = the model's own predictions, so every example starts correct.
fn labels(m: &mut Sequential, shape: &[usize], x: &[f32], d: usize) -> Vec<usize> {
    odl_robust::classifier::predict(&mut plain(m, shape), x, d)
}

#[test]
fn ibp_and_crown_are_exact_on_a_linear_model() {
    // one Linear layer: the margin's lower bound over the ℓ∞ ball is
    // (w_y − w_j)·x + b_y − b_j − ε‖w_y − w_j‖₁, exactly what IBP's elision gives
    let mut m = mlp(&[D, 4], 1);
    let x = inputs(20, D, 2);
    let y = labels(&mut m, &[D], &x, D);
    let ps = m.param_values();
    let (w, b) = (ps[0].to_vec_f64(), ps[1].to_vec_f64());
    for (i, row) in x.chunks(D).enumerate() {
        let l = y[i];
        let dist = (0..4)
            .filter(|&j| j != l)
            .map(|j| {
                let m: f64 =
                    b[l] - b[j] + (0..D).map(|q| (w[l * D + q] - w[j * D + q]) * row[q] as f64).sum::<f64>();
                m / (0..D).map(|q| (w[l * D + q] - w[j * D + q]).abs()).sum::<f64>()
            })
            .fold(f64::INFINITY, f64::min);
        for (f, want) in [(0.98, true), (1.02, false)] {
            let t = Threat::new(Norm::Linf, f * dist, f64::NEG_INFINITY, f64::INFINITY).unwrap();
            for cert in ["ibp", "crown"] {
                let c = certify(cert, &mut m, &[D], &t, row, D, &[l]);
                assert_eq!(c.certified[0], want, "{cert}: example {i} at {f}× its exact radius {dist}");
            }
        }
    }
}

/// The certificate `cert` (ibp, crown, lipschitz) of a batch.
fn certify(
    cert: &str,
    m: &mut Sequential,
    shape: &[usize],
    t: &Threat,
    x: &[f32],
    d: usize,
    y: &[usize],
) -> Certified {
    let net = &mut plain(m, shape);
    match cert {
        "ibp" => ibp::certify(net, t, x, d, y).unwrap(),
        "crown" => crown::certify(net, t, x, d, y).unwrap(),
        _ => lipschitz::certify(net, t, x, d, y).unwrap().0,
    }
}

/// Certifies with `cert`, attacks with the ensemble, and checks that no
/// certified example is broken; returns (certified, attacked robust) counts.
fn sound(m: &mut Sequential, shape: &[usize], t: &Threat, x: &[f32], d: usize, cert: &str) -> (usize, usize) {
    let y = labels(m, shape, x, d);
    let c = certify(cert, m, shape, t, x, d, &y);
    let mut a = Attack::new(AttackName::Auto);
    a.steps = 50;
    a.queries = 300;
    if shape.len() == 3 {
        a.image = Some([shape[0], shape[1], shape[2]]);
    }
    let mut net = Net { model: m, in_shape: shape.to_vec(), mean: 0.0, std: 1.0 };
    let o = a.run(&mut net, t, x, d, &y).unwrap();
    for i in 0..y.len() {
        assert!(!(c.certified[i] && o.success[i]), "example {i}: certified and broken");
    }
    (c.certified.iter().filter(|&&v| v).count(), o.robust_count())
}

#[test]
fn ibp_certified_points_survive_every_attack_mlp_and_cnn() {
    let mut m = mlp(&[D, 32, 32, 5], 3);
    let x = inputs(40, D, 4);
    let (mut some, mut total) = (0, 0);
    for eps in [0.002, 0.01, 0.05] {
        let t = Threat::new(Norm::Linf, eps, 0.0, 1.0).unwrap();
        let (c, r) = sound(&mut m, &[D], &t, &x, D, "ibp");
        assert!(c <= r, "certified {c} > attacked robust {r}");
        some += c;
        total += r;
    }
    assert!(
        some > 0 && total > some,
        "the test must certify some points and leave a gap ({some} of {total})"
    );
    let mut m = cnn(5);
    let x = inputs(30, 16, 6);
    for eps in [0.005, 0.02] {
        let t = Threat::new(Norm::Linf, eps, 0.0, 1.0).unwrap();
        let (c, r) = sound(&mut m, &[1, 4, 4], &t, &x, 16, "ibp");
        assert!(c <= r);
    }
}

#[test]
fn lipschitz_radius_is_sound_and_exact_in_form_for_a_linear_model() {
    // a linear model: L = σ_max(W), radius = margin / (√2 σ_max)
    let mut m = mlp(&[D, 3], 7);
    let x = inputs(10, D, 8);
    let y = labels(&mut m, &[D], &x, D);
    let t = Threat::new(Norm::L2, 0.01, f64::NEG_INFINITY, f64::INFINITY).unwrap();
    let (c, l) = lipschitz::certify(&mut plain(&mut m, &[D]), &t, &x, D, &y).unwrap();
    let w = m.param_values()[0].to_vec_f64();
    // σ_max by power iteration on WᵀW
    let mut v = vec![1.0; D];
    for _ in 0..500 {
        let wv: Vec<f64> = (0..3).map(|r| (0..D).map(|q| w[r * D + q] * v[q]).sum()).collect();
        v = (0..D).map(|q| (0..3).map(|r| w[r * D + q] * wv[r]).sum()).collect();
        let n = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        v.iter_mut().for_each(|a| *a /= n);
    }
    let sigma = (0..3).map(|r| (0..D).map(|q| w[r * D + q] * v[q]).sum::<f64>().powi(2)).sum::<f64>().sqrt();
    assert!((l - sigma).abs() < 1e-5 * sigma, "L = {l}, σ_max = {sigma}");
    let mut net = Net { model: &mut m, in_shape: vec![D], mean: 0.0, std: 1.0 };
    let z = odl_robust::classifier::logits_of(&mut net, &x, D);
    for (i, zi) in z.iter().enumerate() {
        let other = (0..3).filter(|&j| j != y[i]).map(|j| zi[j]).fold(f64::NEG_INFINITY, f64::max);
        assert!((c.bound[i] - (zi[y[i]] - other) / (2f64.sqrt() * sigma)).abs() < 1e-5);
    }
    // soundness on an MLP, ℓ2 and ℓ∞
    let mut m = mlp(&[D, 16, 4], 9);
    let x = inputs(40, D, 10);
    for (norm, eps) in [(Norm::L2, 0.01), (Norm::L2, 0.05), (Norm::Linf, 0.003)] {
        let t = Threat::new(norm, eps, 0.0, 1.0).unwrap();
        let (c, r) = sound(&mut m, &[D], &t, &x, D, "lipschitz");
        assert!(c <= r);
    }
    // the convolution gets a positive bound, its activation and pooling 1
    let mut m = cnn(11);
    let b = lipschitz::layer_bounds(&mut m, &[1, 4, 4]).unwrap();
    assert_eq!(b.len(), 5);
    assert!(b[0].1 > 0.0 && b[1].1 == 1.0 && b[2].1 == 1.0);
}

#[test]
fn layers_that_cannot_be_bounded_are_named() {
    let mut rng = Rng::seed(0);
    let init = Init::KaimingNormal(1.0);
    let mut s = Sequential::new();
    s.push(Linear::new(D, 8, true, &init, None, &mut rng, DType::F32));
    s.push(BatchNorm::new(8, DType::F32));
    s.push(Activation::Relu);
    s.push(Linear::new(8, 3, true, &init, None, &mut rng, DType::F32));
    let x = inputs(2, D, 1);
    let t = Threat::new(Norm::Linf, 0.01, 0.0, 1.0).unwrap();
    let e = ibp::certify(&mut plain(&mut s, &[D]), &t, &x, D, &[0, 1]).unwrap_err();
    assert!(e.contains("layer 1"), "{e}");
    let e = lipschitz::certify(&mut plain(&mut s, &[D]), &t, &x, D, &[0, 1]).unwrap_err();
    assert!(e.contains("layer 1"), "{e}");
    let mut g = MlpConfig::new(&[D, 8, 3], Activation::Gelu).build(&mut rng, DType::F32);
    assert!(ibp::certify(&mut plain(&mut g, &[D]), &t, &x, D, &[0, 1]).unwrap_err().contains("layer 1"));
    let t2 = Threat::new(Norm::L2, 0.01, 0.0, 1.0).unwrap();
    let mut m = mlp(&[D, 3], 1);
    assert!(ibp::certify(&mut plain(&mut m, &[D]), &t2, &x, D, &[0, 1]).unwrap_err().contains("ℓ∞"));
}

#[test]
fn crown_is_sound_against_attacks_and_tighter_than_ibp_on_aggregate() {
    // MLP and a CNN with max pooling: no certified point is broken; CROWN certifies at least as many points as
    // IBP and its margin bounds are larger on average (the linear relaxation keeps the correlation between
    // units that intervals drop)
    let mut m = mlp(&[D, 32, 32, 5], 3);
    let x = inputs(40, D, 4);
    let mut gap = 0;
    for eps in [0.002, 0.01, 0.05] {
        let t = Threat::new(Norm::Linf, eps, 0.0, 1.0).unwrap();
        let (c, r) = sound(&mut m, &[D], &t, &x, D, "crown");
        let (ci, _) = sound(&mut m, &[D], &t, &x, D, "ibp");
        assert!(ci <= c && c <= r, "ε {eps}: IBP {ci}, CROWN {c}, attacked {r}");
        gap += c - ci;
        let y = labels(&mut m, &[D], &x, D);
        let mean = |c: Certified| c.bound.iter().sum::<f64>() / c.bound.len() as f64;
        let (bc, bi) = (
            mean(certify("crown", &mut m, &[D], &t, &x, D, &y)),
            mean(certify("ibp", &mut m, &[D], &t, &x, D, &y)),
        );
        assert!(bc > bi, "ε {eps}: mean CROWN bound {bc} ≤ IBP's {bi}");
    }
    assert!(gap > 0, "CROWN should certify points IBP cannot");
    let mut m = cnn(5);
    let x = inputs(30, 16, 6);
    for eps in [0.005, 0.02, 0.05] {
        let t = Threat::new(Norm::Linf, eps, 0.0, 1.0).unwrap();
        let (c, r) = sound(&mut m, &[1, 4, 4], &t, &x, 16, "crown");
        assert!(c <= r);
    }
}

#[test]
fn crown_bounds_lie_below_the_true_minimum_on_a_grid() {
    // two inputs: the margin's minimum over the box is found by a 301×301 grid (an upper bound of the true
    // minimum): CROWN's lower bound never exceeds it, and is not vacuous either
    let mut m = mlp(&[2, 12, 12, 3], 11);
    let x = inputs(6, 2, 12);
    let y = labels(&mut m, &[2], &x, 2);
    let eps = 0.08;
    let t = Threat::new(Norm::Linf, eps, f64::NEG_INFINITY, f64::INFINITY).unwrap();
    let c = certify("crown", &mut m, &[2], &t, &x, 2, &y);
    let ib = certify("ibp", &mut m, &[2], &t, &x, 2, &y);
    for (i, p) in x.chunks(2).enumerate() {
        let g = 301;
        let grid: Vec<f32> = (0..g * g)
            .flat_map(|q| {
                let (a, b) = ((q / g) as f64 / (g - 1) as f64, (q % g) as f64 / (g - 1) as f64);
                [(p[0] as f64 - eps + 2.0 * eps * a) as f32, (p[1] as f64 - eps + 2.0 * eps * b) as f32]
            })
            .collect();
        let z = odl_robust::classifier::logits_of(&mut plain(&mut m, &[2]), &grid, 2);
        let min = z
            .iter()
            .map(|zi| (0..3).filter(|&j| j != y[i]).map(|j| zi[y[i]] - zi[j]).fold(f64::INFINITY, f64::min))
            .fold(f64::INFINITY, f64::min);
        assert!(c.bound[i] <= min + 1e-5, "example {i}: CROWN {} above the grid's minimum {min}", c.bound[i]);
        assert!(ib.bound[i] <= min + 1e-5);
        assert!(c.bound[i] > min - 2.0, "example {i}: CROWN {} vacuous against {min}", c.bound[i]);
    }
}

#[test]
fn crown_refuses_layers_it_cannot_relax() {
    let mut rng = Rng::seed(1);
    let mut g = MlpConfig::new(&[D, 8, 3], Activation::Tanh).build(&mut rng, DType::F32);
    let x = inputs(2, D, 1);
    let t = Threat::new(Norm::Linf, 0.01, 0.0, 1.0).unwrap();
    let e = crown::certify(&mut plain(&mut g, &[D]), &t, &x, D, &[0, 1]).unwrap_err();
    assert!(e.contains("layer 1") && e.contains("Tanh"), "{e}");
    // IBP bounds the tanh network (monotone)
    assert!(ibp::certify(&mut plain(&mut g, &[D]), &t, &x, D, &[0, 1]).is_ok());
}
