//! L1 · Rahimi & Recht's "alchemy" example: a two-layer linear network fit to
//! an ill-conditioned linear map. Gradient descent and Adam stall for
//! thousands of steps; Levenberg–Marquardt reaches the optimum in a few
//! dozen.

use std::collections::BTreeMap;

use odl_autodiff::Tensor;
use odl_optim::{adam, levenberg_marquardt, sgd, LmConfig};
use odl_probe::linalg::{singular_values, sym_eig};
use odl_tensor::{Array, DType, Rng};

use super::prelude::*;
use crate::trainer::optimize;

/// The experiment.
pub static EXPERIMENT: Experiment = Experiment {
    id: "alchemy",
    lecture: "L1",
    title: "Gradient descent stalls on an ill-conditioned linear problem; Levenberg–Marquardt does not",
    source: "A. Rahimi & B. Recht, \"Reflections on random kitchen sinks\" / NIPS 2017 Test-of-Time talk",
    setup: "Y = A X with A 10×10 of condition number `cond` (log-spaced singular values) and X 1000 Gaussian samples; \
            a two-layer linear net W₂W₁ of hidden width w, loss ½‖W₂W₁X − Y‖²/N. GD and Adam run `steps` steps at each \
            step size of a grid; Levenberg–Marquardt runs `lm_steps`. For w < 10 the best rank-w map is the floor, \
            from the SVD of Y (Eckart–Young).",
    params: |s| {
        vec![
            ints("widths", &[10, 6], 1, 10, "hidden widths (10: realizable; < 10: rank-limited)"),
            float("cond", 1e6, 1e5, 1e12, "condition number of A"),
            int("steps", s.pick(400, 6000, 20000), 10, 1_000_000, "GD/Adam steps"),
            int("lm_steps", s.pick(60, 200, 400), 1, 10_000, "Levenberg–Marquardt iterations"),
            floats("gd_lrs", &[0.03, 0.1, 0.3, 0.6], 1e-6, 10.0, "GD step sizes"),
            floats("adam_lrs", &[1e-4, 1e-3, 1e-2], 1e-6, 1.0, "Adam step sizes"),
        ]
    },
    run,
};

