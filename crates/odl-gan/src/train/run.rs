//! The loop of `odl gan`: data, two networks and two optimizers from a
//! [`GanSpec`], then one generator step at a time ([`Players::step`]), with
//! metrics logged as they happen, evaluations, sample figures and
//! checkpoints every `train.eval_every` steps, divergence recorded as a
//! result, and exact resume.
//!
//! Run folder:
//! * `spec.toml` — the resolved spec (after `--set`);
//! * `metrics.jsonl`, `metrics.csv` — one row per generator step (`step`,
//!   `d_loss`, `g_loss`, `penalty`, `grad_norm_d`, `grad_norm_g`, `time_s`),
//!   with, on evaluation steps, `modes`, `high_quality`, `js_uniform`
//!   (mixtures) or `fid`, `kid`, `is_mlp64` and the references `fid_real_floor`,
//!   `is_real` (images; see [`super::features`]) and
//!   `sigma_max.<generator weight>` (its largest singular value: BigGAN's
//!   observation that they grow);
//! * `samples/step-NNNNNN.svg` (points over the mixture's centers) or
//!   `.png` (an image grid) at each evaluation, and `samples.svg|png` last;
//! * `training.svg` (both losses), `modes.svg` (mixtures: modes covered
//!   and high-quality fraction over time) or `fid.svg` (images);
//! * `summary.json` — `steps`, `diverged`, `diverged_at_step`, `wall_s`,
//!   `s_per_step`, the last evaluation's metrics, the checkpoint's checksum;
//! * `checkpoint.npz` — see [`super::checkpoint`].

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use odl_autodiff::{grad, grad_graph, Tensor};
use odl_nn::{Ctx, Module, Sequential};
use odl_optim::{Chain, Transform};
use odl_plot::{Figure, LinePlot, Series};
use odl_tensor::{Array, DType, Rng};
use odl_train::files::{num, write_json};
use odl_train::logs::Logs;
use serde_json::json;

use super::checkpoint::{self, State};
use super::features::Features;
use super::nets;
use super::spec::{AlgoName, GanDataName, GanSpec, UnrollWith};
use crate::loss::{clip_weights, Loss};
use crate::mixture::Mixture;
use crate::penalty::{orthogonal, truncated_normal, Ema, Penalty};

/// The columns of `metrics.csv`.
pub const CSV_COLUMNS: [&str; 12] = [
    "step",
    "d_loss",
    "g_loss",
    "penalty",
    "grad_norm_d",
    "grad_norm_g",
    "time_s",
    "modes",
    "high_quality",
    "js_uniform",
    "fid",
    "kid",
];

/// What a run ended with (also written as `summary.json`).
#[derive(Clone, Debug, serde::Serialize)]
pub struct GanSummary {
    /// generator steps taken
    pub steps: usize,
    /// whether a loss or gradient became NaN/∞
    pub diverged: bool,
    /// the step at which it did
    pub diverged_at_step: Option<usize>,
    /// seconds of this invocation
    pub wall_s: f64,
    /// seconds per generator step (training only, this invocation)
    pub s_per_step: f64,
    /// the last evaluation's metrics (`modes`, `high_quality`, … or `fid`, `kid`)
    pub metrics: BTreeMap<String, f64>,
    /// the checksum of the final `checkpoint.npz`
    pub checkpoint: Option<String>,
}

/// Where real samples come from.
pub enum Source {
    /// a 2-D mixture, sampled afresh each step
    Mixture(Mixture),
    /// images `[n, 1, 28, 28]` in [−1, 1], drawn at random each step
    Images(Array),
}

impl Source {
    /// The data of `spec`.
    pub fn of(spec: &GanSpec) -> Result<Source> {
        if let Some(m) = spec.data.mixture() {
            return Ok(Source::Mixture(m));
        }
        let (train, _) = match spec.data.name {
            GanDataName::FashionMnist => odl_data::fashion_mnist(spec.data.path.as_deref()).context(
                "data.name = \"fashion-mnist\" reads Debian's dataset-fashion-mnist; \
                 without it, name = \"fashion-mnist-subset\" trains on the 10 000 images odl ships",
            )?,
            _ => odl_data::fashion_mnist_subset(),
        };
        let n = spec.data.n_train.unwrap_or(train.len()).min(train.len());
        let x: Vec<f64> = train.x.to_vec_f64()[..n * 784].iter().map(|v| 2.0 * v - 1.0).collect();
        Ok(Source::Images(Array::from_f64(&x, &[n, 1, 28, 28], DType::F32)))
    }

