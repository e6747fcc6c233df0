//! L11 · Benign non-convexity: low-rank matrix sensing (Bhojanapalli,
//! Neyshabur & Srebro 2016) and completion (Ge, Lee & Ma 2016) have no
//! spurious local minima — gradient descent from every random start finds a
//! global minimum — in contrast with a non-benign problem (a two-layer ReLU
//! teacher–student, Safran & Shamir 2018).

use odl_tensor::Rng;

use super::prelude::*;
use crate::teacher_student::{descend, End};

/// The experiment.
pub static EXPERIMENT: Experiment = Experiment {
    id: "matrix-sensing",
    lecture: "L11",
    title: "Low-rank matrix sensing and completion: every random start reaches a global minimum",
    source: "S. Bhojanapalli, B. Neyshabur, N. Srebro, NeurIPS 2016; R. Ge, J. Lee, T. Ma, NeurIPS 2016; contrast: I. Safran & O. Shamir, ICML 2018",
    setup: "M* = U*U*ᵀ (n×n, rank r). Sensing: m = `oversampling`·n·r symmetric Gaussian measurements bᵢ = ⟨Aᵢ, M*⟩, \
            f(U) = (1/2m)Σ(⟨Aᵢ, UUᵀ⟩ − bᵢ)². Completion: each entry observed with probability `p_observe`, \
            f(U) = (1/2p)Σ_Ω((UUᵀ)ᵢⱼ − M*ᵢⱼ)². Gradient descent from `inits` random starts U₀ ~ N(0, 1/n); a run is global \
            when ‖UUᵀ − M*‖_F < 1e-3‖M*‖_F. Contrast: the ReLU teacher–student population loss with k = n = `contrast_k`.",
    params: |s| {
        vec![
            int("n", s.pick(12, 20, 40), 2, 1000, "matrix size"),
            int("rank", 2, 1, 100, "rank r"),
            float("oversampling", 5.0, 0.5, 100.0, "measurements per degree of freedom (m = oversampling·n·r)"),
            float("p_observe", 0.7, 0.01, 1.0, "probability that an entry is observed (completion)"),
            int("inits", s.pick(20, 40, 200), 1, 100000, "random starts"),
            int("max_iters", s.pick(3000, 5000, 20000), 10, 100_000_000, "iteration cap"),
            int("contrast_k", 10, 2, 50, "teacher neurons of the non-benign contrast"),
        ]
    },
    run,
};

fn matmul_t(u: &[f64], n: usize, r: usize) -> Vec<f64> {
    let mut m = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            m[i * n + j] = (0..r).map(|k| u[i * r + k] * u[j * r + k]).sum();
        }
    }
    m
}

/// GD on U for a loss given as residual map M ↦ (value, G) with ∇_U f = (G + Gᵀ)U.
fn solve(
    u0: Vec<f64>,
    n: usize,
    r: usize,
    eta: f64,
    cap: usize,
    grad_m: &dyn Fn(&[f64]) -> Vec<f64>,
    mstar: &[f64],
) -> (bool, f64) {
    let mut u = u0;
    let norm_star = mstar.iter().map(|v| v * v).sum::<f64>().sqrt();
    for _ in 0..cap {
        let m = matmul_t(&u, n, r);
        let err = m.iter().zip(mstar).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt() / norm_star;
        if err < 1e-3 {
            return (true, err);
        }
        if !err.is_finite() {
            return (false, err);
        }
        let g = grad_m(&m);
        let mut du = vec![0.0; n * r];
        for i in 0..n {
            for k in 0..r {
                du[i * r + k] = (0..n).map(|j| (g[i * n + j] + g[j * n + i]) * u[j * r + k]).sum();
            }
        }
        u.iter_mut().zip(&du).for_each(|(a, b)| *a -= eta * b);
    }
    let m = matmul_t(&u, n, r);
    (false, m.iter().zip(mstar).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt() / norm_star)
}

