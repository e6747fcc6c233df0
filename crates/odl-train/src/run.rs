//! The loop of `odl train`: data, model and optimizer from a [`Spec`], then
//! [`train_step`] over mini-batches, with metrics logged as they happen,
//! evaluations and checkpoints every `train.eval_every` steps, divergence
//! recorded as a result, and exact resume.
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
//! * `checkpoint.npz` — see [`crate::checkpoint`].

use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use odl_autodiff::{CompiledSum, Tensor, Term};
use odl_nn::{cross_entropy_smoothed, cross_entropy_smoothed_targets, Ctx, Module, Sequential};
use odl_optim::Transform;
use odl_tensor::{Array, Rng};
use serde_json::json;

use crate::data::{model_input, one_hot};
use crate::eval::evaluate;
use crate::logs::Logs;
use crate::spec::Spec;
use crate::step::{train_step_compiled, train_step_sharded};
use crate::{build, checkpoint, data};

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
    /// the checksum of the final `checkpoint.npz` (probes verify it)
    pub checkpoint: Option<String>,
    /// shards each batch was split into (one per compute thread; 1 for a
    /// model that couples examples, e.g. BatchNorm in training mode)
    pub shards: usize,
    /// with `[adversarial]`: accuracy under its PGD evaluation at the end
    #[serde(skip_serializing_if = "Option::is_none")]
    pub robust_accuracy: Option<f64>,
    /// whether the training step was traced once and replayed (bit-identical
    /// to eager execution; `train.compile`), or ran eagerly
    pub compiled: bool,
    /// why the step ran eagerly, when it did
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eager_because: Option<String>,
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

/// The generator of shard `k`'s random draws (dropout masks) at `step`:
/// shard 0 draws what an unsharded step draws.
fn shard_rng(seed: u64, step: usize, k: usize) -> Rng {
    Rng::stream(seed.wrapping_add((k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)), step as u64)
}

/// Whether a loss has blown up: more than `factor` times the first one (a
/// factor of 0 turns the test off).
fn blown_up(loss: f64, first: f64, factor: f64) -> bool {
    factor > 0.0 && loss > factor * first.abs().max(f64::MIN_POSITIVE)
}

