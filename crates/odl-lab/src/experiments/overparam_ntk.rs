//! L11 · Du, Zhai, Póczos & Singh 2018, "Gradient descent provably optimizes
//! over-parameterized neural networks": a two-layer ReLU net trained by GD
//! converges linearly at a rate set by λ₀ = λ_min(H∞), and the wider it is
//! the less its weights and activation patterns move (the lazy regime).

use odl_probe::linalg::sym_eigvals;
use odl_tensor::cpu::matmul::gemm_new;
use odl_tensor::Rng;

use super::prelude::*;
use crate::fit::{line, power_law};

/// The experiment.
pub static EXPERIMENT: Experiment = Experiment {
    id: "overparam-ntk",
    lecture: "L11",
    title: "Over-parameterized two-layer ReLU nets: linear convergence, and weights that barely move as width grows",
    source: "S. Du, X. Zhai, B. Póczos, A. Singh, \"Gradient descent provably optimizes over-parameterized neural networks\", ICLR 2019",
    setup: "f(x) = m^(−1/2) Σ_r a_r relu(w_rᵀx) with a_r = ±1 fixed and w_r(0) ~ N(0, I); n points on the unit sphere of ℝᵈ with \
            labels ±1; loss ½Σᵢ(f(xᵢ) − yᵢ)²; GD on W with η = 1/λ_max(H∞) for `steps` steps, for each width of `widths`. \
            H(0) is the NTK Gram matrix at initialization, H∞ its infinite-width limit xᵢᵀxⱼ(π − arccos xᵢᵀxⱼ)/2π with \
            λ₀ = λ_min(H∞). Measured: the late linear rate of ln loss, λ_min(H(0)), max_r ‖w_r(T) − w_r(0)‖ and the fraction \
            of activation patterns 1[w_rᵀxᵢ > 0] that flipped.",
    params: |s| {
        vec![
            ints(
                "widths",
                &s.pick(vec![32, 128, 512, 2048], vec![32, 128, 512, 2048, 8192], vec![32, 128, 512, 2048, 8192, 32768]),
                1,
                1 << 22,
                "widths m",
            )
            .distinct(2),
            int("n", 20, 2, 2000, "training points"),
            int("dim", 10, 2, 1000, "input dimension d"),
            int("steps", s.pick(1000, 2000, 5000), 10, 10_000_000, "GD steps"),
        ]
    },
    run,
};