    /// The shape of one sample.
    pub fn shape(&self) -> Vec<usize> {
        match self {
            Source::Mixture(_) => vec![2],
            Source::Images(_) => vec![1, 28, 28],
        }
    }

    /// `n` real samples.
    pub fn batch(&self, n: usize, rng: &mut Rng) -> Array {
        match self {
            Source::Mixture(m) => m.sample(n, rng, DType::F32),
            Source::Images(x) => {
                let total = x.shape()[0];
                let rows: Vec<usize> = (0..n).map(|_| rng.below(total)).collect();
                x.take_rows(&rows).reshape(&[n, 1, 28, 28])
            }
        }
    }
}

/// What one generator step measured.
#[derive(Clone, Copy, Debug, Default)]
pub struct StepRecord {
    /// the discriminator's loss (last critic step; with penalties)
    pub d_loss: f64,
    /// the generator's loss
    pub g_loss: f64,
    /// the penalties' value (part of `d_loss`)
    pub penalty: f64,
    /// the norm of the discriminator's gradient
    pub grad_norm_d: f64,
    /// the norm of the generator's gradient
    pub grad_norm_g: f64,
}

/// Both players and everything that moves them.
pub struct Players {
    /// the generator
    pub g: Sequential,
    /// the discriminator
    pub d: Sequential,
    /// the generator's optimizer
    pub opt_g: Chain,
    /// the discriminator's optimizer
    pub opt_d: Chain,
    /// the generator's moving average (empty when off)
    pub ema: Vec<Array>,
    /// the real samples
    pub source: Source,
    spec: GanSpec,
    loss: Loss,
    penalties: Vec<Penalty>,
    latent: usize,
}

fn sq_norm(a: &[Array]) -> f64 {
    a.iter().map(|x| x.to_vec_f64().iter().map(|v| v * v).sum::<f64>()).sum()
}

fn finite(v: f64, what: &str) -> Result<f64, String> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(format!("{what} = {v}"))
    }
}

fn values(ts: Vec<Tensor>) -> Vec<Array> {
    ts.into_iter().map(|t| t.value().clone()).collect()
}

fn plus_noise(x: &Array, sigma: f64, rng: &mut Rng) -> Array {
    if sigma == 0.0 {
        return x.clone();
    }
    let mut noisy = rng.normal(x.shape(), 0.0, sigma, x.dtype());
    noisy.scale_add(1.0, x, 1.0);
    noisy
}

impl Players {
    /// The networks and optimizers of `spec` for samples of `shape`.
    pub fn new(spec: &GanSpec, shape: &[usize], source: Source) -> Result<Players> {
        let mut rng = Rng::seed(spec.seed);
        let g = nets::generator(&spec.generator, shape, &mut rng)?;
        let d = nets::discriminator(&spec.discriminator, shape, &mut rng)?;
        let total = spec.train.steps;
        let opt_g = odl_train::build::optimizer_of(&spec.optim.generator, &spec.schedule(), total);
        let opt_d = odl_train::build::optimizer_of(
            &spec.optim.discriminator,
            &spec.schedule(),
            total * spec.algorithm.n_critic,
        );
        let ema = if spec.train.ema > 0.0 { g.param_values() } else { Vec::new() };
        let latent = spec.generator.latent.unwrap_or(if shape.len() == 1 { 2 } else { 64 });
        Ok(Players {
            g,
            d,
            opt_g,
            opt_d,
            ema,
            source,
            loss: spec.loss.loss()?,
            penalties: spec.regularizer.penalties(),
            latent,
            spec: spec.clone(),
        })
    }

    /// The latent dimension.
    pub fn latent(&self) -> usize {
        self.latent
    }

