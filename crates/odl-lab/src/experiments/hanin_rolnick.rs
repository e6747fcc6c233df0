//! L6 · Hanin & Rolnick 2018, "How to start training: the effect of
//! initialization and architecture": the two failure modes of ReLU nets at
//! initialization, measured over many random draws.

use odl_tensor::Rng;

use super::prelude::*;
use crate::fit::{digamma, line, mean_var, trigamma};

/// The experiment.
pub static EXPERIMENT: Experiment = Experiment {
    id: "hanin-rolnick",
    lecture: "L6",
    title: "Two failure modes at initialization: the mean length (weight variance) and its spread (β = Σ 1/n_j)",
    source: "B. Hanin & D. Rolnick, \"How to start training: the effect of initialization and architecture\", NeurIPS 2018",
    setup: "ReLU nets of `depth` hidden layers, weights N(0, c·2/fan_in), a fixed input; M = (‖h_L‖²/n_L)/(‖x‖²/n₀) over `draws` \
            random initializations. Failure mode 1: E[M] = c^L, so only c = 1 (He) keeps the mean length. Failure mode 2: \
            Var[ln M] grows like 5β with β = Σ_j 1/n_j, for constant width profiles `widths` and an alternating profile with \
            the same β as width 16; residual blocks h_l = h_{l−1} + α·ReLU(W_l h_{l−1}) (α = `residual_scale`) keep it small.",
    params: |s| {
        vec![
            int("depth", s.pick(6, 10, 20), 1, 1000, "hidden layers L"),
            int("draws", s.pick(1500, 2000, 10000), 10, 1_000_000, "random initializations per configuration"),
            ints("widths", &[16, 32, 64, 128], 2, 4096, "constant width profiles").distinct(2),
            int("input_dim", 32, 1, 4096, "input dimension n₀"),
            floats("weight_scales", &[0.8, 0.9, 1.0, 1.1, 1.25], 0.01, 10.0, "variance multipliers c for failure mode 1").distinct(2),
            float("residual_scale", 0.25, 0.0, 10.0, "α of the residual branches"),
        ]
    },
    run,
};

/// ln M for one random ReLU net with hidden widths `widths` and variance multiplier `c`.
fn log_length(rng: &mut Rng, x: &[f64], widths: &[usize], c: f64, residual: Option<f64>) -> f64 {
    let mut h = x.to_vec();
    let q0 = h.iter().map(|v| v * v).sum::<f64>() / h.len() as f64;
    for &n in widths {
        let fan_in = h.len();
        let sd = (c * 2.0 / fan_in as f64).sqrt();
        let z: Vec<f64> =
            (0..n).map(|_| (0..fan_in).map(|j| rng.normal_f64() * sd * h[j]).sum::<f64>().max(0.0)).collect();
        h = match residual {
            Some(a) if n == fan_in => h.iter().zip(&z).map(|(x, r)| x + a * r).collect(),
            _ => z,
        };
    }
    let q = h.iter().map(|v| v * v).sum::<f64>() / h.len() as f64;
    (q / q0).ln()
}

/// The exact per-layer variance of ln((2/n)·χ²_K), K ~ Binomial(n, ½) given
/// K ≥ 1: the factor by which one ReLU layer of width n with He weights
/// multiplies the squared length (rotation invariance makes it independent of
/// the input). Var = E[ψ′(K/2)] + Var[ψ(K/2)] ≈ 5/n for large n.
pub fn layer_log_variance(n: usize) -> f64 {
    let lnc = |k: usize| -> f64 { (1..=k).map(|i| ((n - k + i) as f64 / i as f64).ln()).sum() };
    let w: Vec<f64> = (1..=n).map(|k| (lnc(k) - n as f64 * 2f64.ln()).exp()).collect();
    let z: f64 = w.iter().sum();
    let mu: f64 = (1..=n).map(|k| w[k - 1] * digamma(k as f64 / 2.0)).sum::<f64>() / z;
    (1..=n)
        .map(|k| w[k - 1] * (trigamma(k as f64 / 2.0) + (digamma(k as f64 / 2.0) - mu).powi(2)))
        .sum::<f64>()
        / z
}

