//! L10 · Wilson, Roelofs, Stern, Srebro & Recht 2017, "The marginal value of
//! adaptive gradient methods in machine learning": on a linearly separable
//! construction, gradient descent from zero finds the minimum-norm solution
//! and generalizes; AdaGrad, RMSProp and Adam fit the training set too but
//! classify every test point as the majority class.

use std::collections::BTreeMap;

use odl_optim::{adagrad, adam, rmsprop, sgd, Chain};
use odl_plot::BarChart;
use odl_tensor::Rng;

use super::prelude::*;
use crate::trainer::iterate;

/// The experiment.
pub static EXPERIMENT: Experiment = Experiment {
    id: "adaptive-generalization",
    lecture: "L10",
    title: "Adaptive methods find solutions that generalize worse than gradient descent's",
    source: "A. Wilson, R. Roelofs, M. Stern, N. Srebro, B. Recht, \"The marginal value of adaptive gradient methods in machine learning\", NeurIPS 2017",
    setup: "Wilson et al.'s construction: n points with labels y = ±1 (P(y = 1) = `p_positive`); features x₁ = y, x₂ = x₃ = 1, and \
            a block of 5 private features per point of which 1 (y = 1) or 5 (y = −1) are on. Least squares ½‖Xw − y‖²/n \
            from w = 0 by GD, AdaGrad, RMSProp and Adam (full batch, best step size of `lrs` by training loss); test points \
            have fresh private features. Test error of sign(⟨w, x⟩).",
    params: |s| {
        vec![
            int("n_train", s.pick(40, 60, 200), 4, 100000, "training points"),
            int("n_test", 2000, 10, 1_000_000, "test points"),
            float("p_positive", 0.625, 0.5 + 1e-9, 0.99, "probability of the label +1"),
            floats("lrs", &[0.001, 0.01, 0.1], 1e-9, 10.0, "step-size grid"),
            int("steps", s.pick(3000, 10000, 50000), 10, 100_000_000, "full-batch steps"),
        ]
    },
    run,
};

/// The training points' features as (index, value) pairs in increasing index
/// order: 3 shared features and 1 or 5 private ones out of `3 + 5n`.
fn features(y: &[f64]) -> Vec<Vec<(usize, f64)>> {
    y.iter()
        .enumerate()
        .map(|(i, &yi)| {
            let on = if yi > 0.0 { 1 } else { 5 };
            [(0, yi), (1, 1.0), (2, 1.0)].into_iter().chain((0..on).map(|j| (3 + 5 * i + j, 1.0))).collect()
        })
        .collect()
}

/// ⟨x, w⟩ for a sparse x (the same sum as the dense one: the skipped terms are zeros).
fn dot(x: &[(usize, f64)], w: &[f64]) -> f64 {
    x.iter().map(|&(j, v)| v * w[j]).sum()
}