    /// Latent codes for `n` samples.
    pub fn latents(&self, n: usize, rng: &mut Rng) -> Array {
        rng.normal(&[n, self.latent], 0.0, 1.0, DType::F32)
    }

    /// The discriminator's loss (with penalties) at real `real` and
    /// generated `fake` samples, and the penalties' value.
    fn d_loss(&mut self, real: &Array, fake: &Tensor, rng: &mut Rng) -> (Tensor, f64) {
        let sigma = self.spec.regularizer.instance_noise;
        let mut ctx = Ctx::train(0);
        let real_in = Tensor::constant(plus_noise(real, sigma, rng));
        let fake_in = if sigma > 0.0 {
            fake + &Tensor::constant(rng.normal(fake.shape(), 0.0, sigma, DType::F32))
        } else {
            fake.clone()
        };
        let out_r = self.d.forward(&real_in, &mut ctx);
        let out_f = self.d.forward(&fake_in, &mut ctx);
        let mut l = self.loss.discriminator(&out_r, &out_f);
        let mut pen = 0.0;
        let fake_v = fake.value().clone();
        for p in self.penalties.clone() {
            let d = &mut self.d;
            let v = p.value(&mut |x| d.forward(x, &mut Ctx::eval()), real, &fake_v, rng);
            pen += v.item();
            l = l + v;
        }
        (l, pen)
    }

    /// The generator's loss given its samples (with orthogonal regularization).
    fn g_loss(&mut self, fake: &Tensor, rng: &mut Rng) -> Tensor {
        let sigma = self.spec.regularizer.instance_noise;
        let fake_in = if sigma > 0.0 {
            fake + &Tensor::constant(rng.normal(fake.shape(), 0.0, sigma, DType::F32))
        } else {
            fake.clone()
        };
        let out = self.d.forward(&fake_in, &mut Ctx::train(0));
        let mut l = self.loss.generator(&out);
        let beta = self.spec.regularizer.orthogonal;
        if beta > 0.0 {
            let ws: Vec<&Tensor> = nets::weights(&self.g).into_iter().map(|(_, t)| t).collect();
            l = l + orthogonal(&ws, beta);
        }
        l
    }

    fn apply_d(&mut self, grads: Vec<Array>) {
        let mut v = self.d.param_values();
        self.opt_d.step(&mut v, grads);
        if let Some(c) = self.spec.loss.clip {
            clip_weights(&mut v, c);
        }
        self.d.set_param_values(v);
    }

    fn apply_g(&mut self, grads: Vec<Array>) {
        let mut v = self.g.param_values();
        self.opt_g.step(&mut v, grads);
        if !self.ema.is_empty() {
            let mut e = Ema { decay: self.spec.train.ema, values: std::mem::take(&mut self.ema) };
            e.update(&v);
            self.ema = e.values;
        }
        self.g.set_param_values(v);
    }

    /// One critic step on a fresh batch; returns (loss, penalty, ‖∇‖).
    fn critic_step(&mut self, rng: &mut Rng) -> Result<(f64, f64, f64), String> {
        let bs = self.spec.train.batch_size;
        let real = self.source_batch(bs, rng);
        let z = Tensor::constant(self.latents(bs, rng));
        let fake = Tensor::constant(self.g.forward(&z, &mut Ctx::train(0)).value().clone());
        let (l, pen) = self.d_loss(&real, &fake, rng);
        let lv = finite(l.item(), "discriminator loss")?;
        let gd = values(grad(&l, &self.d.params()));
        drop(l);
        let n = finite(sq_norm(&gd).sqrt(), "discriminator gradient norm")?;
        self.apply_d(gd);
        Ok((lv, pen, n))
    }

    fn source_batch(&self, n: usize, rng: &mut Rng) -> Array {
        self.source.batch(n, rng)
    }

