//! The training loop: data, model and optimizer from a [`Spec`], metrics to
//! JSONL and CSV as they happen, divergence recorded as a result, checkpoints
//! (`.npz`, documented keys) and exact resume.
//!
//! Run folder:
//! * `spec.toml` — the resolved spec (after `--set`);
//! * `metrics.jsonl`, `metrics.csv` — one row per step (`step`, `epoch`,
//!   `loss`, `grad_norm`, `lr`, `time_s`), with `test_loss`, `test_acc`,
//!   `weight_norm.<param>` and `grad_norm.<param>` (and `val_loss`, `val_acc`
//!   with `data.val_fraction`) on evaluation steps, and `sharpness` (the top
//!   Hessian eigenvalue on a fixed batch) every `train.sharpness_every` steps;
//! * `summary.json` — `final_train_loss`, `final_train_acc`, `test_loss`,
//!   `test_accuracy`, `diverged`, `diverged_at_step`, `steps`, `wall_s`;
//! * `checkpoint.npz` — `param.<name>` (PyTorch-style names such as
//!   `param.0.weight`), `buffer.<name>` (BatchNorm running statistics),
//!   `optim.<name>` (optimizer state, e.g. `optim.1.m.0`) and `meta.step`.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use odl_autodiff::{grad, no_grad, Tensor};
use odl_data::synthetic::{gaussian_mixture, two_moons};
use odl_data::{fashion_mnist, mnist1d, Dataset, Mnist1dConfig};
use odl_nn::{
    cross_entropy_smoothed, gain, Activation, Conv2d, Ctx, Flatten, Init, Linear, MlpConfig, Module, Norm,
    Pool2d, Sequential,
};
use odl_optim::schedule::{Cosine, Exponential, InvSqrt, MultiStep, OneCycle, Step, Warmup};
use odl_optim::{
    add_decayed_weights, apply_updates, chain, clip_by_global_norm, global_norm, scale_by_adagrad,
    scale_by_adam, scale_by_learning_rate, scale_by_rms, trace, AdamConfig, Chain, Schedule, Transform,
};
use odl_tensor::npy::{write_npz, NpyValue, Npz};
use odl_tensor::{Array, DType, Rng};
use serde_json::json;

use super::spec::{ActName, DataName, InitName, ModelKind, NormName, OptimName, ScheduleKind, Spec};

/// What a run ended with (also written as `summary.json`).
#[derive(Clone, Debug, serde::Serialize)]
pub struct Summary {
    /// mean loss over the whole training set at the end (evaluation mode)
    pub final_train_loss: f64,
    /// accuracy over the whole training set at the end
    pub final_train_acc: f64,
    /// mean test loss at the end
    pub test_loss: f64,
    /// test accuracy at the end
    pub test_accuracy: f64,
    /// whether the loss became NaN/∞
    pub diverged: bool,
    /// the step at which it did
    pub diverged_at_step: Option<usize>,
    /// optimizer steps taken
    pub steps: usize,
    /// seconds of this invocation
    pub wall_s: f64,
    /// seconds per epoch (training steps only)
    pub s_per_epoch: f64,
}

