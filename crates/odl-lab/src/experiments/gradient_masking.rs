//! L12 · Gradient masking (Athalye, Carlini & Wagner 2018; Croce & Hein
//! 2020): a "defense" that only hides the gradient — here, logits scaled by
//! 10⁴ so that softmax saturates and the cross-entropy's input gradient is
//! left to f32 rounding (its true value is below the smallest f32) — looks
//! robust to FGSM and PGD on the cross-entropy, while
//! the prediction, and so the true robustness, is that of the undefended
//! model. The DLR loss (invariant to scaling the logits) and the Square
//! attack (no gradients at all) see through it, and so does the ensemble.

use odl_autodiff::Tensor;
use odl_optim::adam;
use odl_plot::BarChart;
use odl_robust::{Attack, AttackName, Classifier, Net, Norm, Threat};

use super::prelude::*;
use crate::trainer::{relu_mlp, train_classifier, TrainConfig};

/// The experiment.
pub static EXPERIMENT: Experiment = Experiment {
    id: "gradient-masking",
    lecture: "L12",
    title: "Gradient masking: saturated logits fool FGSM and PGD; APGD-DLR, Square and the ensemble report the true robustness",
    source: "A. Athalye, N. Carlini, D. Wagner, \"Obfuscated gradients give a false sense of security\", ICML 2018; \
             F. Croce, M. Hein, \"Reliable evaluation of adversarial robustness with an ensemble of diverse parameter-free \
             attacks\", ICML 2020",
    setup: "A ReLU MLP 784 → `hidden` → 10 trained with Adam (lr 10⁻³, batches of 100) for `epochs` epochs on `n_train` \
            Fashion-MNIST images. The masked model returns the same logits times `temperature` (same predictions; in f32 the \
            softmax of a confident example is one-hot, so the cross-entropy's input gradient is rounding noise). Both models \
            are attacked on `n_attack` test images at ℓ∞ ε = `eps` (pixels, kept in [0, 1]) with FGSM, PGD-20 on the \
            cross-entropy, APGD-DLR (100 steps), Square (`queries` queries) and the ensemble (APGD-CE → APGD-T → Square).",
    params: |s| {
        vec![
            int("n_train", s.pick(2000, 4000, 10000), 100, 60000, "training images"),
            int("n_attack", s.pick(100, 300, 1000), 10, 10000, "test images attacked"),
            int("hidden", 128, 1, 4096, "hidden units"),
            int("epochs", s.pick(3, 5, 10), 1, 1000, "training epochs"),
            float("eps", 0.1, 0.0, 1.0, "ℓ∞ radius (pixel units)"),
            float("temperature", 1e4, 1.0, 1e30, "the masked model's logit scale"),
            int("queries", s.pick(1000, 1000, 5000), 1, 100_000, "Square attack queries"),
        ]
    },
    run,
};

/// The attacks: which, the figure's label, the metric key.
const ATTACKS: [(AttackName, &str, &str); 5] = [
    (AttackName::Fgsm, "FGSM", "fgsm"),
    (AttackName::Pgd, "PGD-20 (CE)", "pgd"),
    (AttackName::ApgdDlr, "APGD-DLR", "apgd_dlr"),
    (AttackName::Square, "Square", "square"),
    (AttackName::Auto, "ensemble", "ensemble"),
];

