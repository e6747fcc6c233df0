//! L13 · The original GAN's theory (Goodfellow et al. 2014) on 1-D
//! Gaussians: the trained discriminator is D* = p_d/(p_d + p_g), the value
//! at D* is −log 4 + 2·JSD, and the minimax generator loss saturates when D
//! is confident while the non-saturating one does not.

use odl_autodiff::{grad, Tensor};
use odl_gan::fdiv::{normal_pdf, quadratic_critic};
use odl_gan::game::gauss_hermite;
use odl_gan::FDivergence;
use odl_tensor::{Array, DType};

use super::prelude::*;
use crate::fit::{adam_ascent, newton_max};

/// The experiment.
pub static EXPERIMENT: Experiment = Experiment {
    id: "gan-theory",
    lecture: "L13",
    title: "GAN theory in 1-D: D* = p_d/(p_d+p_g), the value −log 4 + 2·JSD, and the saturating minimax generator loss",
    source: "I. Goodfellow et al., \"Generative adversarial nets\", NeurIPS 2014 (Proposition 1, Theorem 1, and the non-saturating loss of §3)",
    setup: "Data p_d = N(0, 1), generator p_g = N(`theta`, `sigma_g`²). The discriminator is D = σ(V) with V(x) = a + bx + cx² \
            (log p_d/p_g is quadratic, so D* is in the family), trained to maximize E_d[log D] + E_g[log(1 − D)] by Adam \
            (`steps` steps, step size `lr`) and then to the exact maximum by Newton's method; expectations by 60-point \
            Gauss–Hermite quadrature, JSD by Simpson's rule. Saturation: for each separation δ of `separations`, p_g = N(δ, 1), \
            D = D* (closed form), and the generator gradient ∂/∂θ at θ = δ (samples θ + z) of the minimax loss \
            E log(1 − D) and of the non-saturating loss −E log D, against δ·E[D] and δ·E[1 − D] (their exact values at D*).",
    params: |_| {
        vec![
            float("theta", 1.5, -5.0, 5.0, "generator mean"),
            float("sigma_g", 1.3, 0.7, 1.4, "generator standard deviation (the quadrature wants it near 1)"),
            float("lr", 0.05, 1e-6, 1.0, "Adam's step size"),
            int("steps", 150, 10, 1_000_000, "Adam steps of the discriminator"),
            floats("separations", &[0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], 0.01, 12.0, "generator means δ for the saturation curve").distinct(2),
        ]
    },
    run,
};

/// `E_d[log D] + E_g[log(1 − D)]` for `D = σ(V)` on quadrature nodes.
struct Value {
    xd: Tensor,
    xg: Tensor,
    w: Tensor,
}

impl Value {
    fn new(theta: f64, sigma_g: f64) -> Value {
        let (z, w) = gauss_hermite(60);
        let t = |v: Vec<f64>| Tensor::from_f64(&v, &[v.len()], DType::F64);
        Value { xd: t(z.clone()), xg: t(z.iter().map(|z| theta + sigma_g * z).collect()), w: t(w) }
    }

    fn of(&self, w: &Tensor) -> Tensor {
        -(-quadratic_critic(w, &self.xd)).softplus().dot(&self.w)
            - quadratic_critic(w, &self.xg).softplus().dot(&self.w)
    }

    fn train(&self, lr: f64, steps: usize, trace: &mut Vec<f64>) -> Vec<f64> {
        let (values, w) = adam_ascent(&|w| self.of(w), &[0.0, 0.0, 0.0], lr, steps);
        trace.extend(values);
        newton_max(&|w| self.of(w), w, 50)
    }
}

fn sigmoid(v: f64) -> f64 {
    1.0 / (1.0 + (-v).exp())
}