fn run(r: &Run) -> Result<Outcome> {
    let p = r.params;
    let (widths, n, d, steps) = (p.usizes("widths"), p.usize("n"), p.usize("dim"), p.usize("steps"));
    let mut rng = Rng::seed(r.seed());
    let x: Vec<Vec<f64>> = (0..n)
        .map(|_| {
            let v: Vec<f64> = (0..d).map(|_| rng.normal_f64()).collect();
            let nv = v.iter().map(|a| a * a).sum::<f64>().sqrt();
            v.iter().map(|a| a / nv).collect()
        })
        .collect();
    let y: Vec<f64> = (0..n).map(|_| if rng.uniform_f64() < 0.5 { 1.0 } else { -1.0 }).collect();
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| p * q).sum::<f64>();
    let h_inf: Vec<f64> = (0..n * n)
        .map(|k| {
            let c = dot(&x[k / n], &x[k % n]).clamp(-1.0, 1.0);
            c * (std::f64::consts::PI - c.acos()) / (2.0 * std::f64::consts::PI)
        })
        .collect();
    let ev_inf = sym_eigvals(&h_inf, n);
    let (lambda0, lmax) = (ev_inf[0], ev_inf[n - 1]);
    let eta = 1.0 / lmax;
    let mut out = Outcome::default();
    let (mut rates, mut lmins, mut moves, mut flips, mut finals) = (vec![], vec![], vec![], vec![], vec![]);
    let mut curves = Vec::new();
    for (wi, &m) in widths.iter().enumerate() {
        r.progress(wi as f64 / widths.len() as f64, &format!("width {m}"));
        let a: Vec<f64> = (0..m).map(|_| if rng.uniform_f64() < 0.5 { 1.0 } else { -1.0 }).collect();
        let w0: Vec<Vec<f64>> = (0..m).map(|_| (0..d).map(|_| rng.normal_f64()).collect()).collect();
        let mut w = w0.clone();
        let sm = (m as f64).sqrt();
        let pattern = |w: &[Vec<f64>]| -> Vec<bool> {
            w.iter().flat_map(|wr| x.iter().map(move |xi| dot(wr, xi) > 0.0)).collect()
        };
        let p0 = pattern(&w0);
        // H(0)_ij = (1/m) Σ_r xᵢᵀxⱼ 1[w_rᵀxᵢ > 0] 1[w_rᵀxⱼ > 0]
        let mut h0 = vec![0.0; n * n];
        for r_ in 0..m {
            for i in 0..n {
                if !p0[r_ * n + i] {
                    continue;
                }
                for j in 0..n {
                    if p0[r_ * n + j] {
                        h0[i * n + j] += dot(&x[i], &x[j]) / m as f64;
                    }
                }
            }
        }
        lmins.push(sym_eigvals(&h0, n)[0]);
        let mut losses = Vec::with_capacity(steps + 1);
        // GD on the first layer as two products per step: Z = W Xᵀ (the
        // preactivations, m×n) and the gradient (1[Z > 0] ∘ a rᵀ/√m) X
        let xs: Vec<f64> = x.concat();
        let mut wf: Vec<f64> = w.concat();
        for t in 0..=steps {
            let z = gemm_new(m, n, d, &wf, false, &xs, true);
            let u: Vec<f64> =
                (0..n).map(|i| (0..m).map(|r_| a[r_] * z[r_ * n + i].max(0.0)).sum::<f64>() / sm).collect();
            let res: Vec<f64> = u.iter().zip(&y).map(|(ui, yi)| ui - yi).collect();
            losses.push(0.5 * res.iter().map(|v| v * v).sum::<f64>());
            if t == steps {
                break;
            }
            let c: Vec<f64> = z
                .iter()
                .enumerate()
                .map(|(k, zk)| if *zk > 0.0 { res[k % n] * a[k / n] / sm } else { 0.0 })
                .collect();
            let g = gemm_new(m, d, n, &c, false, &xs, false);
            wf.iter_mut().zip(&g).for_each(|(v, gj)| *v -= eta * gj);
        }
        w = wf.chunks(d).map(<[f64]>::to_vec).collect();
        // the late rate: slope of ln loss while it falls from 1e-3 of its start to
        // 1e-20 (above round-off, after the transient)
        let band: Vec<(f64, f64)> = losses
            .iter()
            .enumerate()
            .filter(|(_, l)| **l < 1e-3 * losses[0] && **l > 1e-20)
            .map(|(t, l)| (t as f64, l.ln()))
            .collect();
        let (ts, ll): (Vec<f64>, Vec<f64>) = band.into_iter().unzip();
        let (_, slope, _) = line(&ts, &ll);
        rates.push(-slope);
        finals.push(*losses.last().unwrap());
        moves.push(
            w.iter()
                .zip(&w0)
                .map(|(a, b)| a.iter().zip(b).map(|(p, q)| (p - q).powi(2)).sum::<f64>().sqrt())
                .fold(0.0, f64::max),
        );
        let pt = pattern(&w);
        flips.push(pt.iter().zip(&p0).filter(|(a, b)| a != b).count() as f64 / pt.len() as f64);
        let stride = (steps / 400).max(1);
        let (cx, cy): (Vec<f64>, Vec<f64>) =
            (0..=steps).step_by(stride).map(|t| (t as f64, losses[t])).unzip();
        curves.push(Series::line(format!("m = {m}"), cx, cy));
    }
    let wf: Vec<f64> = widths.iter().map(|w| *w as f64).collect();
    let (move_slope, _) = power_law(&wf, &moves);
    let predicted_rate = -2.0 * (1.0 - eta * lambda0).ln();
    out.metric("lambda0", lambda0);
    let by_width =
        |v: &[f64]| Metric::map(widths.iter().zip(v).map(|(m, l)| (m.to_string(), Metric::from(*l))));
    out.metric("lambda_min", by_width(&lmins));
    out.metric("rate", by_width(&rates));
    out.metric("weight_move_slope", move_slope);
    out.metric("max_weight_movement", moves.clone());
    out.metric("flipped_fraction", flips.clone());
    out.metric("final_loss", finals);
    out.metric("eta", eta);
    out.metric("predicted_rate", predicted_rate);
    out.figure(
        "loss",
        LinePlot::new("Training loss under GD: linear convergence", "step", "½‖u − y‖²").log_y().with(curves),
    )
    .caption("The loss falls linearly on a log axis — linear convergence — and faster for wider nets.");
    out.figure(
        "lazy",
        LinePlot::new("How far training moves the first layer, by width", "width m", "value")
            .log_x()
            .log_y()
            .with([
                Series::line_points("max_r ‖w_r(T) − w_r(0)‖", wf.clone(), moves.clone()),
                Series::line_points("fraction of flipped activations", wf.clone(), flips.clone()),
                Series::dashed(
                    "∝ m^(−1/2)",
                    wf.clone(),
                    wf.iter().map(|m| moves[0] * (wf[0] / m).sqrt()).collect(),
                ),
            ]),
    )
    .caption("The largest weight movement follows the m^(−1/2) line; the fraction of flipped activations falls with width too.");
    out.figure(
        "lambda-min",
        LinePlot::new("λ_min of the NTK Gram matrix at initialization", "width m", "λ_min(H(0))")
            .log_x()
            .with([
                Series::line_points("H(0)", wf.clone(), lmins.clone()),
                Series::dashed("λ₀ = λ_min(H∞)", vec![wf[0], wf[wf.len() - 1]], vec![lambda0, lambda0]),
            ]),
    )
    .caption("λ_min of the Gram matrix at initialization approaches λ₀ (dashed) as the width grows.");
    out.claim(Claim::in_range(
        "weights_move_like_inverse_sqrt_width",
        "The largest per-neuron weight movement shrinks like m^(−1/2)",
        "log–log slope of the movement against m",
        move_slope,
        -0.75,
        -0.25,
    ));
    let (f0, f1) = (flips[0], *flips.last().unwrap());
    out.claim(Claim::check(
        "patterns_freeze",
        "Activation patterns stop changing as the width grows",
        Check::less_than(
            (&format!("fraction of flipped activations at m = {}", widths[widths.len() - 1]), f1),
            0.25,
            (&format!("at m = {}", widths[0]), f0),
        ),
    ));
    let (lm_last, r_last) = (*lmins.last().unwrap(), *rates.last().unwrap());
    out.claim(Claim::all(
        "gram_converges_and_is_positive",
        "λ_min(H(0)) approaches λ₀ = λ_min(H∞) > 0 as the width grows",
        vec![
            Check::greater("λ₀", lambda0, 0.0),
            Check::within(&format!("λ_min(H(0)) at m = {}", widths[widths.len() - 1]), lm_last, lambda0, 0.2),
        ],
    ));
    out.claim(Claim::check(
        "linear_convergence_at_rate_lambda0",
        "At large width, GD converges linearly at the rate the Gram matrix predicts: ln loss falls by ≈ −2 ln(1 − ηλ₀) per step",
        Check::within("the late rate", r_last, predicted_rate, 0.3),
    ));
    Ok(out)
}
