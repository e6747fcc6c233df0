//! GAN losses, penalties and mixtures against closed forms (f64).

use odl_autodiff::{grad, Tensor};
use odl_gan::mixture::js_to_uniform;
use odl_gan::penalty::{orthogonal, truncated_normal, Ema};
use odl_gan::{FDivergence, Loss, Mixture, Penalty};
use odl_tensor::{Array, DType, Rng};

fn t(v: &[f64]) -> Tensor {
    Tensor::param(Array::from_f64(v, &[v.len(), 1], DType::F64))
}

/// d/dv of a loss at one output `v`.
fn slope(f: impl Fn(&Tensor) -> Tensor, v: f64) -> f64 {
    let x = t(&[v]);
    grad(&f(&x), &[&x])[0].item()
}

#[test]
fn minimax_generator_gradient_vanishes_where_the_non_saturating_one_does_not() {
    // D confident that fakes are fake: logit −10
    let mm = slope(|x| Loss::Minimax.generator(x), -10.0);
    let ns = slope(|x| Loss::NonSaturating.generator(x), -10.0);
    // d/dv −softplus(v) = −σ(v); d/dv softplus(−v) = −σ(−v)
    let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
    assert!((mm + sig(-10.0)).abs() < 1e-15 && mm.abs() < 5e-5, "{mm}");
    assert!((ns + sig(10.0)).abs() < 1e-12 && ns < -0.9999, "{ns}");
    // the minimax generator loss is log(1 − σ(D)), the value function's second term
    let v = 0.7;
    assert!((Loss::Minimax.generator(&t(&[v])).item() - (1.0 - sig(v)).ln()).abs() < 1e-14);
}

/// Minimizes `p·a(v) + q·b(v)` (a discriminator's loss at one point where
/// the real density is p and the generated one q) by golden section on v.
fn argmin(h: impl Fn(f64) -> f64, lo: f64, hi: f64) -> f64 {
    let (mut a, mut b) = (lo, hi);
    let r = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..200 {
        let (c, d) = (b - r * (b - a), a + r * (b - a));
        if h(c) < h(d) {
            b = d;
        } else {
            a = c;
        }
    }
    (a + b) / 2.0
}

#[test]
fn each_discriminator_loss_is_minimized_by_its_known_optimal_output() {
    for (p, q) in [(0.3, 0.7), (0.8, 0.2), (0.5, 0.5)] {
        // the loss at one point with real mass p and fake mass q; the other
        // argument of each term is held where that term's part is ~0
        let pointwise = |loss: Loss, real_ok: f64, fake_ok: f64| {
            move |v: f64| {
                let (r, f) = (t(&[v]), t(&[v]));
                p * loss.discriminator(&r, &t(&[fake_ok])).item()
                    + q * loss.discriminator(&t(&[real_ok]), &f).item()
            }
        };
        // the original GAN: D* = p/(p+q), the logit log(p/q)
        for loss in [Loss::Minimax, Loss::NonSaturating] {
            assert!(loss.is_logit());
            let v = argmin(pointwise(loss, 40.0, -40.0), -20.0, 20.0);
            assert!((v - (p / q).ln()).abs() < 1e-6, "{loss:?}: {v}");
        }
        // least squares (a = 0, b = 1): D* = p/(p+q)
        let v = argmin(pointwise(Loss::LeastSquares, 1.0, 0.0), -5.0, 5.0);
        assert!((v - p / (p + q)).abs() < 1e-6, "LS: {v}");
        // f-GAN: T* = g_f(V*) = f'(p/q)
        for f in FDivergence::ALL {
            let v = argmin(
                |v| {
                    let x = t(&[v]);
                    -p * f.activation(&x).sum_all().item()
                        + q * f.conjugate_of_activation(&x).sum_all().item()
                },
                -30.0,
                30.0,
            );
            let u = p / q;
            let fprime = (f.f(u + 1e-6) - f.f(u - 1e-6)) / 2e-6;
            let tv = f.activation(&t(&[v])).item();
            assert!((tv - fprime).abs() < 1e-5, "{}: g_f(V*) = {tv}, f'(p/q) = {fprime}", f.name());
            // and the loss's discriminator term is the negated bound
            let l = Loss::FGan(f).discriminator(&t(&[v]), &t(&[v])).item();
            assert!((l + tv - f.conjugate_of_activation(&t(&[v])).item()).abs() < 1e-12);
        }
    }
}

