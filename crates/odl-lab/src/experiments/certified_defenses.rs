//! L12 · Certified defenses (Gowal et al. 2018; Zhang et al. 2018; Tsuzuku
//! et al. 2018; Cohen et al. 2019): a certificate proves that no
//! perturbation in the ball changes the prediction, so certified accuracy
//! is a lower bound of robust accuracy and an attack's is an upper bound.
//! Interval bounds are loose on a standard network and tight on one trained
//! through them; CROWN's linear bounds keep the correlations that intervals
//! drop; randomized smoothing certifies the exact ℓ2 distance of a linear
//! classifier up to Monte-Carlo error; the Lipschitz-margin radius of a
//! linear model is margin/(√2·σ_max).

use odl_autodiff::Tensor;
use odl_nn::{Ctx, Module};
use odl_optim::adam;
use odl_robust::certify::smoothing::Smoothing;
use odl_robust::certify::{crown, ibp, lipschitz, Certified};
use odl_robust::training::ibp_worst_logits;
use odl_robust::{Attack, AttackName, Net, Norm, Threat};
use odl_tensor::{Array, DType, Rng};
use odl_train::adversarial::AdversarialSpec;
use odl_train::data::{model_input, Scaling};

use super::prelude::*;
use crate::trainer::{relu_mlp, train_classifier, train_classifier_with, TrainConfig};

/// The experiment.
pub static EXPERIMENT: Experiment = Experiment {
    id: "certified-defenses",
    lecture: "L12",
    title: "Certified defenses: IBP and CROWN on standard and IBP-trained networks, randomized smoothing, the Lipschitz margin",
    source: "S. Gowal et al., \"On the effectiveness of interval bound propagation for training verifiably robust models\", \
             2018; H. Zhang et al., \"Efficient neural network robustness certification with general activation functions\" \
             (CROWN), NeurIPS 2018; Y. Tsuzuku, I. Sato, M. Sugiyama, \"Lipschitz-margin training\", NeurIPS 2018; J. Cohen, \
             E. Rosenfeld, Z. Kolter, \"Certified adversarial robustness via randomized smoothing\", ICML 2019",
    setup: "Two ReLU MLPs 784 → `hidden` → `hidden` → 10 trained with Adam (lr 10⁻³, batches of 100) for `epochs` epochs on \
            `n_train` Fashion-MNIST images: one on the cross-entropy, one with IBP training (loss κ·CE(clean) + (1 − κ)·CE(worst \
            case of the interval bounds) with ε growing from 0 to `eps_train` and κ from 1 to ½ over the middle half of \
            training). On `n_test` test images, at each ℓ∞ radius of `eps` (pixel units): IBP and CROWN certified accuracy and \
            PGD-20 accuracy. Randomized smoothing (σ = `sigma`, n₀ = 100, n = `n_smooth`, α = 10⁻³) of the two-class linear \
            classifier [x₀ + x₁ > ½] on 40 points of the plane, against the exact ℓ2 distance to its boundary. The \
            Lipschitz-margin radius of a linear 784 → 10 model trained the same way, against its σ_max from power iteration \
            and the exact ℓ2 radius min_j margin_j/‖w_y − w_j‖₂.",
    params: |s| {
        vec![
            int("n_train", s.pick(2000, 4000, 10000), 100, 60000, "training images"),
            int("n_test", s.pick(100, 300, 1000), 10, 10000, "test images certified and attacked"),
            int("hidden", s.pick(64, 128, 256), 1, 4096, "hidden units per layer"),
            int("epochs", s.pick(15, 15, 20), 1, 1000, "training epochs"),
            floats("eps", &[0.0, 0.005, 0.01, 0.02, 0.05, 0.1], 0.0, 1.0, "ℓ∞ radii certified (pixel units)"),
            float("eps_train", 0.1, 0.0, 1.0, "IBP training's final ε"),
            float("sigma", 0.5, 1e-6, 100.0, "smoothing noise"),
            int("n_smooth", s.pick(20000, 50000, 100_000), 100, 10_000_000, "smoothing samples per point"),
        ]
    },
    run,
};