    /// One generator step of the spec's algorithm (with its critic steps),
    /// every draw from `Rng::stream(seed, step)`; `Err` names what became
    /// NaN/∞ (nothing is updated after it).
    pub fn step(&mut self, step: usize) -> Result<StepRecord, String> {
        let mut rng = Rng::stream(self.spec.seed, step as u64);
        let bs = self.spec.train.batch_size;
        let algo = self.spec.algorithm.clone();
        let mut rec = StepRecord::default();
        match algo.name {
            AlgoName::Alternating | AlgoName::Unrolled => {
                for _ in 0..algo.n_critic {
                    (rec.d_loss, rec.penalty, rec.grad_norm_d) = self.critic_step(&mut rng)?;
                }
                let z = Tensor::constant(self.latents(bs, &mut rng));
                let fake = self.g.forward(&z, &mut Ctx::train(0));
                let saved = (algo.name == AlgoName::Unrolled).then(|| self.d.param_values());
                if saved.is_some() {
                    self.unroll(&fake, &mut rng)?;
                }
                let lg = self.g_loss(&fake, &mut rng);
                rec.g_loss = finite(lg.item(), "generator loss")?;
                let gg = values(grad(&lg, &self.g.params()));
                drop((lg, fake));
                if let Some(v) = saved {
                    self.d.set_param_values(v);
                }
                rec.grad_norm_g = finite(sq_norm(&gg).sqrt(), "generator gradient norm")?;
                self.apply_g(gg);
            }
            AlgoName::Simultaneous | AlgoName::Consensus => {
                let real = self.source_batch(bs, &mut rng);
                let z = Tensor::constant(self.latents(bs, &mut rng));
                let fake = self.g.forward(&z, &mut Ctx::train(0));
                let lg = self.g_loss(&fake, &mut rng);
                let (ld, pen) = self.d_loss(&real, &fake, &mut rng);
                rec.g_loss = finite(lg.item(), "generator loss")?;
                rec.d_loss = finite(ld.item(), "discriminator loss")?;
                rec.penalty = pen;
                let (gp, dp): (Vec<Tensor>, Vec<Tensor>) = (
                    self.g.params().into_iter().cloned().collect(),
                    self.d.params().into_iter().cloned().collect(),
                );
                let (gr, dr): (Vec<&Tensor>, Vec<&Tensor>) = (gp.iter().collect(), dp.iter().collect());
                let (gg, gd) = if algo.name == AlgoName::Simultaneous {
                    (values(grad(&lg, &gr)), values(grad(&ld, &dr)))
                } else {
                    // ξ = (∇_G ℓ_G, ∇_D ℓ_D); both move along ξ + γ∇½‖ξ‖²
                    let xi_g = grad_graph(&lg, &gr);
                    let xi_d = grad_graph(&ld, &dr);
                    let half_sq = xi_g.iter().chain(&xi_d).map(|t| t.square().sum_all()).reduce(|a, b| a + b);
                    let half_sq = half_sq.expect("networks have parameters") * 0.5;
                    let all: Vec<&Tensor> = gr.iter().chain(&dr).copied().collect();
                    let h = values(grad(&half_sq, &all));
                    let gamma = algo.consensus;
                    let add = |xi: &[Tensor], h: &[Array]| -> Vec<Array> {
                        xi.iter()
                            .zip(h)
                            .map(|(x, h)| {
                                let mut v = x.value().clone();
                                v.scale_add(1.0, h, gamma);
                                v
                            })
                            .collect()
                    };
                    let n = gp.len();
                    (add(&xi_g, &h[..n]), add(&xi_d, &h[n..]))
                };
                drop((lg, ld, fake, gr, dr));
                rec.grad_norm_g = finite(sq_norm(&gg).sqrt(), "generator gradient norm")?;
                rec.grad_norm_d = finite(sq_norm(&gd).sqrt(), "discriminator gradient norm")?;
                self.apply_d(gd);
                self.apply_g(gg);
            }
        }
        Ok(rec)
    }