fn load_data(spec: &Spec) -> Result<(Dataset, Option<Dataset>, Dataset)> {
    let d = &spec.data;
    let (mut train, mut test) = match d.name {
        DataName::FashionMnist => fashion_mnist(d.path.as_deref())?,
        DataName::Mnist1d => {
            let all = mnist1d(&Mnist1dConfig { n: 5000, seed: spec.seed, ..Default::default() });
            all.split(0.8, spec.seed)
        }
        DataName::TwoMoons => two_moons(1000, 0.1, spec.seed).split(0.8, spec.seed),
        DataName::GaussianMixture => {
            gaussian_mixture(2000, 10, 20, 1.0, 1.0, spec.seed).split(0.8, spec.seed)
        }
        DataName::Npz => {
            let p = d.path.as_deref().context("data.path")?;
            Dataset::from_npz(p, "x", "y")?.split(0.8, spec.seed)
        }
    };
    if let Some(n) = d.n_train {
        train = train.take(n);
    }
    if let Some(n) = d.n_test {
        test = test.take(n);
    }
    train.cast(DType::F32);
    test.cast(DType::F32);
    if d.shuffle_pixels {
        // the same permutation for both sets
        train.shuffle_pixels(spec.seed ^ 0x5eed);
        test.shuffle_pixels(spec.seed ^ 0x5eed);
    }
    if d.corrupt_labels > 0.0 {
        train.corrupt_labels(d.corrupt_labels, spec.seed ^ 0xc0de);
    }
    if d.normalize {
        let (m, s) = train.normalize();
        test.normalize_with(m, s);
    }
    let val = if d.val_fraction > 0.0 {
        let (rest, val) = train.split(1.0 - d.val_fraction, spec.seed ^ 0x7a1);
        train = rest;
        Some(val)
    } else {
        None
    };
    if train.is_empty() || test.is_empty() || val.as_ref().is_some_and(Dataset::is_empty) {
        bail!("data: the training, validation or test set is empty");
    }
    Ok((train, val, test))
}

fn activation(a: ActName) -> Activation {
    match a {
        ActName::Relu => Activation::Relu,
        ActName::Tanh => Activation::Tanh,
        ActName::Sigmoid => Activation::Sigmoid,
        ActName::Gelu => Activation::Gelu,
        ActName::Softplus => Activation::Softplus,
        ActName::Identity => Activation::Identity,
    }
}

fn init(spec: &Spec) -> Init {
    let (name, slope) = activation(spec.model.activation).gain_name();
    let g = gain(name, slope);
    match spec.model.init {
        InitName::TorchDefault => Init::TorchDefault,
        InitName::KaimingNormal => Init::KaimingNormal(g),
        InitName::XavierUniform => Init::XavierUniform(g),
        InitName::LecunNormal => Init::LecunNormal,
        InitName::Orthogonal => Init::Orthogonal(g),
    }
}

/// The input shape a model sees for one example: images as `[1, 28, 28]`,
/// 1-d signals (MNIST-1D) as `[1, 1, length]` for convolutions.
fn example_shape(spec: &Spec, data: &Dataset) -> Result<Vec<usize>> {
    let raw = data.x.shape()[1..].to_vec();
    let n: usize = raw.iter().product();
    match spec.model.kind {
        ModelKind::Mlp => Ok(vec![n]),
        ModelKind::Cnn => {
            let side = (n as f64).sqrt() as usize;
            match raw.len() {
                3 => Ok(raw),
                1 if spec.data.name == DataName::Mnist1d || side * side != n => Ok(vec![1, 1, n]),
                1 => Ok(vec![1, side, side]),
                _ => bail!(
                    "model.kind = \"cnn\" needs images or 1-d signals; data has examples of shape {raw:?}"
                ),
            }
        }
    }
}

