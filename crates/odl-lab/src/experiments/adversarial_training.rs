//! L12 · Adversarial training (Madry et al. 2018; Zhang et al. 2019; Wong,
//! Rice & Kolter 2020): training on the inner maximization's answer buys
//! robustness at a price in clean accuracy. TRADES' β moves along that
//! trade-off; the one-step FGSM training is cheap, and at a large radius
//! it can overfit catastrophically: a CNN trained on it first gains some
//! robustness, then learns to defeat its own one-step attack while PGD's
//! robust accuracy collapses to zero — the same step from a random start
//! (FGSM-RS) avoids it.

use anyhow::Context;
use odl_autodiff::Tensor;
use odl_data::Dataset;
use odl_nn::{Ctx, Module, Sequential};
use odl_optim::{adam, Chain};
use odl_plot::BarChart;
use odl_robust::training::{kl_sum, perturb, trades_perturb};
use odl_robust::{Attack, AttackName, Net, Norm, Threat};
use odl_tensor::{Array, Rng};
use odl_train::data::Scaling;
use odl_train::train_step;

use super::prelude::*;
use crate::trainer::{relu_cnn, relu_mlp, train_classifier_with, TrainConfig};

/// The experiment.
pub static EXPERIMENT: Experiment = Experiment {
    id: "adversarial-training",
    lecture: "L12",
    title: "Adversarial training: PGD-AT, TRADES' clean/robust trade-off, FGSM-RS, and FGSM's catastrophic overfitting",
    source: "A. Madry et al., \"Towards deep learning models resistant to adversarial attacks\", ICLR 2018; H. Zhang et al., \
             \"Theoretically principled trade-off between robustness and accuracy\" (TRADES), ICML 2019; E. Wong, L. Rice, \
             J. Z. Kolter, \"Fast is better than free: revisiting adversarial training\", ICLR 2020",
    setup: "ReLU MLPs 784 → `hidden` → `hidden` → 10 trained with Adam (lr 10⁻³, batches of 100) for `epochs` epochs on \
            `n_train` Fashion-MNIST images at ℓ∞ ε = `eps` (pixels in [0, 1]): standard training; PGD-AT (7 steps of \
            2.5ε/7 from a random start); TRADES at each β of `betas` (10 KL steps of 2.5ε/10); FGSM-RS (one step of 1.25ε \
            from a random start). Each is evaluated on `n_test` test images: clean accuracy and PGD-20 accuracy (step 2.5ε/20, \
            random start). Catastrophic overfitting: the CNN of specs/fashion-mnist-cnn.toml (3×3 convolutions with \
            `co_channels` channels, each followed by ReLU and 2×2 max pooling, then linear) trained with Adam (constant lr \
            `co_lr`, batches of 32) for `co_steps` steps on `co_n_train` images at ε = `eps_large`, once with FGSM (one step \
            of ε from the clean input) and once with FGSM-RS (one step of 1.25ε from a random start); FGSM and PGD-10 \
            accuracy on `co_n_test` test images before training and every `co_every` steps.",
    params: |s| {
        vec![
            int("n_train", s.pick(2000, 3000, 10000), 100, 60000, "training images"),
            int("n_test", s.pick(200, 400, 1000), 10, 10000, "test images evaluated"),
            int("hidden", 128, 1, 4096, "hidden units per layer"),
            int("epochs", s.pick(8, 8, 15), 1, 1000, "training epochs"),
            float("eps", 0.1, 0.0, 1.0, "ℓ∞ radius of the comparison (pixel units)"),
            floats("betas", &[0.1, 0.3, 1.0, 3.0], 0.0, 1000.0, "TRADES' β values"),
            float("eps_large", 0.2, 0.0, 1.0, "ℓ∞ radius of the catastrophic-overfitting part"),
            int("co_steps", s.pick(100, 1900, 2500), 0, 1_000_000, "CNN training steps of the catastrophic-overfitting part (0: skip it)"),
            int("co_n_train", s.pick(2000, 10000, 10000), 100, 60000, "training images of the catastrophic-overfitting part"),
            float("co_lr", 1e-3, 0.0, 1.0, "its Adam learning rate (constant)"),
            int("co_n_test", s.pick(200, 300, 500), 10, 10000, "test images of its curves (the first of the `n_test`)"),
            int("co_every", s.pick(25, 150, 125), 1, 1_000_000, "steps between its evaluations"),
            ints("co_channels", &[32, 64], 1, 512, "its CNN's channels per convolution"),
        ]
    },
    run,
};

