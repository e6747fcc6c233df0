//! L10 · Learning-rate schedules and the linear scaling rule: decaying the
//! step (step, cosine) ends lower than a constant step; scaling the step with
//! the batch size works for large batches only with a warm-up (Goyal et al.
//! 2017).

use std::collections::BTreeMap;

use odl_nn::{Activation, MlpConfig};
use odl_optim::schedule::{Cosine, MultiStep, Warmup};
use odl_optim::{chain, scale_by_learning_rate, trace, Chain, Schedule};
use odl_tensor::{DType, Rng};

use super::prelude::*;
use crate::trainer::{train_classifier, TrainConfig};

/// The experiment.
pub static EXPERIMENT: Experiment = Experiment {
    id: "lr-schedules",
    lecture: "L10",
    title: "Step-size schedules, and the linear scaling rule with and without warm-up",
    source: "P. Goyal et al., \"Accurate, large minibatch SGD: training ImageNet in 1 hour\", 2017; I. Loshchilov & F. Hutter, \"SGDR\", ICLR 2017",
    setup: "A ReLU MLP (one hidden layer of `hidden` units) on `n_train` examples, SGD with momentum 0.9 for `epochs` epochs. \
            (1) At batch `base_batch` and step `base_lr`: constant, step (×0.1 at 50% and 75% of training), cosine, and \
            linear warm-up (first `warmup_epochs` epochs) then constant. (2) Linear scaling: for each batch of `batches`, step \
            `base_lr`·B/`base_batch`, constant, with and without the warm-up. Final training loss (evaluation mode).",
    params: |s| {
        vec![
            int("n_train", s.pick(2000, 2000, 10000), 100, 60000, "training examples"),
            int("hidden", s.pick(256, 256, 512), 1, 8192, "hidden units"),
            int("epochs", s.pick(10, 10, 30), 2, 10000, "epochs"),
            float("base_lr", 0.02, 1e-6, 10.0, "step size at the base batch"),
            int("base_batch", 16, 1, 100000, "base batch size"),
            ints("batches", &s.pick(vec![16, 256], vec![16, 64, 256, 512], vec![16, 64, 256, 1024]), 1, 100000, "batch sizes for the scaling rule").distinct(2),
            int("warmup_epochs", 2, 0, 1000, "warm-up length"),
        ]
    },
    run,
};

fn sgd_momentum(s: impl Schedule + 'static) -> Chain {
    chain(vec![Box::new(trace(0.9, false)), Box::new(scale_by_learning_rate(s))])
}