#[test]
fn wasserstein_hinge_and_least_squares_values() {
    let (r, f) = (t(&[2.0, -0.5]), t(&[0.25, -3.0]));
    assert_eq!(Loss::Wasserstein.discriminator(&r, &f).item(), (0.25 - 3.0) / 2.0 - (2.0 - 0.5) / 2.0);
    assert_eq!(Loss::Wasserstein.generator(&f).item(), 1.375);
    // hinge: relu(1 − D(x)) averages (0, 1.5), relu(1 + D(x̃)) averages (1.25, 0)
    assert!((Loss::Hinge.discriminator(&r, &f).item() - (0.75 + 0.625)).abs() < 1e-15);
    assert!((Loss::LeastSquares.generator(&f).item() - 0.5 * (0.5625 + 16.0) / 2.0).abs() < 1e-15);
}

/// D(x) = x·w on 3-D inputs: ∇ₓD = w at every x.
fn linear_critic(w: &Tensor) -> impl FnMut(&Tensor) -> Tensor + '_ {
    move |x: &Tensor| x.matmul(&w.reshape(&[3, 1]))
}

#[test]
fn penalties_match_closed_forms_and_differentiate_exactly() {
    let wv = [0.6, -1.2, 2.0];
    let w = Tensor::param(Array::from_f64(&wv, &[3], DType::F64));
    let sq: f64 = wv.iter().map(|v| v * v).sum();
    let mut rng = Rng::seed(3);
    let real = rng.normal(&[5, 3], 0.0, 1.0, DType::F64);
    let fake = rng.normal(&[5, 3], 0.0, 1.0, DType::F64);
    let r1 = Penalty::R1(4.0).value(&mut linear_critic(&w), &real, &fake, &mut rng);
    assert!((r1.item() - 2.0 * sq).abs() < 1e-12, "R1 = γ/2 ‖w‖²: {}", r1.item());
    let r2 = Penalty::R2(4.0).value(&mut linear_critic(&w), &real, &fake, &mut rng);
    assert!((r2.item() - 2.0 * sq).abs() < 1e-12);
    let gp = Penalty::GradientPenalty(10.0).value(&mut linear_critic(&w), &real, &fake, &mut rng);
    assert!((gp.item() - 10.0 * (sq.sqrt() - 1.0).powi(2)).abs() < 1e-9, "GP: {}", gp.item());
    // second order: ∂R1/∂w = γ w, ∂GP/∂w = 2λ(‖w‖ − 1) w/‖w‖
    let g = grad(&r1, &[&w]).remove(0).to_vec_f64();
    for (a, b) in g.iter().zip(wv) {
        assert!((a - 4.0 * b).abs() < 1e-12);
    }
    let g = grad(&gp, &[&w]).remove(0).to_vec_f64();
    for (a, b) in g.iter().zip(wv) {
        let want = 20.0 * (sq.sqrt() - 1.0) * b / sq.sqrt();
        assert!((a - want).abs() < 1e-8, "{a} vs {want}");
    }
    // a quadratic critic D(x) = ½a‖x‖²: R1 = γ/2 · a² · mean ‖x‖²
    let a = 1.5;
    let mut quad = |x: &Tensor| x.square().sum(&[1], true) * (a / 2.0);
    let r1 = Penalty::R1(2.0).value(&mut quad, &real, &fake, &mut rng).item();
    let mean_sq: f64 = real.to_vec_f64().iter().map(|v| v * v).sum::<f64>() / 5.0;
    assert!((r1 - a * a * mean_sq).abs() < 1e-12);
}

