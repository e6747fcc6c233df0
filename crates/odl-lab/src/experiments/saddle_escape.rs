//! L11 · Saddle points. Gradient descent escapes a strict saddle only as fast
//! as its distance to the stable manifold allows; perturbed GD (Jin et al.
//! 2017) escapes quickly. On a chain of saddles GD's time grows exponentially
//! with the chain's length (Du et al. 2017), perturbed GD's linearly. And a
//! deep linear net has a degenerate saddle at 0: zero gradient, zero
//! Hessian, yet not a minimum (Kawaguchi 2016).

use odl_autodiff::{to_dense, Tensor};
use odl_optim::{chain, perturb, scale_by_learning_rate, sgd, Chain};
use odl_probe::hessian_at;
use odl_probe::linalg::sym_eigvals;
use odl_tensor::{Array, DType, Rng};

use super::prelude::*;
use crate::fit::{line, median};
use crate::trainer::iterate;

/// The experiment.
pub static EXPERIMENT: Experiment = Experiment {
    id: "saddle-escape",
    lecture: "L11",
    title: "Escaping saddles: GD can be exponentially slow, perturbed GD is not; deep linear nets have degenerate saddles",
    source: "C. Jin, R. Ge, P. Netrapalli, S. Kakade, M. Jordan, ICML 2017; S. Du, C. Jin, J. Lee, M. Jordan, B. Póczos, A. Singh, NeurIPS 2017; K. Kawaguchi, NeurIPS 2016",
    setup: "(1) f(x, y) = ½x² − ½y² + ¼y⁴ from (1, ε): GD (step η) vs perturbed GD (noise of radius r when the step is small). \
            (2) A chain of d saddles: f(x) = Σᵢ ½cᵢ(x_{i−1})xᵢ² + ¼xᵢ⁴ where cᵢ switches smoothly from +L (stable) to −γ \
            (unstable) once x_{i−1} has escaped — while GD escapes saddle i its next coordinate is contracted, so it starts the \
            next escape closer to the stable manifold (Du et al.'s mechanism); random start of scale `init_scale`, median over \
            `seeds`. (3) ½(w₁w₂⋯w_N − 1)² at w = 0 for N = 2, 3: the exact Hessian by odl's autodiff.",
    params: |s| {
        vec![
            float("eta", 0.1, 1e-6, 1.0, "step size η"),
            float("eps", 1e-10, 0.0, 0.5, "initial distance ε from the stable manifold (1)"),
            float("radius", 1e-3, 1e-12, 1.0, "perturbation radius r"),
            float("big_l", 2.0, 0.1, 100.0, "curvature L of a waiting (stable) coordinate"),
            float("gamma", 1.0, 0.01, 100.0, "negative curvature γ of an escaping coordinate"),
            int("max_chain", s.pick(4, 6, 8), 1, 50, "longest chain d"),
            int("seeds", s.pick(5, 9, 25), 1, 10000, "random starts per chain length"),
            float("init_scale", 1e-3, 1e-12, 1.0, "scale of the random start"),
            int("max_iters", s.pick(200_000, 1_000_000, 10_000_000), 10, 1_000_000_000, "iteration cap"),
        ]
    },
    run,
};

/// A smooth step: 0 for z² ≤ a, 1 for z² ≥ b (a C¹ cubic in between).
fn step(z2: f64, a: f64, b: f64) -> (f64, f64) {
    if z2 <= a {
        (0.0, 0.0)
    } else if z2 >= b {
        (1.0, 0.0)
    } else {
        let t = (z2 - a) / (b - a);
        (t * t * (3.0 - 2.0 * t), 6.0 * t * (1.0 - t) / (b - a))
    }
}

/// The chain of saddles: value, gradient; `done` when every coordinate escaped.
struct SaddleChain {
    l: f64,
    g: f64,
}

impl SaddleChain {
    fn curvature(&self, prev: Option<f64>) -> (f64, f64) {
        match prev {
            None => (-self.g, 0.0),
            Some(z) => {
                // switch between (0.25γ)² and (0.75√γ)²: x_{i−1} is on its way out
                let (s, ds) = step(z * z, 0.01 * self.g, 0.3 * self.g);
                (self.l - (self.l + self.g) * s, -(self.l + self.g) * ds * 2.0 * z)
            }
        }
    }
    fn grad(&self, x: &[f64]) -> Vec<f64> {
        let d = x.len();
        let mut g = vec![0.0; d];
        for i in 0..d {
            let (c, dc) = self.curvature(if i == 0 { None } else { Some(x[i - 1]) });
            g[i] += c * x[i] + x[i].powi(3);
            if i > 0 {
                g[i - 1] += 0.5 * dc * x[i] * x[i];
            }
        }
        g
    }
    fn escaped(&self, x: &[f64]) -> bool {
        x.iter().all(|v| v.abs() > 0.9 * self.g.sqrt())
    }
}

fn pgd(eta: f64, radius: f64, seed: u64) -> Chain {
    // a perturbation whenever the step is below η·(r/10) and 50 steps have passed
    chain(vec![
        Box::new(scale_by_learning_rate(eta)),
        Box::new(perturb(radius, eta * radius / 10.0, 50, seed)),
    ])
}