    /// Replaces the discriminator's parameters by `unroll` steps on fresh
    /// real batches against `fake`, kept differentiable (Metz et al. 2017):
    /// SGD steps of `unroll_lr`, or — `unroll_with = "adam"` — the
    /// discriminator's own Adam steps continued from its current moments
    /// (as Metz et al. unroll). The caller restores the parameters after the
    /// generator's gradient.
    fn unroll(&mut self, fake: &Tensor, rng: &mut Rng) -> Result<(), String> {
        let a = self.spec.algorithm.clone();
        let o = self.spec.optim.discriminator.clone();
        let lr = a.unroll_lr.unwrap_or(o.lr);
        let mut adam = match a.unroll_with {
            UnrollWith::Sgd => None,
            UnrollWith::Adam => Some(AdamLookahead::of(&self.opt_d, o.betas, o.eps)?),
        };
        for _ in 0..a.unroll {
            let real = Tensor::constant(self.source_batch(self.spec.train.batch_size, rng));
            let mut ctx = Ctx::eval();
            let l =
                self.loss.discriminator(&self.d.forward(&real, &mut ctx), &self.d.forward(fake, &mut ctx));
            finite(l.item(), "unrolled discriminator loss")?;
            let ps: Vec<Tensor> = self.d.params().into_iter().cloned().collect();
            let gs = grad_graph(&l, &ps.iter().collect::<Vec<_>>());
            let steps = match adam.as_mut() {
                None => gs.into_iter().map(|g| g.mul_scalar(lr)).collect(),
                Some(ad) => ad.steps(gs, lr),
            };
            for ((p, old), u) in self.d.params_mut().into_iter().zip(&ps).zip(steps) {
                *p = old.sub(&u);
            }
        }
        Ok(())
    }

    /// `n` samples `[n, …]` of the generator (its moving average when on)
    /// from the latents `z`.
    pub fn sample(&mut self, z: &Array) -> Array {
        let saved = (!self.ema.is_empty()).then(|| {
            let cur = self.g.param_values();
            self.g.set_param_values(self.ema.clone());
            cur
        });
        let x = odl_autodiff::no_grad(|| self.g.forward(&Tensor::constant(z.clone()), &mut Ctx::eval()));
        let out = x.value().clone();
        if let Some(v) = saved {
            self.g.set_param_values(v);
        }
        out
    }
}

/// Adam's steps as graph operations, continued from an optimizer's moments:
/// `m ← β₁m + (1−β₁)g`, `s ← β₂s + (1−β₂)g²`,
/// step `η (m/(1−β₁ᵗ)) / (√(s/(1−β₂ᵗ) + ε²) + ε)` — the `ε²` under the root
/// keeps its derivative finite where a gradient is exactly zero (a dead
/// ReLU unit), and changes no step by more than `ε`.
struct AdamLookahead {
    betas: [f64; 2],
    eps: f64,
    t: usize,
    m: Vec<Tensor>,
    s: Vec<Tensor>,
}

impl AdamLookahead {
    /// The moments of an Adam chain (`"0.step"`, `"0.m.i"`, `"0.s.i"`).
    fn of(opt: &Chain, betas: [f64; 2], eps: f64) -> Result<AdamLookahead, String> {
        let state = opt.state();
        let get = |k: &str| state.iter().find(|(n, _)| n == k).map(|(_, a)| a.clone());
        let t = get("0.step").map_or(0, |a| a.item() as usize);
        let (mut m, mut s) = (Vec::new(), Vec::new());
        for i in 0.. {
            match (get(&format!("0.m.{i}")), get(&format!("0.s.{i}"))) {
                (Some(a), Some(b)) => {
                    m.push(Tensor::constant(a));
                    s.push(Tensor::constant(b));
                }
                _ => break,
            }
        }
        if t == 0 || m.is_empty() {
            return Err("unroll_with = adam: the discriminator's optimizer has no Adam moments".into());
        }
        Ok(AdamLookahead { betas, eps, t, m, s })
    }