fn run(r: &Run) -> Result<Outcome> {
    let p = r.params;
    let mut rng = Rng::seed(r.seed());
    let (d, n) = (10usize, 1000usize);
    // A = U diag(s) Vᵀ with log-spaced s from 1 to 1/cond
    let orth = |rng: &mut Rng| odl_nn::orthogonal(rng, d, d, 1.0);
    let (u, v) = (orth(&mut rng), orth(&mut rng));
    let cond = p.float("cond");
    let s: Vec<f64> = (0..d).map(|i| cond.powf(-(i as f64) / (d - 1) as f64)).collect();
    let a: Vec<f64> =
        (0..d * d).map(|k| (0..d).map(|j| u[(k / d) * d + j] * s[j] * v[(k % d) * d + j]).sum()).collect();
    let x = rng.normal(&[d, n], 0.0, 1.0, DType::F64).to_vec_f64();
    // Σ = XXᵀ/N = L Lᵀ: ½‖BX − AX‖²/N = ½‖(B − A)L‖²_F exactly, with 100 residuals instead of 10 000
    let sigma: Vec<f64> = (0..d * d)
        .map(|k| (0..n).map(|t| x[(k / d) * n + t] * x[(k % d) * n + t]).sum::<f64>() / n as f64)
        .collect();
    let (ev, evec) = sym_eig(&sigma, d);
    let l: Vec<f64> = (0..d * d).map(|k| evec[k] * ev[k % d].max(0.0).sqrt()).collect();
    let a_t = Tensor::constant(Array::from_f64(&a, &[d, d], DType::F64));
    let l_t = Tensor::constant(Array::from_f64(&l, &[d, d], DType::F64));
    // Y L has the singular values of Y/√N: the rank-w floor is half the tail of their squares
    let yl: Vec<f64> =
        (0..d * d).map(|k| (0..d).map(|j| a[(k / d) * d + j] * l[j * d + k % d]).sum()).collect();
    let sv_y = singular_values(&yl, d, d);
    let measured_cond = singular_values(&a, d, d);
    let cond_a = measured_cond[0] / measured_cond[d - 1];
    let mut out = Outcome::default();
    let widths = p.usizes("widths");
    let (steps, lm_steps) = (p.usize("steps"), p.usize("lm_steps"));
    let (gd_lrs, adam_lrs) = (p.floats("gd_lrs"), p.floats("adam_lrs"));
    let mut m: [BTreeMap<String, f64>; 5] = Default::default();
    let total = widths.len() * (gd_lrs.len() + adam_lrs.len() + 1);
    let done = std::cell::Cell::new(0usize);
    let mut rows = Vec::new();
    for &w in &widths {
        let floor = 0.5 * sv_y[w.min(d)..].iter().map(|s| s * s).sum::<f64>();
        let loss = |ps: &[Tensor]| -> Tensor {
            ps[1].matmul(&ps[0]).sub(&a_t).matmul(&l_t).square().sum_all() * 0.5
        };
        let theta0 = vec![
            rng.normal(&[w, d], 0.0, (1.0 / d as f64).sqrt(), DType::F64),
            rng.normal(&[d, w], 0.0, (1.0 / w as f64).sqrt(), DType::F64),
        ];
        let loss0 = loss(&theta0.iter().map(|a| Tensor::constant(a.clone())).collect::<Vec<_>>()).item();
        let mut best =
            |opt_name: &str, lrs: &[f64], make: &dyn Fn(f64) -> odl_optim::Chain| -> (f64, f64, Vec<f64>) {
                let mut best = (f64::INFINITY, f64::NAN, vec![]);
                for &lr in lrs {
                    r.progress(done.get() as f64 / total as f64, &format!("w={w}: {opt_name} η={lr}"));
                    done.set(done.get() + 1);
                    let (curve, _) = optimize(&loss, &theta0, &mut make(lr), steps);
                    let last = *curve.last().unwrap();
                    let fin = if curve.len() == steps + 1 && last.is_finite() { last } else { f64::INFINITY };
                    rows.push(vec![
                        w.to_string(),
                        opt_name.into(),
                        lr.to_string(),
                        if fin.is_finite() { fin.to_string() } else { "diverged".into() },
                    ]);
                    if fin < best.0 {
                        best = (fin, lr, curve);
                    }
                }
                best
            };
        let (gd_best, gd_lr, gd_curve) = best("GD", &gd_lrs, &|lr| sgd(lr));
        let (adam_best, adam_lr, adam_curve) = best("Adam", &adam_lrs, &|lr| adam(lr, 0.9, 0.999, 1e-8));
        r.progress(done.get() as f64 / total as f64, &format!("w={w}: Levenberg–Marquardt"));
        done.set(done.get() + 1);
        let theta_flat: Vec<f64> = theta0.iter().flat_map(|a| a.to_vec_f64()).collect();
        let residuals = |t: &Tensor| -> Tensor {
            let w1 = t.slice(0, 0, w * d, 1).reshape(&[w, d]);
            let w2 = t.slice(0, w * d, 2 * w * d, 1).reshape(&[d, w]);
            w2.matmul(&w1).sub(&a_t).matmul(&l_t).reshape(&[d * d])
        };
        let lm = levenberg_marquardt(
            residuals,
            &theta_flat,
            &LmConfig { lambda: 1e-3, max_iters: lm_steps, tol: 0.0 },
        );
        let lm_final = *lm.costs.last().unwrap();
        rows.push(vec![w.to_string(), "LM".into(), "".into(), lm_final.to_string()]);
        let key = w.to_string();
        for (mi, v) in m.iter_mut().zip([floor, lm_final, gd_best, adam_best, loss0]) {
            mi.insert(key.clone(), v);
        }
        let gap = |c: &[f64]| -> Vec<f64> { c.iter().map(|v| (v - floor).max(1e-18)).collect() };
        let it = |c: &[f64]| -> Vec<f64> { (0..c.len()).map(|i| i as f64 + 1.0).collect() };
        let kind = if w >= d { "realizable" } else { "rank-limited" };
        out.figure(
            &format!("loss-width-{w}"),
            LinePlot::new(format!("Width {w}: loss above the floor ({kind})"), "iteration", "loss − floor")
                .log_x()
                .log_y()
                .with([
                    Series::line(format!("GD, best η = {gd_lr}"), it(&gd_curve), gap(&gd_curve)).keyed("GD"),
                    Series::line(format!("Adam, best η = {adam_lr}"), it(&adam_curve), gap(&adam_curve))
                        .keyed("Adam"),
                    Series::line_points("Levenberg–Marquardt", it(&lm.costs), gap(&lm.costs)),
                ]),
        )
    .caption("Levenberg–Marquardt (green) reaches the floor in a few dozen iterations; GD and Adam at their best step sizes are still orders of magnitude above it after thousands.");
        let lm_gap = (lm_final - floor).max(0.0);
        // "at the optimum": within 1e-12 of the initial loss (round-off level for these sizes)
        let tol = 1e-12 * loss0;
        out.claim(Claim::check(
            &format!("lm_reaches_floor_w{w}"),
            &format!(
                "At hidden width {w} ({kind}), Levenberg–Marquardt reaches the optimum (the SVD floor {}) in a couple of hundred iterations",
                g3(floor)
            ),
            Check::that(
                format!("LM loss − floor ≤ 1e-12 × initial loss = {}", g3(tol)),
                format!("{} after {} iterations", g3(lm_gap), lm.costs.len() - 1),
                lm_gap <= tol,
            ),
        ));
        out.claim(Claim::all(
            &format!("gd_adam_stall_w{w}"),
            &format!(
                "At hidden width {w} ({kind}), GD and Adam at their best step sizes do not reach the optimum in {steps} steps, many times LM's iterations"
            ),
            vec![
                Check::greater(&format!("GD's loss − floor (η = {gd_lr})"), gd_best - floor, tol),
                Check::greater(&format!("Adam's loss − floor (η = {adam_lr})"), adam_best - floor, tol),
            ],
        ));
    }
    r.csv("final_losses.csv", &["width", "method", "lr", "final_loss"], &rows)?;
    let [floor, lm, gd, ad, l0] = m;
    out.metric("floor", floor);
    out.metric("lm_final_loss", lm);
    out.metric("gd_best_final_loss", gd);
    out.metric("adam_best_final_loss", ad);
    out.metric("initial_loss", l0);
    out.metric("cond_a", cond_a);
    out.metric("singular_values_a", measured_cond);
    out.claims.insert(0, Claim::greater("ill_conditioned", "A is ill-conditioned", "cond(A)", cond_a, 1e5));
    Ok(out)
}
