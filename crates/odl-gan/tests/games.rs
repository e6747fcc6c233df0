//! The game field, its Jacobian products and the dynamics against closed
//! forms and finite differences (f64).

use odl_autodiff::Tensor;
use odl_gan::dynamics::unrolled_grad;
use odl_gan::field::{field_and_jt_vec, j_vec};
use odl_gan::game::DiracLoss;
use odl_gan::{diagnostics, field, jacobian, Bilinear, DiracGan, Game, Method, MinMax, Solver};

fn lcg(seed: u64, n: usize) -> Vec<f64> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect()
}

/// A nonlinear two-player game: f(x, y) = Σ tanh(x)·sin(y) + ¼‖x‖⁴ − ‖y‖²·x₀, plus a penalty on y.
fn nonlinear() -> MinMax {
    MinMax::new([3, 3], |x, y| {
        x.tanh().dot(&y.sin()) + x.square().sum_all().square() * 0.25
            - y.square().sum_all() * x.slice(0, 0, 1, 1).sum_all()
    })
    .with_penalty(|_, y| y.powf(4.0).sum_all() * 0.1)
}

fn fd_jv(g: &dyn Game, z: &[Vec<f64>], v: &[Vec<f64>]) -> Vec<f64> {
    let h = 1e-6;
    let shift = |s: f64| -> Vec<Vec<f64>> {
        z.iter().zip(v).map(|(a, b)| a.iter().zip(b).map(|(x, y)| x + s * y).collect()).collect()
    };
    let (p, m) = (field(g, &shift(h)), field(g, &shift(-h)));
    p.iter().flatten().zip(m.iter().flatten()).map(|(a, b)| (a - b) / (2.0 * h)).collect()
}

#[test]
fn bilinear_field_and_jacobian_are_the_rotation_a() {
    let a = lcg(1, 6);
    let g = Bilinear::new(a.clone(), 2, 3);
    let z = vec![lcg(2, 2), lcg(3, 3)];
    let xi = field(&g, &z);
    for i in 0..2 {
        let ay: f64 = (0..3).map(|j| a[i * 3 + j] * z[1][j]).sum();
        assert!((xi[0][i] - ay).abs() < 1e-14);
    }
    for j in 0..3 {
        let atx: f64 = (0..2).map(|i| a[i * 3 + j] * z[0][i]).sum();
        assert!((xi[1][j] + atx).abs() < 1e-14);
    }
    let (d, jm) = jacobian(&g, &z);
    assert_eq!(d, 5);
    for r in 0..5 {
        for c in 0..5 {
            let want = match (r < 2, c < 2) {
                (true, false) => a[r * 3 + (c - 2)],
                (false, true) => -a[c * 3 + (r - 2)],
                _ => 0.0,
            };
            assert!((jm[r * 5 + c] - want).abs() < 1e-14, "J[{r}][{c}]");
        }
    }
    // purely antisymmetric: no potential part
    let dg = diagnostics(&g, &z);
    assert!(dg.symmetric_norm < 1e-14 && dg.antisymmetric_norm > 0.5);
    // eigenvalues ±iσ(A) and a 0 (A is 2×3)
    assert!(dg.eigenvalues.iter().all(|e| e.0.abs() < 1e-12));
}

#[test]
fn jacobian_products_match_finite_differences_of_the_field() {
    let g = nonlinear();
    let z = vec![lcg(4, 3), lcg(5, 3)];
    let v = vec![lcg(6, 3), lcg(7, 3)];
    let jv: Vec<f64> = j_vec(&g, &z, &v).concat();
    let fd = fd_jv(&g, &z, &v);
    for (a, b) in jv.iter().zip(&fd) {
        assert!((a - b).abs() < 1e-7 * (1.0 + b.abs()), "Jv {a} vs finite differences {b}");
    }
    // Jᵀv against the dense Jacobian, and the dense Jacobian's rows against Jeₖ
    let (d, jm) = jacobian(&g, &z);
    let (_, jt) = field_and_jt_vec(&g, &z, &v);
    let vf = v.concat();
    let jt = jt.concat();
    for c in 0..d {
        let want: f64 = (0..d).map(|r| jm[r * d + c] * vf[r]).sum();
        assert!((jt[c] - want).abs() < 1e-12 * (1.0 + want.abs()));
        let want_jv: f64 = (0..d).map(|k| jm[c * d + k] * vf[k]).sum();
        assert!((jv[c] - want_jv).abs() < 1e-12 * (1.0 + want_jv.abs()));
    }
    // a non-zero-sum game has a potential part and a rotation
    let dg = diagnostics(&g, &z);
    assert!(dg.symmetric_norm > 0.1 && dg.antisymmetric_norm > 0.1);
}

