//! L13 · The Dirac-GAN (Mescheder, Geiger & Nowozin 2018): unregularized GAN
//! training does not converge even here; R1, instance noise and consensus
//! optimization make the equilibrium attractive — with the Jacobian
//! eigenvalues and rates the paper derives.

use odl_gan::field::eigenvalues;
use odl_gan::game::DiracLoss;
use odl_gan::{diagnostics, trajectory, DiracGan, Method, Solver};

use super::prelude::*;

/// The experiment.
pub static EXPERIMENT: Experiment = Experiment {
    id: "dirac-gan",
    lecture: "L13",
    title: "Dirac-GAN: unregularized GAN training circles or spirals out; R1, instance noise and consensus converge",
    source: "L. Mescheder, A. Geiger, S. Nowozin, \"Which training methods for GANs do actually converge?\", ICML 2018; \
             L. Mescheder, S. Nowozin, A. Geiger, \"The numerics of GANs\", NeurIPS 2017",
    setup: "Real data δ₀, generator δ_θ, discriminator D_ψ(x) = ψx, value L(θ, ψ) = f(ψθ) + f(0) with f(t) = −log(1+e^{−t}) (GAN, \
            f'(0) = ½, f''(0) = −¼) or f(t) = t (WGAN); the only equilibrium is (0, 0). Variants: R1 (γ/2·ψ² added to the \
            discriminator's loss, weight `r1`), instance noise N(0, σ²) on real and fake samples (σ = `noise`, its expectation by \
            16-point Gauss–Hermite quadrature), consensus optimization (weight `consensus`). odl's autodiff gives the Jacobian J of \
            the game field at (0, 0); Mescheder et al.'s closed form is J = [[0, f'(0)], [−f'(0), d]] with d = γ (R1) or \
            −2σ²f''(0) (noise), and J + γJᵀJ for consensus. Each variant runs `steps` steps of size `lr` from distance `r0`; the \
            predicted rate is the spectral radius of the linearized update (I − ηJ for simultaneous steps, the product of the \
            two players' maps for alternating ones); the measured rate is (d_K/d_{K−w})^{1/w} over the last third of the run — of the steps before the distance falls \
            below 10⁻⁹ of the start, for a converging variant (below that the field's rounding, ~10⁻¹⁷ in a difference of O(1) \
            terms, is no longer small against it).",
    params: |s| {
        vec![
            float("lr", 0.1, 1e-6, 10.0, "step size η of both players"),
            int("steps", s.pick(1000, 2000, 4000), 30, 10_000_000, "steps per variant"),
            float("r0", 0.01, 1e-6, 10.0, "starting distance from the equilibrium (small: the linear regime)"),
            float("r1", 0.3, 1e-6, 100.0, "R1 weight γ"),
            float("noise", 0.7, 1e-6, 100.0, "instance noise σ"),
            float("consensus", 1.0, 1e-6, 100.0, "consensus optimization weight γ"),
        ]
    },
    run,
};

/// Converging runs are measured down to this fraction of their starting
/// distance (see [`odl_gan::Trajectory::rate_above`]).
const RATE_FLOOR: f64 = 1e-9;

/// A 2 × 2 real matrix `[[a, b], [c, d]]`.
type M2 = [f64; 4];

fn mul(p: M2, q: M2) -> M2 {
    [
        p[0] * q[0] + p[1] * q[2],
        p[0] * q[1] + p[1] * q[3],
        p[2] * q[0] + p[3] * q[2],
        p[2] * q[1] + p[3] * q[3],
    ]
}

fn radius(m: M2) -> f64 {
    eigenvalues(&m, 2).iter().map(|e| e.0.hypot(e.1)).fold(0.0, f64::max)
}

/// The spectral radius of the linearized update of `J` with step `eta`.
fn predicted_rate(j: M2, eta: f64, alternating: bool) -> f64 {
    if alternating {
        // the generator moves first, the discriminator sees its new θ
        let g = [1.0 - eta * j[0], -eta * j[1], 0.0, 1.0];
        let d = [1.0, 0.0, -eta * j[2], 1.0 - eta * j[3]];
        radius(mul(d, g))
    } else {
        radius([1.0 - eta * j[0], -eta * j[1], -eta * j[2], 1.0 - eta * j[3]])
    }
}

/// `J + γJᵀJ`.
fn consensus_jacobian(j: M2, gamma: f64) -> M2 {
    let jtj = mul([j[0], j[2], j[1], j[3]], j);
    [j[0] + gamma * jtj[0], j[1] + gamma * jtj[1], j[2] + gamma * jtj[2], j[3] + gamma * jtj[3]]
}