#[test]
fn orthogonal_regularization_vanishes_exactly_on_orthogonal_rows() {
    let q = odl_nn::orthogonal(&mut Rng::seed(5), 4, 6, 1.0);
    let w = Tensor::param(Array::from_f64(&q, &[4, 6], DType::F64));
    assert!(orthogonal(&[&w], 1.0).item() < 1e-24);
    // W = [[1, 1], [0, 1]]: W Wᵀ = [[2, 1], [1, 1]], two off-diagonal 1s
    let w = Tensor::param(Array::from_f64(&[1.0, 1.0, 0.0, 1.0], &[2, 2], DType::F64));
    let r = orthogonal(&[&w], 0.5);
    assert!((r.item() - 1.0).abs() < 1e-15);
    // its gradient is β·4(WWᵀ ⊙ (1−I))W = 2·[[0,1],[1,0]]·W
    let g = grad(&r, &[&w]).remove(0).to_vec_f64();
    assert_eq!(g, vec![0.0, 2.0, 2.0, 2.0]);
}

#[test]
fn ema_and_truncation() {
    let theta = Array::from_f64(&[1.0, -2.0], &[2], DType::F64);
    let mut e = Ema::new(0.9, &[Array::from_f64(&[0.0, 0.0], &[2], DType::F64)]);
    for _ in 0..10 {
        e.update(std::slice::from_ref(&theta));
    }
    // θ̄_k = θ + δᵏ(θ̄₀ − θ)
    let k = 0.9f64.powi(10);
    let v = e.values[0].to_vec_f64();
    assert!((v[0] - (1.0 - k)).abs() < 1e-14 && (v[1] - (-2.0 + 2.0 * k)).abs() < 1e-14);
    let z = truncated_normal(&mut Rng::seed(1), &[4000], 0.5, DType::F64).to_vec_f64();
    assert!(z.iter().all(|v| v.abs() <= 0.5));
    // N(0,1) truncated to [−τ, τ] for small τ is nearly uniform: variance ≈ τ²/3 (0.0781 vs 0.0833 exactly:
    // 1 − 2τφ(τ)/(2Φ(τ) − 1) = 0.0789 at τ = 0.5)
    let var = z.iter().map(|v| v * v).sum::<f64>() / z.len() as f64;
    assert!((var - 0.0789).abs() < 0.004, "{var}");
    assert_eq!(z, truncated_normal(&mut Rng::seed(1), &[4000], 0.5, DType::F64).to_vec_f64());
}

#[test]
fn mixture_coverage_of_its_own_samples_and_of_a_collapsed_generator() {
    for m in [Mixture::ring(8, 2.0, 0.02), Mixture::grid(5, 2.0, 0.05)] {
        let k = m.centers.len();
        let x = m.sample(20_000, &mut Rng::seed(2), DType::F64).to_vec_f64();
        let c = m.coverage(&x);
        assert_eq!((c.modes, c.covered), (k, k));
        // P(‖N(0, σ²I₂)‖ ≤ 3σ) = 1 − e^{−9/2}
        let p = 1.0 - (-4.5f64).exp();
        assert!((c.high_quality - p).abs() < 4.0 * (p * (1.0 - p) / 20_000.0).sqrt(), "{}", c.high_quality);
        assert!(c.js_uniform < 2e-3, "{}", c.js_uniform);
        // all samples on one center: one mode, JS in closed form
        let one: Vec<f64> = (0..500).flat_map(|_| m.centers[3]).collect();
        let c = m.coverage(&one);
        assert_eq!(c.covered, 1);
        let kf = k as f64;
        let m1 = (1.0 + 1.0 / kf) / 2.0;
        let js =
            0.5 * (1.0 / m1).ln() + 0.5 * ((1.0 / kf) * (1.0 / kf / m1).ln() + (kf - 1.0) / kf * 2f64.ln());
        assert!((c.js_uniform - js).abs() < 1e-14, "{} vs {js}", c.js_uniform);
    }
    // nothing high quality: JS is log 2, nothing covered; NaN samples are low quality
    let m = Mixture::ring(8, 2.0, 0.02);
    let c = m.coverage(&[0.0, 0.0, f64::NAN, 1.0]);
    assert_eq!((c.covered, c.high_quality), (0, 0.0));
    assert_eq!(js_to_uniform(&c.counts), std::f64::consts::LN_2);
}