fn run(r: &Run) -> Result<Outcome> {
    let p = r.params;
    let (depth, draws, n0) = (p.usize("depth"), p.usize("draws"), p.usize("input_dim"));
    let mut rng = Rng::seed(r.seed());
    let x: Vec<f64> = (0..n0).map(|_| rng.normal_f64()).collect();
    let mut out = Outcome::default();
    // a draw where a whole layer is inactive has M = 0 (ln M = −∞): a dead
    // network, counted but left out of the statistics of ln M
    let dead = std::cell::Cell::new(0usize);
    let sample = |rng: &mut Rng, w: &[usize], c: f64, res: Option<f64>| -> Vec<f64> {
        let v: Vec<f64> = (0..draws).map(|_| log_length(rng, &x, w, c, res)).collect();
        dead.set(dead.get() + v.iter().filter(|l| !l.is_finite()).count());
        v.into_iter().filter(|l| l.is_finite()).collect()
    };
    // failure mode 1: the mean of M against c^L
    let scales = p.floats("weight_scales");
    let mut fm1_mean = Vec::new();
    for (i, &c) in scales.iter().enumerate() {
        r.progress(0.3 * i as f64 / scales.len() as f64, &format!("FM1: c = {c}"));
        let l = sample(&mut rng, &vec![32; depth], c, None);
        fm1_mean.push(l.iter().map(|v| v.exp()).sum::<f64>() / l.len() as f64);
    }
    let pred1: Vec<f64> = scales.iter().map(|c| c.powi(depth as i32)).collect();
    let lc: Vec<f64> = scales.iter().map(|c| depth as f64 * c.ln()).collect();
    let lm: Vec<f64> = fm1_mean.iter().map(|m| m.ln()).collect();
    let (_, fm1_slope, _) = line(&lc, &lm);
    out.figure(
        "fm1-mean-length",
        LinePlot::new(
            format!("Failure mode 1: mean length after {depth} layers vs weight variance"),
            "variance multiplier c (σ_w² = 2c)",
            "E[M]",
        )
        .log_y()
        .with([
            Series::points("measured mean", scales.clone(), fm1_mean.clone()),
            Series::dashed("theory c^L", scales.clone(), pred1.clone()),
        ]),
    )
    .caption("The measured mean length follows c^L (dashed): only c = 1, He's variance, keeps it at 1.");
    // failure mode 2: the variance of ln M against β
    let widths = p.usizes("widths");
    let (mut betas, mut vars, mut theory) = (Vec::new(), Vec::new(), Vec::new());
    let mut rows = Vec::new();
    for (i, &w) in widths.iter().enumerate() {
        r.progress(0.3 + 0.5 * i as f64 / widths.len() as f64, &format!("FM2: width {w}"));
        let l = sample(&mut rng, &vec![w; depth], 1.0, None);
        let (m, v) = mean_var(&l);
        betas.push(depth as f64 / w as f64);
        vars.push(v);
        theory.push(depth as f64 * layer_log_variance(w));
        rows.push(vec![
            format!("constant {w}"),
            (depth as f64 / w as f64).to_string(),
            m.to_string(),
            v.to_string(),
        ]);
    }
    let (a, fm2_slope, fm2_r2) = line(&betas, &vars);
    let (_, theory_slope, _) = line(&betas, &theory);
    // an alternating profile 12, 24, 12, … has 1/12 + 1/24 = 2/16: the β of width 16
    r.progress(0.8, "FM2: equal-β profile and residual net");
    let alt: Vec<usize> = (0..depth).map(|j| if j % 2 == 0 { 12 } else { 24 }).collect();
    let beta_alt: f64 = alt.iter().map(|n| 1.0 / *n as f64).sum();
    let (_, v_alt) = mean_var(&sample(&mut rng, &alt, 1.0, None));
    let t_alt: f64 = alt.iter().map(|n| layer_log_variance(*n)).sum();
    let (_, v16) = mean_var(&sample(&mut rng, &vec![16; depth], 1.0, None));
    let alpha = p.float("residual_scale");
    let (_, v_res) = mean_var(&sample(&mut rng, &vec![n0; depth], 1.0, Some(alpha)));
    let (_, v_plain_n0) = mean_var(&sample(&mut rng, &vec![n0; depth], 1.0, None));
    rows.push(vec!["alternating 12/24".into(), beta_alt.to_string(), String::new(), v_alt.to_string()]);
    rows.push(vec![
        format!("residual {n0}, α={alpha}"),
        (depth as f64 / n0 as f64).to_string(),
        String::new(),
        v_res.to_string(),
    ]);
    r.csv("fm2.csv", &["profile", "beta", "mean_ln_M", "var_ln_M"], &rows)?;
    let bmax = betas.iter().copied().fold(0.0, f64::max);
    out.figure(
        "fm2-variance",
        LinePlot::new(
            "Failure mode 2: spread of ln‖h_L‖² grows with β = Σ 1/n_j",
            "β = Σ_j 1/n_j",
            "Var[ln M]",
        )
        .with([
            Series::points("constant widths", betas.clone(), vars.clone()),
            Series::points("alternating 12/24 (β of width 16)", vec![beta_alt], vec![v_alt]),
            Series::points(
                format!("residual, width {n0}, α = {alpha}"),
                vec![depth as f64 / n0 as f64],
                vec![v_res],
            ),
            Series::dashed(
                format!("fit {:.2} + {:.2}·β", a, fm2_slope),
                vec![0.0, bmax],
                vec![a, a + fm2_slope * bmax],
            ),
            Series::line_points("exact theory Σ v(n_j)", betas.clone(), theory.clone()),
            Series::dashed("large-width limit 5β", vec![0.0, bmax], vec![0.0, 5.0 * bmax]),
        ]),
    )
    .caption("The spread of ln‖h_L‖² grows linearly in β = Σ1/n_j and matches the exact theory; the alternating profile sits on the constant-width line at its β, and the residual net far below it.");
    out.metric(
        "fm1_mean_length",
        Metric::map([
            ("weight_scales", Metric::from(scales.clone())),
            ("measured", Metric::from(fm1_mean.clone())),
            ("theory", Metric::from(pred1)),
        ]),
    );
    out.metric("fm1_slope", fm1_slope);
    out.metric("fm2_slope", fm2_slope);
    out.metric("fm2_r2", fm2_r2);
    out.metric("fm2_theory_slope", theory_slope);
    out.metric("fm2_theory_var", theory.clone());
    out.metric("dead_fraction", dead.get() as f64 / (draws * (scales.len() + widths.len() + 4)) as f64);
    out.metric(
        "fm2",
        Metric::map([
            ("betas", Metric::from(betas.clone())),
            ("var_ln_m", Metric::from(vars.clone())),
            ("alternating", Metric::map([("beta", Metric::from(beta_alt)), ("var", Metric::from(v_alt))])),
            (
                "constant16",
                Metric::map([("beta", Metric::from(depth as f64 / 16.0)), ("var", Metric::from(v16))]),
            ),
            (
                "residual",
                Metric::map([
                    ("alpha", Metric::from(alpha)),
                    ("var", Metric::from(v_res)),
                    ("plain_var", Metric::from(v_plain_n0)),
                ]),
            ),
        ]),
    );
    let at1 = scales.iter().position(|c| (*c - 1.0).abs() < 1e-12).map(|i| fm1_mean[i]);
    let mut fm1 = vec![Check::in_range("slope of ln E[M] against L·ln c", fm1_slope, 0.8, 1.2)];
    fm1.extend(at1.map(|m| Check::within("E[M] at c = 1", m, 1.0, 0.25)));
    out.claim(Claim::all(
        "fm1_mean_is_c_to_the_L",
        "The mean length after L layers is c^L: only the He variance (c = 1) keeps it",
        fm1,
    ));
    out.claim(Claim::all(
        "fm2_linear_in_beta",
        "The variance of ln‖h_L‖² grows linearly in β = Σ 1/n_j, with slope 5 for wide layers (a little more at finite width, as the exact theory says)",
        vec![
            Check::greater("R² of the line", fm2_r2, 0.95),
            Check::within("slope", fm2_slope, theory_slope, 0.15),
        ],
    ));
    let worst = vars
        .iter()
        .zip(&theory)
        .map(|(m, t)| (m / t - 1.0).abs())
        .fold((v_alt / t_alt - 1.0).abs(), f64::max);
    out.claim(Claim::less(
        "fm2_matches_exact_theory",
        "Each profile's Var[ln M] equals Σ_j v(n_j), v(n) = E ψ′(K/2) + Var ψ(K/2), K ~ Bin(n, ½)",
        "the largest relative deviation over the profiles",
        worst,
        0.15,
    ));
    out.claim(Claim::check(
        "equal_beta_equal_spread",
        "Profiles with equal β have equal spread, whatever their shape",
        Check::within("Var[ln M] of the alternating 12/24 profile", v_alt, v16, 0.25),
    ));
    out.claim(Claim::check(
        "residual_avoids_fm2",
        "Residual connections with small branch scale avoid failure mode 2",
        Check::less_than(
            (&format!("Var[ln M] of the residual net (width {n0})"), v_res),
            0.5,
            ("the plain net's", v_plain_n0),
        ),
    ));
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn per_layer_variance_tends_to_five_over_n() {
        for n in [8usize, 16, 64, 256, 1024] {
            let v = super::layer_log_variance(n);
            // above 5/n, approaching it
            let nv = v * n as f64;
            assert!(nv > 5.0 && nv < 10.0, "n = {n}: n·v = {nv}");
        }
        let v = super::layer_log_variance(1024) * 1024.0;
        assert!((v - 5.0).abs() < 0.1, "{v}");
    }
}
