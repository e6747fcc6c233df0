//! Optional topic (min-max optimization) · The bilinear game `xᵀAy`:
//! simultaneous gradient descent–ascent spirals out, alternating GDA
//! circles, extragradient, optimistic GDA, consensus optimization and
//! symplectic gradient adjustment converge — each at the rate its linear
//! map predicts from the singular values of `A`.

use anyhow::bail;
use odl_gan::{trajectory, Bilinear, Method, Solver};
use odl_nn::orthogonal;
use odl_tensor::Rng;

use super::prelude::*;

/// The experiment.
pub static EXPERIMENT: Experiment = Experiment {
    id: "bilinear-games",
    lecture: "optional",
    title: "Bilinear games: GDA spirals out, alternating GDA circles, extragradient, optimism and consensus converge at their predicted rates",
    source: "G. Korpelevich, \"The extragradient method\", 1976; C. Daskalakis et al., \"Training GANs with optimism\", ICLR 2018; \
             G. Gidel et al., \"A variational inequality perspective on GANs\", ICLR 2019; L. Mescheder et al., \"The numerics of GANs\", NeurIPS 2017; \
             D. Balduzzi et al., \"The mechanics of n-player differentiable games\", ICML 2018",
    setup: "min_x max_y xᵀAy with A = U diag(σ) Vᵀ in dimension `dim` (U, V random orthogonal, σ log-spaced in [`sigma_min`, `sigma_max`]); \
            the only equilibrium is 0. Each method runs `steps` steps of size `lr` from a Gaussian start, on odl's game field \
            ξ = (Ay, −Aᵀx) and its exact Jacobian products (consensus and SGA weight `gamma`). Per singular value σ the update is a \
            linear map with spectral radius: simultaneous √(1+η²σ²); alternating 1 (for ησ < 2); extragradient √(1−η²σ²+η⁴σ⁴); \
            optimistic the larger root of λ² − (1−2iησ)λ − iησ; consensus and SGA √((1−ηγσ²)² + η²σ²). The measured rate is \
            (‖z_K‖/‖z_{K−w}‖)^{1/w} over the last third of the run. The Jacobian's eigenvalues, computed by autodiff, are ±iσ.",
    params: |s| {
        vec![
            int("dim", s.pick(3, 6, 12), 1, 200, "dimension of x and y"),
            float("sigma_min", 0.5, 1e-3, 1e3, "smallest singular value of A"),
            float("sigma_max", 2.0, 1e-3, 1e3, "largest singular value of A"),
            float("lr", 0.2, 1e-6, 10.0, "step size η"),
            float("gamma", 0.5, 0.0, 100.0, "weight of consensus optimization and SGA"),
            int("steps", s.pick(1500, 3000, 6000), 30, 10_000_000, "steps per method"),
        ]
    },
    run,
};

/// Complex numbers as `(re, im)`: enough for the roots of a quadratic.
type C = (f64, f64);

fn cmul(a: C, b: C) -> C {
    (a.0 * b.0 - a.1 * b.1, a.0 * b.1 + a.1 * b.0)
}

fn csqrt(a: C) -> C {
    let r = a.0.hypot(a.1);
    let re = ((r + a.0) / 2.0).max(0.0).sqrt();
    let im = ((r - a.0) / 2.0).max(0.0).sqrt();
    (re, if a.1 < 0.0 { -im } else { im })
}

/// The spectral radius of optimistic GDA on one rotation mode `μ = iσ`:
/// the larger root of `λ² − (1 − 2ημ)λ − ημ = 0`.
pub fn optimistic_radius(eta: f64, sigma: f64) -> f64 {
    let b = (1.0, -2.0 * eta * sigma);
    let c = (0.0, eta * sigma);
    let disc = csqrt((cmul(b, b).0 + 4.0 * c.0, cmul(b, b).1 + 4.0 * c.1));
    let r1 = ((b.0 + disc.0) / 2.0).hypot((b.1 + disc.1) / 2.0);
    let r2 = ((b.0 - disc.0) / 2.0).hypot((b.1 - disc.1) / 2.0);
    r1.max(r2)
}

/// The predicted spectral radius of `method` with step `eta` on the
/// singular values `sigmas`.
fn predicted(method: Method, eta: f64, sigmas: &[f64]) -> f64 {
    let per = |s: f64| match method {
        Method::Simultaneous => (1.0 + (eta * s).powi(2)).sqrt(),
        Method::Alternating => {
            if eta * s < 2.0 {
                1.0
            } else {
                // trace 2 − η²σ² below −2: a real eigenvalue outside the circle
                let t = 2.0 - (eta * s).powi(2);
                (-t + (t * t - 4.0).sqrt()) / 2.0
            }
        }
        Method::Extragradient => (1.0 - (eta * s).powi(2) + (eta * s).powi(4)).sqrt(),
        Method::Optimistic => optimistic_radius(eta, s),
        Method::Consensus { gamma } | Method::Sga { lambda: gamma } => {
            ((1.0 - eta * gamma * s * s).powi(2) + (eta * s).powi(2)).sqrt()
        }
        Method::Unrolled { .. } => f64::NAN,
    };
    sigmas.iter().map(|&s| per(s)).fold(0.0, f64::max)
}