#[test]
fn dirac_gan_eigenvalues_are_mescheders_closed_forms() {
    let origin = vec![vec![0.0], vec![0.0]];
    let eig = |g: &DiracGan| diagnostics(g, &origin).eigenvalues;
    let close = |a: (f64, f64), b: (f64, f64)| (a.0 - b.0).abs() < 1e-10 && (a.1 - b.1).abs() < 1e-10;
    // J = −v' for Mescheder's update field v: unregularized GAN, eigenvalues ±i f'(0) = ±i/2
    let e = eig(&DiracGan::new(DiracLoss::Gan));
    assert!(close(e[0], (0.0, -0.5)) && close(e[1], (0.0, 0.5)), "{e:?}");
    let e = eig(&DiracGan::new(DiracLoss::Wgan));
    assert!(close(e[0], (0.0, -1.0)) && close(e[1], (0.0, 1.0)), "{e:?}");
    // R1 with γ = 0.3: J's eigenvalues γ/2 ± i√(f'² − γ²/4)
    let g = DiracGan { r1: 0.3, ..DiracGan::new(DiracLoss::Gan) };
    let e = eig(&g);
    let im = (0.25f64 - 0.0225).sqrt();
    assert!(close(e[0], (0.15, -im)) && close(e[1], (0.15, im)), "{e:?}");
    // instance noise σ = 0.7: −σ²f''(0) ± i√(f'² − σ⁴f''²) (quadrature is exact here)
    let g = DiracGan { noise: 0.7, ..DiracGan::new(DiracLoss::Gan) };
    let e = eig(&g);
    let re: f64 = 0.49 * 0.25;
    let im = (0.25 - re * re).sqrt();
    assert!(close(e[0], (re, -im)) && close(e[1], (re, im)), "{e:?}");
    // the equilibrium is a fixed point of every variant
    assert_eq!(diagnostics(&g, &origin).field_sq_norm, 0.0);
}

fn norm(z: &[Vec<f64>]) -> f64 {
    z.iter().flatten().map(|a| a * a).sum::<f64>().sqrt()
}

#[test]
fn bilinear_rates_of_gda_extragradient_and_alternating_are_the_predicted_ones() {
    // f = σ x·y: every method is linear, the norm's per-step factor exact
    let (s, eta, k) = (2.0, 0.1, 200);
    let g = Bilinear::new(vec![s], 1, 1);
    let run = |m: Method| {
        let mut solver = Solver::new(m, eta);
        let mut z = vec![vec![1.0], vec![0.5]];
        let mut max = 0.0f64;
        let r0 = norm(&z);
        for _ in 0..k {
            solver.step(&g, &mut z);
            max = max.max(norm(&z) / r0);
        }
        (norm(&z) / r0, max)
    };
    let es: f64 = eta * s;
    let (sim, _) = run(Method::Simultaneous);
    assert!(
        (sim.ln() / k as f64 - (1.0 + es * es).sqrt().ln()).abs() < 1e-12,
        "GDA spirals out at √(1+η²σ²)"
    );
    let (eg, _) = run(Method::Extragradient);
    let pred = (1.0 - es * es + es.powi(4)).sqrt();
    assert!((eg.ln() / k as f64 - pred.ln()).abs() < 1e-12, "extragradient contracts at √(1−η²σ²+η⁴σ⁴)");
    let (_, alt_max) = run(Method::Alternating);
    assert!(alt_max < 1.5, "alternating GDA stays bounded: max ‖z‖/‖z₀‖ = {alt_max}");
    let (og, _) = run(Method::Optimistic);
    assert!(og < 0.5, "optimistic GDA converges: {og}");
    // consensus and SGA coincide on a purely rotational game: factor √((1−ηγσ²)² + η²σ²)
    let (c, _) = run(Method::Consensus { gamma: 0.5 });
    let (sga, _) = run(Method::Sga { lambda: 0.5 });
    let pred = ((1.0 - eta * 0.5 * s * s).powi(2) + es * es).sqrt();
    assert!((c.ln() / k as f64 - pred.ln()).abs() < 1e-12 && (c - sga).abs() < 1e-12 * c.max(1e-300));
}

