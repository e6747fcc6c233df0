//! L12 · Adversarial examples (Szegedy et al. 2014; Goodfellow et al. 2015;
//! Madry et al. 2018): a Fashion-MNIST MLP that is right on most test images
//! is wrong on almost all of them after a change of a few percent of the
//! pixel range; PGD is stronger than FGSM at every ε; and the linear
//! explanation — for a linear model the worst-case change of the margin
//! under an ℓ∞ perturbation of size ε is exactly ε‖Δw‖₁, which grows with
//! the input dimension.

use odl_nn::Module;
use odl_optim::adam;
use odl_robust::{Attack, AttackName, Net, Norm, Threat};

use super::prelude::*;
use crate::data::{pool, two_classes};
use crate::trainer::{relu_mlp, train_classifier, TrainConfig};

/// The experiment.
pub static EXPERIMENT: Experiment = Experiment {
    id: "adversarial-examples",
    lecture: "L12",
    title: "Adversarial examples: small ℓ∞ perturbations break a Fashion-MNIST MLP; PGD beats FGSM; the linear explanation ε‖w‖₁",
    source: "C. Szegedy et al., \"Intriguing properties of neural networks\", ICLR 2014; I. Goodfellow, J. Shlens, C. Szegedy, \
             \"Explaining and harnessing adversarial examples\", ICLR 2015; A. Madry et al., \"Towards deep learning models \
             resistant to adversarial attacks\", ICLR 2018",
    setup: "A ReLU MLP 784 → `hidden` → 10 trained with Adam (lr 10⁻³, batches of 100) for `epochs` epochs on `n_train` \
            Fashion-MNIST images, attacked on `n_attack` test images in pixel units (ℓ∞, pixels kept in [0, 1]) at each ε of \
            `eps`: FGSM (one signed gradient step of size ε) and PGD (random start, `pgd_steps` steps of 2.5ε/`pgd_steps`). \
            The linear explanation: T-shirts against pullovers, average-pooled to 7×7, 14×14 and 28×28 pixels (d = 49, 196, \
            784), one linear (two-logit) classifier each trained the same way; FGSM of size `eps_linear` without the pixel box, \
            and the drop of each test example's margin z_y − z_other compared with ε‖w_y − w_other‖₁ in pixel units.",
    params: |s| {
        vec![
            int("n_train", s.pick(2000, 4000, 10000), 100, 60000, "training images"),
            int("n_attack", s.pick(200, 500, 1000), 10, 10000, "test images attacked"),
            int("hidden", 128, 1, 4096, "hidden units of the MLP"),
            int("epochs", s.pick(3, 5, 10), 1, 1000, "training epochs (MLP and linear models)"),
            floats("eps", &[0.0, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1], 0.0, 1.0, "ℓ∞ radii (pixel units)"),
            int("pgd_steps", 20, 1, 10000, "PGD steps"),
            float("eps_linear", 0.02, 1e-6, 1.0, "FGSM radius of the linear-explanation part"),
        ]
    },
    run,
};