fn run(r: &Run) -> Result<Outcome> {
    let p = r.params;
    let (eta, eps, radius, cap) = (p.float("eta"), p.float("eps"), p.float("radius"), p.usize("max_iters"));
    let mut out = Outcome::default();
    // (1) a single strict saddle
    r.progress(0.0, "single saddle");
    let single = |x: &[f64]| vec![x[0], -x[1] + x[1].powi(3)];
    let f1 = |x: &[f64]| 0.5 * x[0] * x[0] - 0.5 * x[1] * x[1] + 0.25 * x[1].powi(4);
    let escaped1 = |x: &[f64], _: usize| f1(x) < -0.2;
    let (gd_exact, _) =
        iterate(&mut |x| single(x), &[1.0, 0.0], &mut sgd(eta), &mut |x, k| escaped1(x, k), 20_000);
    let (gd_eps, _) =
        iterate(&mut |x| single(x), &[1.0, eps], &mut sgd(eta), &mut |x, k| escaped1(x, k), cap);
    let (pgd_exact, _) = iterate(
        &mut |x| single(x),
        &[1.0, 0.0],
        &mut pgd(eta, radius, r.seed()),
        &mut |x, k| escaped1(x, k),
        cap,
    );
    let predicted = (1.0 / eps.max(1e-300)).ln() / (1.0 + eta).ln();
    out.metric(
        "single_saddle",
        Metric::map([
            ("gd_from_stable_manifold", Metric::from(gd_exact)),
            ("gd_from_eps", Metric::from(gd_eps)),
            ("pgd_from_stable_manifold", Metric::from(pgd_exact)),
            ("gd_predicted", Metric::from(predicted)),
        ]),
    );
    let escape = |k: Option<usize>| k.map_or("stuck".into(), |k| format!("escaped at step {k}"));
    out.claim(Claim::all(
        "gd_stuck_on_stable_manifold",
        "GD started on the stable manifold of a strict saddle never leaves it; perturbed GD escapes",
        vec![
            Check::that(
                "GD: no escape in 20 000 steps",
                format!("GD {}", escape(gd_exact)),
                gd_exact.is_none(),
            ),
            Check::that(
                "perturbed GD escapes",
                format!("perturbed GD {}", escape(pgd_exact)),
                pgd_exact.is_some(),
            ),
        ],
    ));
    out.claim(Claim::check(
        "gd_escape_time_is_log_distance",
        "From distance ε to the stable manifold GD needs ≈ ln(1/ε)/ln(1+η) steps",
        Check::within("GD's steps to escape", gd_eps.map_or(f64::NAN, |k| k as f64), predicted, 0.3),
    ));
    // (2) chains of saddles
    let sc = SaddleChain { l: p.float("big_l"), g: p.float("gamma") };
    let (max_d, seeds, scale) = (p.usize("max_chain"), p.usize("seeds"), p.float("init_scale"));
    let mut rng = Rng::seed(r.seed());
    let (mut gd_t, mut pgd_t) = (Vec::new(), Vec::new());
    let mut censored = false;
    for d in 1..=max_d {
        r.progress(0.1 + 0.8 * d as f64 / max_d as f64, &format!("chain of {d} saddles"));
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for s in 0..seeds {
            let x0: Vec<f64> = (0..d).map(|_| scale * rng.normal_f64()).collect();
            // GD is deterministic: once an iterate repeats bit for bit (a
            // waiting coordinate contracted to the smallest subnormal or to 0,
            // where the step rounds to nothing), it never escapes; the run is
            // stopped there and counted as capped, as it would be at the cap.
            let (mut stuck, mut last) = (false, Vec::new());
            let (k1, _) = iterate(
                &mut |x| sc.grad(x),
                &x0,
                &mut sgd(eta),
                &mut |x, _| {
                    stuck = x == last.as_slice();
                    last.clear();
                    last.extend_from_slice(x);
                    stuck || sc.escaped(x)
                },
                cap,
            );
            let k1 = k1.filter(|_| !stuck);
            let (k2, _) = iterate(
                &mut |x| sc.grad(x),
                &x0,
                &mut pgd(eta, radius, r.seed() ^ s as u64),
                &mut |x, _| sc.escaped(x),
                cap,
            );
            censored |= k1.is_none() || k2.is_none();
            a.push(k1.unwrap_or(cap) as f64);
            b.push(k2.unwrap_or(cap) as f64);
        }
        gd_t.push(median(&a));
        pgd_t.push(median(&b));
    }
    let ds: Vec<f64> = (1..=max_d).map(|d| d as f64).collect();
    // fit over the chain lengths whose median run finished (a capped median is a lower bound)
    let ln_gd: Vec<f64> = gd_t.iter().map(|v| if *v < cap as f64 { v.ln() } else { f64::NAN }).collect();
    let (_, gd_slope, gd_r2) = line(&ds, &ln_gd);
    let fitted = ln_gd.iter().filter(|v| v.is_finite()).count();
    let (_, pgd_lin_slope, pgd_lin_r2) = line(&ds, &pgd_t);
    out.metric("chain_lengths", ds.clone());
    out.metric("escape_iters_gd", gd_t.clone());
    out.metric("escape_iters_pgd", pgd_t.clone());
    out.metric("gd_ln_slope", gd_slope);
    if censored {
        out.notes.push(format!(
            "Some chain runs hit the cap of {cap} iterations (they count as {cap}, and capped medians are left out of the fit): \
             on long chains GD contracts the waiting coordinates down to the smallest subnormal f64 (or 0), where a step rounds to nothing, and GD \
             never escapes — the exponential slowdown taken to its end (such a run is stopped once its iterate repeats exactly)."
        ));
    }
    out.figure(
        "chain-escape",
        LinePlot::new(
            "Iterations to pass a chain of d saddles (median over random starts)",
            "number of saddles d",
            "iterations",
        )
        .log_y()
        .with({
            // capped medians are lower bounds: drawn apart, at the cap, off the line
            let pick = |capped: bool| -> (Vec<f64>, Vec<f64>) {
                ds.iter().zip(&gd_t).filter(|(_, t)| (**t >= cap as f64) == capped).map(|(d, t)| (*d, *t)).unzip()
            };
            let ((dx, dy), (cx, cy)) = (pick(false), pick(true));
            let mut series = vec![
                Series::line_points("gradient descent", dx, dy).keyed("gd"),
                Series::line_points("perturbed GD", ds.clone(), pgd_t.clone()),
            ];
            if !cx.is_empty() {
                series.push(Series::points(format!("gradient descent: median run never escaped (cap {cap})"), cx, cy).keyed("gd"));
            }
            series
        }),
    )
    .caption("GD's time through the chain grows exponentially with its length (a straight line on the log axis); perturbed GD's grows only linearly. Where GD's median run never escaped, its point sits at the iteration cap, apart from the line.");
    out.claim(Claim::all(
        "gd_exponential_in_chain",
        "GD's time through a chain of saddles grows exponentially with its length (ln(iterations) linear in d)",
        vec![
            Check::at_least("chain lengths whose median run finished", fitted as f64, 3.0),
            Check::greater("slope of ln(iterations) vs d", gd_slope, 0.3),
            Check::greater("R²", gd_r2, 0.9),
        ],
    ));
    let (g_last, p_last) = (*gd_t.last().unwrap(), *pgd_t.last().unwrap());
    out.claim(Claim::all(
        "pgd_linear_in_chain",
        "Perturbed GD's time grows only linearly, and beats GD on the longest chain",
        vec![
            Check::greater("R² of a line in d", pgd_lin_r2, 0.9),
            Check::greater("its slope", pgd_lin_slope, 0.0),
            Check::less_than(
                (&format!("perturbed GD's iterations at d = {max_d}"), p_last),
                1.0,
                ("GD's", g_last),
            ),
        ],
    ));
    // (3) Kawaguchi's degenerate saddle
    r.progress(0.95, "degenerate saddle");
    let mut hess = Vec::new();
    for depth in [2usize, 3] {
        let f = |w: &[Tensor]| -> Tensor {
            let mut prod = w[0].clone();
            for t in &w[1..] {
                prod = prod.mul(t);
            }
            prod.sub(&prod.scalar_like(1.0)).square().sum_all() * 0.5
        };
        let zero: Vec<Array> = (0..depth).map(|_| Array::zeros(&[1], DType::F64)).collect();
        let h = to_dense(&hessian_at(&f, &zero));
        let ev = sym_eigvals(&h, depth);
        let t = 0.1f64;
        let along = 0.5 * (t.powi(depth as i32) - 1.0).powi(2);
        hess.push((depth, h.iter().fold(0.0f64, |m, v| m.max(v.abs())), ev[0], along));
    }
    out.metric(
        "degenerate_saddle",
        hess.iter()
            .map(|(d, hmax, lmin, along)| {
                Metric::map([
                    ("depth", Metric::from(*d)),
                    ("max_abs_hessian", Metric::from(*hmax)),
                    ("min_eigenvalue", Metric::from(*lmin)),
                    ("loss_at_t_0.1", Metric::from(*along)),
                    ("loss_at_0", Metric::from(0.5)),
                ])
            })
            .collect::<Vec<_>>(),
    );
    let (_, h2, l2, _) = hess[0];
    let (_, h3, _, a3) = hess[1];
    out.claim(Claim::all(
        "degenerate_saddle_depth3",
        &format!(
            "For depth ≥ 3 the origin is a degenerate saddle: gradient and Hessian vanish, yet the loss decreases along (t, t, t); for depth 2 it is a strict saddle (max |H| = {})",
            g3(h2)
        ),
        vec![
            Check::equals("max |∇²L(0)| at depth 3", h3, 0.0),
            Check::less("L(0.1, 0.1, 0.1) (L(0) = ½)", a3, 0.5),
            Check::that("λ_min of ∇²L(0) at depth 2 = −1", format!("λ_min = {}", g3(l2)), (l2 + 1.0).abs() < 1e-12),
        ],
    ));
    Ok(out)
}