    /// The steps (to subtract) for gradients `gs` at step size `lr`.
    fn steps(&mut self, gs: Vec<Tensor>, lr: f64) -> Vec<Tensor> {
        let [b1, b2] = self.betas;
        self.t += 1;
        let (bc1, bc2) = (1.0 - b1.powi(self.t as i32), 1.0 - b2.powi(self.t as i32));
        gs.into_iter()
            .enumerate()
            .map(|(i, g)| {
                self.m[i] = self.m[i].mul_scalar(b1) + g.mul_scalar(1.0 - b1);
                self.s[i] = self.s[i].mul_scalar(b2) + g.square().mul_scalar(1.0 - b2);
                let den = self.s[i]
                    .mul_scalar(1.0 / bc2)
                    .add_scalar(self.eps * self.eps)
                    .sqrt()
                    .add_scalar(self.eps);
                self.m[i].mul_scalar(lr / bc1).div(&den)
            })
            .collect()
    }
}

/// The largest singular value of each of the generator's weights (as a
/// matrix `[out, rest]`).
pub fn sigma_max(g: &Sequential) -> Vec<(String, f64)> {
    nets::weights(g)
        .into_iter()
        .map(|(n, t)| {
            let rows = t.shape()[0];
            let cols = t.numel() / rows;
            let sv = odl_probe::linalg::singular_values(&t.value().to_vec_f64(), rows, cols);
            (n, sv.first().copied().unwrap_or(0.0))
        })
        .collect()
}

/// The samples figure of a mixture: centers as rings, samples as points.
fn scatter(m: &Mixture, x: &[f64], title: String) -> Figure {
    let (cx, cy): (Vec<f64>, Vec<f64>) = m.centers.iter().map(|c| (c[0], c[1])).unzip();
    let keep = |v: f64| v.is_finite();
    let pts: Vec<(f64, f64)> =
        x.chunks_exact(2).map(|p| (p[0], p[1])).filter(|p| keep(p.0) && keep(p.1)).collect();
    let (px, py): (Vec<f64>, Vec<f64>) = pts.into_iter().unzip();
    LinePlot::new(title, "x₁", "x₂")
        .with([Series::points("generated", px, py), Series::rings("mixture centers", cx, cy)])
        .into()
}

/// Evaluates the generator: metrics on `train.eval_samples` samples from
/// fixed latents, and the samples figure written under `samples/`.
fn evaluate(
    p: &mut Players,
    feats: &mut Option<Features>,
    out: &Path,
    step: usize,
) -> Result<serde_json::Map<String, serde_json::Value>> {
    let spec = p.spec.clone();
    let n = spec.train.eval_samples;
    let mut zr = Rng::seed(spec.seed ^ 0x5EED_E7A1);
    let z = p.latents(n, &mut zr);
    let x = p.sample(&z);
    let xv = x.to_vec_f64();
    let mut m = serde_json::Map::new();
    let dir = out.join("samples");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    // the figure's samples: truncated latents when asked for
    let shown = match spec.train.truncation {
        Some(tau) => {
            p.sample(&truncated_normal(&mut Rng::seed(spec.seed ^ 0x7A0), &[n, p.latent], tau, DType::F32))
        }
        None => x.clone(),
    };
    match &p.source {
        Source::Mixture(mix) => {
            let c = mix.coverage(&xv);
            m.insert("modes".into(), json!(c.covered));
            m.insert("high_quality".into(), num(c.high_quality));
            m.insert("js_uniform".into(), num(c.js_uniform));
            let k = shown.to_vec_f64().len().min(2 * 1000);
            let fig = scatter(
                mix,
                &shown.to_vec_f64()[..k],
                format!(
                    "Samples at step {step}: {} of {} modes, {:.0}% high quality",
                    c.covered,
                    c.modes,
                    100.0 * c.high_quality
                ),
            );
            std::fs::write(dir.join(format!("step-{step:06}.svg")), fig.to_svg())?;
            std::fs::write(out.join("samples.svg"), fig.to_svg())?;
        }
        Source::Images(real) => {
            let f = match feats {
                Some(f) => f,
                None => feats.insert(Features::cached(real, n)?),
            };
            let (fid, kid) = f.fid_kid(&xv, n)?;
            m.insert(format!("fid_{}", f.name()), num(fid));
            m.insert(format!("kid_{}", f.name()), num(kid));
            m.insert(format!("is_{}", f.name()), num(f.score(&xv, n)));
            if let Some((fid, is)) = f.floor {
                m.insert("fid_real_floor".into(), num(fid));
                m.insert("is_real".into(), num(is));
            }
            m.insert("fid".into(), num(fid));
            m.insert("kid".into(), num(kid));
            let k = 64.min(n);
            let sv = shown.to_vec_f64();
            let grid = odl_plot::image::GrayGrid {
                pixels: &sv[..k * 784],
                h: 28,
                w: 28,
                cols: 8,
                range: (-1.0, 1.0),
                scale: 2,
            };
            grid.write_png(&dir.join(format!("step-{step:06}.png")))?;
            grid.write_png(&out.join("samples.png"))?;
        }
    }
    for (name, s) in sigma_max(&p.g) {
        m.insert(format!("sigma_max.{name}"), num(s));
    }
    Ok(m)
}

