//! L11 · Safran & Shamir 2018, "Spurious local minima are common in two-layer
//! ReLU neural networks": a student x ↦ Σᵢ relu(wᵢᵀx) fit to a teacher with
//! k orthonormal neurons under Gaussian inputs, through the closed-form
//! population loss. Gradient descent from random starts ends in spurious
//! local minima, more often as k grows; one extra neuron helps.

use std::collections::BTreeMap;

use odl_tensor::Rng;

use super::prelude::*;
use crate::teacher_student::{descend, End};

/// The experiment.
pub static EXPERIMENT: Experiment = Experiment {
    id: "spurious-minima",
    lecture: "L11",
    title: "Spurious local minima are common in two-layer ReLU networks",
    source: "I. Safran & O. Shamir, \"Spurious local minima are common in two-layer ReLU neural networks\", ICML 2018",
    setup: "Teacher f_v(x) = Σⱼ relu(vⱼᵀx) with v₁…v_k the first k unit vectors of ℝᵏ; student with n neurons; x ~ N(0, I). \
            The population loss ½E(f_w − f_v)² in closed form with E[relu(aᵀx)relu(bᵀx)] = ‖a‖‖b‖(sin θ + (π−θ)cos θ)/2π, \
            and its exact gradient. Gradient descent (step `eta`/k) from N(0, I/k) starts (`inits` per setting) until the \
            gradient norm is below `grad_tol`; a run ends in a spurious minimum when it converged with loss > `bad_loss`.",
    params: |s| {
        vec![
            ints("ks", &s.pick(vec![6, 8, 10], vec![6, 8, 10, 12, 14], vec![6, 8, 10, 12, 14, 16]), 1, 200, "teacher neurons k").distinct(2),
            int("inits", s.pick(24, 50, 100), 1, 100000, "random starts per (k, n)"),
            float("eta", 3.0, 1e-6, 100.0, "GD step size times k (the step is eta/k: the curvature grows with k)"),
            float("grad_tol", 1e-7, 1e-14, 1.0, "convergence: gradient norm below this"),
            float("bad_loss", 1e-4, 1e-12, 10.0, "a converged loss above this is a spurious minimum"),
            int("max_iters", s.pick(20000, 50000, 100_000), 10, 100_000_000, "iteration cap"),
        ]
    },
    run,
};