#[test]
fn sga_is_gradient_descent_on_a_potential_game() {
    // ℓ₁ = ℓ₂ = φ(x, y): J is the Hessian of φ, symmetric, so Aᵀξ = 0
    let phi = |x: &Tensor, y: &Tensor| x.square().sum_all() + (x * y).sum_all().sin() + y.powf(4.0).sum_all();
    struct Potential<F>(F);
    impl<F: Fn(&Tensor, &Tensor) -> Tensor + Sync> Game for Potential<F> {
        fn sizes(&self) -> Vec<usize> {
            vec![2, 2]
        }
        fn losses(&self, p: &[Tensor]) -> Vec<Tensor> {
            vec![(self.0)(&p[0], &p[1]), (self.0)(&p[0], &p[1])]
        }
    }
    let g = Potential(phi);
    let (mut a, mut b) = (vec![lcg(8, 2), lcg(9, 2)], vec![lcg(8, 2), lcg(9, 2)]);
    let (mut gd, mut sga) =
        (Solver::new(Method::Simultaneous, 0.05), Solver::new(Method::Sga { lambda: 1.0 }, 0.05));
    for _ in 0..20 {
        gd.step(&g, &mut a);
        sga.step(&g, &mut b);
    }
    for (p, q) in a.iter().flatten().zip(b.iter().flatten()) {
        assert!((p - q).abs() < 1e-12);
    }
    assert!(diagnostics(&g, &a).antisymmetric_norm < 1e-12);
}

#[test]
fn unrolled_gradient_differentiates_through_the_inner_steps() {
    let g = nonlinear();
    let z = vec![lcg(10, 3), lcg(11, 3)];
    // k = 0 is the plain gradient
    let g0 = unrolled_grad(&g, &z, 0, 0.1);
    assert_eq!(g0, field(&g, &z)[0]);
    // k = 2: against central differences of x ↦ ℓ₁(x, y₂(x))
    let value = |x: &[f64]| {
        let mut y = z[1].clone();
        for _ in 0..2 {
            let xi = field(&g, &[x.to_vec(), y.clone()]);
            for (a, b) in y.iter_mut().zip(&xi[1]) {
                *a -= 0.1 * b;
            }
        }
        let p = [
            Tensor::from_f64(x, &[3], odl_tensor::DType::F64),
            Tensor::from_f64(&y, &[3], odl_tensor::DType::F64),
        ];
        g.losses(&p)[0].item()
    };
    let g2 = unrolled_grad(&g, &z, 2, 0.1);
    for i in 0..3 {
        let (mut p, mut m) = (z[0].clone(), z[0].clone());
        p[i] += 1e-6;
        m[i] -= 1e-6;
        let fd = (value(&p) - value(&m)) / 2e-6;
        assert!((g2[i] - fd).abs() < 1e-6 * (1.0 + fd.abs()), "∂/∂x{i}: {} vs {fd}", g2[i]);
        assert!((g2[i] - g0[i]).abs() > 1e-4, "the look-ahead changes the gradient");
    }
}

#[test]
fn near_the_dirac_gan_equilibrium_gda_diverges_and_regularized_dynamics_converge() {
    let start = || vec![vec![0.05], vec![0.05]];
    let run = |g: &DiracGan, m: Method, k: usize| {
        let mut s = Solver::new(m, 0.2);
        let mut z = start();
        for _ in 0..k {
            s.step(g, &mut z);
        }
        norm(&z) / norm(&start())
    };
    let gan = DiracGan::new(DiracLoss::Gan);
    assert!(run(&gan, Method::Simultaneous, 2000) > 1.5);
    let alt = run(&gan, Method::Alternating, 2000);
    assert!(alt > 0.5 && alt < 2.0, "alternating GDA circles: {alt}");
    assert!(run(&DiracGan { r1: 0.5, ..gan.clone() }, Method::Simultaneous, 2000) < 1e-3);
    assert!(run(&gan, Method::Consensus { gamma: 2.0 }, 2000) < 1e-3);
    assert!(run(&gan, Method::Extragradient, 4000) < 0.5);
}

#[test]
fn a_gda_run_that_diverges_past_the_squares_overflow_is_still_measured_at_its_rate() {
    // 1-d bilinear game f = a·x·y: simultaneous GDA multiplies the distance
    // by √(1 + η²a²) per step. With η·a = 2 that is √5: the squared distance
    // overflows f64 after ~440 steps and the point itself after ~880.
    let g = Bilinear::new(vec![2.0], 1, 1);
    let t = odl_gan::trajectory(
        &g,
        &mut Solver::new(Method::Simultaneous, 1.0),
        vec![vec![1.0], vec![0.5]],
        2000,
        &[vec![0.0], vec![0.0]],
    );
    let rho = 5f64.sqrt();
    // the distances stay finite beyond the point where their squares overflow
    let finite = t.distance.iter().filter(|d| d.is_finite()).count();
    assert!(finite > 800, "only {finite} finite distances");
    assert!((t.distance[600] / t.distance[500] - rho.powi(100)).abs() < 1e-9 * rho.powi(100));
    // the run stopped where the point overflowed; its rate is the finite part's
    assert!(t.distance.len() < 2001 && !t.distance.last().unwrap().is_finite());
    assert!((t.rate(300) - rho).abs() < 1e-12, "rate {}", t.rate(300));
}