fn run(r: &Run) -> Result<Outcome> {
    let p = r.params;
    let (n, smin, smax, eta, gamma, steps) = (
        p.usize("dim"),
        p.float("sigma_min"),
        p.float("sigma_max"),
        p.float("lr"),
        p.float("gamma"),
        p.usize("steps"),
    );
    if smin > smax {
        bail!("sigma_min = {smin} is larger than sigma_max = {smax}");
    }
    let mut rng = Rng::seed(r.seed());
    let sigmas: Vec<f64> = (0..n)
        .map(|i| if n == 1 { smax } else { smin * (smax / smin).powf(i as f64 / (n - 1) as f64) })
        .collect();
    // A = U diag(σ) Vᵀ with Haar-random orthogonal U, V (rows of the flat matrices)
    let (u, v) = (orthogonal(&mut rng, n, n, 1.0), orthogonal(&mut rng, n, n, 1.0));
    let a: Vec<f64> = (0..n * n)
        .map(|ij| (0..n).map(|k| u[k * n + ij / n] * sigmas[k] * v[k * n + ij % n]).sum())
        .collect();
    let game = Bilinear::new(a, n, n);
    let z0 = vec![
        (0..n).map(|_| rng.normal_f64()).collect::<Vec<f64>>(),
        (0..n).map(|_| rng.normal_f64()).collect(),
    ];
    let origin = vec![vec![0.0; n], vec![0.0; n]];

    // the Jacobian, by autodiff, at the start: a pure rotation with eigenvalues ±iσ
    let dg = odl_gan::diagnostics(&game, &z0);
    let max_re = dg.eigenvalues.iter().map(|e| e.0.abs()).fold(0.0, f64::max);
    let mut im: Vec<f64> = dg.eigenvalues.iter().filter(|e| e.1 > 0.0).map(|e| e.1).collect();
    im.sort_by(f64::total_cmp);
    let eig_err = if im.len() == n {
        im.iter().zip(&sigmas).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max)
    } else {
        f64::INFINITY
    };

    let methods = [
        Method::Simultaneous,
        Method::Alternating,
        Method::Extragradient,
        Method::Optimistic,
        Method::Consensus { gamma },
        Method::Sga { lambda: gamma },
    ];
    let window = (steps / 3).max(1);
    let mut out = Outcome::default();
    let (mut curves, mut points) = (Vec::new(), Vec::new());
    let (mut meas, mut pred, mut growth) = (Vec::new(), Vec::new(), Vec::new());
    let mut rows = Vec::new();
    for (i, m) in methods.iter().enumerate() {
        r.progress(i as f64 / methods.len() as f64, &m.name());
        let t = trajectory(&game, &mut Solver::new(*m, eta), z0.clone(), steps, &origin);
        let (rm, rp) = (t.rate(window), predicted(*m, eta, &sigmas));
        let d0 = t.distance[0];
        // every 10th point keeps the figure light; a diverging run is drawn
        // until it passes 10⁸ (its rate is measured on the whole run), so the
        // converging ones keep their decades; methods that coincide with
        // another on this game are dashed so both stay visible
        let ks: Vec<f64> = (0..t.distance.len())
            .step_by(10)
            .take_while(|&k| t.distance[k] / d0 <= 1e8)
            .map(|k| k as f64)
            .collect();
        let ys = ks.iter().map(|&k| t.distance[k as usize] / d0).collect();
        curves.push(if i == 3 || i == 5 {
            Series::dashed(m.name(), ks, ys)
        } else {
            Series::line(m.name(), ks, ys)
        });
        points.push(Series::points(m.name(), vec![rp], vec![rm]));
        rows.push(vec![m.name(), format!("{rp}"), format!("{rm}"), format!("{}", t.max_growth())]);
        meas.push(rm);
        pred.push(rp);
        growth.push(t.max_growth());
    }
    r.csv("rates.csv", &["method", "predicted_rate", "measured_rate", "max_growth"], &rows)?;
    let names: Vec<String> = methods.iter().map(|m| m.name()).collect();
    for (i, key) in
        ["simultaneous", "alternating", "extragradient", "optimistic", "consensus", "sga"].iter().enumerate()
    {
        out.metric(&format!("rate_{key}"), meas[i]);
        out.metric(&format!("predicted_rate_{key}"), pred[i]);
    }
    out.metric("max_growth_alternating", growth[1]);
    out.metric("sigmas", sigmas.clone());
    out.metric("jacobian_max_abs_real_part", max_re);
    out.metric("jacobian_eigenvalue_error", eig_err);
    out.metric("methods", names.clone());

    out.figure(
        "distance",
        LinePlot::new(format!("Distance to the equilibrium, η = {eta}, dim = {n}"), "step k", "‖z_k‖ / ‖z₀‖").log_y().with(curves),
    )
    .caption("Simultaneous GDA grows geometrically (drawn up to 10⁸), alternating GDA neither grows nor shrinks, the other four shrink geometrically: straight lines on a log axis, with the slopes of the next figure. Optimistic GDA (dashed) runs almost on extragradient, and SGA (dashed) exactly on consensus: on a purely rotational game Aᵀξ = Jᵀξ.");
    let lo = pred.iter().chain(&meas).filter(|v| v.is_finite()).fold(f64::INFINITY, |a, b| a.min(*b));
    let hi = pred.iter().chain(&meas).filter(|v| v.is_finite()).fold(0.0f64, |a, b| a.max(*b));
    points.push(Series::dashed("measured = predicted", vec![lo, hi], vec![lo, hi]));
    out.figure(
        "rates",
        LinePlot::new("Per-step rate: measured against the linear theory", "predicted spectral radius", "measured rate").with(points),
    )
    .caption("Each method's measured rate (last third of the run) against the spectral radius its linear map predicts from σ(A): on the diagonal. Above 1 diverges, below 1 converges. Extragradient and optimistic GDA share a point here, as do consensus and SGA.");

    // the picture every lecture draws: x·y in the plane
    let g1 = Bilinear::new(vec![1.0], 1, 1);
    let o1 = vec![vec![0.0], vec![0.0]];
    let mut paths = Vec::new();
    for m in [Method::Simultaneous, Method::Alternating, Method::Extragradient, Method::Optimistic] {
        let t = trajectory(&g1, &mut Solver::new(m, 0.1), vec![vec![1.0], vec![0.5]], 200, &o1);
        let (xs, ys) =
            (t.points.iter().map(|z| z[0][0]).collect(), t.points.iter().map(|z| z[1][0]).collect());
        paths.push(if m == Method::Optimistic {
            Series::dashed(m.name(), xs, ys)
        } else {
            Series::line(m.name(), xs, ys)
        });
    }
    out.figure("paths", LinePlot::new("min_x max_y x·y from (1, ½), η = 0.1, 200 steps", "x (minimizer)", "y (maximizer)").with(paths))
        .caption("The field of x·y is a rotation: simultaneous GDA spirals out, alternating GDA stays on a closed curve, extragradient and optimistic GDA (dashed, almost on it) spiral in to the equilibrium (0, 0).");

    // log-rates: ln ρ is the exponent the theory predicts (−ln ρ per step is the speed)
    let within = |i: usize, rel: f64| {
        Check::within(&format!("ln rate ({})", names[i]), meas[i].ln(), pred[i].ln(), rel)
    };
    out.claim(Claim::all(
        "jacobian_is_a_rotation",
        "The bilinear game's Jacobian [[0, A], [−Aᵀ, 0]] has no potential part: its eigenvalues are ±iσ(A)",
        vec![Check::less("max |Re λ|", max_re, 1e-10), Check::less("max ||Im λ| − σ|", eig_err, 1e-9)],
    ));
    out.claim(Claim::all(
        "gda_spirals_out",
        "Simultaneous GDA diverges on every bilinear game, at rate √(1+η²σ_max²) per step",
        vec![Check::greater("measured rate", meas[0], 1.0), within(0, 0.03)],
    ));
    out.claim(Claim::all(
        "alternating_circles",
        "Alternating GDA neither converges nor diverges for ησ_max < 2: its map has determinant 1 and eigenvalues on the unit circle",
        vec![
            Check::in_range("measured rate", meas[1], 1.0 - 1e-3, 1.0 + 1e-3),
            Check::less("max ‖z_k‖/‖z₀‖", growth[1], 5.0),
        ],
    ));
    out.claim(Claim::all(
        "extrapolation_converges",
        "Extragradient and optimistic GDA converge linearly on bilinear games, at the rates of their linear maps",
        vec![Check::less("extragradient's rate", meas[2], 1.0), within(2, 0.05), Check::less("optimistic rate", meas[3], 1.0), within(3, 0.05)],
    ));
    out.claim(Claim::all(
        "second_order_fixes_converge",
        "Consensus optimization and SGA, which follow Jᵀξ (a derivative of the gradient), converge at √((1−ηγσ²)² + η²σ²)",
        vec![within(4, 0.05), within(5, 0.05)],
    ));
    Ok(out)
}