/// Per model and radius: IBP, CROWN and PGD accuracy, and the number of
/// certified points PGD broke (must be 0).
struct Curve {
    ibp: Vec<f64>,
    crown: Vec<f64>,
    pgd: Vec<f64>,
    violations: usize,
}

fn curve(
    net: &mut Net,
    x: &[f32],
    y: &[usize],
    eps: &[f64],
    seed: u64,
    progress: &dyn Fn(f64),
) -> Result<Curve> {
    let mut c = Curve { ibp: Vec::new(), crown: Vec::new(), pgd: Vec::new(), violations: 0 };
    let acc = |v: &Certified| v.certified_accuracy();
    for (k, &e) in eps.iter().enumerate() {
        let t = Threat::new(Norm::Linf, e, 0.0, 1.0).map_err(anyhow::Error::msg)?;
        let i = ibp::certify(net, &t, x, 784, y).map_err(anyhow::Error::msg)?;
        let cr = crown::certify(net, &t, x, 784, y).map_err(anyhow::Error::msg)?;
        let mut a = Attack::new(AttackName::Pgd);
        a.seed = seed;
        let o = a.run(net, &t, x, 784, y).map_err(anyhow::Error::msg)?;
        c.violations += (0..y.len()).filter(|&j| (i.certified[j] || cr.certified[j]) && o.success[j]).count();
        c.ibp.push(acc(&i));
        c.crown.push(acc(&cr));
        c.pgd.push(o.robust_accuracy());
        progress((k + 1) as f64 / eps.len() as f64);
    }
    Ok(c)
}