/// The run's figures from its log: both losses, and modes (mixtures) or FID (images).
fn figures(out: &Path, mixture: bool) -> Result<()> {
    let text = std::fs::read_to_string(out.join("metrics.jsonl"))?;
    let recs: Vec<serde_json::Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let col = |k: &str| -> (Vec<f64>, Vec<f64>) {
        recs.iter().filter_map(|r| Some((r.get("step")?.as_f64()?, r.get(k)?.as_f64()?))).unzip()
    };
    let (s1, dl) = col("d_loss");
    let (s2, gl) = col("g_loss");
    let loss: Figure = LinePlot::new("Both players' losses", "generator step", "loss")
        .with([Series::line("discriminator", s1, dl), Series::line("generator", s2, gl)])
        .into();
    std::fs::write(out.join("training.svg"), loss.to_svg())?;
    if mixture {
        let (s, modes) = col("modes");
        let (s3, hq) = col("high_quality");
        let fig: Figure = LinePlot::new("Modes covered over training", "generator step", "modes covered")
            .with([Series::line_points("modes covered", s, modes)])
            .into();
        std::fs::write(out.join("modes.svg"), fig.to_svg())?;
        let fig: Figure =
            LinePlot::new("High-quality samples over training", "generator step", "fraction within 3σ")
                .with([Series::line_points("high quality", s3, hq)])
                .into();
        std::fs::write(out.join("quality.svg"), fig.to_svg())?;
    } else {
        let (s, fid) = col("fid");
        let fig: Figure = LinePlot::new("FID (odl features) over training", "generator step", "FID")
            .log_y()
            .with([Series::line_points("FID", s, fid)])
            .into();
        std::fs::write(out.join("fid.svg"), fig.to_svg())?;
    }
    Ok(())
}