fn build_model(spec: &Spec, in_shape: &[usize], classes: usize, rng: &mut Rng) -> Result<Sequential> {
    let act = activation(spec.model.activation);
    let init = init(spec);
    match spec.model.kind {
        ModelKind::Mlp => {
            let mut widths = vec![in_shape[0]];
            widths.extend(&spec.model.hidden);
            widths.push(classes);
            let cfg = MlpConfig {
                widths,
                activation: act,
                bias: spec.model.bias,
                norm: match spec.model.norm {
                    NormName::None => Norm::None,
                    NormName::Batch => Norm::Batch,
                    NormName::Layer => Norm::Layer,
                },
                residual: spec.model.residual,
                residual_scale: 1.0,
                init,
                bias_init: None,
            };
            Ok(cfg.build(rng, DType::F32))
        }
        ModelKind::Cnn => {
            let (mut c, mut h, mut w) = (in_shape[0], in_shape[1], in_shape[2]);
            let one_d = h == 1;
            let mut net = Sequential::new();
            for &ch in &spec.model.channels {
                if w < 2 || (!one_d && h < 2) {
                    bail!(
                        "model.channels: {} convolutions with 2× pooling shrink {:?} to nothing",
                        spec.model.channels.len(),
                        in_shape
                    );
                }
                if one_d {
                    // kernel 5 along the signal, "same" padding, then max-pool by 2
                    net.push(Conv2d::new_1d(c, ch, 5, spec.model.bias, &init, rng, DType::F32));
                    net.push(act);
                    net.push(Pool2d::Max1d(2));
                    (c, w) = (ch, w / 2);
                } else {
                    net.push(Conv2d::new(c, ch, 3, 1, 1, spec.model.bias, &init, rng, DType::F32));
                    net.push(act);
                    net.push(Pool2d::Max(2, 2));
                    (c, h, w) = (ch, h / 2, w / 2);
                }
            }
            net.push(Flatten);
            net.push(Linear::new(c * h * w, classes, spec.model.bias, &init, None, rng, DType::F32));
            Ok(net)
        }
    }
}

fn schedule(spec: &Spec, total: usize) -> Box<dyn Schedule> {
    let s = &spec.schedule;
    let lr = spec.optim.lr;
    let after = total.saturating_sub(s.warmup).max(1);
    let base: Box<dyn Schedule> = match s.kind {
        ScheduleKind::Constant => Box::new(lr),
        ScheduleKind::Step => {
            Box::new(Step { lr, every: s.every.unwrap_or(1), gamma: s.gamma.unwrap_or(1.0) })
        }
        ScheduleKind::Multistep => {
            Box::new(MultiStep { lr, milestones: s.milestones.clone(), gamma: s.gamma.unwrap_or(1.0) })
        }
        ScheduleKind::Exponential => Box::new(Exponential { lr, gamma: s.gamma.unwrap_or(1.0) }),
        ScheduleKind::InvSqrt => Box::new(InvSqrt { lr }),
        ScheduleKind::Cosine => Box::new(Cosine { lr, total: after, min_lr: s.min_lr }),
        ScheduleKind::OneCycle => Box::new(OneCycle::new(lr, after)),
    };
    if s.warmup > 0 {
        Box::new(Warmup { steps: s.warmup, then: base })
    } else {
        base
    }
}

fn optimizer(spec: &Spec, total: usize) -> Chain {
    let o = &spec.optim;
    let mut parts: Vec<Box<dyn Transform>> = Vec::new();
    if let Some(c) = o.clip_norm {
        parts.push(Box::new(clip_by_global_norm(c)));
    }
    let coupled_decay = o.weight_decay > 0.0 && o.name != OptimName::Adamw;
    if coupled_decay {
        parts.push(Box::new(add_decayed_weights(o.weight_decay)));
    }
    let adam =
        |amsgrad| AdamConfig { b1: o.betas[0], b2: o.betas[1], eps: o.eps, bias_correction: true, amsgrad };
    match o.name {
        OptimName::Sgd => {}
        OptimName::Momentum => parts.push(Box::new(trace(o.momentum, false))),
        OptimName::Nesterov => parts.push(Box::new(trace(o.momentum, true))),
        OptimName::Adagrad => parts.push(Box::new(scale_by_adagrad(o.eps, 0.0))),
        OptimName::Rmsprop => parts.push(Box::new(scale_by_rms(o.betas[1], o.eps))),
        OptimName::Adam => parts.push(Box::new(scale_by_adam(adam(false)))),
        OptimName::Amsgrad => parts.push(Box::new(scale_by_adam(adam(true)))),
        OptimName::Adamw => {
            parts.push(Box::new(scale_by_adam(adam(false))));
            if o.weight_decay > 0.0 {
                parts.push(Box::new(add_decayed_weights(o.weight_decay)));
            }
        }
    }
    parts.push(Box::new(scale_by_learning_rate(schedule(spec, total))));
    chain(parts)
}