/// How a batch's training loss is made.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Standard,
    Pgd,
    /// one step of this multiple of ε from a random start
    FgsmRs(f64),
    /// one step of ε from the clean input
    Fgsm,
    Trades(f64),
}

/// What the training loop needs to make adversarial batches.
struct Setup {
    mean: f64,
    std: f64,
    eps: f64,
    seed: u64,
}

impl Setup {
    fn pixels(&self, xb: &Array) -> Vec<f32> {
        let mut v = self.scaling().to_data(&xb.to_vec_f32());
        v.iter_mut().for_each(|u| *u = u.clamp(0.0, 1.0));
        v
    }

    fn model_input(&self, v: &[f32]) -> Tensor {
        Tensor::constant(Array::from_vec(self.scaling().to_model(v), &[v.len() / 784, 784]))
    }

    fn scaling(&self) -> Scaling {
        Scaling { mean: self.mean, std: self.std }
    }

    /// The training loss of one batch.
    fn loss(
        &self,
        kind: Kind,
        m: &mut Sequential,
        xb: &Array,
        yb: &[usize],
        step: u64,
        ctx: &mut Ctx,
    ) -> Tensor {
        if kind == Kind::Standard {
            return m.forward(&Tensor::constant(xb.clone()), ctx).cross_entropy(yb);
        }
        let t = Threat::new(Norm::Linf, self.eps, 0.0, 1.0).expect("a valid radius");
        let x0 = self.pixels(xb);
        let mut rng = Rng::stream(self.seed ^ 0xAD7, step);
        let (mean, std) = (self.mean, self.std);
        let adv = {
            let mut net = Net { model: &mut *m, in_shape: vec![784], mean, std };
            match kind {
                Kind::Pgd => perturb(&mut net, &t, &x0, 784, yb, 7, 2.5 * self.eps / 7.0, Some(&mut rng)),
                Kind::FgsmRs(a) => perturb(&mut net, &t, &x0, 784, yb, 1, a * self.eps, Some(&mut rng)),
                Kind::Fgsm => perturb(&mut net, &t, &x0, 784, yb, 1, self.eps, None),
                Kind::Trades(_) => trades_perturb(&mut net, &t, &x0, 784, 10, 0.25 * self.eps, &mut rng),
                Kind::Standard => unreachable!("returned above"),
            }
        };
        let za = m.forward(&self.model_input(&adv), ctx);
        match kind {
            Kind::Trades(beta) => {
                let z = m.forward(&self.model_input(&x0), ctx);
                let kl = kl_sum(&z.softmax(1), &za).mul_scalar(beta / yb.len() as f64);
                z.cross_entropy(yb) + kl
            }
            _ => za.cross_entropy(yb),
        }
    }
}

impl Setup {
    /// Trains `m` with `kind`'s loss.
    fn train(&self, kind: Kind, m: &mut Sequential, opt: &mut Chain, train: &Dataset, cfg: &TrainConfig) {
        let mut loss = |m: &mut Sequential, xb: &Array, yb: &[usize], step: u64, ctx: &mut Ctx| {
            self.loss(kind, m, xb, yb, step, ctx)
        };
        train_classifier_with(m, opt, train, None, None, cfg, &mut loss, &|_| {});
    }
}

/// Clean, FGSM and PGD-`pgd_steps` accuracy at `eps`.
fn evaluate(
    m: &mut Sequential,
    s: &Setup,
    x: &[f32],
    y: &[usize],
    eps: f64,
    pgd_steps: usize,
) -> Result<[f64; 3]> {
    let t = Threat::new(Norm::Linf, eps, 0.0, 1.0).map_err(anyhow::Error::msg)?;
    let mut net = Net { model: m, in_shape: vec![784], mean: s.mean, std: s.std };
    let f = Attack::new(AttackName::Fgsm).run(&mut net, &t, x, 784, y).map_err(anyhow::Error::msg)?;
    let mut a = Attack::new(AttackName::Pgd);
    a.seed = s.seed;
    a.steps = pgd_steps;
    let g = a.run(&mut net, &t, x, 784, y).map_err(anyhow::Error::msg)?;
    Ok([f.clean_accuracy(), f.robust_accuracy(), g.robust_accuracy()])
}