fn run(r: &Run) -> Result<Outcome> {
    let p = r.params;
    let mut out = Outcome::default();
    let data = LabData::load(r, &mut out, p.usize("n_train"), p.usize("n_test"))?;
    let (mean, std) = (data.mean, data.std);
    let (x, y) = data.pixels(&data.test, p.usize("n_test"));
    let eps = p.floats("eps");
    let (h, epochs, seed) = (p.usize("hidden"), p.usize("epochs"), r.seed());
    let cfg = TrainConfig::new(epochs, 100, seed);
    // the standard network
    let mut plain = relu_mlp(784, h, 2, data.classes, false, seed);
    train_classifier(&mut plain, &mut adam(1e-3, 0.9, 0.999, 1e-8), &data.train, None, None, &cfg, &|f| {
        r.progress(0.2 * f, "training (standard)")
    });
    // the IBP-trained network: ε and κ ramped over the middle half
    let total = epochs * data.train.len().div_ceil(100);
    // Gowal et al.'s schedule as `odl train` runs it (ε from 0, κ from 1 over the middle half)
    let ramp: AdversarialSpec = toml::from_str(&format!(
        "method = \"ibp\"\neps = {}\nkappa = 0.5\nwarmup = 0.25\nramp = 0.5",
        p.float("eps_train")
    ))?;
    let eps_train = ramp.eps;
    let box_t = Threat::new(Norm::Linf, 0.0, 0.0, 1.0).map_err(anyhow::Error::msg)?;
    let mut robust = relu_mlp(784, h, 2, data.classes, false, seed);
    let mut ibp_loss =
        |m: &mut odl_nn::Sequential, xb: &Array, yb: &[usize], step: u64, ctx: &mut Ctx| -> Tensor {
            let (eps_now, kappa) = ramp.schedule(step as usize, total);
            let clean = m.forward(&model_input(xb, None), ctx).cross_entropy(yb);
            if kappa >= 1.0 {
                return clean;
            }
            let mut px = Scaling { mean, std }.to_data(&xb.to_vec_f32());
            px.iter_mut().for_each(|v| *v = v.clamp(0.0, 1.0));
            let mut net = Net { model: m, in_shape: vec![784], mean, std };
            let worst =
                ibp_worst_logits(&mut net, &box_t.with_eps(eps_now), &px, 784, yb).expect("an ℓ∞ MLP");
            clean.mul_scalar(kappa) + worst.cross_entropy(yb).mul_scalar(1.0 - kappa)
        };
    train_classifier_with(
        &mut robust,
        &mut adam(1e-3, 0.9, 0.999, 1e-8),
        &data.train,
        None,
        None,
        &cfg,
        &mut ibp_loss,
        &|f| r.progress(0.2 + 0.3 * f, "training (IBP)"),
    );
    let mut curves = Vec::new();
    for (k, (model, name)) in [(&mut plain, "standard"), (&mut robust, "IBP-trained")].into_iter().enumerate()
    {
        let mut net = Net { model, in_shape: vec![784], mean, std };
        let base = 0.5 + 0.2 * k as f64;
        curves.push(curve(&mut net, &x, &y, &eps, seed, &|f| r.progress(base + 0.2 * f, name))?);
    }
    let (st, rb) = (&curves[0], &curves[1]);
    for (c, key) in [(st, "standard"), (rb, "ibp_trained")] {
        out.metric(&format!("{key}_ibp_certified"), c.ibp.clone());
        out.metric(&format!("{key}_crown_certified"), c.crown.clone());
        out.metric(&format!("{key}_pgd_accuracy"), c.pgd.clone());
    }
    out.metric("eps", eps.clone());
    let mut series = Vec::new();
    for (c, name, key) in [(st, "standard", "s"), (rb, "IBP-trained", "r")] {
        series.push(
            Series::line_points(format!("{name}: IBP"), eps.clone(), c.ibp.clone())
                .keyed(format!("{key}ibp")),
        );
        series.push(
            Series::line_points(format!("{name}: CROWN"), eps.clone(), c.crown.clone())
                .keyed(format!("{key}crown")),
        );
        series.push(
            Series::dashed(format!("{name}: PGD-20 (upper bound)"), eps.clone(), c.pgd.clone())
                .keyed(format!("{key}pgd")),
        );
    }
    out.figure(
        "certified_vs_eps",
        LinePlot::new("Certified (IBP, CROWN) and attacked (PGD) accuracy, ℓ∞", "ε (pixel units)", "accuracy").with(series),
    )
    .caption("Certified accuracy (solid) can only lie below what PGD leaves (dashed): the truth is in between. On the standard network the intervals blow up within a few layers and IBP certifies almost nothing, while CROWN's linear bounds certify most points at small ε; the IBP-trained network is certified by IBP at radii where the standard one has no certificate at all — at the price of clean accuracy — and there CROWN is no longer the tighter bound.");
    // smoothing a half-space: the certified radius approaches the exact distance from below
    let sm =
        Smoothing { sigma: p.float("sigma"), n0: 100, n: p.usize("n_smooth"), alpha: 1e-3, batch: 10_000 };
    let mut half = |t: &Tensor| {
        let w = Tensor::constant(Array::from_f64(&[-1.0, -1.0, 1.0, 1.0], &[2, 2], DType::F32));
        let b = Tensor::constant(Array::from_f64(&[0.5, -0.5], &[2], DType::F32));
        t.linear(&w, Some(&b))
    };
    let mut rng = Rng::seed(seed ^ 0x5300_7410);
    let (mut dist, mut rad, mut worst_gap, mut above, mut wrong) =
        (Vec::new(), Vec::new(), 0.0f64, 0usize, 0usize);
    let mut far_abstain = 0.0f64;
    for _ in 0..40 {
        let pt = [rng.uniform_f64() * 2.0 - 0.5, rng.uniform_f64() * 2.0 - 0.5];
        let d = (pt[0] + pt[1] - 0.5).abs() / 2f64.sqrt();
        let s = sm.certify(&mut half, &[pt[0] as f32, pt[1] as f32], 2, 2, &mut rng);
        let truth = usize::from(pt[0] + pt[1] > 0.5);
        if s.class.is_some_and(|c| c != truth) {
            wrong += 1;
        }
        if s.radius > d {
            above += 1;
        }
        // the radius falls short by Monte-Carlo error, most where p_A is near 1 (far points: the bound saturates);
        // near the boundary n₀ = 100 samples may pick the wrong class, and CERTIFY abstains
        match s.class {
            None => far_abstain = far_abstain.max(d / sm.sigma),
            Some(_) if d < 2.0 * sm.sigma => worst_gap = worst_gap.max(d - s.radius),
            _ => {}
        }
        dist.push(d);
        rad.push(s.radius);
    }
    out.metric("smoothing_worst_gap_within_2sigma", worst_gap);
    out.metric("smoothing_farthest_abstention_over_sigma", far_abstain);
    let diag = vec![0.0, dist.iter().cloned().fold(0.0, f64::max)];
    out.figure(
        "smoothing_radius",
        LinePlot::new(
            format!("Randomized smoothing of a half-space (σ = {}, n = {})", sm.sigma, sm.n),
            "exact ℓ2 distance to the boundary",
            "certified radius σΦ⁻¹(p̲_A)",
        )
        .with([Series::points("certified radius (0: abstain)", dist.clone(), rad.clone()), Series::dashed("exact distance", diag.clone(), diag)]),
    )
    .caption("For a linear classifier the smoothed classifier's top-class probability is Φ(distance/σ) exactly, so CERTIFY's radius approaches the distance from below; it saturates far from the boundary (p̲_A cannot exceed α^(1/n)) and abstains near it.");
    // the Lipschitz margin of a linear model
    let mut lin = relu_mlp(784, 0, 0, data.classes, false, seed);
    train_classifier(&mut lin, &mut adam(1e-3, 0.9, 0.999, 1e-8), &data.train, None, None, &cfg, &|_| {});
    let t2 = Threat::new(Norm::L2, 0.0, 0.0, 1.0).map_err(anyhow::Error::msg)?;
    let mut net = Net { model: &mut lin, in_shape: vec![784], mean, std };
    let (cert, l) = lipschitz::certify(&mut net, &t2, &x, 784, &y).map_err(anyhow::Error::msg)?;
    let z = odl_robust::classifier::logits_of(&mut net, &x, 784);
    // W in pixel units (the normalization divides by std), its σ_max by power iteration on WᵀW
    let ps = lin.param_values();
    let w: Vec<f64> = ps[0].to_vec_f64().iter().map(|v| v / std).collect();
    let k = data.classes;
    let sigma = power_sigma(&w, k, 784);
    let (mut form_err, mut exact, mut lipr, mut below) = (0.0f64, Vec::new(), Vec::new(), true);
    for (i, zi) in z.iter().enumerate() {
        let pred = (0..k).fold(0, |b, j| if zi[j] > zi[b] { j } else { b });
        if pred != y[i] {
            continue;
        }
        let other = (0..k).filter(|&j| j != y[i]).map(|j| zi[j]).fold(f64::NEG_INFINITY, f64::max);
        let want = (zi[y[i]] - other) / (2f64.sqrt() * sigma);
        form_err = form_err.max((cert.bound[i] - want).abs() / want.max(1e-12));
        let ex = (0..k)
            .filter(|&j| j != y[i])
            .map(|j| {
                (zi[y[i]] - zi[j])
                    / (0..784).map(|q| (w[y[i] * 784 + q] - w[j * 784 + q]).powi(2)).sum::<f64>().sqrt()
            })
            .fold(f64::INFINITY, f64::min);
        below &= cert.bound[i] <= ex * (1.0 + 1e-9);
        exact.push(ex);
        lipr.push(cert.bound[i]);
    }
    let ratio = {
        let mut v: Vec<f64> = lipr.iter().zip(&exact).map(|(a, b)| a / b).collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    out.metric("lipschitz_l", l);
    out.metric("lipschitz_sigma_power_iteration", sigma);
    out.metric("lipschitz_median_ratio_to_exact", ratio);
    let top = exact.iter().cloned().fold(0.0, f64::max);
    out.figure(
        "lipschitz_radius",
        LinePlot::new("Linear model: Lipschitz-margin radius vs the exact ℓ2 radius", "exact radius min_j margin_j/‖w_y − w_j‖₂", "certified radius margin/(√2 σ_max)")
            .with([Series::points("test examples", exact.clone(), lipr.clone()), Series::dashed("exact", vec![0.0, top], vec![0.0, top])]),
    )
    .caption("The certificate replaces each ‖w_y − w_j‖₂ by √2·σ_max(W), its worst case over class pairs: sound (every point below the diagonal) and conservative by the factor the figure shows.");
    // claims
    let n_eps = eps.len();
    let crown_ge = (0..n_eps).map(|i| st.crown[i] - st.ibp[i]).fold(f64::INFINITY, f64::min);
    let crown_gain = (0..n_eps).map(|i| st.crown[i] - st.ibp[i]).fold(f64::NEG_INFINITY, f64::max);
    out.claim(Claim::all(
        "crown_tighter_than_ibp_on_a_standard_network",
        "On the standard network CROWN certifies at least as many points as IBP at every ε, and at least 20 points more at some ε",
        vec![
            Check::at_least("min over ε of CROWN − IBP certified accuracy", crown_ge, 0.0),
            Check::at_least("max over ε of CROWN − IBP", crown_gain, 0.2),
        ],
    ));
    let gap =
        |c: &Curve| (0..n_eps).map(|i| c.ibp[i].max(c.crown[i]) - c.pgd[i]).fold(f64::NEG_INFINITY, f64::max);
    out.claim(Claim::all(
        "certified_below_attacked",
        "Certificates are sound: no certified point is broken by PGD, and certified accuracy never exceeds PGD accuracy (both networks, every ε)",
        vec![
            Check::equals("certified points broken by PGD", (st.violations + rb.violations) as f64, 0.0),
            Check::at_most("max over ε and networks of certified − PGD accuracy", gap(st).max(gap(rb)), 0.0),
        ],
    ));
    let at = eps.iter().position(|&e| (e - eps_train).abs() < 1e-12).unwrap_or(n_eps - 1);
    out.claim(Claim::all(
        "ibp_training_certifies",
        "IBP training buys certificates: at the training radius the IBP-trained network is IBP-certified on at least 20 % of the test points while the standard one is on at most 5 %",
        vec![
            Check::at_least(&format!("IBP-trained, IBP certified at ε = {}", eps[at]), rb.ibp[at], 0.2),
            Check::at_most(&format!("standard, IBP certified at ε = {}", eps[at]), st.ibp[at], 0.05),
        ],
    ));
    out.claim(Claim::all(
        "smoothing_certifies_the_distance",
        "Randomized smoothing of a half-space certifies its exact ℓ2 distance from below — each radius with probability 1 − α = 0.999, so of 40 at most one above it (two or more: probability < 10⁻³) — never the wrong class, within 0.05 of the distance when certified within 2σ of the boundary, abstaining only close to it (p_A = Φ(d/σ) < 0.7)",
        vec![
            Check::at_most("radii above the exact distance (of 40)", above as f64, 1.0),
            Check::equals("certified with the wrong class", wrong as f64, 0.0),
            Check::at_most("largest shortfall of a certified point within 2σ", worst_gap, 0.05),
            Check::less("farthest abstention, d/σ", far_abstain, 0.52),
        ],
    ));
    out.claim(Claim::all(
        "lipschitz_margin_of_a_linear_model",
        "For a linear model the Lipschitz-margin radius is margin/(√2 σ_max(W)) (σ_max found independently by power iteration) and never exceeds the exact ℓ2 radius",
        vec![
            Check::at_most("largest relative deviation from margin/(√2 σ_max)", form_err, 1e-3),
            Check::that("every radius ≤ the exact radius", if below { "all below" } else { "one above" }, below),
        ],
    ));
    Ok(out)
}

/// σ_max of a `rows × cols` matrix by power iteration on `WᵀW`.
fn power_sigma(w: &[f64], rows: usize, cols: usize) -> f64 {
    let mut v = vec![1.0 / (cols as f64).sqrt(); cols];
    let mut s = 0.0;
    for _ in 0..1000 {
        let wv: Vec<f64> = (0..rows).map(|r| (0..cols).map(|q| w[r * cols + q] * v[q]).sum()).collect();
        s = wv.iter().map(|a| a * a).sum::<f64>().sqrt();
        v = (0..cols).map(|q| (0..rows).map(|r| w[r * cols + q] * wv[r]).sum()).collect();
        let n = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        v.iter_mut().for_each(|a| *a /= n);
    }
    s
}
