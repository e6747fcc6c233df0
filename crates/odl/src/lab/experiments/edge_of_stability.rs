//! Beyond the course · Cohen, Kaur, Li, Kolter & Talwalkar 2021, "Gradient
//! descent on neural networks typically occurs at the edge of stability":
//! under full-batch GD with step η the top Hessian eigenvalue rises to about
//! 2/η and hovers there, while the loss keeps falling, non-monotonically.

use anyhow::Result;
use odl_autodiff::{grad, Tensor};
use odl_nn::{Activation, Ctx, MlpConfig, Module};
use odl_optim::{apply_updates, sgd, Transform};
use odl_plot::{Figure, LinePlot, Series};
use odl_probe::{eigenpairs, hessian_at, ModelLoss, Which};
use odl_tensor::{Array, DType, Rng};
use serde_json::{json, Map};

use super::g3;
use crate::lab::data::classification;
use crate::lab::params::{floats, int};
use crate::lab::{Claim, Experiment, Outcome, Run};
use crate::output::num;

/// The experiment.
pub static EXPERIMENT: Experiment = Experiment {
    id: "edge-of-stability",
    lecture: "beyond",
    title: "Edge of stability: under full-batch GD the sharpness rises to 2/η and hovers there",
    source: "J. Cohen, S. Kaur, Y. Li, Z. Kolter, A. Talwalkar, \"Gradient descent on neural networks typically occurs at the edge of stability\", ICLR 2021",
    setup: "A tanh MLP (two hidden layers of `hidden` units) on `n_train` examples with the squared loss against one-hot \
            targets, trained by full-batch GD at each step size of `etas` for `steps` steps; every `every` steps the top \
            Hessian eigenvalue (sharpness) of the full-batch loss by 20 Lanczos steps.",
    params: |s| {
        vec![
            floats("etas", &[0.1, 0.13, 0.16], 1e-6, 10.0, "step sizes η"),
            int("n_train", s.pick(200, 500, 2000), 10, 60000, "training examples (full batch)"),
            int("hidden", s.pick(32, 64, 128), 1, 4096, "units per hidden layer"),
            int("steps", s.pick(2000, 3000, 8000), 10, 10_000_000, "GD steps"),
            int("every", s.pick(25, 25, 25), 1, 100000, "steps between sharpness measurements"),
        ]
    },
    run,
};

