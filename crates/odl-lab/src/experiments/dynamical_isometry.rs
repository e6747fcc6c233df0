//! L7 · Dynamical isometry (Saxe et al. 2014; Pennington, Schoenholz &
//! Ganguli 2017): the singular values of the input–output Jacobian of deep
//! networks at criticality, with Gaussian vs orthogonal weights; and learning
//! speed vs depth of deep linear networks.

use std::collections::BTreeMap;

use odl_autodiff::Tensor;
use odl_nn::{critical_tanh, Activation, Init, Linear, Sequential};
use odl_optim::sgd;
use odl_probe::jacobian::jacobian_singular_values;
use odl_tensor::{Array, DType, Rng};

use super::prelude::*;
use crate::fit::{mean_var, power_law};
use crate::trainer::optimize_until;

const ACTS: &[&str] = &["linear", "tanh", "relu"];

/// The experiment.
pub static EXPERIMENT: Experiment = Experiment {
    id: "dynamical-isometry",
    lecture: "L7",
    title: "Dynamical isometry: orthogonal weights keep every Jacobian singular value near 1 — for linear and tanh nets, not ReLU",
    source: "A. Saxe, J. McClelland, S. Ganguli, ICLR 2014; J. Pennington, S. Schoenholz, S. Ganguli, \"Resurrecting the sigmoid in deep learning through dynamical isometry\", NeurIPS 2017",
    setup: "Networks of `depths` layers of `width` units at criticality (linear: σ_w = 1; tanh: σ_w from the edge-of-chaos \
            condition for bias σ_b = `sigma_b`, inputs at the fixed point q*; ReLU: σ_w² = 2), weights Gaussian N(0, σ_w²/n) or \
            scaled orthogonal. The input–output Jacobian's singular values at one input (f64): the variance of the eigenvalues \
            of JJᵀ and the condition number (averaged over `draws` networks). Then deep linear nets of width `train_width` fit a random linear teacher by GD \
            (best step size of `lrs`): iterations to reach 1% of the initial loss vs depth, orthogonal vs Gaussian.",
    params: |s| {
        vec![
            ints("depths", &s.pick(vec![2, 32], vec![2, 8, 32], vec![2, 8, 32, 128]), 1, 2000, "depths L").distinct(2),
            int("width", s.pick(128, 200, 400), 2, 4096, "width n"),
            int("draws", 3, 1, 1000, "random networks per configuration (spreads are averaged)"),
            choices("activations", ACTS, ACTS, "activations"),
            float("sigma_b", 0.005, 0.0, 2.0, "bias standard deviation for tanh (small: small q*)"),
            ints("train_depths", &s.pick(vec![1, 4], vec![1, 4, 16], vec![1, 4, 16, 32]), 1, 500, "depths of the trained deep linear nets").distinct(2),
            int("train_width", s.pick(16, 32, 64), 2, 1024, "width of the trained nets"),
            int("samples", 256, 8, 100000, "training samples"),
            floats("lrs", &[0.01, 0.03, 0.1, 0.3], 1e-6, 10.0, "GD step-size grid"),
            int("max_iters", s.pick(1500, 3000, 20000), 10, 10_000_000, "iteration cap"),
        ]
    },
    run,
};

fn network(
    act: &str,
    orthogonal: bool,
    depth: usize,
    n: usize,
    sigma_w: f64,
    sigma_b: f64,
    rng: &mut Rng,
) -> Sequential {
    let init = if orthogonal { Init::Orthogonal(sigma_w) } else { Init::MeanField(sigma_w) };
    let mut net = Sequential::new();
    for _ in 0..depth {
        let bias = act == "tanh" && sigma_b > 0.0;
        net.push(Linear::new(n, n, bias, &init, Some(&Init::Normal(sigma_b)), rng, DType::F64));
        match act {
            "tanh" => {
                net.push(Activation::Tanh);
            }
            "relu" => {
                net.push(Activation::Relu);
            }
            _ => {}
        }
    }
    net
}