fn run(r: &Run) -> Result<Outcome> {
    let p = r.params;
    let (ks, inits, eta, tol, bad, cap) = (
        p.usizes("ks"),
        p.usize("inits"),
        p.float("eta"),
        p.float("grad_tol"),
        p.float("bad_loss"),
        p.usize("max_iters"),
    );
    let mut rng = Rng::seed(r.seed());
    let mut out = Outcome::default();
    let (mut frac, mut unconv, mut losses) = (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    let mut series: Vec<(String, Vec<f64>)> = vec![("n = k".into(), vec![]), ("n = k + 1".into(), vec![])];
    let total = ks.len() * 2;
    for (ki, &k) in ks.iter().enumerate() {
        let v: Vec<Vec<f64>> =
            (0..k).map(|i| (0..k).map(|j| if i == j { 1.0 } else { 0.0 }).collect()).collect();
        for (extra, s) in series.iter_mut().enumerate() {
            let n = k + extra;
            r.progress((2 * ki + extra) as f64 / total as f64, &format!("k = {k}, n = {n}"));
            let (mut nbad, mut nun, mut bad_losses) = (0, 0, Vec::new());
            for _ in 0..inits {
                let w0 =
                    (0..n).map(|_| (0..k).map(|_| rng.normal_f64() / (k as f64).sqrt()).collect()).collect();
                match descend(w0, &v, eta / k as f64, tol, bad, cap) {
                    End::Global => {}
                    End::Spurious(l) => {
                        nbad += 1;
                        bad_losses.push(l);
                    }
                    End::Unconverged => nun += 1,
                }
            }
            let key = format!("k={k},n={n}");
            let f = nbad as f64 / inits as f64;
            frac.insert(key.clone(), f);
            unconv.insert(key.clone(), nun as f64 / inits as f64);
            losses.insert(key, bad_losses);
            s.1.push(f);
        }
    }
    let kf: Vec<f64> = ks.iter().map(|k| *k as f64).collect();
    let worst_unconverged = unconv.values().copied().fold(0.0, f64::max);
    if worst_unconverged > 0.0 {
        out.notes.push(format!(
            "Up to {} of the runs of a setting had not converged within {cap} iterations; they count as neither global nor spurious.",
            g3(worst_unconverged)
        ));
    }
    out.figure(
        "bad-fraction",
        LinePlot::new(
            "Fraction of random starts ending in a spurious local minimum",
            "teacher neurons k",
            "fraction of runs",
        )
        .with(series.iter().map(|(n, v)| Series::line_points(n.clone(), kf.clone(), v.clone()))),
    )
    .caption("With n = k students the fraction of runs that end in a spurious minimum grows with k; one extra neuron (n = k + 1) lowers it.");
    out.metric("bad_fraction", frac);
    out.metric("unconverged_fraction", unconv);
    out.metric("spurious_losses", losses);
    let (eq, plus) = (&series[0].1, &series[1].1);
    let worst = eq.iter().copied().fold(0.0, f64::max);
    out.claim(Claim::check(
        "spurious_minima_exist",
        "Gradient descent from random starts ends in spurious local minima (loss > 0, zero gradient) for k ≥ 6",
        Check::that(
            "some run with n = k converges to a non-global minimum",
            format!("fractions of bad runs (n = k): {}", eq.iter().map(|f| g3(*f)).collect::<Vec<_>>().join(", ")),
            worst > 0.0,
        ),
    ));
    let (first, last) = (eq[0], *eq.last().unwrap());
    out.claim(Claim::all(
        "more_common_with_k",
        "Spurious minima become more common as k grows",
        vec![
            Check::that(
                format!("fraction of bad runs at k = {} ≥ at k = {}", ks[ks.len() - 1], ks[0]),
                format!("{} vs {}", g3(last), g3(first)),
                last >= first,
            ),
            Check::greater(&format!("at k = {}", ks[ks.len() - 1]), last, 0.0),
        ],
    ));
    let (s_eq, s_plus): (f64, f64) = (eq.iter().sum(), plus.iter().sum());
    out.claim(Claim::check(
        "overparameterization_helps",
        "One extra student neuron (n = k + 1) makes spurious minima rarer",
        Check::less_than(
            ("total fraction of bad runs over k with n = k + 1", s_plus),
            1.0,
            ("with n = k", s_eq),
        ),
    ));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::teacher_student::loss_grad;
    use odl_tensor::Rng;

    #[test]
    fn closed_form_gradient_matches_finite_differences() {
        let mut rng = Rng::seed(1);
        let v: Vec<Vec<f64>> =
            (0..3).map(|i| (0..3).map(|j| if i == j { 1.0 } else { 0.0 }).collect()).collect();
        let w: Vec<Vec<f64>> = (0..4).map(|_| (0..3).map(|_| rng.normal_f64()).collect()).collect();
        let (_, g) = loss_grad(&w, &v);
        let h = 1e-6;
        for i in 0..4 {
            for j in 0..3 {
                let mut a = w.clone();
                a[i][j] += h;
                let mut b = w.clone();
                b[i][j] -= h;
                let fd = (loss_grad(&a, &v).0 - loss_grad(&b, &v).0) / (2.0 * h);
                assert!((fd - g[i][j]).abs() < 1e-7, "({i},{j}): {fd} vs {}", g[i][j]);
            }
        }
        // the teacher itself is a global minimum with loss 0
        assert!(loss_grad(&v, &v).0.abs() < 1e-12);
    }
}
