//! L5 · Shamir 2018: gradient descent on one-dimensional deep linear networks
//! ½(∏ wᵢ − y)² from a standard random initialization needs a number of
//! iterations exponential in the depth; from the identity it does not.

use odl_tensor::Rng;

use super::prelude::*;
use crate::fit::{line, median};

/// The experiment.
pub static EXPERIMENT: Experiment = Experiment {
    id: "shamir-depth",
    lecture: "L5",
    title: "Deep 1-D linear nets: gradient descent needs exponentially many iterations in the depth",
    source: "O. Shamir, \"Exponential convergence time of gradient descent for one-dimensional deep linear neural networks\", COLT 2019",
    setup: "f(w) = ½(w₁w₂⋯w_L − y)² with wᵢ drawn i.i.d. from `init` (N(0,1) or U(−1,1)), for each depth in `depths` and each of `seeds` \
            draws; gradient descent at each step size of `lrs`, keeping the fewest iterations to reach loss < `tol` (capped at \
            `max_iters`). A draw whose initial product has the wrong sign cannot converge (the product is trapped at the saddle \
            0) and is counted separately. Contrast: the identity initialization wᵢ = 1.",
    params: |s| {
        vec![
            ints(
                "depths",
                &s.pick(vec![2, 4, 6, 8, 10, 12], vec![2, 4, 6, 8, 10, 12, 14, 16, 18], (1..=12).map(|k| 2 * k).collect()),
                1,
                200,
                "depths L",
            )
            .distinct(2),
            int("seeds", s.pick(64, 64, 128), 1, 100000, "random initializations per depth"),
            floats("lrs", &[0.003, 0.01, 0.03, 0.1, 0.3], 1e-8, 10.0, "step-size grid"),
            int("max_iters", s.pick(20000, 300_000, 3_000_000), 10, 100_000_000, "iteration cap"),
            float("target", 2.0, 1e-3, 1e3, "target y (> 0)"),
            float("tol", 1e-3, 1e-12, 1.0, "loss threshold"),
            choice("init", "gaussian", &["gaussian", "uniform"], "distribution of each wᵢ"),
        ]
    },
    run,
};

/// Iterations of GD from `w0` until the loss is below `tol` (None: not within `cap`, or diverged).
fn iterations(w0: &[f64], y: f64, lr: f64, tol: f64, cap: usize) -> Option<usize> {
    let mut w = w0.to_vec();
    let l = w.len();
    let mut prefix = vec![1.0; l + 1];
    let mut suffix = vec![1.0; l + 1];
    for it in 0..cap {
        for i in 0..l {
            prefix[i + 1] = prefix[i] * w[i];
        }
        let p = prefix[l];
        let r = p - y;
        if 0.5 * r * r < tol {
            return Some(it);
        }
        if !r.is_finite() {
            return None;
        }
        for i in (0..l).rev() {
            suffix[i] = suffix[i + 1] * w[i];
        }
        // ∂/∂wᵢ = r · ∏_{j≠i} wⱼ
        for i in 0..l {
            w[i] -= lr * r * prefix[i] * suffix[i + 1];
        }
    }
    None
}

fn grad_norm(w: &[f64], y: f64) -> f64 {
    let p: f64 = w.iter().product();
    let r = p - y;
    (0..w.len())
        .map(|i| (r * w.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, v)| v).product::<f64>()).powi(2))
        .sum::<f64>()
        .sqrt()
}