fn run(r: &Run) -> Result<Outcome> {
    let p = r.params;
    let mut out = Outcome::default();
    let n_attack = p.usize("n_attack");
    let data = LabData::load(r, &mut out, p.usize("n_train"), n_attack)?;
    let (mean, std) = (data.mean, data.std);
    let cfg = TrainConfig::new(p.usize("epochs"), 100, r.seed());
    let mut mlp = relu_mlp(784, p.usize("hidden"), 1, data.classes, false, r.seed());
    train_classifier(&mut mlp, &mut adam(1e-3, 0.9, 0.999, 1e-8), &data.train, None, None, &cfg, &|f| {
        r.progress(0.3 * f, "training")
    });
    let (x, y) = data.pixels(&data.test, n_attack);
    let t = Threat::new(Norm::Linf, p.float("eps"), 0.0, 1.0).map_err(anyhow::Error::msg)?;
    let temp = p.float("temperature");
    let mut net = Net { model: &mut mlp, in_shape: vec![784], mean, std };
    // how much of the cross-entropy's input gradient survives the masking:
    // the median over test inputs of ‖∇ masked‖ / ‖∇ undefended‖
    let grad_ratio = {
        let norms = |c: &mut dyn Classifier| -> Vec<f64> {
            let e = odl_robust::classifier::loss_grad(c, &x, 784, &y, &[], odl_robust::losses::Loss::Ce);
            e.grad.chunks(784).map(|g| g.iter().map(|&v| (v as f64).powi(2)).sum::<f64>().sqrt()).collect()
        };
        let h = norms(&mut net);
        let mut masked = |xt: &Tensor| net.logits(xt).mul_scalar(temp);
        let m = norms(&mut masked);
        let mut r: Vec<f64> = m.iter().zip(&h).map(|(a, b)| a / b.max(1e-300)).collect();
        r.sort_by(f64::total_cmp);
        r[r.len() / 2]
    };
    let (mut honest, mut masked_acc, mut rows) = (Vec::new(), Vec::new(), Vec::new());
    for (k, (name, label, _)) in ATTACKS.iter().enumerate() {
        r.progress(0.3 + 0.7 * k as f64 / ATTACKS.len() as f64, label);
        let mut a = Attack::new(*name);
        a.queries = p.usize("queries");
        a.image = Some([1, 28, 28]);
        a.seed = r.seed();
        let h = a.run(&mut net, &t, &x, 784, &y).map_err(anyhow::Error::msg)?;
        let mut masked = |xt: &Tensor| net.logits(xt).mul_scalar(temp);
        let m = a.run(&mut masked, &t, &x, 784, &y).map_err(anyhow::Error::msg)?;
        rows.push(vec![
            label.to_string(),
            format!("{}", h.robust_accuracy()),
            format!("{}", m.robust_accuracy()),
        ]);
        honest.push(h.robust_accuracy());
        masked_acc.push(m.robust_accuracy());
        if *name == AttackName::Fgsm {
            out.metric("clean_accuracy", h.clean_accuracy());
            out.metric("clean_accuracy_masked", m.clean_accuracy());
        }
    }
    r.csv("robust_accuracy.csv", &["attack", "undefended", "masked"], &rows)?;
    for (k, (_, _, key)) in ATTACKS.iter().enumerate() {
        out.metric(&format!("robust_{key}"), honest[k]);
        out.metric(&format!("robust_{key}_masked"), masked_acc[k]);
    }
    out.metric("median_gradient_ratio_masked", grad_ratio);
    let labels: Vec<&str> = ATTACKS.iter().map(|(_, l, _)| *l).collect();
    out.figure(
        "robust_accuracy",
        BarChart::new(
            format!("Robust accuracy at ℓ∞ ε = {} (lower = stronger attack)", p.float("eps")),
            "attack",
            "robust accuracy",
            &labels,
        )
        .bars("undefended MLP", honest.clone())
        .bars(format!("masked (logits × {temp:.0e})"), masked_acc.clone()),
    )
    .caption("The masked model predicts exactly what the undefended one does, yet FGSM and PGD on the cross-entropy break far fewer of its inputs: their gradient is rounding noise. APGD-DLR, the gradient-free Square attack and the ensemble break it as they break the undefended model.");
    let (pgd_h, pgd_m, dlr_h, dlr_m, sq_m, auto_m) =
        (honest[1], masked_acc[1], honest[2], masked_acc[2], masked_acc[3], masked_acc[4]);
    out.claim(Claim::all(
        "masking_fools_ce_attacks",
        "Masking makes the model look robust to PGD on the cross-entropy: at least 30 points more robust accuracy than the undefended model, with the same clean accuracy, because its gradient all but vanishes (median norm ratio below 10⁻³)",
        vec![
            Check::less("median ‖∇ masked‖ / ‖∇ undefended‖", grad_ratio, 1e-3),
            Check::greater("PGD robust accuracy, masked minus undefended", pgd_m - pgd_h, 0.3),
            Check::equals("clean accuracy, masked minus undefended", masked_acc_clean_gap(&out), 0.0),
        ],
    ));
    out.claim(Claim::check(
        "dlr_sees_through",
        "APGD-DLR, invariant to the logits' scale, finds the same robust accuracy on both models (within 2 points)",
        Check::at_most("|APGD-DLR masked − undefended|", (dlr_m - dlr_h).abs(), 0.02),
    ));
    out.claim(Claim::all(
        "gradient_free_and_ensemble_see_through",
        "The Square attack (no gradients) breaks the masked model far beyond PGD, and the ensemble reports at most PGD's accuracy on the undefended model",
        vec![
            Check::less("Square robust accuracy on the masked model minus PGD's there", sq_m - pgd_m, -0.2),
            Check::at_most("ensemble on the masked model minus PGD on the undefended", auto_m - pgd_h, 0.0),
        ],
    ));
    Ok(out)
}

/// Clean accuracy of the masked model minus the undefended one's (0: the
/// same predictions).
fn masked_acc_clean_gap(out: &Outcome) -> f64 {
    let get = |k: &str| match out.metrics.get(k) {
        Some(Metric::Num(v)) => *v,
        _ => f64::NAN,
    };
    get("clean_accuracy_masked") - get("clean_accuracy")
}