fn run(r: &Run) -> Result<Outcome> {
    let p = r.params;
    let (n, rank, inits, cap) = (p.usize("n"), p.usize("rank"), p.usize("inits"), p.usize("max_iters"));
    let mut rng = Rng::seed(r.seed());
    let ustar: Vec<f64> = (0..n * rank).map(|_| rng.normal_f64() / (n as f64).sqrt()).collect();
    let mstar = matmul_t(&ustar, n, rank);
    let spec = (mstar.iter().map(|v| v * v).sum::<f64>()).sqrt();
    let eta = 0.1 / spec;
    // sensing operator: m symmetric Gaussian matrices
    let m = ((p.float("oversampling") * (n * rank) as f64).round() as usize).max(1);
    let a: Vec<Vec<f64>> = (0..m)
        .map(|_| {
            let g: Vec<f64> = (0..n * n).map(|_| rng.normal_f64()).collect();
            (0..n * n).map(|k| 0.5 * (g[k] + g[(k % n) * n + k / n])).collect()
        })
        .collect();
    let b: Vec<f64> = a.iter().map(|ai| ai.iter().zip(&mstar).map(|(x, y)| x * y).sum()).collect();
    let sensing = |mm: &[f64]| -> Vec<f64> {
        let mut g = vec![0.0; n * n];
        for (ai, bi) in a.iter().zip(&b) {
            let res = ai.iter().zip(mm).map(|(x, y)| x * y).sum::<f64>() - bi;
            g.iter_mut().zip(ai).for_each(|(gv, av)| *gv += res * av / m as f64);
        }
        g.iter_mut().for_each(|v| *v *= 0.5);
        g
    };
    let po = p.float("p_observe");
    let mask: Vec<f64> =
        (0..n * n).map(|k| if k % n == k / n || rng.uniform_f64() < po { 1.0 } else { 0.0 }).collect();
    let mask: Vec<f64> = (0..n * n).map(|k| mask[k.min((k % n) * n + k / n)]).collect();
    let completion =
        |mm: &[f64]| -> Vec<f64> { (0..n * n).map(|k| 0.5 * mask[k] * (mm[k] - mstar[k]) / po).collect() };
    let mut out = Outcome::default();
    let mut results = Vec::new();
    for (pi, (name, f)) in [("sensing", &sensing as &dyn Fn(&[f64]) -> Vec<f64>), ("completion", &completion)]
        .into_iter()
        .enumerate()
    {
        let mut global = 0;
        let mut errs = Vec::new();
        for i in 0..inits {
            r.progress((pi as f64 + i as f64 / inits as f64) / 3.0, name);
            let u0: Vec<f64> = (0..n * rank).map(|_| rng.normal_f64() / (n as f64).sqrt()).collect();
            let (ok, err) = solve(u0, n, rank, eta, cap, f, &mstar);
            global += ok as usize;
            errs.push(err);
        }
        results.push((name, global as f64 / inits as f64, errs));
    }
    // the non-benign contrast
    let k = p.usize("contrast_k");
    let v: Vec<Vec<f64>> = (0..k).map(|i| (0..k).map(|j| if i == j { 1.0 } else { 0.0 }).collect()).collect();
    let mut good = 0;
    for i in 0..inits {
        r.progress((2.0 + i as f64 / inits as f64) / 3.0, "contrast: ReLU teacher–student");
        let w0 = (0..k).map(|_| (0..k).map(|_| rng.normal_f64() / (k as f64).sqrt()).collect()).collect();
        if matches!(descend(w0, &v, 3.0 / k as f64, 1e-7, 1e-4, 50_000), End::Global) {
            good += 1;
        }
    }
    let contrast = good as f64 / inits as f64;
    out.metric(
        "frac_global",
        Metric::map([
            ("sensing", Metric::from(results[0].1)),
            ("completion", Metric::from(results[1].1)),
            ("relu_teacher_student", Metric::from(contrast)),
        ]),
    );
    out.metric("measurements", m);
    out.figure(
        "final-errors",
        LinePlot::new("Relative error ‖UUᵀ − M*‖_F/‖M*‖_F at the end of each run", "run", "relative error")
            .log_y()
            .with(results.iter().map(|(nm, _, e)| {
                Series::points(nm.to_string(), (0..e.len()).map(|i| i as f64).collect(), e.clone())
            })),
    )
    .caption("Every run of sensing and completion ends at relative error near 0 (a global minimum); the ReLU teacher–student contrast is in the claims.");
    let (fs, fc) = (results[0].1, results[1].1);
    out.claim(Claim::check(
        "sensing_is_benign",
        "Matrix sensing with enough Gaussian measurements: every random start reaches a global minimum",
        Check::equals("fraction of runs that reach a global minimum", fs, 1.0),
    ));
    out.claim(Claim::check(
        "completion_is_benign",
        "Matrix completion with enough observed entries: every random start reaches a global minimum",
        Check::equals("fraction of runs that reach a global minimum", fc, 1.0),
    ));
    out.claim(Claim::less(
        "relu_contrast_is_not",
        &format!("The ReLU teacher–student problem (k = n = {k}) is not benign: some starts end in spurious minima"),
        "fraction of runs that reach a global minimum",
        contrast,
        1.0,
    ));
    Ok(out)
}