fn run(r: &Run) -> Result<Outcome> {
    let p = r.params;
    let mut out = Outcome::default();
    // one draw for both parts: the MLPs train on its first `n_train` images
    let n_train = p.usize("n_train");
    let co_n_train = if p.usize("co_steps") == 0 { 0 } else { p.usize("co_n_train") };
    let data = LabData::load(r, &mut out, n_train.max(co_n_train), p.usize("n_test"))
        .with_context(|| format!("the images for n_train = {n_train} and co_n_train = {co_n_train}"))?;
    let mlp_train = data.train.take(n_train);
    let (x, y) = data.pixels(&data.test, p.usize("n_test"));
    let (h, epochs, seed, eps) = (p.usize("hidden"), p.usize("epochs"), r.seed(), p.float("eps"));
    let setup = Setup { mean: data.mean, std: data.std, eps, seed };
    let betas = p.floats("betas");
    let mut kinds = vec![
        (Kind::Standard, "standard".to_string()),
        (Kind::Pgd, "PGD-AT".into()),
        (Kind::FgsmRs(1.25), "FGSM-RS".into()),
    ];
    kinds.extend(betas.iter().map(|&b| (Kind::Trades(b), format!("TRADES β = {b}"))));
    let steps_total = kinds.len() + CO_KINDS.len();
    let mut results = Vec::new();
    for (j, (kind, name)) in kinds.iter().enumerate() {
        r.progress(j as f64 / steps_total as f64, name);
        let mut m = relu_mlp(784, h, 2, data.classes, false, seed);
        let cfg = TrainConfig::new(epochs, 100, seed);
        setup.train(*kind, &mut m, &mut adam(1e-3, 0.9, 0.999, 1e-8), &mlp_train, &cfg);
        results.push(evaluate(&mut m, &setup, &x, &y, eps, 20)?);
    }
    let clean: Vec<f64> = results.iter().map(|v| v[0]).collect();
    let robust: Vec<f64> = results.iter().map(|v| v[2]).collect();
    let names: Vec<&str> = kinds.iter().map(|(_, n)| n.as_str()).collect();
    r.csv(
        "accuracy.csv",
        &["method", "clean", "fgsm", "pgd20"],
        &kinds
            .iter()
            .zip(&results)
            .map(|((_, n), v)| vec![n.clone(), format!("{}", v[0]), format!("{}", v[1]), format!("{}", v[2])])
            .collect::<Vec<_>>(),
    )?;
    out.metric("methods", names.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", "));
    out.metric("clean_accuracy", clean.clone());
    out.metric("pgd_accuracy", robust.clone());
    out.figure(
        "accuracy",
        BarChart::new(format!("Clean and PGD-20 accuracy at ℓ∞ ε = {eps}"), "training", "accuracy", &names)
            .bars("clean", clean.clone())
            .bars("PGD-20", robust.clone()),
    )
    .caption("Training on adversarial examples turns a network that PGD breaks almost everywhere into one that keeps most of its accuracy under attack, at a cost in clean accuracy; the one-step FGSM-RS gets close to PGD-AT at a seventh of the inner cost.");
    let nb = betas.len();
    let (tc, tr): (Vec<f64>, Vec<f64>) = (clean[3..].to_vec(), robust[3..].to_vec());
    out.figure(
        "trades_tradeoff",
        LinePlot::new("TRADES: clean vs robust accuracy as β grows", "PGD-20 accuracy", "clean accuracy")
            .with([
                Series::line_points("TRADES (β increasing →)", tr.clone(), tc.clone()),
                Series::points("standard", vec![robust[0]], vec![clean[0]]),
                Series::points("PGD-AT", vec![robust[1]], vec![clean[1]]),
            ]),
    )
    .caption("β weighs the KL term that keeps the prediction constant on the ball against the clean cross-entropy: a larger β moves the network along the trade-off towards robustness and away from clean accuracy.");
    // catastrophic overfitting: one-step training of a CNN at a large radius,
    // evaluated every `co_every` steps
    let co_steps = p.usize("co_steps");
    let co = if co_steps == 0 {
        out.notes.push("The catastrophic-overfitting part is skipped (co_steps = 0).".into());
        None
    } else {
        let big = Setup { eps: p.float("eps_large"), ..setup };
        let lr = p.float("co_lr");
        let channels = p.usizes("co_channels");
        // the curves' test images: the first `co_n_test` of the comparison's
        let k = p.usize("co_n_test").min(y.len());
        let (cx, cy) = (&x[..k * 784], &y[..k]);
        let train = data.train.take(co_n_train);
        let mut curves = Vec::new();
        for (j, (kind, name)) in CO_KINDS.iter().enumerate() {
            r.progress((kinds.len() + j) as f64 / steps_total as f64, name);
            let m = relu_cnn(28, &channels, data.classes, seed);
            curves.push(big.one_step_curve(*kind, m, lr, &train, cx, cy, co_steps, p.usize("co_every"))?);
        }
        Some(curves)
    };
    // claims
    out.claim(Claim::all(
        "adversarial_training_buys_robustness",
        "PGD-AT keeps at least 30 points more accuracy under PGD-20 than standard training, which PGD all but breaks (≤ 10 %), and pays for it in clean accuracy",
        vec![
            Check::at_most("standard, PGD-20 accuracy", robust[0], 0.1),
            Check::at_least("PGD-AT − standard, PGD-20 accuracy", robust[1] - robust[0], 0.3),
            Check::less("PGD-AT − standard, clean accuracy", clean[1] - clean[0], 0.0),
        ],
    ));
    out.claim(Claim::all(
        "trades_beta_trades_accuracy_for_robustness",
        "Raising TRADES' β from the smallest to the largest value lowers clean accuracy and raises PGD-20 accuracy",
        vec![
            Check::less("clean accuracy, largest − smallest β", tc[nb - 1] - tc[0], 0.0),
            Check::greater("PGD-20 accuracy, largest − smallest β", tr[nb - 1] - tr[0], 0.0),
        ],
    ));
    out.claim(Claim::check(
        "fgsm_rs_recovers_most_of_pgd_at",
        "FGSM-RS, one gradient per step against PGD-AT's seven, reaches at least two thirds of PGD-AT's PGD-20 accuracy",
        Check::greater_than(("FGSM-RS, PGD-20 accuracy", robust[2]), 2.0 / 3.0, ("PGD-AT", robust[1])),
    ));
    if let Some(curves) = co {
        one_step_findings(&mut out, p.float("eps_large"), &curves);
        if co_steps < MIN_CO_STEPS {
            out.notes.push(format!(
                "Catastrophic overfitting takes one to two thousand steps of the CNN to set in: with co_steps = {co_steps} \
                 the figure shows its start, and the two claims about it are made from co_steps = {MIN_CO_STEPS} on."
            ));
        } else {
            one_step_claims(&mut out, &curves);
        }
    }
    Ok(out)
}

