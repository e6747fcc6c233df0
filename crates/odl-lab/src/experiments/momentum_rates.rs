//! L10 · Gradient descent, heavy ball and Nesterov on quadratics: with their
//! optimal constant step sizes, GD needs iterations ∝ κ and the momentum
//! methods ∝ √κ (Polyak 1964; Nesterov 1983).

use odl_optim::{momentum, nesterov, sgd, Chain};
use odl_tensor::Rng;

use super::prelude::*;
use crate::fit::power_law;
use crate::trainer::iterate;

/// The experiment.
pub static EXPERIMENT: Experiment = Experiment {
    id: "momentum-rates",
    lecture: "L10",
    title: "Momentum on quadratics: iterations ∝ κ for gradient descent, ∝ √κ for heavy ball and Nesterov",
    source: "B. Polyak, \"Some methods of speeding up the convergence of iteration methods\", 1964; Y. Nesterov, 1983; the course's Lecture 10",
    setup: "f(x) = ½ xᵀ diag(λ) x in dimension `dim`, eigenvalues log-spaced from μ = 1 to L = κ for each κ of `kappas`, \
            x₀ Gaussian. GD with step 2/(L+μ); heavy ball with α = 4/(√L+√μ)², β = ((√κ−1)/(√κ+1))²; Nesterov with α = 1/L, \
            β = (√κ−1)/(√κ+1) — odl's sgd, momentum and nesterov transformations (PyTorch's conventions). Iterations until \
            f(x_k) ≤ `tol`·f(x₀); the exponent of κ is fitted in log–log.",
    params: |s| {
        vec![
            floats("kappas", &s.pick(vec![10.0, 100.0, 1000.0], vec![10.0, 100.0, 1e3, 1e4], vec![10.0, 100.0, 1e3, 1e4, 1e5]), 1.0 + 1e-9, 1e9, "condition numbers κ").distinct(2),
            int("dim", 100, 2, 100000, "dimension"),
            float("tol", 1e-6, 1e-15, 0.5, "relative loss reached"),
            int("max_iters", 10_000_000, 10, 1_000_000_000, "iteration cap"),
        ]
    },
    run,
};

fn run(r: &Run) -> Result<Outcome> {
    let p = r.params;
    let (kappas, d, tol, cap) = (p.floats("kappas"), p.usize("dim"), p.float("tol"), p.usize("max_iters"));
    let mut rng = Rng::seed(r.seed());
    let x0: Vec<f64> = (0..d).map(|_| rng.normal_f64()).collect();
    let names = ["gd", "heavy_ball", "nesterov"];
    let mut iters: Vec<Vec<f64>> = vec![Vec::new(); 3];
    let mut curves: Vec<Series> = Vec::new();
    for (ki, &kappa) in kappas.iter().enumerate() {
        r.progress(ki as f64 / kappas.len() as f64, &format!("κ = {kappa}"));
        let lam: Vec<f64> = (0..d).map(|i| kappa.powf(i as f64 / (d - 1) as f64)).collect();
        let f = |x: &[f64]| 0.5 * x.iter().zip(&lam).map(|(a, l)| l * a * a).sum::<f64>();
        let f0 = f(&x0);
        let (mu, l) = (1.0, kappa);
        let sk = kappa.sqrt();
        let opts: [Chain; 3] = [
            sgd(2.0 / (l + mu)),
            momentum(4.0 / (l.sqrt() + mu.sqrt()).powi(2), ((sk - 1.0) / (sk + 1.0)).powi(2)),
            nesterov(1.0 / l, (sk - 1.0) / (sk + 1.0)),
        ];
        for (m, mut opt) in opts.into_iter().enumerate() {
            let mut trace = Vec::new();
            let record = ki + 1 == kappas.len();
            let (k, _) = iterate(
                &mut |x| x.iter().zip(&lam).map(|(a, l)| l * a).collect(),
                &x0,
                &mut opt,
                &mut |x, _| {
                    let v = f(x) / f0;
                    if record {
                        trace.push(v);
                    }
                    v <= tol
                },
                cap,
            );
            iters[m].push(k.map_or(f64::NAN, |k| k as f64));
            if record {
                curves.push(Series::indexed(names[m].replace('_', " "), trace));
            }
        }
    }
    let mut out = Outcome::default();
    let mut series = Vec::new();
    let mut exps = Vec::new();
    for (m, name) in names.iter().enumerate() {
        let (e, _) = power_law(&kappas, &iters[m]);
        out.metric(&format!("exponent_{name}"), e);
        out.metric(&format!("iters_{name}"), iters[m].clone());
        exps.push(e);
        series.push(Series::line_points(
            format!("{} (fit κ^{:.2})", name.replace('_', " "), e),
            kappas.clone(),
            iters[m].clone(),
        ));
    }
    out.metric("kappas", kappas.clone());
    out.figure(
        "iterations-vs-kappa",
        LinePlot::new("Iterations to reach the tolerance vs condition number", "κ = L/μ", "iterations")
            .log_x()
            .log_y()
            .with(series),
    )
    .caption(
        "On log–log axes the iterations grow with slope ≈ 1 for GD and ≈ ½ for heavy ball and Nesterov.",
    );
    let kmax = kappas[kappas.len() - 1];
    out.figure(
        "convergence",
        LinePlot::new(format!("f(x_k)/f(x₀) at κ = {kmax}"), "iteration k", "f(x_k)/f(x₀)")
            .log_y()
            .with(curves),
    )
    .caption("At the largest κ the momentum methods reach the tolerance long before GD.");
    let (eg, eh, en) = (exps[0], exps[1], exps[2]);
    out.claim(Claim::in_range(
        "gd_linear_in_kappa",
        "Gradient descent with its optimal step needs O(κ log 1/ε) iterations",
        "exponent of κ",
        eg,
        0.85,
        1.15,
    ));
    out.claim(Claim::all(
        "momentum_sqrt_kappa",
        "Heavy ball and Nesterov with their optimal constants need O(√κ log 1/ε) iterations",
        vec![
            Check::in_range("heavy ball's exponent", eh, 0.35, 0.65),
            Check::in_range("Nesterov's exponent", en, 0.35, 0.65),
        ],
    ));
    Ok(out)
}