struct Variant {
    name: &'static str,
    key: &'static str,
    game: DiracGan,
    method: Method,
    /// Mescheder et al.'s Jacobian of the field at (0, 0) for this variant's update
    closed_form: M2,
}

fn run(r: &Run) -> Result<Outcome> {
    let p = r.params;
    let (eta, steps, r0) = (p.float("lr"), p.usize("steps"), p.float("r0"));
    let (g1, sigma, gc) = (p.float("r1"), p.float("noise"), p.float("consensus"));
    let gan = DiracGan::new(DiracLoss::Gan);
    let wgan = DiracGan::new(DiracLoss::Wgan);
    let (f1, f2) = (gan.f1(), gan.f2());
    let plain = [0.0, f1, -f1, 0.0];
    let variants = [
        Variant {
            name: "GAN, simultaneous",
            key: "gan_simultaneous",
            game: gan.clone(),
            method: Method::Simultaneous,
            closed_form: plain,
        },
        Variant {
            name: "GAN, alternating",
            key: "gan_alternating",
            game: gan.clone(),
            method: Method::Alternating,
            closed_form: plain,
        },
        Variant {
            name: "WGAN, simultaneous",
            key: "wgan_simultaneous",
            game: wgan.clone(),
            method: Method::Simultaneous,
            closed_form: [0.0, 1.0, -1.0, 0.0],
        },
        Variant {
            name: "instance noise",
            key: "noise",
            game: DiracGan { noise: sigma, ..gan.clone() },
            method: Method::Simultaneous,
            closed_form: [0.0, f1, -f1, -2.0 * sigma * sigma * f2],
        },
        Variant {
            name: "R1",
            key: "r1",
            game: DiracGan { r1: g1, ..gan.clone() },
            method: Method::Simultaneous,
            closed_form: [0.0, f1, -f1, g1],
        },
        Variant {
            name: "consensus",
            key: "consensus",
            game: gan.clone(),
            method: Method::Consensus { gamma: gc },
            closed_form: consensus_jacobian(plain, gc),
        },
    ];
    let origin = vec![vec![0.0], vec![0.0]];
    let mut out = Outcome::default();
    let (mut eig_err, mut curves, mut eig_pts, mut rows) = (0.0f64, Vec::new(), Vec::new(), Vec::new());
    let (mut closed_re, mut closed_im) = (Vec::new(), Vec::new());
    let (mut meas, mut pred) = (Vec::new(), Vec::new());
    for (i, v) in variants.iter().enumerate() {
        r.progress(i as f64 / variants.len() as f64, v.name);
        // the Jacobian by autodiff (consensus: J + γJᵀJ of the autodiff J)
        let dg = diagnostics(&v.game, &origin);
        let jm: M2 = [dg.jacobian[0], dg.jacobian[1], dg.jacobian[2], dg.jacobian[3]];
        let jm = if let Method::Consensus { gamma } = v.method { consensus_jacobian(jm, gamma) } else { jm };
        let (em, ec) = (eigenvalues(&jm, 2), eigenvalues(&v.closed_form, 2));
        for (a, b) in em.iter().zip(&ec) {
            eig_err = eig_err.max((a.0 - b.0).abs()).max((a.1 - b.1).abs());
        }
        // Mescheder et al. plot the eigenvalues of the update field v = −ξ:
        // −J's (the alternating variant shares the simultaneous one's game)
        if v.method != Method::Alternating {
            let name = v.name.trim_end_matches(", simultaneous");
            eig_pts.push(Series::points(
                name,
                em.iter().map(|e| -e.0).collect(),
                em.iter().map(|e| -e.1).collect(),
            ));
            closed_re.extend(ec.iter().map(|e| -e.0));
            closed_im.extend(ec.iter().map(|e| -e.1));
        }
        let alternating = v.method == Method::Alternating;
        let rp = predicted_rate(v.closed_form, eta, alternating);
        let z0 = vec![vec![r0 / 2f64.sqrt()], vec![r0 / 2f64.sqrt()]];
        let t = trajectory(&v.game, &mut Solver::new(v.method, eta), z0, steps, &origin);
        let rm = t.rate_above(RATE_FLOOR);
        let ks: Vec<f64> = (0..t.distance.len()).step_by(5).map(|k| k as f64).collect();
        curves.push(Series::line(
            v.name,
            ks.clone(),
            ks.iter().map(|&k| t.distance[k as usize] / r0).collect(),
        ));
        out.metric(&format!("rate_{}", v.key), rm);
        out.metric(&format!("predicted_rate_{}", v.key), rp);
        out.metric(
            &format!("eigenvalues_{}", v.key),
            em.iter().flat_map(|e| [e.0, e.1]).collect::<Vec<f64>>(),
        );
        rows.push(vec![
            v.name.to_string(),
            format!("{rp}"),
            format!("{rm}"),
            format!("{}", em[1].0),
            format!("{}", em[1].1),
        ]);
        meas.push(rm);
        pred.push(rp);
    }
    r.csv(
        "variants.csv",
        &["variant", "predicted_rate", "measured_rate", "jacobian_eig_re", "jacobian_eig_im"],
        &rows,
    )?;
    out.metric("jacobian_eigenvalue_error", eig_err);
    eig_pts.push(Series::rings("closed form (Mescheder et al.)", closed_re, closed_im));
    out.figure(
        "eigenvalues",
        LinePlot::new("Eigenvalues of the update field's Jacobian at the equilibrium", "Re λ", "Im λ").with(eig_pts),
    )
    .caption("Unregularized GAN and WGAN sit on the imaginary axis (±i/2, ±i): pure rotation, no pull towards the equilibrium. R1, instance noise and consensus move them into the left half-plane. The dots (odl's autodiff Jacobians) sit inside the rings (Mescheder et al.'s closed forms).");
    out.figure(
        "distance",
        LinePlot::new(format!("Distance to the equilibrium from r₀ = {r0}, η = {eta}"), "step k", "‖(θ, ψ)‖ / r₀").log_y().with(curves),
    )
    .caption("Simultaneous steps on the unregularized GAN and WGAN spiral out, alternating steps circle at a constant distance, the three regularized variants converge geometrically.");

    // the picture of the paper's Figure: paths in the (θ, ψ) plane
    let mut paths = Vec::new();
    for v in [&variants[0], &variants[1], &variants[4], &variants[5]] {
        let t =
            trajectory(&v.game, &mut Solver::new(v.method, eta), vec![vec![1.0], vec![1.0]], 600, &origin);
        paths.push(Series::line(
            v.name,
            t.points.iter().map(|z| z[0][0]).collect(),
            t.points.iter().map(|z| z[1][0]).collect(),
        ));
    }
    out.figure("paths", LinePlot::new(format!("Training paths from (1, 1), η = {eta}, 600 steps"), "θ (generator)", "ψ (discriminator)").with(paths))
        .caption("Unregularized simultaneous training circles outwards and alternating training circles around the equilibrium (0, 0); R1 and consensus spiral into it.");

    // log-rates: ln ρ is the exponent the theory predicts (−ln ρ per step is the speed)
    let within = |i: usize, rel: f64| {
        Check::within(&format!("ln rate ({})", variants[i].name), meas[i].ln(), pred[i].ln(), rel)
    };
    out.claim(Claim::less(
        "jacobian_closed_forms",
        "At the equilibrium the game's Jacobian has Mescheder et al.'s eigenvalues: ±if'(0) unregularized, γ/2 ± i√(f'(0)² − γ²/4) with R1, −σ²f''(0) ± … with instance noise",
        "max eigenvalue error of the autodiff Jacobian",
        eig_err,
        1e-9,
    ));
    out.claim(Claim::all(
        "unregularized_does_not_converge",
        "Unregularized GAN training does not converge: simultaneous steps spiral out at √(1 + η²f'(0)²) per step, alternating steps circle",
        vec![
            Check::greater("GAN simultaneous rate", meas[0], 1.0),
            within(0, 0.15),
            Check::greater("WGAN simultaneous rate", meas[2], 1.0),
            within(2, 0.15),
            Check::in_range("GAN alternating rate", meas[1], 1.0 - 2e-4, 1.0 + 2e-4),
        ],
    ));
    out.claim(Claim::all(
        "regularization_converges",
        "R1, instance noise and consensus optimization make the equilibrium locally attractive, at the rates of their linearized updates",
        vec![
            Check::less("instance noise rate", meas[3], 1.0),
            within(3, 0.1),
            Check::less("R1 rate", meas[4], 1.0),
            within(4, 0.1),
            Check::less("consensus rate", meas[5], 1.0),
            within(5, 0.1),
        ],
    ));
    Ok(out)
}