fn run(r: &Run) -> Result<Outcome> {
    let p = r.params;
    let (depths, n) = (p.usizes("depths"), p.usize("width"));
    let acts = p.strs("activations");
    let mut rng = Rng::seed(r.seed());
    let mut out = Outcome::default();
    let (mut var_m, mut cond_m) = (BTreeMap::new(), BTreeMap::new());
    let mut spectra: Vec<Series> = Vec::new();
    let mut var_series = Vec::new();
    let jobs = acts.len() * 2 * depths.len();
    let mut k = 0;
    for act in &acts {
        let (sw, sb, q) = match act.as_str() {
            "tanh" => {
                let sb = p.float("sigma_b");
                let (sw, q) = critical_tanh(sb);
                (sw, sb, q)
            }
            "relu" => (2f64.sqrt(), 0.0, 1.0),
            _ => (1.0, 0.0, 1.0),
        };
        for orth in [false, true] {
            let name = format!("{act}/{}", if orth { "orthogonal" } else { "gaussian" });
            let mut vars = Vec::new();
            for &d in &depths {
                r.progress(0.6 * k as f64 / jobs as f64, &format!("{name}, depth {d}"));
                k += 1;
                let draws = p.usize("draws");
                let (mut v, mut cond, mut sv) = (0.0, 0.0, Vec::new());
                for _ in 0..draws {
                    let mut net = network(act, orth, d, n, sw, sb, &mut rng);
                    let x = rng.normal(&[1, n], 0.0, q.sqrt(), DType::F64);
                    sv = jacobian_singular_values(&mut net, &x);
                    let eig: Vec<f64> = sv.iter().map(|s| s * s).collect();
                    v += mean_var(&eig).1 / draws as f64;
                    // geometric mean of the condition numbers
                    cond += (sv[0] / sv[sv.len() - 1]).ln() / draws as f64;
                }
                let cond = cond.exp();
                var_m.insert(format!("{name}/{d}"), v);
                cond_m.insert(format!("{name}/{d}"), cond);
                vars.push(v);
                if d == *depths.iter().max().unwrap() {
                    let mut s = sv.clone();
                    s.sort_by(|a, b| a.total_cmp(b));
                    let frac: Vec<f64> = (0..s.len()).map(|i| (i + 1) as f64 / s.len() as f64).collect();
                    spectra.push(Series::line(name.clone(), s, frac));
                }
            }
            var_series.push(Series::line_points(
                name.clone(),
                depths.iter().map(|d| *d as f64).collect(),
                vars,
            ));
        }
        out.metric(
            &format!("critical_{act}"),
            Metric::map([
                ("sigma_w", Metric::from(sw)),
                ("sigma_b", Metric::from(sb)),
                ("q_star", Metric::from(q)),
            ]),
        );
    }
    let dmax = *depths.iter().max().unwrap();
    out.figure(
        "singular-value-cdf",
        LinePlot::new(
            format!("Jacobian singular values at depth {dmax} (cumulative distribution)"),
            "singular value",
            "fraction ≤ value",
        )
        .log_x()
        .with(spectra),
    )
    .caption("Orthogonal linear and critical tanh nets have singular values concentrated near 1 (steep curves); Gaussian and ReLU nets spread over decades.");
    out.figure(
        "eig-variance-vs-depth",
        LinePlot::new("Spread of the eigenvalues of JJᵀ vs depth", "depth L", "Var of eigenvalues of JJᵀ")
            .log_x()
            .log_y()
            .with(var_series),
    )
    .caption("The spread grows roughly linearly with depth for Gaussian weights and stays flat (at 0 for linear nets) with orthogonal ones — except for ReLU.");
    out.metric("var_eig_jjt", var_m.clone());
    out.metric("cond", cond_m);
    let v = |k: String| var_m.get(&k).copied().unwrap_or(f64::NAN);
    if acts.iter().any(|a| a == "linear") {
        let lo = depths.iter().map(|d| v(format!("linear/orthogonal/{d}"))).fold(0.0, f64::max);
        out.claim(Claim::less(
            "linear_orthogonal_isometry",
            "Orthogonal deep linear nets are exact isometries: every singular value is 1",
            "the largest Var of eig(JJᵀ) over the depths",
            lo,
            1e-10,
        ));
        let ds: Vec<f64> = depths.iter().map(|d| *d as f64).collect();
        let gs: Vec<f64> = depths.iter().map(|d| v(format!("linear/gaussian/{d}"))).collect();
        let (expo, _) = power_law(&ds, &gs);
        out.claim(Claim::in_range(
            "linear_gaussian_spreads_with_depth",
            &format!(
                "With Gaussian weights the spread grows like the depth (the eigenvalues of JJᵀ have variance ≈ L; {} at L = {dmax})",
                g3(gs[gs.len() - 1])
            ),
            "exponent p of Var ∝ L^p",
            expo,
            0.75,
            1.35,
        ));
    }
    if acts.iter().any(|a| a == "tanh") {
        let (o, g) = (v(format!("tanh/orthogonal/{dmax}")), v(format!("tanh/gaussian/{dmax}")));
        out.claim(Claim::check(
            "tanh_orthogonal_isometry",
            "Critical tanh nets with orthogonal weights achieve dynamical isometry; Gaussian ones do not",
            Check::less_than((&format!("Var at L = {dmax}, orthogonal"), o), 0.25, ("Gaussian", g)),
        ));
    }
    if acts.iter().any(|a| a == "relu") {
        let (o, o0) = (v(format!("relu/orthogonal/{dmax}")), v(format!("relu/orthogonal/{}", depths[0])));
        let t = v(format!("tanh/orthogonal/{dmax}"));
        let mut checks = vec![Check::greater_than(
            (&format!("Var(ReLU, orthogonal) at L = {dmax}"), o),
            1.0,
            (&format!("at L = {}", depths[0]), o0),
        )];
        if !t.is_nan() {
            checks.push(Check::greater_than(
                (&format!("Var(ReLU, orthogonal) at L = {dmax}"), o),
                5.0,
                ("Var(tanh, orthogonal)", t),
            ));
        }
        out.claim(Claim::all(
            "relu_no_isometry",
            "For ReLU nets orthogonal weights cannot give isometry: the spread still grows with depth",
            checks,
        ));
    }
    // learning speed of deep linear nets vs depth
    let (tw, m) = (p.usize("train_width"), p.usize("samples"));
    let x = Tensor::constant(rng.normal(&[m, tw], 0.0, 1.0, DType::F64));
    let teacher = Tensor::constant(rng.normal(&[tw, tw], 0.0, (1.0 / tw as f64).sqrt(), DType::F64));
    let y = x.matmul_t(&teacher, false, true);
    let tdepths = p.usizes("train_depths");
    let (lrs, cap) = (p.floats("lrs"), p.usize("max_iters"));
    let (mut it_o, mut it_g) = (Vec::new(), Vec::new());
    for (i, &d) in tdepths.iter().enumerate() {
        for orth in [true, false] {
            r.progress(
                0.6 + 0.4 * (2 * i + orth as usize) as f64 / (2 * tdepths.len()) as f64,
                &format!("deep linear net, depth {d}"),
            );
            let init = if orth { Init::Orthogonal(1.0) } else { Init::MeanField(1.0) };
            let theta0: Vec<Array> = (0..d).map(|_| init.sample(&mut rng, &[tw, tw], DType::F64)).collect();
            let loss = |ps: &[Tensor]| -> Tensor {
                let mut h = x.clone();
                for w in ps {
                    h = h.matmul_t(w, false, true);
                }
                h.mse(&y)
            };
            // the fewest iterations over the step sizes: each run stops when it
            // reaches 1 %, and is cut off where it could no longer beat the
            // best so far (largest step first: it usually wins). A stable step
            // size that runs out of iterations ends the search: a smaller step
            // follows about the same gradient-flow path more slowly (measured at
            // depth 16, Gaussian: the loss at the cap is 1.8 %, 2.6 %, 4.2 % and
            // 6.8 % of the start for η = 0.3, 0.1, 0.03, 0.01), so it would too.
            let mut best = f64::INFINITY;
            let mut by_size = lrs.clone();
            by_size.sort_by(|a, b| b.total_cmp(a));
            for &lr in &by_size {
                let steps = if best.is_finite() { best as usize } else { cap };
                let reached = |c: &[f64]| c[c.len() - 1] <= 0.01 * c[0];
                let (curve, _) = optimize_until(&loss, &theta0, &mut sgd(lr), steps, &reached);
                if let Some(t) = curve.iter().position(|l| *l <= 0.01 * curve[0]) {
                    best = best.min(t as f64);
                } else if curve.len() > cap && curve.iter().all(|l| l.is_finite()) {
                    break;
                }
            }
            if orth {
                it_o.push(best)
            } else {
                it_g.push(best)
            }
        }
    }
    let tdf: Vec<f64> = tdepths.iter().map(|d| *d as f64).collect();
    out.metric("train_depths", tdepths.clone());
    out.metric("iters_orthogonal", it_o.clone());
    out.metric("iters_gaussian", it_g.clone());
    out.figure(
        "learning-speed",
        LinePlot::new(
            "Deep linear nets: iterations to 1% of the initial loss (best step size)",
            "depth L",
            "iterations",
        )
        .log_x()
        .log_y()
        .with([
            Series::line_points("orthogonal", tdf.clone(), it_o.clone()),
            Series::line_points("Gaussian N(0, 1/n)", tdf.clone(), it_g.clone()),
        ]),
    )
    .caption("Orthogonal initialization learns in the same number of iterations at every depth; Gaussian initialization needs more and more.");
    let (o_last, g_last) = (*it_o.last().unwrap(), *it_g.last().unwrap());
    let growth_o = o_last / it_o[0];
    let growth_g = g_last / it_g[0];
    if !(o_last.is_finite() && g_last.is_finite()) {
        out.notes.push(format!("Some deep linear nets did not reach 1% of the initial loss within {cap} iterations (shown as gaps)."));
    }
    let growth =
        format!("growth of the iterations from L = {} to {}", tdepths[0], tdepths[tdepths.len() - 1]);
    out.claim(Claim::all(
        "orthogonal_learns_depth_independently",
        "Orthogonal initialization gives depth-independent learning times; Gaussian initialization slows down with depth",
        vec![
            Check::at_most(&format!("{growth}, orthogonal"), growth_o, 2.0),
            // a Gaussian net that never reached the target grew without bound
            Check::that(
                "orthogonal's growth < Gaussian's",
                format!("Gaussian's growth = {}", if g_last.is_finite() { g3(growth_g) } else { "unbounded".into() }),
                growth_o < growth_g || !g_last.is_finite(),
            ),
        ],
    ));
    Ok(out)
}