/// Inputs of a batch shaped for the model.
fn model_input(x: &Array, in_shape: &[usize]) -> Tensor {
    let mut s = vec![x.shape()[0]];
    s.extend(in_shape);
    Tensor::constant(x.reshape(&s))
}

/// The top eigenvalue of the Hessian of the (unsmoothed) cross-entropy on a
/// fixed batch, by 20 Lanczos steps, in evaluation mode.
fn sharpness(model: &mut Sequential, x: &Tensor, y: &[usize], seed: u64) -> f64 {
    let labels = y.to_vec();
    let ml = odl_probe::ModelLoss::new(model, x.clone(), move |z| z.cross_entropy(&labels));
    let theta = ml.theta();
    let h = odl_probe::hessian_at(&|p| ml.loss(p), &theta);
    odl_probe::eigenpairs(&h, 1, 20, odl_probe::Which::Largest, seed).0[0]
}

/// Mean loss and accuracy over a whole data set, in evaluation mode.
fn evaluate(model: &mut Sequential, data: &Dataset, in_shape: &[usize], smoothing: f64) -> (f64, f64) {
    no_grad(|| {
        let (mut loss, mut correct) = (0.0, 0usize);
        let all: Vec<usize> = (0..data.len()).collect();
        for chunk in all.chunks(1000) {
            let b = data.subset(chunk);
            let logits = model.forward(&model_input(&b.x, in_shape), &mut Ctx::eval());
            loss += cross_entropy_smoothed(&logits, b.labels(), smoothing).item() * chunk.len() as f64;
            correct += accuracy_count(&logits, b.labels());
        }
        (loss / data.len() as f64, correct as f64 / data.len() as f64)
    })
}

/// How many rows of `logits` have their (first) largest entry at the label.
pub(crate) fn accuracy_count(logits: &Tensor, labels: &[usize]) -> usize {
    let k = logits.shape()[1];
    let v = logits.to_vec_f64();
    labels
        .iter()
        .enumerate()
        .filter(|(i, &l)| {
            let row = &v[i * k..(i + 1) * k];
            let arg = (0..k).fold(0, |b, j| if row[j] > row[b] { j } else { b });
            arg == l
        })
        .count()
}

struct Logs {
    jsonl: std::fs::File,
    csv: std::fs::File,
}

impl Logs {
    fn open(out: &Path, resume: bool) -> Result<Logs> {
        let open = |name: &str| -> Result<std::fs::File> {
            let p = out.join(name);
            std::fs::OpenOptions::new()
                .create(true)
                .append(resume)
                .write(true)
                .truncate(!resume)
                .open(&p)
                .with_context(|| format!("opening {}", p.display()))
        };
        let mut csv = open("metrics.csv")?;
        if !resume {
            writeln!(csv, "step,epoch,loss,grad_norm,lr,time_s,test_loss,test_acc,sharpness")?;
        }
        Ok(Logs { jsonl: open("metrics.jsonl")?, csv })
    }

    fn write(&mut self, rec: &serde_json::Value) -> Result<()> {
        writeln!(self.jsonl, "{rec}")?;
        let f = |k: &str| rec.get(k).and_then(|v| v.as_f64()).map(|v| v.to_string()).unwrap_or_default();
        writeln!(
            self.csv,
            "{},{},{},{},{},{},{},{},{}",
            f("step"),
            f("epoch"),
            f("loss"),
            f("grad_norm"),
            f("lr"),
            f("time_s"),
            f("test_loss"),
            f("test_acc"),
            f("sharpness")
        )?;
        Ok(())
    }
}