fn run(r: &Run) -> Result<Outcome> {
    let p = r.params;
    let (theta, sg, lr, steps, seps) =
        (p.float("theta"), p.float("sigma_g"), p.float("lr"), p.usize("steps"), p.floats("separations"));
    let mut out = Outcome::default();

    // 1. the optimal discriminator and the value at it
    let val = Value::new(theta, sg);
    let mut trace = Vec::new();
    let w = val.train(lr, steps, &mut trace);
    let value = val.of(&Tensor::from_f64(&w, &[3], DType::F64)).item();
    let pd = |x: f64| normal_pdf(x, 0.0, 1.0);
    let pg = |x: f64| normal_pdf(x, theta, sg);
    let predicted = FDivergence::Gan.integrate(pd, pg, -20.0, 20.0, 40_000);
    let jsd = FDivergence::JensenShannon.integrate(pd, pg, -20.0, 20.0, 40_000) / 2.0;
    let xs: Vec<f64> =
        (0..=240).map(|i| -5.0 + theta.min(0.0) + (10.0 + theta.abs()) * i as f64 / 240.0).collect();
    let d_hat: Vec<f64> = xs.iter().map(|&x| sigmoid(w[0] + w[1] * x + w[2] * x * x)).collect();
    let d_star: Vec<f64> = xs.iter().map(|&x| pd(x) / (pd(x) + pg(x))).collect();
    let d_err = d_hat.iter().zip(&d_star).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    out.metric("discriminator_max_error", d_err);
    out.metric("value_at_trained_d", value);
    out.metric("minus_log4_plus_2jsd", predicted);
    out.metric("jsd", jsd);
    out.figure(
        "discriminator",
        LinePlot::new(format!("The trained discriminator, p_d = N(0, 1), p_g = N({theta}, {sg}²)"), "x", "D(x), densities").with(vec![
            Series::line("trained D", xs.clone(), d_hat),
            Series::dashed("D* = p_d/(p_d + p_g)", xs.clone(), d_star),
            Series::line("p_d", xs.clone(), xs.iter().map(|&x| pd(x)).collect()),
            Series::line("p_g", xs.clone(), xs.iter().map(|&x| pg(x)).collect()),
        ]),
    )
    .caption("The trained discriminator (solid) lies on D* (dashed): ½ where the densities cross, towards 1 where data dominates and 0 where generated samples do.");
    let ks: Vec<f64> = (0..trace.len()).map(|k| k as f64).collect();
    out.figure(
        "value",
        LinePlot::new("The discriminator's objective while it trains", "Adam step", "E_d[log D] + E_g[log(1 − D)]").with(vec![
            Series::line("objective", ks.clone(), trace.clone()),
            Series::dashed("−log 4 + 2·JSD(p_d, p_g)", vec![0.0, ks[ks.len() - 1]], vec![predicted, predicted]),
        ]),
    )
    .caption("From −2 log 2 at D = ½ the objective rises to −log 4 + 2·JSD, Goodfellow et al.'s value of the game at the optimal discriminator.");

    // 2. saturation of the minimax generator loss
    let (z, wz) = gauss_hermite(60);
    let wz_t = Tensor::from_f64(&wz, &[wz.len()], DType::F64);
    let z_t = Tensor::from_f64(&z, &[z.len()], DType::F64);
    let (mut g_mm, mut g_ns, mut p_mm, mut p_ns) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut worst = 0.0f64;
    for (i, &d) in seps.iter().enumerate() {
        r.progress(0.5 + 0.5 * i as f64 / seps.len() as f64, &format!("δ = {d}"));
        // the optimal discriminator in closed form: log p_d/p_g = −δx + δ²/2
        // (with well-separated densities the quadrature's maximizer drifts
        // from it where neither density has mass)
        let wd = [d * d / 2.0, -d, 0.0];
        let wd_t = Tensor::from_f64(&wd, &[3], DType::F64);
        let th = Tensor::param(Array::from_vec(vec![d], &[1]));
        let fake = &z_t + &th;
        let v = quadratic_critic(&wd_t, &fake);
        // log(1 − σ(v)) = −softplus(v); −log σ(v) = softplus(−v)
        let mm = grad(&(-v.softplus()).dot(&wz_t), &[&th]).remove(0).item().abs();
        let ns = grad(&(-&v).softplus().dot(&wz_t), &[&th]).remove(0).item().abs();
        let dz: Vec<f64> =
            z.iter().map(|zi| sigmoid(wd[0] + wd[1] * (d + zi) + wd[2] * (d + zi) * (d + zi))).collect();
        let e_d: f64 = dz.iter().zip(&wz).map(|(a, b)| a * b).sum();
        let (pm, pn) = (d * e_d, d * (1.0 - e_d));
        worst = worst.max((mm / pm - 1.0).abs()).max((ns / pn - 1.0).abs());
        g_mm.push(mm);
        g_ns.push(ns);
        p_mm.push(pm);
        p_ns.push(pn);
    }
    let last = seps.len() - 1;
    out.metric("separations", seps.clone());
    out.metric("grad_minimax", g_mm.clone());
    out.metric("grad_non_saturating", g_ns.clone());
    out.figure(
        "saturation",
        LinePlot::new("Generator gradient when the discriminator is optimal", "separation δ of p_g = N(δ, 1) from p_d = N(0, 1)", "|∂ loss / ∂θ|")
            .log_y()
            .with(vec![
                Series::line_points("minimax E log(1 − D)", seps.clone(), g_mm.clone()),
                Series::line_points("non-saturating −E log D", seps.clone(), g_ns.clone()),
                Series::rings("δ·E[D*], δ·E[1 − D*] (theory)", seps.iter().chain(&seps).copied().collect(), p_mm.iter().chain(&p_ns).copied().collect()),
            ]),
    )
    .caption("As the generator's samples move away from the data, the optimal discriminator becomes confident and the minimax loss's gradient δ·E[D] vanishes (about like Φ(−δ/2)), while the non-saturating loss's δ·E[1 − D] grows with δ — why GANs are trained with the latter.");

    out.claim(Claim::less(
        "optimal_discriminator",
        "For a fixed generator the optimal discriminator is D* = p_d/(p_d + p_g) (Proposition 1)",
        "max |D − D*| over x",
        d_err,
        1e-6,
    ));
    out.claim(Claim::check(
        "value_is_jsd",
        "At D* the game's value is −log 4 + 2·JSD(p_d ‖ p_g) (Theorem 1)",
        Check::that(
            format!("value at the trained D = −log 4 + 2·JSD = {} (±1e-9)", g3(predicted)),
            format!("value = {}, JSD = {}", g3(value), g3(jsd)),
            (value - predicted).abs() < 1e-9,
        ),
    ));
    out.claim(Claim::all(
        "minimax_saturates",
        "When D is confident the minimax generator loss gives no gradient, the non-saturating loss does",
        vec![
            Check::less(
                &format!("minimax/non-saturating gradient at δ = {}", seps[last]),
                g_mm[last] / g_ns[last],
                1e-3,
            ),
            Check::greater(&format!("non-saturating gradient at δ = {}", seps[last]), g_ns[last], 1.0),
            Check::less(
                "worst relative error of the autodiff gradients against δ·E[D*], δ·E[1 − D*]",
                worst,
                1e-9,
            ),
        ],
    ));
    Ok(out)
}