fn run(r: &Run) -> Result<Outcome> {
    let p = r.params;
    let (depths, seeds, lrs) = (p.usizes("depths"), p.usize("seeds"), p.floats("lrs"));
    let (cap, y, tol) = (p.usize("max_iters"), p.float("target"), p.float("tol"));
    let gaussian = p.str("init") == "gaussian";
    let mut rng = Rng::seed(r.seed());
    let best = |w0: &[f64]| lrs.iter().filter_map(|&lr| iterations(w0, y, lr, tol, cap)).min();
    let (mut med_iters, mut stuck, mut censored, mut gnorm, mut ident) =
        (vec![], vec![], vec![], vec![], vec![]);
    let mut rows = Vec::new();
    for (di, &l) in depths.iter().enumerate() {
        r.progress(di as f64 / depths.len() as f64, &format!("depth {l}"));
        let (mut its, mut n_stuck, mut n_cens, mut gs) = (Vec::new(), 0, 0, Vec::new());
        for s in 0..seeds {
            let w0: Vec<f64> = (0..l)
                .map(|_| if gaussian { rng.normal_f64() } else { 2.0 * rng.uniform_f64() - 1.0 })
                .collect();
            gs.push(grad_norm(&w0, y));
            let prod: f64 = w0.iter().product();
            let res = if prod * y <= 0.0 { None } else { best(&w0) };
            rows.push(vec![
                l.to_string(),
                s.to_string(),
                prod.to_string(),
                res.map_or("".into(), |v| v.to_string()),
            ]);
            match res {
                _ if prod * y <= 0.0 => n_stuck += 1,
                Some(v) => its.push(v as f64),
                None => {
                    n_cens += 1;
                    its.push(cap as f64);
                }
            }
        }
        med_iters.push(median(&its));
        stuck.push(n_stuck as f64 / seeds as f64);
        censored.push(n_cens as f64 / seeds as f64);
        gnorm.push(median(&gs));
        ident.push(best(&vec![1.0; l]).map_or(f64::NAN, |v| v as f64));
    }
    r.csv("runs.csv", &["depth", "seed", "initial_product", "best_iterations"], &rows)?;
    let df: Vec<f64> = depths.iter().map(|d| *d as f64).collect();
    let ln_it: Vec<f64> = med_iters.iter().map(|v| v.max(1.0).ln()).collect();
    let (_, slope, r2) = line(&df, &ln_it);
    let ln_g: Vec<f64> = gnorm.iter().map(|v| v.ln()).collect();
    let (_, gslope, _) = line(&df, &ln_g);
    let mut out = Outcome::default();
    out.metric("depths", depths.clone());
    out.metric("median_iters", med_iters.clone());
    out.metric("slope_ln_iters_vs_depth", slope);
    out.metric("r2", r2);
    out.metric("identity_init_iters", ident.clone());
    out.metric("grad_norm_at_init", gnorm.clone());
    out.metric("stuck_fraction", stuck);
    out.metric("censored_fraction", censored.clone());
    let (a, b, _) = line(&df, &ln_it);
    out.figure(
        "iterations-vs-depth",
        LinePlot::new(
            "Iterations to loss < tol (best step size; median over draws)",
            "depth L",
            "iterations",
        )
        .log_y()
        .with([
            Series::line_points(format!("random init ({})", p.str("init")), df.clone(), med_iters.clone()),
            Series::line_points("identity init", df.clone(), ident.clone()),
            Series::dashed(
                format!("fit: ln iters = a + {:.2}·L", slope),
                df.clone(),
                df.iter().map(|d| (a + b * d).exp()).collect(),
            ),
        ]),
    )
    .caption("From a random initialization the iterations grow exponentially with depth (a straight line on the log axis, dashed fit); from the identity they stay small.");
    out.figure(
        "gradient-at-init",
        LinePlot::new("Gradient norm at initialization (median over draws)", "depth L", "‖∇f(w₀)‖")
            .log_y()
            .with([Series::line_points("", df.clone(), gnorm.clone())]),
    )
    .caption("The gradient at a random initialization shrinks exponentially with depth: where GD has to start from.");
    let censored_any = censored.iter().any(|c| *c > 0.0);
    if censored_any {
        let per_depth: Vec<String> = depths
            .iter()
            .zip(&censored)
            .filter(|(_, c)| **c > 0.0)
            .map(|(d, c)| format!("{:.1} % at L = {d}", 100.0 * c))
            .collect();
        out.notes.push(format!(
            "Some runs did not reach the threshold within {cap} iterations ({}); they count as {cap} in the median, so the fitted slope is a lower bound.",
            per_depth.join(", ")
        ));
    }
    out.claim(Claim::all(
        "exponential_in_depth",
        "From a random initialization the iterations grow exponentially with depth",
        vec![Check::greater("slope of ln(iterations) vs L", slope, 0.2), Check::greater("R²", r2, 0.8)],
    ));
    let (last_id, last_rand) = (*ident.last().unwrap(), *med_iters.last().unwrap());
    out.claim(Claim::check(
        "identity_is_fast",
        "The identity initialization avoids the exponential slowdown",
        Check::less_than(
            ("identity iterations at the largest depth", last_id),
            0.1,
            ("random initialization's", last_rand),
        ),
    ));
    out.claim(Claim::less(
        "vanishing_gradient_at_init",
        "The gradient at a random initialization shrinks exponentially with depth",
        "slope of ln‖∇f(w₀)‖ vs L",
        gslope,
        0.0,
    ));
    Ok(out)
}