fn save_checkpoint(out: &Path, model: &Sequential, opt: &Chain, step: usize) -> Result<()> {
    let mut entries: Vec<(String, NpyValue)> = Vec::new();
    for (n, t) in model.named_params() {
        entries.push((format!("param.{n}"), NpyValue::from(t.value())));
    }
    for (n, b) in model.named_buffers() {
        entries.push((format!("buffer.{n}"), NpyValue::from(b)));
    }
    for (n, a) in opt.state() {
        entries.push((format!("optim.{n}"), NpyValue::from(&a)));
    }
    entries.push(("meta.step".into(), NpyValue::ints(vec![step as i64], &[])));
    // write next to the old checkpoint, then rename: a crash never leaves a half file
    let tmp = out.join("checkpoint.npz.tmp");
    write_npz(&tmp, entries.iter().map(|(k, v)| (k.as_str(), v.clone())))?;
    std::fs::rename(&tmp, out.join("checkpoint.npz"))?;
    Ok(())
}

/// Parameters (`param.<name>`) and buffers (`buffer.<name>`) from a checkpoint,
/// checked against the model's names and shapes.
fn load_model_state(npz: &Npz, model: &mut Sequential) -> Result<()> {
    let shapes: Vec<(String, Vec<usize>, DType)> =
        model.named_params().into_iter().map(|(n, t)| (n, t.shape().to_vec(), t.dtype())).collect();
    let mut values = Vec::new();
    for (n, s, d) in &shapes {
        values.push(npz.array(&format!("param.{n}"), *d, Some(s))?);
    }
    model.set_param_values(values);
    let names: Vec<(String, Vec<usize>, DType)> =
        model.named_buffers().into_iter().map(|(n, a)| (n, a.shape().to_vec(), a.dtype())).collect();
    for ((n, s, d), b) in names.iter().zip(model.buffers_mut()) {
        *b = npz.array(&format!("buffer.{n}"), *d, Some(s))?;
    }
    Ok(())
}

fn load_checkpoint(out: &Path, model: &mut Sequential, opt: &mut Chain) -> Result<usize> {
    let path = out.join("checkpoint.npz");
    let npz = Npz::open(&path).with_context(|| format!("--resume: reading {}", path.display()))?;
    load_model_state(&npz, model)?;
    let mut state = Vec::new();
    for k in npz.keys() {
        if let Some(rest) = k.strip_prefix("optim.") {
            state.push((rest.to_string(), npz.value(k)?.to_array()));
        }
    }
    opt.load_state(&state).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(npz.indices("meta.step", None)?[0])
}