fn run(r: &Run) -> Result<Outcome> {
    let p = r.params;
    let (etas, steps, every) = (p.floats("etas"), p.usize("steps"), p.usize("every"));
    let data = classification(p.usize("n_train"), 10, r.seed());
    let mut out = Outcome::default();
    out.notes.extend(data.note.clone());
    let n = data.train.len();
    let d = data.train.x.numel() / n;
    let classes = data.train.classes();
    let x = Tensor::constant(data.train.x.reshape(&[n, d]));
    let mut onehot = vec![0.0; n * classes];
    for (i, l) in data.train.labels().iter().enumerate() {
        onehot[i * classes + l] = 1.0;
    }
    let target = Tensor::constant(Array::from_f64(&onehot, &[n, classes], DType::F32));
    let h = p.usize("hidden");
    let (mut ratio, mut sharp_series, mut loss_series) = (Map::new(), Vec::new(), Vec::new());
    let (mut all_hover, mut all_fall, mut all_rise) = (true, true, true);
    let mut total_ups = 0;
    let mut details = Vec::new();
    for (ei, &eta) in etas.iter().enumerate() {
        let mut net = MlpConfig::new(&[d, h, h, classes], Activation::Tanh)
            .build(&mut Rng::seed(r.seed() ^ 5), DType::F32);
        let mut opt = sgd(eta);
        let (mut ts, mut sharp, mut losses) = (Vec::new(), Vec::new(), Vec::new());
        for t in 0..=steps {
            if t % every == 0 {
                r.progress(
                    (ei as f64 + t as f64 / steps as f64) / etas.len() as f64,
                    &format!("η = {eta}, step {t}"),
                );
                let tg = target.clone();
                let ml = ModelLoss::new(&mut net, x.clone(), move |z| z.mse(&tg));
                let theta = ml.theta();
                let lam =
                    eigenpairs(&hessian_at(&|q| ml.loss(q), &theta), 1, 20, Which::Largest, r.seed()).0[0];
                ts.push(t as f64);
                sharp.push(lam);
            }
            let loss = net.forward(&x, &mut Ctx::eval()).mse(&target);
            losses.push(loss.item());
            if t == steps || !loss.item().is_finite() {
                break;
            }
            let mut g: Vec<Array> =
                grad(&loss, &net.params()).into_iter().map(|t| t.value().clone()).collect();
            drop(loss);
            let mut v = net.param_values();
            opt.update(&mut g, &v);
            apply_updates(&mut v, &g);
            net.set_param_values(v);
        }
        let thr = 2.0 / eta;
        // the last 30% of the run
        let tail: Vec<f64> =
            sharp.iter().zip(&ts).filter(|(_, t)| **t >= 0.7 * steps as f64).map(|(s, _)| *s).collect();
        let mean_tail = tail.iter().sum::<f64>() / tail.len().max(1) as f64;
        let rr = mean_tail / thr;
        ratio.insert(eta.to_string(), num(rr));
        // progressive sharpening: it starts below 2/η and reaches it
        let reach = sharp.iter().position(|s| *s >= 0.9 * thr);
        let rise = sharp[0] < thr && reach.is_some();
        let entry_loss = reach.map(|i| losses[(ts[i] as usize).min(losses.len() - 1)]).unwrap_or(f64::NAN);
        let final_loss = *losses.last().unwrap();
        let ups = losses.windows(2).filter(|w| w[1] > w[0]).count();
        let falls = final_loss < entry_loss;
        total_ups += ups;
        all_hover &= (0.75..=1.25).contains(&rr);
        all_fall &= falls;
        all_rise &= rise;
        details.push(
            json!({"eta": eta, "initial_sharpness": num(sharp[0]), "mean_sharpness_tail": num(mean_tail),
            "loss_at_entry": num(entry_loss), "final_loss": num(final_loss), "loss_increases": ups}),
        );
        sharp_series.push(Series::line(format!("η = {eta}"), ts.clone(), sharp.clone()));
        sharp_series.push(Series::dashed(
            format!("2/η = {}", g3(thr)),
            vec![0.0, steps as f64],
            vec![thr, thr],
        ));
        loss_series.push(Series::indexed(format!("η = {eta}"), losses));
    }
    out.metric("sharpness_over_2_by_eta", json!(ratio));
    out.metric("runs", json!(details));
    out.figure(
        "sharpness",
        Figure::Lines(LinePlot {
            title: "Sharpness (top Hessian eigenvalue) during full-batch GD".into(),
            x_label: "step".into(),
            y_label: "λ_max".into(),
            series: sharp_series,
            ..Default::default()
        }),
    );
    out.figure(
        "loss",
        Figure::Lines(LinePlot {
            title: "Training loss: falling, not monotonically".into(),
            x_label: "step".into(),
            y_label: "squared loss".into(),
            y_log: true,
            series: loss_series,
            ..Default::default()
        }),
    );
    let fmt = ratio
        .iter()
        .map(|(k, v)| format!("η={k}: {}", g3(v.as_f64().unwrap_or(f64::NAN))))
        .collect::<Vec<_>>()
        .join(", ");
    out.claims.push(Claim::new(
        "progressive_sharpening",
        "The sharpness starts below 2/η and rises to it (progressive sharpening)",
        "for every η: λ_max(0) < 2/η, and later ≥ 0.9·2/η",
        details
            .iter()
            .map(|d| format!("η={}: {}", d["eta"], g3(d["initial_sharpness"].as_f64().unwrap_or(f64::NAN))))
            .collect::<Vec<_>>()
            .join(", "),
        all_rise,
    ));
    out.claims.push(Claim::new(
        "hovers_at_2_over_eta",
        "Then it hovers at about 2/η",
        "mean sharpness over the last 30% of steps / (2/η) in [0.75, 1.25] for every η",
        fmt,
        all_hover,
    ));
    out.claims.push(Claim::new(
        "loss_keeps_falling",
        "Meanwhile the loss keeps decreasing over the long run, though not monotonically",
        "for every η the final loss < the loss on reaching 2/η; across the runs, some steps where the loss rises",
        details.iter().map(|d| format!("η={}: {} → {} ({} rises)", d["eta"], g3(d["loss_at_entry"].as_f64().unwrap_or(f64::NAN)), g3(d["final_loss"].as_f64().unwrap_or(f64::NAN)), d["loss_increases"])).collect::<Vec<_>>().join("; "),
        all_fall && total_ups > 0,
    ));
    Ok(out)
}