/// Steps of the CNN before the catastrophic-overfitting claims are made.
const MIN_CO_STEPS: usize = 1000;

/// The one-step trainings of the catastrophic-overfitting part.
const CO_KINDS: [(Kind, &str); 2] = [
    (Kind::Fgsm, "FGSM (no random start, step ε)"),
    (Kind::FgsmRs(1.25), "FGSM-RS (random start, step 1.25ε)"),
];

/// Test accuracy during one training run, at `steps`.
struct Curve {
    steps: Vec<f64>,
    fgsm: Vec<f64>,
    pgd: Vec<f64>,
}

impl Setup {
    /// Trains `m` with `kind` (Adam, constant learning rate `lr`, batches of 32) for
    /// `steps` steps, evaluating FGSM and PGD-10 accuracy on `(x, y)` before
    /// training and after every `every` steps and the last.
    #[allow(clippy::too_many_arguments)]
    fn one_step_curve(
        &self,
        kind: Kind,
        mut m: Sequential,
        lr: f64,
        train: &Dataset,
        x: &[f32],
        y: &[usize],
        steps: usize,
        every: usize,
    ) -> Result<Curve> {
        let mut opt = adam(lr, 0.9, 0.999, 1e-8);
        let mut c = Curve { steps: Vec::new(), fgsm: Vec::new(), pgd: Vec::new() };
        let mut record = |m: &mut Sequential, step: usize| -> Result<()> {
            let v = evaluate(m, self, x, y, self.eps, 10)?;
            c.steps.push(step as f64);
            c.fgsm.push(v[1]);
            c.pgd.push(v[2]);
            Ok(())
        };
        record(&mut m, 0)?;
        let mut step = 0;
        'epochs: for epoch in 0u64.. {
            for b in train.batches(32, self.seed.wrapping_add(epoch.wrapping_mul(0x9E37_79B9))) {
                let mut ctx = Ctx { train: true, rng: Rng::stream(self.seed, step as u64) };
                let l = self.loss(kind, &mut m, &b.x, b.labels(), step as u64, &mut ctx);
                step += 1;
                if train_step(&mut m, &mut opt, |_| l, false).is_err() {
                    // a diverged run is recorded where it stopped
                    record(&mut m, step)?;
                    break 'epochs;
                }
                if step == steps || step % every == 0 {
                    record(&mut m, step)?;
                }
                if step == steps {
                    break 'epochs;
                }
            }
        }
        Ok(c)
    }
}