/// Trains as `spec` says, writing the run folder `out` (see the module doc).
/// With `resume`, continues from `out/checkpoint.npz`.
pub fn train(spec: &Spec, out: &Path, resume: bool) -> Result<Summary> {
    let t0 = Instant::now();
    if !resume && out.join("summary.json").exists() {
        bail!("{} already holds a run; choose another --out, or --resume it", out.display());
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    std::fs::write(out.join("spec.toml"), toml::to_string_pretty(spec)?)?;
    let (train_set, val_set, test_set) = load_data(spec)?;
    let in_shape = example_shape(spec, &train_set)?;
    let classes = train_set.classes().max(test_set.classes());
    let mut rng = Rng::seed(spec.seed);
    let mut model = build_model(spec, &in_shape, classes, &mut rng)?;
    let bs = spec.train.batch_size;
    let per_epoch = train_set.len().div_ceil(bs);
    let total = spec.train.steps.unwrap_or_else(|| spec.train.epochs.unwrap_or(1) * per_epoch);
    let mut opt = optimizer(spec, total);
    let lr_of = schedule(spec, total);
    let mut step = if resume { load_checkpoint(out, &mut model, &mut opt)? } else { 0 };
    let mut logs = Logs::open(out, resume)?;
    let bar = if std::io::stderr().is_terminal() {
        let b = indicatif::ProgressBar::new(total as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {msg}  [{elapsed} < {eta}]")
                .expect("template"),
        );
        b.set_position(step as u64);
        Some(b)
    } else {
        None
    };
    let mut diverged_at = None;
    let mut train_time = 0.0;
    // the fixed batch the sharpness is measured on
    let sharp_idx: Vec<usize> = (0..spec.train.sharpness_batch.min(train_set.len())).collect();
    let sharp_b = train_set.subset(&sharp_idx);
    let (sharp_x, sharp_y) = (model_input(&sharp_b.x, &in_shape), sharp_b.labels().to_vec());
    let smoothing = spec.train.label_smoothing;
    'outer: while step < total {
        let epoch = step / per_epoch;
        let skip = step - epoch * per_epoch;
        for b in train_set.batches(bs, spec.seed.wrapping_add(epoch as u64 * 0x9E37_79B9)).skip(skip) {
            if step >= total {
                break 'outer;
            }
            let ts = Instant::now();
            let mut ctx = Ctx { train: true, rng: Rng::stream(spec.seed, step as u64) };
            let logits = model.forward(&model_input(&b.x, &in_shape), &mut ctx);
            let loss = cross_entropy_smoothed(&logits, b.labels(), smoothing);
            let lv = loss.item();
            if !lv.is_finite() {
                diverged_at = Some(step);
                logs.write(&json!({"step": step, "epoch": epoch, "loss": lv.to_string(), "diverged": true}))?;
                break 'outer;
            }
            let params = model.params();
            let mut grads: Vec<Array> = grad(&loss, &params).into_iter().map(|g| g.value().clone()).collect();
            drop(params);
            drop(loss);
            drop(logits);
            let gnorm = global_norm(&grads);
            let eval_now = (step + 1) % spec.train.eval_every == 0 || step + 1 == total;
            let layer_gnorms: Vec<f64> = if eval_now {
                grads.iter().map(|g| global_norm(std::slice::from_ref(g))).collect()
            } else {
                Vec::new()
            };
            let mut values = model.param_values();
            opt.update(&mut grads, &values);
            apply_updates(&mut values, &grads);
            model.set_param_values(values);
            train_time += ts.elapsed().as_secs_f64();
            step += 1;
            let mut rec = json!({
                "step": step, "epoch": epoch, "loss": lv, "grad_norm": gnorm,
                "lr": lr_of.value(step - 1), "time_s": t0.elapsed().as_secs_f64(),
            });
            let every = spec.train.sharpness_every;
            if every > 0 && (step % every == 0 || step == total) {
                let lam = sharpness(&mut model, &sharp_x, &sharp_y, spec.seed);
                rec.as_object_mut().expect("object").insert("sharpness".into(), json!(lam));
            }
            if eval_now {
                let (tl, ta) = evaluate(&mut model, &test_set, &in_shape, smoothing);
                let obj = rec.as_object_mut().expect("object");
                obj.insert("test_loss".into(), json!(tl));
                obj.insert("test_acc".into(), json!(ta));
                if let Some(v) = &val_set {
                    let (vl, va) = evaluate(&mut model, v, &in_shape, smoothing);
                    obj.insert("val_loss".into(), json!(vl));
                    obj.insert("val_acc".into(), json!(va));
                }
                for ((n, t), gn) in model.named_params().into_iter().zip(&layer_gnorms) {
                    let w = t.value().to_vec_f64().iter().map(|v| v * v).sum::<f64>().sqrt();
                    obj.insert(format!("weight_norm.{n}"), json!(w));
                    obj.insert(format!("grad_norm.{n}"), json!(gn));
                }
                save_checkpoint(out, &model, &opt, step)?;
                match &bar {
                    Some(b) => b.set_message(format!("loss {lv:.4}  test acc {ta:.4}")),
                    None => {
                        eprintln!("step {step}/{total}  loss {lv:.4}  test loss {tl:.4}  test acc {ta:.4}")
                    }
                }
            }
            logs.write(&rec)?;
            if let Some(b) = &bar {
                b.set_position(step as u64);
            }
        }
    }
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let (final_train_loss, final_train_acc, test_loss, test_accuracy) = if diverged_at.is_some() {
        (f64::NAN, f64::NAN, f64::NAN, f64::NAN)
    } else {
        let (a, b) = evaluate(&mut model, &train_set, &in_shape, smoothing);
        let (c, d) = evaluate(&mut model, &test_set, &in_shape, smoothing);
        save_checkpoint(out, &model, &opt, step)?;
        (a, b, c, d)
    };
    let epochs_done = step as f64 / per_epoch as f64;
    let summary = Summary {
        final_train_loss,
        final_train_acc,
        test_loss,
        test_accuracy,
        diverged: diverged_at.is_some(),
        diverged_at_step: diverged_at,
        steps: step,
        wall_s: t0.elapsed().as_secs_f64(),
        s_per_epoch: if epochs_done > 0.0 { train_time / epochs_done } else { 0.0 },
    };
    let mut js = serde_json::to_value(&summary)?;
    if summary.diverged {
        // JSON has no NaN: say it in words
        for k in ["final_train_loss", "final_train_acc", "test_loss", "test_accuracy"] {
            js[k] = json!(null);
        }
        js["result"] = json!(format!("diverged at step {}", diverged_at.unwrap_or(0)));
    }
    std::fs::write(out.join("summary.json"), serde_json::to_string_pretty(&js)?)?;
    Ok(summary)
}