fn run(r: &Run) -> Result<Outcome> {
    let p = r.params;
    let mut out = Outcome::default();
    let data = LabData::load(r, &mut out, p.usize("n_train"), 500)?;
    let (n, d, classes) = (data.train.len(), data.d, data.classes);
    let (epochs, lr, b0, h, wu) = (
        p.usize("epochs"),
        p.float("base_lr"),
        p.usize("base_batch"),
        p.usize("hidden"),
        p.usize("warmup_epochs"),
    );
    let batches = p.usizes("batches");
    let jobs = 4 + 2 * batches.len();
    let mut k = 0;
    let mut train = |name: &str, batch: usize, opt: &mut Chain| -> (Vec<f64>, f64) {
        r.progress(k as f64 / jobs as f64, name);
        k += 1;
        let mut net = MlpConfig::new(&[d, h, classes], Activation::Relu)
            .build(&mut Rng::seed(r.seed() ^ 8), DType::F32);
        let cfg = TrainConfig::new(epochs, batch, r.seed());
        let hist = train_classifier(&mut net, opt, &data.train, None, None, &cfg, &|_| {});
        let mut l = hist.train_loss;
        // a diverged run records NaN from there on
        l.resize(epochs + 1, f64::NAN);
        // the worst mini-batch loss relative to the first: early instability
        let first = hist.batch_loss.first().copied().unwrap_or(f64::NAN);
        let peak = hist.batch_loss.iter().copied().fold(f64::NEG_INFINITY, |m, v| {
            if v.is_finite() {
                m.max(v)
            } else {
                f64::INFINITY
            }
        });
        (l, peak / first)
    };
    let steps = |batch: usize| n.div_ceil(batch) * epochs;
    let per_epoch = |batch: usize| n.div_ceil(batch);
    let total = steps(b0);
    let mut curves = Vec::new();
    let mut finals = BTreeMap::new();
    let schedules: Vec<(&str, Chain)> = vec![
        ("constant", sgd_momentum(lr)),
        ("step", sgd_momentum(MultiStep { lr, milestones: vec![total / 2, 3 * total / 4], gamma: 0.1 })),
        ("cosine", sgd_momentum(Cosine { lr, total, min_lr: 0.0 })),
        ("warm-up + constant", sgd_momentum(Warmup { steps: wu * per_epoch(b0), then: lr })),
    ];
    for (name, mut opt) in schedules {
        let (l, _) = train(name, b0, &mut opt);
        finals.insert(format!("{name}/{b0}"), *l.last().unwrap());
        curves.push(Series::indexed(name, l));
    }
    let (mut with_wu, mut without, mut spikes) = (Vec::new(), Vec::new(), BTreeMap::new());
    for &b in &batches {
        let lr_b = lr * b as f64 / b0 as f64;
        let (l1, s1) = train(&format!("batch {b}, no warm-up"), b, &mut sgd_momentum(lr_b));
        let (l2, s2) = train(
            &format!("batch {b}, warm-up"),
            b,
            &mut sgd_momentum(Warmup { steps: wu * per_epoch(b), then: lr_b }),
        );
        spikes.insert(format!("scaled/{b}"), s1);
        spikes.insert(format!("scaled+warm-up/{b}"), s2);
        let (f1, f2) = (*l1.last().unwrap(), *l2.last().unwrap());
        finals.insert(format!("scaled/{b}"), f1);
        finals.insert(format!("scaled+warm-up/{b}"), f2);
        without.push(f1);
        with_wu.push(f2);
    }
    out.metric("final_loss", finals.clone());
    out.metric("peak_batch_loss_over_initial", spikes.clone());
    out.figure(
        "schedules",
        LinePlot::new(format!("Training loss by schedule (batch {b0}, η = {lr})"), "epoch", "training loss")
            .log_y()
            .with(curves),
    )
    .caption("Step and cosine decay end below the constant step: decaying the step size settles deeper.");
    let bf: Vec<f64> = batches.iter().map(|b| *b as f64).collect();
    out.figure(
        "linear-scaling",
        LinePlot::new(
            "Linear scaling rule: η ∝ batch size (gaps: diverged)",
            "batch size",
            "final training loss",
        )
        .log_x()
        .log_y()
        .with([
            Series::line_points("no warm-up", bf.clone(), without.clone()),
            Series::line_points("warm-up", bf, with_wu.clone()),
        ]),
    )
    .caption("With the step scaled linearly with the batch size, the final loss stays level up to a point, then rises (or the run diverges: a gap) at the largest batches.");
    // a run that diverged has no final loss
    let f = |k: &str| finals.get(k).copied().filter(|v| v.is_finite()).unwrap_or(f64::NAN);
    let c = f(&format!("constant/{b0}"));
    let (st, co) = (f(&format!("step/{b0}")), f(&format!("cosine/{b0}")));
    out.claim(Claim::all(
        "decay_beats_constant",
        "Decaying the step size (step or cosine) ends with a lower training loss than a constant step",
        vec![
            Check::less_than(("final loss with step decay", st), 1.0, ("with a constant step", c)),
            Check::less_than(("with cosine decay", co), 1.0, ("with a constant step", c)),
        ],
    ));
    let bmax = batches[batches.len() - 1];
    // a run whose loss left the numbers spiked without bound
    let sp = |k: String| spikes.get(&k).copied().filter(|v| v.is_finite()).unwrap_or(f64::INFINITY);
    let (sw, sn, s0) = (
        sp(format!("scaled+warm-up/{bmax}")),
        sp(format!("scaled/{bmax}")),
        sp(format!("scaled/{}", batches[0])),
    );
    out.claim(Claim::check(
        "linear_scaling_breaks_at_large_batch",
        "The linear scaling rule holds only up to a point: at the largest batch the scaled step makes training unstable (mini-batch loss spikes above its start)",
        Check::greater_than(
            (&format!("peak mini-batch loss / initial loss at batch {bmax}"), sn),
            1.25,
            (&format!("at batch {}", batches[0]), s0),
        ),
    ));
    out.notes.push(if sw < sn {
        format!("Warm-up lowered the spike at batch {bmax}: {} with warm-up vs {} without.", g3(sw), g3(sn))
    } else {
        format!(
        "Goyal et al.'s warm-up remedy did not reproduce in this small setting: at batch {bmax} the peak loss ratio is {} with \
         warm-up and {} without (the spike comes when the full step is reached, warm-up or not).",
        g3(sw),
        g3(sn)
    )
    });
    Ok(out)
}