fn run(r: &Run) -> Result<Outcome> {
    let p = r.params;
    let mut out = Outcome::default();
    let n_attack = p.usize("n_attack");
    let data = LabData::load(r, &mut out, p.usize("n_train"), n_attack)?;
    let (mean, std) = (data.mean, data.std);
    let epochs = p.usize("epochs");
    let cfg = TrainConfig::new(epochs, 100, r.seed());
    let eps = p.floats("eps");
    let total = 1.0 + eps.len() as f64 + 3.0;
    // part 1: an MLP under FGSM and PGD
    let mut mlp = relu_mlp(784, p.usize("hidden"), 1, data.classes, false, r.seed());
    let h =
        train_classifier(&mut mlp, &mut adam(1e-3, 0.9, 0.999, 1e-8), &data.train, None, None, &cfg, &|f| {
            r.progress(f / total, "training the MLP")
        });
    let (x, y) = data.pixels(&data.test, n_attack);
    let mut net = Net { model: &mut mlp, in_shape: vec![784], mean, std };
    let (mut fgsm, mut pgd) = (Vec::new(), Vec::new());
    let mut rows = Vec::new();
    for (k, &e) in eps.iter().enumerate() {
        r.progress((1.0 + k as f64) / total, &format!("attacking at ε = {e}"));
        let t = Threat::new(Norm::Linf, e, 0.0, 1.0).map_err(anyhow::Error::msg)?;
        let mut a = Attack::new(AttackName::Pgd);
        a.steps = p.usize("pgd_steps");
        a.seed = r.seed();
        let f = Attack::new(AttackName::Fgsm).run(&mut net, &t, &x, 784, &y).map_err(anyhow::Error::msg)?;
        let g = a.run(&mut net, &t, &x, 784, &y).map_err(anyhow::Error::msg)?;
        fgsm.push(f.robust_accuracy());
        pgd.push(g.robust_accuracy());
        rows.push(vec![
            format!("{e}"),
            format!("{}", f.robust_accuracy()),
            format!("{}", g.robust_accuracy()),
        ]);
    }
    r.csv("accuracy_vs_eps.csv", &["eps", "fgsm_accuracy", "pgd_accuracy"], &rows)?;
    out.metric("mlp_train_accuracy", *h.train_acc.last().expect("recorded"));
    out.metric("clean_accuracy", fgsm[0]);
    out.metric("eps", eps.clone());
    out.metric("fgsm_accuracy", fgsm.clone());
    out.metric("pgd_accuracy", pgd.clone());
    out.figure(
        "accuracy_vs_eps",
        LinePlot::new("MLP test accuracy under ℓ∞ attacks", "ε (pixel units, pixels in [0, 1])", "accuracy")
            .with([Series::line_points("FGSM", eps.clone(), fgsm.clone()), Series::line_points("PGD", eps.clone(), pgd.clone())]),
    )
    .caption("A change of a few percent of the pixel range, invisible to a person, flips most predictions; the iterated attack (PGD) is at least as strong as the one-step FGSM at every radius.");
    // part 2: the linear explanation
    let (mut dims, mut l1s, mut predicted, mut measured, mut errs) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (tr2, te2) = (two_classes(&data.train, 0, 2), two_classes(&data.test, 0, 2));
    let el = p.float("eps_linear");
    let mut worst_rel = 0.0f64;
    for (j, k) in [4usize, 2, 1].into_iter().enumerate() {
        r.progress((1.0 + eps.len() as f64 + j as f64) / total, "linear models");
        let (tr, te) = (pool(&tr2, k), pool(&te2, k));
        let d = tr.x.numel() / tr.len().max(1);
        let mut lin = relu_mlp(d, 1, 0, 2, false, r.seed());
        train_classifier(&mut lin, &mut adam(1e-3, 0.9, 0.999, 1e-8), &tr, None, None, &cfg, &|_| {});
        let w = lin.param_values()[0].to_vec_f64(); // [2, d]
        let l1: f64 = (0..d).map(|i| (w[i] - w[d + i]).abs()).sum::<f64>() / std;
        let (xt, yt) = data.pixels(&te, te.len());
        let mut net = Net { model: &mut lin, in_shape: vec![d], mean, std };
        let t = Threat::new(Norm::Linf, el, f64::NEG_INFINITY, f64::INFINITY).map_err(anyhow::Error::msg)?;
        let before = odl_robust::classifier::logits_of(&mut net, &xt, d);
        let o = Attack::new(AttackName::Fgsm).run(&mut net, &t, &xt, d, &yt).map_err(anyhow::Error::msg)?;
        let after = odl_robust::classifier::logits_of(&mut net, &o.x_adv, d);
        let margin = |z: &[f64], l: usize| z[l] - z[1 - l];
        // FGSM's step only moves examples that the attack did not find already broken
        let drops: Vec<f64> = (0..yt.len())
            .filter(|&i| o.clean_correct[i])
            .map(|i| margin(&before[i], yt[i]) - margin(&after[i], yt[i]))
            .collect();
        let mean_drop = drops.iter().sum::<f64>() / drops.len().max(1) as f64;
        for dr in &drops {
            worst_rel = worst_rel.max((dr - el * l1).abs() / (el * l1));
        }
        dims.push(d as f64);
        l1s.push(l1);
        predicted.push(el * l1);
        measured.push(mean_drop);
        errs.push(1.0 - o.robust_accuracy());
    }
    out.metric("linear_dims", dims.clone());
    out.metric("linear_l1_pixel_units", l1s.clone());
    out.metric("linear_margin_drop_predicted", predicted.clone());
    out.metric("linear_margin_drop_measured", measured.clone());
    out.metric("linear_fgsm_error", errs.clone());
    out.metric("linear_worst_relative_deviation", worst_rel);
    out.figure(
        "linear_explanation",
        LinePlot::new(format!("Linear models, FGSM of ε = {el}: margin drop vs input dimension"), "input dimension d", "margin drop")
            .with([
                Series::line_points("ε‖w_y − w_other‖₁ (predicted)", dims.clone(), predicted.clone()),
                Series::dashed("measured (mean over test examples)", dims.clone(), measured.clone()),
            ]),
    )
    .caption("For a linear model the worst ℓ∞ perturbation moves every input coordinate by ε against the weights, so the margin drops by ε‖Δw‖₁ — a sum over d coordinates, which grows with the dimension even though no single pixel changes by more than ε.");
    out.claim(Claim::all(
        "attacks_break_the_mlp",
        "Small ℓ∞ perturbations break the MLP: at the largest ε, PGD leaves less than a fifth of its clean accuracy",
        vec![Check::less_than(("PGD accuracy at the largest ε", *pgd.last().expect("eps")), 0.2, ("clean accuracy", pgd[0]))],
    ));
    let worst_gap = fgsm.iter().zip(&pgd).map(|(f, g)| g - f).fold(f64::NEG_INFINITY, f64::max);
    out.claim(Claim::check(
        "pgd_at_least_fgsm",
        "PGD is at least as strong as FGSM at every ε (its accuracy is never higher)",
        Check::at_most("max over ε of PGD minus FGSM accuracy", worst_gap, 0.0),
    ));
    out.claim(Claim::check(
        "linear_margin_drop_is_eps_l1",
        "For a linear model FGSM lowers every margin by exactly ε‖w_y − w_other‖₁ (pixel units; to f32 precision)",
        Check::at_most("largest relative deviation over examples and dimensions", worst_rel, 1e-3),
    ));
    out.claim(Claim::all(
        "linear_sensitivity_grows_with_dimension",
        "The worst-case margin change ε‖Δw‖₁ of the trained linear models grows with the input dimension (49 → 196 → 784)",
        vec![
            Check::greater_than(("‖Δw‖₁ at d = 196", l1s[1]), 1.0, ("at d = 49", l1s[0])),
            Check::greater_than(("‖Δw‖₁ at d = 784", l1s[2]), 1.0, ("at d = 196", l1s[1])),
        ],
    ));
    Ok(out)
}
