//! Optimizers checked against theory (predicted convergence rates on
//! quadratics), against hand-written PyTorch-convention updates, and on
//! Rosenbrock.

use odl_optim::schedule::{Cosine, Exponential, InvSqrt, MultiStep, OneCycle, Step, Warmup};
use odl_optim::{
    adagrad, adam, adamw, amsgrad, apply_updates, chain, clip_by_global_norm, clip_by_value, global_norm,
    momentum, nesterov, perturb, project_box, rmsprop, scale, sgd, sgd_scheduled, Chain, Schedule, Transform,
};
use odl_tensor::{Array, DType, Rng};

fn vec64(v: &[f64]) -> Vec<Array> {
    vec![Array::from_f64(v, &[v.len()], DType::F64)]
}

fn vals(a: &[Array]) -> Vec<f64> {
    a[0].to_vec_f64()
}

/// Runs `steps` iterations of `opt` on a function given by its gradient.
fn run(
    opt: &mut dyn Transform,
    x0: &[f64],
    steps: usize,
    grad: impl Fn(&[f64]) -> Vec<f64>,
) -> Vec<Vec<f64>> {
    let mut x = vec64(x0);
    let mut path = vec![x0.to_vec()];
    for _ in 0..steps {
        let mut g = vec64(&grad(&vals(&x)));
        opt.update(&mut g, &x);
        apply_updates(&mut x, &g);
        path.push(vals(&x));
    }
    path
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// ∇ of ½ Σ λ_i x_i².
fn quad(lams: &'static [f64]) -> impl Fn(&[f64]) -> Vec<f64> {
    move |x| x.iter().zip(lams).map(|(x, l)| l * x).collect()
}

#[test]
fn gd_on_a_quadratic_contracts_at_the_predicted_rate() {
    // per step the error along eigenvector i is multiplied by (1 − ηλ_i)
    let lams: &'static [f64] = &[1.0, 4.0, 10.0];
    let eta = 0.15;
    let path = run(&mut sgd(eta), &[1.0, 1.0, 1.0], 60, quad(lams));
    for (k, x) in path.iter().enumerate() {
        for (i, &l) in lams.iter().enumerate() {
            let want = (1.0 - eta * l).powi(k as i32);
            assert!((x[i] - want).abs() < 1e-12, "step {k}, coordinate {i}: {} vs {want}", x[i]);
        }
    }
    // and diverges when η > 2/λ_max
    let path = run(&mut sgd(0.25), &[1.0, 1.0, 1.0], 50, quad(lams));
    assert!(norm(path.last().unwrap()) > 1e3);
}

#[test]
fn heavy_ball_beats_gd_by_the_square_root_of_the_condition_number() {
    // κ = 100: optimal GD contracts at (κ−1)/(κ+1) ≈ 0.980 per step, optimal
    // heavy ball at (√κ−1)/(√κ+1) ≈ 0.818 (Polyak 1964)
    let lams: &'static [f64] = &[1.0, 7.0, 30.0, 100.0];
    let (mu, l) = (1.0f64, 100.0f64);
    let gd_eta = 2.0 / (mu + l);
    let hb_eta = 4.0 / (mu.sqrt() + l.sqrt()).powi(2);
    let beta = ((l.sqrt() - mu.sqrt()) / (l.sqrt() + mu.sqrt())).powi(2);
    let rate = |path: &[Vec<f64>]| (norm(&path[400]) / norm(&path[200])).powf(1.0 / 200.0);
    let gd = rate(&run(&mut sgd(gd_eta), &[1.0; 4], 400, quad(lams)));
    let hb = rate(&run(&mut momentum(hb_eta, beta), &[1.0; 4], 400, quad(lams)));
    let kappa = l / mu;
    let gd_pred = (kappa - 1.0) / (kappa + 1.0);
    let hb_pred = (kappa.sqrt() - 1.0) / (kappa.sqrt() + 1.0);
    assert!((gd - gd_pred).abs() < 0.003, "GD rate {gd} vs {gd_pred}");
    assert!(hb <= hb_pred + 0.01 && hb > hb_pred - 0.05, "heavy-ball rate {hb} vs {hb_pred}");
}

fn rosenbrock(x: &[f64]) -> Vec<f64> {
    let (a, b) = (x[0], x[1]);
    vec![-2.0 * (1.0 - a) - 400.0 * a * (b - a * a), 200.0 * (b - a * a)]
}

#[test]
fn every_optimizer_minimizes_a_quadratic_and_rosenbrock() {
    let lams: &'static [f64] = &[0.5, 2.0];
    type Make = Box<dyn Fn(f64) -> Box<dyn Transform>>;
    type Case = (&'static str, Make, (f64, usize), (f64, usize));
    // (name, constructor from the learning rate, lr and steps on the quadratic, on Rosenbrock)
    let cases: Vec<Case> = vec![
        ("sgd", Box::new(|lr| Box::new(sgd(lr))), (0.5, 200), (1e-3, 60_000)),
        ("momentum", Box::new(|lr| Box::new(momentum(lr, 0.9))), (0.1, 500), (1e-3, 10_000)),
        ("nesterov", Box::new(|lr| Box::new(nesterov(lr, 0.9))), (0.1, 500), (1e-3, 10_000)),
        ("adagrad", Box::new(|lr| Box::new(adagrad(lr, 1e-10))), (0.5, 2000), (0.5, 20_000)),
        ("rmsprop", Box::new(|lr| Box::new(rmsprop(lr, 0.99, 1e-8))), (1e-3, 8000), (1e-3, 20_000)),
        ("adam", Box::new(|lr| Box::new(adam(lr, 0.9, 0.999, 1e-8))), (1e-2, 3000), (1e-2, 20_000)),
        ("amsgrad", Box::new(|lr| Box::new(amsgrad(lr, 0.9, 0.999, 1e-8))), (1e-2, 3000), (1e-2, 20_000)),
        ("adamw", Box::new(|lr| Box::new(adamw(lr, 0.9, 0.999, 1e-8, 0.0))), (1e-2, 3000), (1e-2, 20_000)),
    ];
    for (name, make, (q_lr, q_steps), (r_lr, r_steps)) in cases {
        let q = run(make(q_lr).as_mut(), &[1.5, -1.0], q_steps, quad(lams));
        let fq: f64 = q.last().unwrap().iter().zip(lams).map(|(x, l)| 0.5 * l * x * x).sum();
        assert!(fq < 1e-6, "{name} on the quadratic: f = {fq}");
        let r = run(make(r_lr).as_mut(), &[-1.2, 1.0], r_steps, rosenbrock);
        let end = r.last().unwrap();
        assert!(
            (end[0] - 1.0).abs() < 2e-2 && (end[1] - 1.0).abs() < 4e-2,
            "{name} on Rosenbrock ended at {end:?}"
        );
    }
}

#[test]
fn adam_matches_pytorchs_update_rule_step_by_step() {
    let (lr, b1, b2, eps) = (0.05, 0.8, 0.95, 1e-6);
    let mut opt = adam(lr, b1, b2, eps);
    let mut rng = Rng::seed(3);
    let mut x = vec64(&[0.3, -0.7, 1.1]);
    let (mut m, mut s, mut p) = (vec![0.0; 3], vec![0.0; 3], vals(&x));
    for t in 1..=6 {
        let g: Vec<f64> = (0..3).map(|_| rng.normal_f64()).collect();
        let mut u = vec64(&g);
        opt.update(&mut u, &x);
        apply_updates(&mut x, &u);
        for i in 0..3 {
            m[i] = b1 * m[i] + (1.0 - b1) * g[i];
            s[i] = b2 * s[i] + (1.0 - b2) * g[i] * g[i];
            let mhat = m[i] / (1.0 - b1.powi(t));
            let shat = s[i] / (1.0 - b2.powi(t));
            p[i] -= lr * mhat / (shat.sqrt() + eps);
        }
        for (a, b) in vals(&x).iter().zip(&p) {
            assert!((a - b).abs() < 1e-14, "step {t}: {a} vs {b}");
        }
    }
}

#[test]
fn momentum_and_nesterov_follow_pytorch_conventions() {
    // v₁ = g₁, p₁ = p₀ − ηv₁; v₂ = μv₁ + g₂; Nesterov steps with g + μv
    let (lr, mu) = (0.1, 0.9);
    let (g1, g2) = (2.0, -1.0);
    let mut x = vec64(&[0.0]);
    let mut hb = momentum(lr, mu);
    let mut nv = nesterov(lr, mu);
    let mut y = vec64(&[0.0]);
    for g in [g1, g2] {
        let mut u = vec64(&[g]);
        hb.update(&mut u, &x);
        apply_updates(&mut x, &u);
        let mut w = vec64(&[g]);
        nv.update(&mut w, &y);
        apply_updates(&mut y, &w);
    }
    let v1 = g1;
    let v2 = mu * v1 + g2;
    assert!((vals(&x)[0] - (-lr * v1 - lr * v2)).abs() < 1e-15);
    assert!((vals(&y)[0] - (-lr * (g1 + mu * v1) - lr * (g2 + mu * v2))).abs() < 1e-15);
}

#[test]
fn amsgrad_denominator_never_shrinks() {
    // a large gradient then small ones: Adam's step grows back as s decays,
    // AMSGrad's stays bounded by the largest second moment seen
    let grads = [10.0, 0.1, 0.1, 0.1, 0.1, 0.1];
    let steps = |opt: &mut dyn Transform| -> Vec<f64> {
        let x = vec64(&[0.0]);
        grads
            .iter()
            .map(|&g| {
                let mut u = vec64(&[g]);
                opt.update(&mut u, &x);
                vals(&u)[0].abs()
            })
            .collect()
    };
    let a = steps(&mut adam(1.0, 0.0, 0.5, 1e-12));
    let m = steps(&mut amsgrad(1.0, 0.0, 0.5, 1e-12));
    assert!(a[5] > 3.0 * m[5], "adam {a:?} vs amsgrad {m:?}");
}

#[test]
fn clipping_decay_and_projection() {
    let x = vec64(&[1.0, -2.0]);
    let mut u = vec64(&[3.0, 4.0]);
    clip_by_global_norm(1.0).update(&mut u, &x);
    assert!((global_norm(&u) - 1.0).abs() < 1e-15);
    assert!((vals(&u)[0] - 0.6).abs() < 1e-15);
    let mut u = vec64(&[3.0, -0.5]);
    clip_by_value(1.0).update(&mut u, &x);
    assert_eq!(vals(&u), vec![1.0, -0.5]);
    // SGD with weight decay: u = −η(g + λp)
    let mut opt = chain(vec![Box::new(odl_optim::add_decayed_weights(0.1)), Box::new(scale(-0.5))]);
    let mut u = vec64(&[1.0, 1.0]);
    opt.update(&mut u, &x);
    assert_eq!(vals(&u), vec![-0.5 * 1.1, -0.5 * (1.0 - 0.2)]);
    // projected GD on f = ½‖x − (3, −3)‖² in [−1, 1]² ends at the corner (1, −1)
    let mut pgd = chain(vec![Box::new(scale(-0.3)), Box::new(project_box(-1.0, 1.0))]);
    let path = run(&mut pgd, &[0.0, 0.0], 50, |x| vec![x[0] - 3.0, x[1] + 3.0]);
    assert!(path.iter().all(|p| p.iter().all(|v| (-1.0..=1.0).contains(v))));
    assert_eq!(path.last().unwrap(), &vec![1.0, -1.0]);
}

#[test]
fn perturbed_gd_escapes_a_strict_saddle_that_gd_cannot_leave() {
    // f(x, y) = x²/2 − y²/2 + y⁴/4: saddle at 0, minima at (0, ±1)
    let grad = |v: &[f64]| vec![v[0], -v[1] + v[1].powi(3)];
    let gd = run(&mut sgd(0.1), &[0.0, 0.0], 500, grad);
    assert_eq!(gd.last().unwrap(), &vec![0.0, 0.0]);
    let mut pgd = chain(vec![Box::new(scale(-0.1)), Box::new(perturb(1e-3, 1e-4, 50, 7))]);
    let p = run(&mut pgd, &[0.0, 0.0], 500, grad);
    let end = p.last().unwrap();
    assert!(end[0].abs() < 1e-3 && (end[1].abs() - 1.0).abs() < 1e-3, "ended at {end:?}");
}

#[test]
fn schedules_have_their_textbook_values() {
    let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
    assert!(close(Step { lr: 1.0, every: 10, gamma: 0.5 }.value(25), 0.25));
    assert!(close(MultiStep { lr: 1.0, milestones: vec![3, 7], gamma: 0.1 }.value(7), 0.01));
    assert!(close(Exponential { lr: 2.0, gamma: 0.9 }.value(2), 2.0 * 0.81));
    assert!(close(InvSqrt { lr: 1.0 }.value(3), 0.5));
    let c = Cosine { lr: 1.0, total: 100, min_lr: 0.1 };
    assert!(
        close(c.value(0), 1.0)
            && close(c.value(50), 0.55)
            && close(c.value(100), 0.1)
            && close(c.value(500), 0.1)
    );
    let w = Warmup { steps: 4, then: 0.8 };
    assert!(close(w.value(0), 0.2) && close(w.value(3), 0.8) && close(w.value(10), 0.8));
    let o = OneCycle::new(1.0, 100);
    assert!(close(o.value(0), 1.0 / 25.0));
    let peak = (0..100).map(|t| o.value(t)).fold(0.0, f64::max);
    assert!(close(peak, 1.0));
    assert!(o.value(99) < 1e-5 && o.value(99) > 0.0);
    // a schedule drives the step: η_t = 1/√(t+1) on f = x²/2 gives x_t = Π(1 − η_s)
    let path = run(&mut sgd_scheduled(InvSqrt { lr: 0.5 }), &[1.0], 3, |x| vec![x[0]]);
    let want: f64 = (0..3).map(|s| 1.0 - 0.5 / ((s + 1) as f64).sqrt()).product();
    assert!(close(path[3][0], want));
}

#[test]
fn optimizer_state_round_trips() {
    let mut rng = Rng::seed(11);
    let grads: Vec<Vec<f64>> = (0..5).map(|_| (0..3).map(|_| rng.normal_f64()).collect()).collect();
    let make = || adamw(0.01, 0.9, 0.99, 1e-8, 0.01);
    let mut a = make();
    let x = vec64(&[0.1, 0.2, 0.3]);
    for g in &grads[..4] {
        a.update(&mut vec64(g), &x);
    }
    let saved = a.state();
    assert!(saved.iter().any(|(k, _)| k == "0.m.0") && saved.iter().any(|(k, _)| k == "0.step"));
    let mut b = make();
    b.load_state(&saved).unwrap();
    let (mut ua, mut ub) = (vec64(&grads[4]), vec64(&grads[4]));
    a.update(&mut ua, &x);
    b.update(&mut ub, &x);
    assert_eq!(vals(&ua), vals(&ub));
    let err = make().load_state(&[("7.m.0".to_string(), Array::zeros(&[3], DType::F64))]).unwrap_err();
    assert!(err.contains("7.m.0"), "{err}");
}

#[test]
fn f32_parameters_work_too() {
    let mut x = vec![Array::from_f64(&[1.0, -1.0], &[2], DType::F32)];
    let mut opt = adam(0.05, 0.9, 0.999, 1e-8);
    for _ in 0..400 {
        let mut g = x.clone();
        opt.update(&mut g, &x);
        apply_updates(&mut x, &g);
    }
    assert_eq!(x[0].dtype(), DType::F32);
    assert!(x[0].to_vec_f64().iter().all(|v| v.abs() < 1e-2));
}

/// Iterations of `opt` to bring ½ Σ λ_i x_i² (λ spanning [1, κ]) below 1e-6·f(x₀).
fn iterations_to_converge(kappa: f64, make: &dyn Fn(f64) -> Box<dyn Transform>) -> usize {
    let lams: Vec<f64> = (0..8).map(|i| kappa.powf(i as f64 / 7.0)).collect();
    let f = |x: &[f64]| x.iter().zip(&lams).map(|(x, l)| 0.5 * l * x * x).sum::<f64>();
    let mut opt = make(kappa);
    let mut x = vec64(&[1.0; 8]);
    let f0 = f(&vals(&x));
    for k in 1..1_000_000 {
        let g: Vec<f64> = vals(&x).iter().zip(&lams).map(|(x, l)| l * x).collect();
        let mut u = vec64(&g);
        opt.update(&mut u, &x);
        apply_updates(&mut x, &u);
        if f(&vals(&x)) < 1e-6 * f0 {
            return k;
        }
    }
    panic!("no convergence at κ = {kappa}");
}

/// Least-squares slope of ln(iterations) against ln(κ).
fn exponent(make: &dyn Fn(f64) -> Box<dyn Transform>) -> f64 {
    let pts: Vec<(f64, f64)> = [10.0, 100.0, 1000.0, 10_000.0]
        .iter()
        .map(|&k: &f64| (k.ln(), (iterations_to_converge(k, make) as f64).ln()))
        .collect();
    let n = pts.len() as f64;
    let (mx, my) = (pts.iter().map(|p| p.0).sum::<f64>() / n, pts.iter().map(|p| p.1).sum::<f64>() / n);
    pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>()
        / pts.iter().map(|p| (p.0 - mx).powi(2)).sum::<f64>()
}

#[test]
fn iterations_grow_like_kappa_for_gd_and_like_its_root_for_momentum() {
    // optimal constant step sizes for μ = 1, L = κ
    let gd = exponent(&|k| Box::new(sgd(2.0 / (1.0 + k))));
    let hb = exponent(&|k: f64| {
        let beta = ((k.sqrt() - 1.0) / (k.sqrt() + 1.0)).powi(2);
        Box::new(momentum(4.0 / (1.0 + k.sqrt()).powi(2), beta))
    });
    // Nesterov (PyTorch form) with η = 1/L and μ = (√κ−1)/(√κ+1)
    let nv = exponent(&|k: f64| Box::new(nesterov(1.0 / k, (k.sqrt() - 1.0) / (k.sqrt() + 1.0))));
    assert!((gd - 1.0).abs() < 0.1, "GD exponent {gd}");
    assert!((hb - 0.5).abs() < 0.1, "heavy-ball exponent {hb}");
    assert!((nv - 0.5).abs() < 0.12, "Nesterov exponent {nv}");
}

#[test]
fn adamw_and_amsgrad_match_hand_computed_sequences() {
    let (lr, b1, b2, eps, wd) = (0.1, 0.9, 0.99, 1e-8, 0.05);
    let grads = [[0.5, -1.0], [0.2, 0.3], [-0.4, 2.0], [0.1, -0.1]];
    // AdamW: p ← p − lr·(m̂/(√ŝ+ε) + wd·p)
    let mut opt = adamw(lr, b1, b2, eps, wd);
    let mut x = vec64(&[1.0, -2.0]);
    let (mut m, mut s, mut p) = ([0.0; 2], [0.0; 2], [1.0, -2.0]);
    // AMSGrad: the denominator uses max_t ŝ... in PyTorch's form max of raw s, then /(1−β₂ᵗ)
    let mut ams = amsgrad(lr, b1, b2, eps);
    let mut y = vec64(&[1.0, -2.0]);
    let (mut am, mut as_, mut amax, mut q) = ([0.0; 2], [0.0; 2], [0.0f64; 2], [1.0, -2.0]);
    for (t, g) in grads.iter().enumerate() {
        let t = (t + 1) as i32;
        let mut u = vec64(g);
        opt.update(&mut u, &x);
        apply_updates(&mut x, &u);
        let mut w = vec64(g);
        ams.update(&mut w, &y);
        apply_updates(&mut y, &w);
        for i in 0..2 {
            m[i] = b1 * m[i] + (1.0 - b1) * g[i];
            s[i] = b2 * s[i] + (1.0 - b2) * g[i] * g[i];
            let step = (m[i] / (1.0 - b1.powi(t))) / ((s[i] / (1.0 - b2.powi(t))).sqrt() + eps);
            p[i] -= lr * (step + wd * p[i]);
            am[i] = b1 * am[i] + (1.0 - b1) * g[i];
            as_[i] = b2 * as_[i] + (1.0 - b2) * g[i] * g[i];
            amax[i] = amax[i].max(as_[i]);
            q[i] -= lr * (am[i] / (1.0 - b1.powi(t))) / ((amax[i] / (1.0 - b2.powi(t))).sqrt() + eps);
        }
        for i in 0..2 {
            assert!((vals(&x)[i] - p[i]).abs() < 1e-14, "AdamW step {t}");
            assert!((vals(&y)[i] - q[i]).abs() < 1e-14, "AMSGrad step {t}");
        }
    }
}

/// Parameters and gradients big enough that the fused pass is split over two
/// threads (more than `PAR_MIN_ELEMENTS` elements, several arrays, an odd
/// length so that pieces do not align with the SIMD width).
fn big(seed: u64, dtype: DType) -> Vec<Array> {
    let mut rng = Rng::seed(seed);
    [(300, 301), (1, 7), (257, 513)].iter().map(|&(a, b)| rng.normal(&[a, b], 0.0, 1.0, dtype)).collect()
}

#[test]
fn a_fused_step_is_bit_identical_to_update_then_apply() {
    odl_tensor::set_num_threads(2);
    type Maker = fn() -> Chain;
    let makers: Vec<(&str, Maker)> = vec![
        ("sgd", || sgd(0.03)),
        ("momentum", || momentum(0.03, 0.9)),
        ("nesterov", || nesterov(0.03, 0.9)),
        ("adam", || adam(1e-3, 0.9, 0.999, 1e-8)),
        ("amsgrad", || amsgrad(1e-3, 0.9, 0.99, 1e-8)),
        ("adagrad", || adagrad(0.1, 1e-10)),
        ("rmsprop", || rmsprop(0.01, 0.99, 1e-8)),
        ("scheduled", || sgd_scheduled(Cosine { lr: 0.1, total: 5, min_lr: 0.0 })),
        // longer chains take the unfused path: the same numbers by definition
        ("adamw", || adamw(1e-3, 0.9, 0.999, 1e-8, 0.1)),
    ];
    for dtype in [DType::F32, DType::F64] {
        for (name, make) in &makers {
            let (mut fused, mut plain) = (make(), make());
            let (mut pf, mut pp) = (big(1, dtype), big(1, dtype));
            // a copy held elsewhere must not be written (copy-on-write)
            let held = pf.clone();
            for t in 0..4 {
                let g = big(10 + t, dtype);
                fused.step(&mut pf, g.clone());
                let mut u = g;
                plain.update(&mut u, &pp);
                apply_updates(&mut pp, &u);
                for (a, b) in pf.iter().zip(&pp) {
                    let (a, b) = (a.to_vec_f64(), b.to_vec_f64());
                    assert!(
                        a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()),
                        "{name} {dtype}: step {t} differs from update + apply"
                    );
                }
                assert_eq!(fused.learning_rate(), plain.learning_rate(), "{name}: learning rates");
            }
            assert_eq!(fused.state().len(), plain.state().len(), "{name}: state");
            for ((ka, a), (kb, b)) in fused.state().iter().zip(plain.state().iter()) {
                assert_eq!(ka, kb);
                assert_eq!(a.to_vec_f64(), b.to_vec_f64(), "{name}: state {ka}");
            }
            assert_eq!(held[0].to_vec_f64(), big(1, dtype)[0].to_vec_f64(), "{name}: wrote a shared copy");
        }
    }
}

#[test]
fn the_learning_rate_of_a_chain_is_the_one_its_last_update_applied() {
    let mut opt = sgd_scheduled(Step { lr: 1.0, every: 2, gamma: 0.5 });
    let mut x = vec64(&[1.0]);
    let mut seen = Vec::new();
    for _ in 0..5 {
        opt.step(&mut x, vec64(&[1.0]));
        seen.push(opt.learning_rate().unwrap());
    }
    assert_eq!(seen, vec![1.0, 1.0, 0.5, 0.5, 0.25]);
    assert_eq!(momentum(0.1, 0.9).learning_rate(), Some(0.1));
}