/// Trains as `spec` says, writing the run folder `out` (see the module doc).
/// With `resume`, continues from `out/checkpoint.npz`.
pub fn train(spec: &Spec, out: &Path, resume: bool) -> Result<Summary> {
    let t0 = Instant::now();
    let (train_set, val_set, test_set, scaling) = data::load_scaled(spec)?;
    let in_shape = data::example_shape(spec, &train_set)?;
    let classes = train_set.classes().max(test_set.classes());
    let mut rng = Rng::seed(spec.seed);
    let mut model = build::model(spec, &in_shape, classes, &mut rng)?;
    let bs = spec.train.batch_size;
    let per_epoch = train_set.len().div_ceil(bs);
    let total = spec.train.steps.unwrap_or_else(|| spec.train.epochs.unwrap_or(1) * per_epoch);
    let adversary = match &spec.adversarial {
        Some(a) => {
            let adv = crate::adversarial::Adversary::new(spec, a, scaling, &in_shape, total)?;
            adv.check_model(&model)?;
            Some(adv)
        }
        None => None,
    };
    // everything the spec names is checked: now the folder
    crate::files::open_run_folder(out, resume, checkpoint::FILE, spec)?;
    let mut opt = build::optimizer(spec, total);
    let (mut step, mut first_loss) =
        if resume { checkpoint::load(out, &mut model, &mut opt)? } else { (0, None) };
    let mut logs = Logs::open(out, resume.then_some(step))?;
    let bar = crate::files::progress_bar(total, step);
    let mut diverged_at = None;
    let mut train_time = 0.0;
    // the fixed batch the sharpness is measured on
    let sharp_idx: Vec<usize> = (0..spec.train.sharpness_batch.min(train_set.len())).collect();
    let sharp_b = train_set.subset(&sharp_idx);
    let (sharp_x, sharp_y) = (model_input(&sharp_b.x, Some(&in_shape)), sharp_b.labels().to_vec());
    let smoothing = spec.train.label_smoothing;
    // data parallelism: one shard of each batch per compute thread, unless
    // the model couples examples (BatchNorm in training mode)
    let shards = if model.couples_examples() { 1 } else { odl_tensor::num_threads().min(bs) };
    // the step traced once and replayed, where nothing in it is random or
    // stateful: no inner attack, no running statistics (dropout is refused
    // by the trace itself); eager otherwise
    let mut eager_because = if !spec.train.compile {
        Some("train.compile = false".to_string())
    } else if adversary.is_some() {
        Some("[adversarial]: each step runs a seeded attack".to_string())
    } else if !model.named_buffers().is_empty() {
        Some("the model keeps running statistics (BatchNorm)".to_string())
    } else {
        None
    };
    let mut compiled = eager_because.is_none().then(CompiledSum::new);
    let dtype = model.params().first().map_or(odl_tensor::DType::F32, |p| p.dtype());
    'outer: while step < total {
        let epoch = step / per_epoch;
        let skip = step - epoch * per_epoch;
        for b in train_set.batches(bs, spec.seed.wrapping_add(epoch as u64 * 0x9E37_79B9)).skip(skip) {
            if step >= total {
                break 'outer;
            }
            let ts = Instant::now();
            // one shard of the batch per compute thread, each on a replica;
            // with [adversarial] each shard attacks its own examples
            let parts: Vec<(f64, (Array, Vec<usize>))> =
                crate::shards::shards(&Tensor::constant(b.x.clone()), b.labels(), shards)
                    .into_iter()
                    .map(|(w, (x, y))| (w, (x.value().clone(), y)))
                    .collect();
            let replayed = compiled.as_mut().and_then(|sum| {
                let terms: Vec<Term> = parts
                    .iter()
                    .map(|(w, (x, y))| {
                        (
                            *w,
                            vec![model_input(x, Some(&in_shape)).value().clone(), one_hot(y, classes, dtype)],
                        )
                    })
                    .collect();
                train_step_compiled(
                    &mut model,
                    &mut opt,
                    sum,
                    &terms,
                    &|m, d| {
                        let mut ctx = Ctx { train: true, rng: shard_rng(spec.seed, step, 0) };
                        cross_entropy_smoothed_targets(&m.forward(&d[0], &mut ctx), &d[1], smoothing)
                    },
                    true,
                )
            });
            if let Some(why) = compiled.as_ref().and_then(CompiledSum::refused) {
                eager_because = Some(why.to_string());
                compiled = None;
            }
            let stats = match replayed {
                Some(stats) => stats,
                None => train_step_sharded(
                    &mut model,
                    &mut opt,
                    &parts,
                    &|m, (x, y), k| {
                        let mut ctx = Ctx { train: true, rng: shard_rng(spec.seed, step, k) };
                        match &adversary {
                            None => cross_entropy_smoothed(
                                &m.forward(&model_input(x, Some(&in_shape)), &mut ctx),
                                y,
                                smoothing,
                            ),
                            Some(adv) => adv.loss(m, x, y, step, k, &mut ctx, smoothing),
                        }
                    },
                    true,
                ),
            };
            let stats = match stats {
                Ok(s) if !blown_up(s.loss, *first_loss.get_or_insert(s.loss), spec.train.diverge_factor) => s,
                Ok(s) => {
                    // finite, but grown past diverge_factor × its first value
                    diverged_at = Some(step);
                    logs.write(&json!({"step": step + 1, "epoch": epoch, "loss": s.loss, "diverged": true}))?;
                    break 'outer;
                }
                Err(d) => {
                    diverged_at = Some(step);
                    logs.write(
                        &json!({"step": step + 1, "epoch": epoch, "loss": d.loss.to_string(), "diverged": true}),
                    )?;
                    break 'outer;
                }
            };
            train_time += ts.elapsed().as_secs_f64();
            step += 1;
            let lv = stats.loss;
            let mut rec = json!({
                "step": step, "epoch": epoch, "loss": lv, "grad_norm": stats.grad_norm(),
                "lr": opt.learning_rate().unwrap_or(f64::NAN), "time_s": t0.elapsed().as_secs_f64(),
            });
            let every = spec.train.sharpness_every;
            if every > 0 && (step % every == 0 || step == total) {
                let lam = sharpness(&mut model, &sharp_x, &sharp_y, spec.seed);
                rec.as_object_mut().expect("object").insert("sharpness".into(), json!(lam));
            }
            if step % spec.train.eval_every == 0 || step == total {
                let t = evaluate(&mut model, &test_set, Some(&in_shape), smoothing);
                let obj = rec.as_object_mut().expect("object");
                obj.insert("test_loss".into(), json!(t.loss));
                obj.insert("test_acc".into(), json!(t.accuracy));
                if let Some(adv) = &adversary {
                    obj.insert("robust_acc".into(), json!(adv.robust_accuracy(&mut model, &test_set)));
                }
                if let Some(v) = &val_set {
                    let v = evaluate(&mut model, v, Some(&in_shape), smoothing);
                    obj.insert("val_loss".into(), json!(v.loss));
                    obj.insert("val_acc".into(), json!(v.accuracy));
                }
                for ((n, t), gn) in model.named_params().into_iter().zip(&stats.grad_norms) {
                    let w = t.value().to_vec_f64().iter().map(|v| v * v).sum::<f64>().sqrt();
                    obj.insert(format!("weight_norm.{n}"), json!(w));
                    obj.insert(format!("grad_norm.{n}"), json!(gn));
                }
                match &bar {
                    Some(b) => b.set_message(format!("loss {lv:.4}  test acc {:.4}", t.accuracy)),
                    None => eprintln!(
                        "step {step}/{total}  loss {lv:.4}  test loss {:.4}  test acc {:.4}",
                        t.loss, t.accuracy
                    ),
                }
            }
            // the record first, then the checkpoint: a kill between the two
            // leaves a record that resume cuts back, never a missing one
            logs.write(&rec)?;
            if rec.get("test_loss").is_some() {
                checkpoint::save(out, &model, &opt, step, first_loss)?;
            }
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
        let tr = evaluate(&mut model, &train_set, Some(&in_shape), smoothing);
        let te = evaluate(&mut model, &test_set, Some(&in_shape), smoothing);
        checkpoint::save(out, &model, &opt, step, first_loss)?;
        (tr.loss, tr.accuracy, te.loss, te.accuracy)
    };
    let robust_accuracy = match (&adversary, diverged_at) {
        (Some(adv), None) => Some(adv.robust_accuracy(&mut model, &test_set)),
        _ => None,
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
        checkpoint: if diverged_at.is_none() {
            Some(crate::files::checksum(&out.join(checkpoint::FILE))?)
        } else {
            None
        },
        shards,
        robust_accuracy,
        compiled: eager_because.is_none(),
        eager_because,
    };
    let mut js = serde_json::to_value(&summary)?;
    if summary.diverged {
        // JSON has no NaN: say it in words
        for k in ["final_train_loss", "final_train_acc", "test_loss", "test_accuracy"] {
            js[k] = json!(null);
        }
        js["result"] = json!(format!("diverged at step {}", diverged_at.unwrap_or(0)));
    }
    crate::files::write_json(&out.join("summary.json"), &js)?;
    Ok(summary)
}