fn run(r: &Run) -> Result<Outcome> {
    let p = r.params;
    let (n, n_test, pp, steps) =
        (p.usize("n_train"), p.usize("n_test"), p.float("p_positive"), p.usize("steps"));
    let mut rng = Rng::seed(r.seed());
    let mut draw =
        |m: usize| -> Vec<f64> { (0..m).map(|_| if rng.uniform_f64() < pp { 1.0 } else { -1.0 }).collect() };
    let y = draw(n);
    let y_test = draw(n_test);
    let x = features(&y);
    let d = 3 + 5 * n;
    let loss = |w: &[f64]| -> f64 {
        x.iter().zip(&y).map(|(xi, yi)| (dot(xi, w) - yi).powi(2)).sum::<f64>() / (2 * n) as f64
    };
    let grad = |w: &[f64]| -> Vec<f64> {
        let mut g = vec![0.0; d];
        for (xi, yi) in x.iter().zip(&y) {
            let res = dot(xi, w) - yi;
            for &(j, v) in xi {
                g[j] += res * v / n as f64;
            }
        }
        g
    };
    // a test point's private features are unseen (weight 0): only w₁..w₃ act
    let test_err = |w: &[f64]| -> f64 {
        y_test.iter().filter(|&&yt| (w[0] * yt + w[1] + w[2]) * yt <= 0.0).count() as f64 / n_test as f64
    };
    type Maker = fn(f64) -> Chain;
    let makers: [(&str, Maker); 4] = [
        ("gd", |lr| sgd(lr)),
        ("adagrad", |lr| adagrad(lr, 1e-10)),
        ("rmsprop", |lr| rmsprop(lr, 0.99, 1e-8)),
        ("adam", |lr| adam(lr, 0.9, 0.999, 1e-8)),
    ];
    let lrs = p.floats("lrs");
    let mut out = Outcome::default();
    let (mut errs, mut train_losses, mut chosen) = (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    let mut curves = Vec::new();
    for (mi, (name, make)) in makers.iter().enumerate() {
        r.progress(mi as f64 / makers.len() as f64, name);
        let mut best: Option<(f64, f64, Vec<f64>, Vec<f64>)> = None;
        for &lr in &lrs {
            let mut trace = Vec::new();
            let (_, w) = iterate(
                &mut |w| grad(w),
                &vec![0.0; d],
                &mut make(lr),
                &mut |w, k| {
                    if k % 10 == 0 {
                        trace.push(loss(w));
                    }
                    false
                },
                steps,
            );
            let l = loss(&w);
            if l.is_finite() && best.as_ref().is_none_or(|b| l < b.0) {
                best = Some((l, lr, w, trace));
            }
        }
        let Some((l, lr, w, trace)) = best else {
            anyhow::bail!(
                "{name} diverged at every step size of lrs = {lrs:?}; give smaller ones (--set lrs=0.001,0.01)"
            );
        };
        errs.insert(name.to_string(), test_err(&w));
        train_losses.insert(name.to_string(), l);
        chosen.insert(name.to_string(), lr);
        let xs = (0..trace.len()).map(|i| (10 * i) as f64).collect();
        curves.push(Series::line(format!("{name} (η = {lr})"), xs, trace));
    }
    out.figure(
        "training-loss",
        LinePlot::new("Training loss (all methods fit the training set)", "step", "½‖Xw − y‖²/n")
            .log_y()
            .with(curves),
    )
    .caption(
        "All four methods drive the training loss to (nearly) zero: they fit the training set equally well.",
    );
    let names: Vec<String> = makers.iter().map(|m| m.0.to_string()).collect();
    let te: Vec<f64> = names.iter().map(|k| errs[k]).collect();
    let neg = y_test.iter().filter(|v| **v < 0.0).count() as f64 / n_test as f64;
    out.figure(
        "test-error",
        BarChart::new("Test error by method", "method", "test error", &["GD", "AdaGrad", "RMSProp", "Adam"])
            .bars("test error", te.clone())
            .reference(format!("fraction of negatives in the test set ({}): the majority-class predictor", g3(neg)), neg)
            .reference(format!("the claim's threshold, half of it ({})", g3(0.5 * neg)), 0.5 * neg),
    )
    .caption("GD's test error is 0; the adaptive methods' sit at the fraction of negatives — they predict the majority class everywhere.");
    let gd_err = te[0];
    let mut adaptive = errs.clone();
    adaptive.remove("gd");
    out.metric("test_err_gd", gd_err);
    out.metric("test_err_adaptive", adaptive);
    out.metric("final_train_loss", train_losses.clone());
    out.metric("best_lr", chosen);
    let worst_fit = train_losses.values().copied().fold(0.0, f64::max);
    out.claim(Claim::less(
        "all_fit_training_set",
        "Every method drives the training loss to (nearly) zero",
        "the largest final training loss of the four",
        worst_fit,
        1e-3,
    ));
    out.claim(Claim::less(
        "gd_generalizes",
        "Gradient descent from zero (the minimum-norm solution) classifies every test point correctly",
        "GD's test error",
        gd_err,
        0.01,
    ));
    let min_adaptive = te[1..].iter().copied().fold(f64::INFINITY, f64::min);
    out.claim(Claim::check(
        "adaptive_predicts_majority",
        &format!(
            "AdaGrad, RMSProp and Adam end up predicting the majority class: test error ≈ the fraction of negatives (AdaGrad {}, RMSProp {}, Adam {})",
            g3(te[1]),
            g3(te[2]),
            g3(te[3])
        ),
        Check::greater_than(("the smallest adaptive test error", min_adaptive), 0.5, ("the fraction of negatives", neg)),
    ));
    Ok(out)
}