/// Trains as `spec` says, writing the run folder `out` (see the module
/// doc). With `resume`, continues from `out/checkpoint.npz`.
pub fn train(spec: &GanSpec, out: &Path, resume: bool) -> Result<GanSummary> {
    let t0 = Instant::now();
    odl_train::files::open_run_folder(out, resume, checkpoint::FILE, spec)?;
    let source = Source::of(spec)?;
    let mut p = Players::new(spec, &source.shape(), source)?;
    let total = spec.train.steps;
    let mut step = if resume {
        checkpoint::load(
            out,
            &mut State {
                g: &mut p.g,
                d: &mut p.d,
                opt_g: &mut p.opt_g,
                opt_d: &mut p.opt_d,
                ema: &mut p.ema,
            },
        )?
    } else {
        0
    };
    let mut logs = Logs::with_columns(out, resume.then_some(step), &CSV_COLUMNS)?;
    let bar = odl_train::files::progress_bar(total, step);
    let mut feats = None;
    let mut last = serde_json::Map::new();
    let mut diverged_at = None;
    let (mut train_time, start) = (0.0, step);
    let save = |p: &mut Players, step: usize| {
        checkpoint::save(
            out,
            &State { g: &mut p.g, d: &mut p.d, opt_g: &mut p.opt_g, opt_d: &mut p.opt_d, ema: &mut p.ema },
            step,
        )
    };
    while step < total {
        let ts = Instant::now();
        let r = match p.step(step) {
            Ok(r) => r,
            Err(what) => {
                diverged_at = Some(step);
                logs.write(&json!({"step": step + 1, "diverged": true, "what": what}))?;
                break;
            }
        };
        train_time += ts.elapsed().as_secs_f64();
        step += 1;
        let mut rec = json!({
            "step": step, "d_loss": r.d_loss, "g_loss": r.g_loss, "penalty": r.penalty,
            "grad_norm_d": r.grad_norm_d, "grad_norm_g": r.grad_norm_g, "time_s": t0.elapsed().as_secs_f64(),
        });
        if step % spec.train.eval_every == 0 || step == total {
            last = evaluate(&mut p, &mut feats, out, step)?;
            let msg = match (last.get("modes"), last.get("fid")) {
                (Some(m), _) => format!("modes {m}  d {:.3}  g {:.3}", r.d_loss, r.g_loss),
                (_, Some(f)) => {
                    format!("FID {:.1}  d {:.3}  g {:.3}", f.as_f64().unwrap_or(f64::NAN), r.d_loss, r.g_loss)
                }
                _ => String::new(),
            };
            match &bar {
                Some(b) => b.set_message(msg),
                None => eprintln!("step {step}/{total}  {msg}"),
            }
            rec.as_object_mut().expect("object").extend(last.clone());
        }
        // the record first, then the checkpoint: a kill between the two
        // leaves a record that resume cuts back, never a missing one
        logs.write(&rec)?;
        if step % spec.train.eval_every == 0 || step == total {
            save(&mut p, step)?;
        }
        if let Some(b) = &bar {
            b.set_position(step as u64);
        }
    }
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    figures(out, matches!(p.source, Source::Mixture(_)))?;
    let done = step - start;
    let summary = GanSummary {
        steps: step,
        diverged: diverged_at.is_some(),
        diverged_at_step: diverged_at,
        wall_s: t0.elapsed().as_secs_f64(),
        s_per_step: if done > 0 { train_time / done as f64 } else { 0.0 },
        metrics: last.iter().filter_map(|(k, v)| Some((k.clone(), v.as_f64()?))).collect(),
        checkpoint: if out.join(checkpoint::FILE).exists() {
            Some(odl_train::files::checksum(&out.join(checkpoint::FILE))?)
        } else {
            None
        },
    };
    let mut js = serde_json::to_value(&summary)?;
    if let Some(s) = diverged_at {
        js["result"] = json!(format!("diverged at step {}", s + 1));
    }
    write_json(&out.join("summary.json"), &js)?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adam_lookahead_steps_as_the_optimizer_does() {
        // drive a real Adam three steps, then compare its next two steps with
        // the look-ahead's continued from its moments (gradients nowhere zero,
        // so the ε² under the root changes nothing beyond rounding)
        let mut rng = Rng::seed(4);
        let shapes = [vec![3, 2], vec![5]];
        let mut opt = odl_optim::adam(0.01, 0.5, 0.9, 1e-8);
        let mut params: Vec<Array> = shapes.iter().map(|s| rng.normal(s, 0.0, 1.0, DType::F64)).collect();
        let grads = |rng: &mut Rng| -> Vec<Array> {
            shapes.iter().map(|s| rng.normal(s, 0.0, 1.0, DType::F64)).collect()
        };
        for _ in 0..3 {
            let g = grads(&mut rng);
            opt.step(&mut params, g);
        }
        let mut look = AdamLookahead::of(&opt, [0.5, 0.9], 1e-8).unwrap();
        let mut shadow = params.clone();
        for _ in 0..2 {
            let g = grads(&mut rng);
            let steps = look.steps(g.iter().cloned().map(Tensor::constant).collect(), 0.01);
            for (p, s) in shadow.iter_mut().zip(&steps) {
                p.scale_add(1.0, s.value(), -1.0);
            }
            opt.step(&mut params, g);
        }
        for (a, b) in params.iter().zip(&shadow) {
            assert!(a.max_abs_diff(b) < 1e-12, "look-ahead and Adam differ by {}", a.max_abs_diff(b));
        }
        // a chain without Adam moments is refused
        assert!(AdamLookahead::of(&odl_optim::sgd(0.1), [0.9, 0.999], 1e-8).is_err());
    }
}