/// The catastrophic-overfitting figure, metrics and claims.
fn one_step_findings(out: &mut Outcome, eps: f64, curves: &[Curve]) {
    let mut series = Vec::new();
    for (k, ((_, name), c)) in CO_KINDS.iter().zip(curves).enumerate() {
        // one colour per training method: solid under PGD-10, dashed under FGSM
        series.push(
            Series::line_points(format!("{name}: PGD-10"), c.steps.clone(), c.pgd.clone())
                .keyed(format!("m{k}")),
        );
        series.push(
            Series::dashed(format!("{name}: FGSM"), c.steps.clone(), c.fgsm.clone()).keyed(format!("m{k}")),
        );
        out.metric(&format!("co_fgsm_accuracy_{k}"), c.fgsm.clone());
        out.metric(&format!("co_pgd_accuracy_{k}"), c.pgd.clone());
    }
    out.metric("co_steps", curves[0].steps.clone());
    out.figure(
        "catastrophic_overfitting",
        LinePlot::new(
            format!("One-step training of a CNN at ε = {eps}: test accuracy under FGSM (dashed) and PGD-10 (solid)"),
            "training step",
            "accuracy",
        )
        .with(series),
    )
    .caption("Catastrophic overfitting: trained on its own one-step attack from the clean input, the CNN first gains real robustness, then loses it within a few hundred steps — PGD's accuracy falls to almost nothing while the FGSM accuracy it trains against stays high. The same step from a random start keeps its robustness.");
}

/// The catastrophic-overfitting claims, on the mean of each curve's last
/// three evaluations (one evaluation of a few hundred images is noisy).
fn one_step_claims(out: &mut Outcome, curves: &[Curve]) {
    let (f, rs) = (&curves[0], &curves[1]);
    let last = |v: &[f64]| {
        let k = v.len().min(3);
        v[v.len() - k..].iter().sum::<f64>() / k as f64
    };
    let peak = f.pgd.iter().cloned().fold(0.0, f64::max);
    out.claim(Claim::all(
        "fgsm_training_overfits_catastrophically",
        "FGSM training first gains some robustness, then loses all of it: its PGD-10 accuracy rises to at least 5 % and ends at most 2 % (the mean of the last three evaluations) while its FGSM accuracy ends at least 40 points higher",
        vec![
            Check::at_least("FGSM training: peak PGD-10 accuracy", peak, 0.05),
            Check::at_most("FGSM training: final PGD-10 accuracy", last(&f.pgd), 0.02),
            Check::at_least("FGSM training: final FGSM − PGD-10 accuracy", last(&f.fgsm) - last(&f.pgd), 0.4),
        ],
    ));
    out.claim(Claim::check(
        "random_start_prevents_it",
        "The same one-step training from a random start (FGSM-RS) does not collapse: it ends at least 15 points above FGSM training under PGD-10",
        Check::at_least("FGSM-RS − FGSM training, final PGD-10 accuracy", last(&rs.pgd) - last(&f.pgd), 0.15),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use odl_tensor::DType;

    /// The curve is measured before training, every `every` steps and at the
    /// last; both one-step methods start from the same network (the paired
    /// comparison the claims rest on), and a run is reproducible.
    #[test]
    fn one_step_curves_are_paired_and_evaluated_on_schedule() {
        let mut rng = Rng::seed(3);
        let n = 40;
        let x = rng.uniform(&[n, 784], 0.0, 1.0, DType::F32);
        let labels: Vec<usize> = (0..n).map(|_| rng.below(10)).collect();
        let pixels = x.to_vec_f32();
        let train = Dataset::classification(x, labels.clone(), 10);
        let s = Setup { mean: 0.0, std: 1.0, eps: 0.2, seed: 5 };
        let curve = |kind| {
            s.one_step_curve(kind, relu_cnn(28, &[2, 4], 10, 5), 1e-3, &train, &pixels, &labels, 7, 3)
                .unwrap()
        };
        let (f, rs) = (curve(Kind::Fgsm), curve(Kind::FgsmRs(1.25)));
        assert_eq!(f.steps, vec![0.0, 3.0, 6.0, 7.0]);
        assert_eq!((f.pgd.len(), f.fgsm.len()), (4, 4));
        assert_eq!((f.pgd[0], f.fgsm[0]), (rs.pgd[0], rs.fgsm[0]));
        let again = curve(Kind::Fgsm);
        assert_eq!((again.pgd, again.fgsm), (f.pgd.clone(), f.fgsm.clone()));
    }
}