/// A model and its data, rebuilt from a run folder (its `spec.toml` and, if
/// present, `checkpoint.npz`) or from a spec file (fresh initialization).
pub struct Restored {
    /// the resolved spec
    pub spec: Spec,
    /// the network with its trained (or initial) parameters
    pub model: Sequential,
    /// one example's shape as the model sees it
    pub in_shape: Vec<usize>,
    /// the training set
    pub train: Dataset,
    /// the test set
    pub test: Dataset,
    /// whether parameters came from a checkpoint
    pub trained: bool,
    /// the parameters the run started from (the spec's seeded initialization)
    pub initial: Vec<Array>,
}

/// Rebuilds a run for probing; `target` is a run folder or a spec file.
pub fn restore(target: &Path, sets: &[String]) -> Result<Restored> {
    let (spec_path, ckpt) = if target.is_dir() {
        let s = target.join("spec.toml");
        if !s.exists() {
            bail!(
                "{}: not a run folder (no spec.toml); give a run folder from `odl train` or a spec file",
                target.display()
            );
        }
        (s, Some(target.join("checkpoint.npz")).filter(|c| c.exists()))
    } else if target.exists() {
        (target.to_path_buf(), None)
    } else {
        bail!("{}: no such run folder or spec file", target.display());
    };
    let spec = super::spec::load(&spec_path, sets)?;
    let (train, _, test) = load_data(&spec)?;
    let in_shape = example_shape(&spec, &train)?;
    let classes = train.classes().max(test.classes());
    let mut model = build_model(&spec, &in_shape, classes, &mut Rng::seed(spec.seed))?;
    let initial = model.param_values();
    let trained = if let Some(c) = &ckpt {
        let npz = Npz::open(c).with_context(|| format!("reading {}", c.display()))?;
        load_model_state(&npz, &mut model)?;
        true
    } else {
        false
    };
    Ok(Restored { spec, model, in_shape, train, test, trained, initial })
}

impl Restored {
    /// Inputs of examples `idx` of `data`, shaped for the model, in `dtype`.
    pub fn inputs(&self, data: &Dataset, idx: &[usize], dtype: DType) -> (Tensor, Vec<usize>) {
        let b = data.subset(idx);
        (model_input(&b.x.cast(dtype), &self.in_shape), b.labels().to_vec())
    }

    /// Casts parameters and buffers to `dtype` (probes in f64).
    pub fn cast(&mut self, dtype: DType) {
        self.initial = self.initial.iter().map(|a| a.cast(dtype)).collect();
        let v: Vec<Array> = self.model.param_values().iter().map(|a| a.cast(dtype)).collect();
        self.model.set_param_values(v);
        for b in self.model.buffers_mut() {
            *b = b.cast(dtype);
        }
    }
}
