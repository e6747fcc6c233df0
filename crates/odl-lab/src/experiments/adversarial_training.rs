//! L12 · Adversarial training (Madry et al. 2018; Zhang et al. 2019; Wong,
//! Rice & Kolter 2020): training on the inner maximization's answer buys
//! robustness at a price in clean accuracy. TRADES' β moves along that
//! trade-off; the one-step FGSM training is cheap, and at a large radius
//! it can overfit catastrophically: the network learns to defeat its own
//! one-step attack while PGD's robust accuracy collapses — a random start
//! with a moderate step, or PGD itself, avoids it.

use odl_autodiff::Tensor;
use odl_data::Dataset;
use odl_nn::{Ctx, Module, Sequential};
use odl_optim::{adam, Chain};
use odl_plot::BarChart;
use odl_robust::training::{kl_sum, perturb, trades_perturb};
use odl_robust::{Attack, AttackName, Net, Norm, Threat};
use odl_tensor::{Array, Rng};
use odl_train::data::Scaling;

use super::prelude::*;
use crate::trainer::{relu_mlp, train_classifier_with, TrainConfig};

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
            random start). Catastrophic overfitting: at ε = `eps_large`, FGSM training (one step of ε from the clean input), \
            FGSM-RS with steps 1.25ε and 0.5ε, and PGD-AT, each evaluated after every epoch with FGSM and PGD-20.",
    params: |s| {
        vec![
            int("n_train", s.pick(2000, 3000, 10000), 100, 60000, "training images"),
            int("n_test", s.pick(200, 400, 1000), 10, 10000, "test images evaluated"),
            int("hidden", 128, 1, 4096, "hidden units per layer"),
            int("epochs", s.pick(8, 8, 15), 1, 1000, "training epochs"),
            float("eps", 0.1, 0.0, 1.0, "ℓ∞ radius of the comparison (pixel units)"),
            floats("betas", &[0.1, 0.3, 1.0, 3.0], 0.0, 1000.0, "TRADES' β values"),
            float("eps_large", 0.2, 0.0, 1.0, "ℓ∞ radius of the catastrophic-overfitting part"),
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
    /// Trains `m` with `kind`'s loss (batch steps numbered from `offset`).
    fn train(
        &self,
        kind: Kind,
        m: &mut Sequential,
        opt: &mut Chain,
        train: &Dataset,
        cfg: &TrainConfig,
        offset: u64,
    ) {
        let mut loss = |m: &mut Sequential, xb: &Array, yb: &[usize], step: u64, ctx: &mut Ctx| {
            self.loss(kind, m, xb, yb, step + offset, ctx)
        };
        train_classifier_with(m, opt, train, None, None, cfg, &mut loss, &|_| {});
    }
}

/// Clean, FGSM and PGD-20 accuracy at `eps`.
fn evaluate(m: &mut Sequential, s: &Setup, x: &[f32], y: &[usize], eps: f64) -> Result<[f64; 3]> {
    let t = Threat::new(Norm::Linf, eps, 0.0, 1.0).map_err(anyhow::Error::msg)?;
    let mut net = Net { model: m, in_shape: vec![784], mean: s.mean, std: s.std };
    let f = Attack::new(AttackName::Fgsm).run(&mut net, &t, x, 784, y).map_err(anyhow::Error::msg)?;
    let mut a = Attack::new(AttackName::Pgd);
    a.seed = s.seed;
    let g = a.run(&mut net, &t, x, 784, y).map_err(anyhow::Error::msg)?;
    Ok([f.clean_accuracy(), f.robust_accuracy(), g.robust_accuracy()])
}

fn run(r: &Run) -> Result<Outcome> {
    let p = r.params;
    let mut out = Outcome::default();
    let data = LabData::load(r, &mut out, p.usize("n_train"), p.usize("n_test"))?;
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
    let steps_total = kinds.len() + 3;
    let mut results = Vec::new();
    for (j, (kind, name)) in kinds.iter().enumerate() {
        r.progress(j as f64 / steps_total as f64, name);
        let mut m = relu_mlp(784, h, 2, data.classes, false, seed);
        let cfg = TrainConfig::new(epochs, 100, seed);
        setup.train(*kind, &mut m, &mut adam(1e-3, 0.9, 0.999, 1e-8), &data.train, &cfg, 0);
        results.push(evaluate(&mut m, &setup, &x, &y, eps)?);
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
    // catastrophic overfitting at a large radius: evaluated every epoch
    let el = p.float("eps_large");
    let big = Setup { eps: el, ..setup };
    let co_kinds = [
        (Kind::Fgsm, "FGSM (no random start, step ε)"),
        (Kind::FgsmRs(1.25), "FGSM-RS, step 1.25ε"),
        (Kind::FgsmRs(0.5), "FGSM-RS, step 0.5ε"),
        (Kind::Pgd, "PGD-AT"),
    ];
    let mut co = Vec::new();
    for (j, (kind, name)) in co_kinds.iter().enumerate() {
        r.progress((kinds.len() + j) as f64 / steps_total as f64, name);
        let mut m = relu_mlp(784, h, 2, data.classes, false, seed);
        // one optimizer for the whole run, evaluated after every epoch
        let mut opt = adam(1e-3, 0.9, 0.999, 1e-8);
        let (mut fg, mut pg) = (Vec::new(), Vec::new());
        for e in 0..epochs {
            let cfg = TrainConfig::new(1, 100, seed.wrapping_add(e as u64 * 7919));
            big.train(*kind, &mut m, &mut opt, &data.train, &cfg, (e * 100_000) as u64);
            let v = evaluate(&mut m, &big, &x, &y, el)?;
            fg.push(v[1]);
            pg.push(v[2]);
        }
        co.push((fg, pg));
    }
    let ep: Vec<f64> = (1..=epochs).map(|e| e as f64).collect();
    let mut series = Vec::new();
    for (k, ((_, name), (fg, pg))) in co_kinds.iter().zip(&co).enumerate() {
        // one colour per training method: solid under PGD-20, dashed under FGSM
        series.push(
            Series::line_points(format!("{name}: PGD-20"), ep.clone(), pg.clone()).keyed(format!("m{k}")),
        );
        series.push(Series::dashed(format!("{name}: FGSM"), ep.clone(), fg.clone()).keyed(format!("m{k}")));
    }
    out.figure(
        "catastrophic_overfitting",
        LinePlot::new(format!("One-step training at ε = {el}: test accuracy under FGSM (dashed) and PGD-20 (solid)"), "epoch", "accuracy").with(series),
    )
    .caption("Overfitting to a one-step attack: at a large radius the network learns to make its own FGSM fail — FGSM accuracy climbs — while PGD finds the adversarial examples that are still there. Training on PGD (or a random start with a small step) keeps some real robustness.");
    for (k, (fg, pg)) in co.iter().enumerate() {
        out.metric(&format!("co_fgsm_accuracy_{k}"), fg.clone());
        out.metric(&format!("co_pgd_accuracy_{k}"), pg.clone());
    }
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
    let last = epochs - 1;
    let (fg0, pg0) = (&co[0].0, &co[0].1);
    let pgd_at = co[3].1[last];
    out.claim(Claim::all(
        "fgsm_training_overfits_to_its_attack",
        "At the large radius FGSM training is robust only to itself: after the last epoch its FGSM accuracy is at least 30 points above its PGD-20 accuracy, which is at most 5 %, while PGD-AT ends at least 5 points higher under PGD-20",
        vec![
            Check::at_least("FGSM training: FGSM − PGD-20 accuracy", fg0[last] - pg0[last], 0.3),
            Check::at_most("FGSM training: PGD-20 accuracy", pg0[last], 0.05),
            Check::at_least("PGD-AT − FGSM training, PGD-20 accuracy", pgd_at - pg0[last], 0.05),
        ],
    ));
    Ok(out)
}
