//! GAN specs (`odl gan SPEC.toml`): data, the two networks, the loss, the
//! regularizers, the algorithm, one optimizer per player, the loop — typed,
//! unknown keys rejected, values range-checked before anything runs.
//!
//! ```toml
//! seed = 0
//! [data]
//! name = "ring"            # ring | grid | fashion-mnist | fashion-mnist-subset
//! [generator]
//! hidden = [128, 128]
//! latent = 2
//! [discriminator]
//! hidden = [128, 128]
//! [loss]
//! name = "non-saturating"  # minimax | non-saturating | wgan | hinge | least-squares | f-gan
//! [regularizer]
//! r1 = 0.0                 # also r2, gp, orthogonal, instance_noise
//! [algorithm]
//! name = "alternating"     # alternating | simultaneous | unrolled (unroll, unroll_lr, unroll_with = "sgd" | "adam") | consensus
//! [optim.generator]
//! name = "adam"
//! lr = 1e-3
//! [optim.discriminator]
//! name = "adam"
//! lr = 1e-3
//! [train]
//! steps = 2000
//! batch_size = 256
//! ```

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use odl_nn::Activation;
use odl_train::spec::{OptimName, OptimSpec, ScheduleSpec};
use serde::{Deserialize, Serialize};

use crate::fdiv::FDivergence;
use crate::loss::Loss;
use crate::mixture::Mixture;
use crate::penalty::Penalty;

/// A complete GAN run.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GanSpec {
    /// seed of every random draw (init, latents, batches, penalties)
    #[serde(default)]
    pub seed: u64,
    /// the data
    pub data: GanData,
    /// the generator
    pub generator: NetSpec,
    /// the discriminator (critic)
    pub discriminator: NetSpec,
    /// the loss
    pub loss: LossSpec,
    /// regularizers
    #[serde(default)]
    pub regularizer: RegSpec,
    /// how the two players move
    #[serde(default)]
    pub algorithm: AlgoSpec,
    /// one optimizer per player
    pub optim: PlayersOptim,
    /// the loop
    pub train: GanTrain,
}

/// Data a GAN can learn.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub enum GanDataName {
    /// Gaussians evenly on a circle (ring-8)
    Ring,
    /// Gaussians on a square grid (grid-25)
    Grid,
    /// Fashion-MNIST from Debian's package, scaled to [−1, 1]
    FashionMnist,
    /// the Fashion-MNIST subset shipped inside odl, scaled to [−1, 1]
    FashionMnistSubset,
}

/// The data and its parameters.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GanData {
    /// which
    pub name: GanDataName,
    /// components of a mixture (ring: 8; grid: 25, a square)
    #[serde(default)]
    pub modes: Option<usize>,
    /// radius of the ring (2)
    #[serde(default)]
    pub radius: Option<f64>,
    /// distance between grid neighbours (2)
    #[serde(default)]
    pub spacing: Option<f64>,
    /// standard deviation of each component (ring 0.02, grid 0.05)
    #[serde(default)]
    pub sigma: Option<f64>,
    /// a sample within this many σ of a center is high quality (3)
    #[serde(default = "three")]
    pub threshold: f64,
    /// a directory holding Fashion-MNIST's IDX files (fashion-mnist)
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// use only the first this many training images
    #[serde(default)]
    pub n_train: Option<usize>,
}

fn three() -> f64 {
    3.0
}

impl GanData {
    /// Whether the data are points in the plane (a mixture).
    pub fn is_mixture(&self) -> bool {
        matches!(self.name, GanDataName::Ring | GanDataName::Grid)
    }

    /// The mixture the data are drawn from (`None` for images).
    pub fn mixture(&self) -> Option<Mixture> {
        let mut m = match self.name {
            GanDataName::Ring => {
                Mixture::ring(self.modes.unwrap_or(8), self.radius.unwrap_or(2.0), self.sigma.unwrap_or(0.02))
            }
            GanDataName::Grid => {
                let side = (self.modes.unwrap_or(25) as f64).sqrt().round() as usize;
                Mixture::grid(side, self.spacing.unwrap_or(2.0), self.sigma.unwrap_or(0.05))
            }
            _ => return None,
        };
        m.threshold = self.threshold;
        Some(m)
    }
}

/// Network families of a GAN.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum NetKind {
    /// fully connected (flattens images)
    #[default]
    Mlp,
    /// DCGAN-style: the generator goes linear → 7×7 maps → (2× nearest
    /// upsampling, 3×3 convolution) twice → 28×28; the discriminator
    /// mirrors it with stride-2 convolutions
    Dcgan,
}

/// A network.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NetSpec {
    /// family
    #[serde(default)]
    pub kind: NetKind,
    /// hidden widths (MLP)
    #[serde(default)]
    pub hidden: Vec<usize>,
    /// feature maps (DCGAN: the generator's at 7×7 and 14×14, the
    /// discriminator's at 14×14 and 7×7)
    #[serde(default)]
    pub channels: Vec<usize>,
    /// activation between layers
    #[serde(default = "relu")]
    pub activation: Activation,
    /// latent dimension (generator)
    #[serde(default)]
    pub latent: Option<usize>,
    /// the generator's output activation (identity for points, tanh for images)
    #[serde(default)]
    pub output: Option<Activation>,
    /// spectral normalization of every linear layer (discriminator, MLP)
    #[serde(default)]
    pub spectral_norm: bool,
}

fn relu() -> Activation {
    Activation::Relu
}

/// Loss names.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub enum LossName {
    /// the original minimax game
    Minimax,
    /// the non-saturating generator loss
    NonSaturating,
    /// the Wasserstein critic (with `clip` or `regularizer.gp`)
    Wgan,
    /// hinge
    Hinge,
    /// least squares
    LeastSquares,
    /// an f-divergence (`divergence`)
    FGan,
}

/// The loss.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LossSpec {
    /// which
    pub name: LossName,
    /// the f-divergence of `f-gan`: kl, reverse-kl, pearson-chi2, squared-hellinger, jensen-shannon, gan
    #[serde(default)]
    pub divergence: Option<String>,
    /// WGAN's weight clipping: every discriminator weight into [−clip, clip] after its step
    #[serde(default)]
    pub clip: Option<f64>,
}

impl LossSpec {
    /// The loss as [`Loss`].
    pub fn loss(&self) -> Result<Loss> {
        Ok(match self.name {
            LossName::Minimax => Loss::Minimax,
            LossName::NonSaturating => Loss::NonSaturating,
            LossName::Wgan => Loss::Wasserstein,
            LossName::Hinge => Loss::Hinge,
            LossName::LeastSquares => Loss::LeastSquares,
            LossName::FGan => {
                let d = self.divergence.as_deref().context(
                    "loss.divergence: f-gan needs one of kl, reverse-kl, pearson-chi2, squared-hellinger, jensen-shannon, gan",
                )?;
                let f = FDivergence::ALL.into_iter().find(|f| f.key().replace('_', "-") == d).with_context(|| {
                    format!(
                        "loss.divergence = \"{d}\": unknown; one of kl, reverse-kl, pearson-chi2, squared-hellinger, jensen-shannon, gan"
                    )
                })?;
                Loss::FGan(f)
            }
        })
    }
}

/// Regularizers (0 = off).
#[derive(Clone, Debug, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RegSpec {
    /// R1 weight γ (real samples)
    #[serde(default)]
    pub r1: f64,
    /// R2 weight γ (generated samples)
    #[serde(default)]
    pub r2: f64,
    /// WGAN-GP weight λ (interpolates)
    #[serde(default)]
    pub gp: f64,
    /// BigGAN's orthogonal regularization β on the generator's weights
    #[serde(default)]
    pub orthogonal: f64,
    /// instance noise: σ of Gaussian noise added to every input of the discriminator
    #[serde(default)]
    pub instance_noise: f64,
}

impl RegSpec {
    /// The input-gradient penalties switched on.
    pub fn penalties(&self) -> Vec<Penalty> {
        let mut p = Vec::new();
        if self.r1 > 0.0 {
            p.push(Penalty::R1(self.r1));
        }
        if self.r2 > 0.0 {
            p.push(Penalty::R2(self.r2));
        }
        if self.gp > 0.0 {
            p.push(Penalty::GradientPenalty(self.gp));
        }
        p
    }
}

/// Algorithms.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum AlgoName {
    /// `n_critic` discriminator steps, then one generator step against the new discriminator
    #[default]
    Alternating,
    /// both players step from the same point
    Simultaneous,
    /// the generator differentiates through `unroll` SGD steps of the discriminator (Metz et al. 2017)
    Unrolled,
    /// simultaneous steps on `ξ + γ ∇½‖ξ‖²` (Mescheder et al. 2017)
    Consensus,
}

/// The update rule of an unrolled discriminator's look-ahead steps.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum UnrollWith {
    /// `θ ← θ − η∇`
    #[default]
    Sgd,
    /// Adam's rule continued from the discriminator optimizer's moments
    /// (needs `optim.discriminator.name = "adam"`)
    Adam,
}

/// How the players move.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AlgoSpec {
    /// which
    #[serde(default)]
    pub name: AlgoName,
    /// discriminator steps per generator step (alternating, unrolled)
    #[serde(default = "one")]
    pub n_critic: usize,
    /// unrolled discriminator steps (unrolled)
    #[serde(default = "five")]
    pub unroll: usize,
    /// step size of the unrolled steps (unrolled; default: the discriminator's lr)
    #[serde(default)]
    pub unroll_lr: Option<f64>,
    /// the rule of the unrolled steps: plain SGD or the discriminator's Adam
    #[serde(default)]
    pub unroll_with: UnrollWith,
    /// γ of consensus optimization
    #[serde(default = "tenth")]
    pub consensus: f64,
}

impl Default for AlgoSpec {
    fn default() -> AlgoSpec {
        AlgoSpec {
            name: AlgoName::Alternating,
            n_critic: 1,
            unroll: 5,
            unroll_lr: None,
            unroll_with: UnrollWith::Sgd,
            consensus: 0.1,
        }
    }
}

fn one() -> usize {
    1
}
fn five() -> usize {
    5
}
fn tenth() -> f64 {
    0.1
}

/// The two optimizers.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PlayersOptim {
    /// the generator's
    pub generator: OptimSpec,
    /// the discriminator's
    pub discriminator: OptimSpec,
}

/// The loop.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GanTrain {
    /// generator steps
    pub steps: usize,
    /// real and generated samples per step
    pub batch_size: usize,
    /// measure (modes or FID/KID), draw samples and write a checkpoint every this many steps (and at the end)
    #[serde(default = "default_eval_every")]
    pub eval_every: usize,
    /// samples the metrics are computed on
    #[serde(default = "default_eval_samples")]
    pub eval_samples: usize,
    /// decay of the generator's exponential moving average (0: none); metrics are
    /// measured on the average when it is on
    #[serde(default)]
    pub ema: f64,
    /// the truncation trick for the sample figures: latents redrawn outside [−τ, τ]
    #[serde(default)]
    pub truncation: Option<f64>,
}

fn default_eval_every() -> usize {
    500
}
fn default_eval_samples() -> usize {
    2000
}

/// Reads a GAN spec, applies `--set key=value` overrides, and validates it.
pub fn load(path: &Path, sets: &[String]) -> Result<GanSpec> {
    let (spec, origin): (GanSpec, String) = odl_train::spec::read(path, sets)?;
    spec.validate().with_context(|| origin.clone())?;
    Ok(spec)
}

impl GanSpec {
    /// Range checks and cross-field rules; names the key and what is allowed.
    pub fn validate(&self) -> Result<()> {
        self.optim.generator.validate("optim.generator")?;
        self.optim.discriminator.validate("optim.discriminator")?;
        self.loss.loss()?;
        let nonneg = |k: &str, v: f64| -> Result<()> {
            if !(v.is_finite() && v >= 0.0) {
                bail!("{k} = {v}: must be a number ≥ 0");
            }
            Ok(())
        };
        let r = &self.regularizer;
        for (k, v) in [
            ("regularizer.r1", r.r1),
            ("regularizer.r2", r.r2),
            ("regularizer.gp", r.gp),
            ("regularizer.orthogonal", r.orthogonal),
            ("regularizer.instance_noise", r.instance_noise),
            ("algorithm.consensus", self.algorithm.consensus),
        ] {
            nonneg(k, v)?;
        }
        if let Some(c) = self.loss.clip {
            if !(c.is_finite() && c > 0.0) {
                bail!("loss.clip = {c}: must be a positive number");
            }
        }
        if self.loss.divergence.is_some() && self.loss.name != LossName::FGan {
            bail!("loss.divergence: only the f-gan loss takes a divergence");
        }
        if self.algorithm.n_critic == 0 {
            bail!("algorithm.n_critic = 0: must be at least 1");
        }
        if self.algorithm.name == AlgoName::Unrolled && self.algorithm.unroll == 0 {
            bail!("algorithm.unroll = 0: the unrolled algorithm needs at least 1 step");
        }
        if let Some(l) = self.algorithm.unroll_lr {
            if !(l.is_finite() && l > 0.0) {
                bail!("algorithm.unroll_lr = {l}: must be a positive number");
            }
        }
        if self.algorithm.unroll_with == UnrollWith::Adam && self.optim.discriminator.name != OptimName::Adam
        {
            bail!(
                "algorithm.unroll_with = \"adam\": needs optim.discriminator.name = \"adam\" (found {:?})",
                self.optim.discriminator.name
            );
        }
        if self.algorithm.name == AlgoName::Consensus && self.algorithm.n_critic != 1 {
            bail!("algorithm.n_critic: consensus moves both players at once; leave n_critic at 1");
        }
        let t = &self.train;
        for (k, v) in [
            ("train.steps", t.steps),
            ("train.batch_size", t.batch_size),
            ("train.eval_every", t.eval_every),
            ("train.eval_samples", t.eval_samples),
        ] {
            if v == 0 {
                bail!("{k} = 0: must be at least 1");
            }
        }
        if !(0.0..1.0).contains(&t.ema) {
            bail!("train.ema = {}: must be in [0, 1) (0: off)", t.ema);
        }
        if let Some(tau) = t.truncation {
            if !(tau.is_finite() && tau > 0.0) {
                bail!("train.truncation = {tau}: must be a positive number");
            }
        }
        let d = &self.data;
        if d.is_mixture() {
            if d.path.is_some() || d.n_train.is_some() {
                bail!("data.path / data.n_train: a mixture is generated; they are for fashion-mnist");
            }
            if d.modes == Some(0) {
                bail!("data.modes = 0: must be at least 1");
            }
            if d.name == GanDataName::Grid {
                let m = d.modes.unwrap_or(25);
                let s = (m as f64).sqrt().round() as usize;
                if s * s != m {
                    bail!("data.modes = {m}: a grid needs a square number of modes (25 = 5×5)");
                }
            }
            for (k, v) in [("data.radius", d.radius), ("data.spacing", d.spacing), ("data.sigma", d.sigma)] {
                if let Some(v) = v {
                    if !(v.is_finite() && v > 0.0) {
                        bail!("{k} = {v}: must be a positive number");
                    }
                }
            }
            if !(d.threshold.is_finite() && d.threshold > 0.0) {
                bail!("data.threshold = {}: must be a positive number", d.threshold);
            }
        } else {
            if d.modes.is_some() || d.radius.is_some() || d.spacing.is_some() || d.sigma.is_some() {
                bail!("data.modes / radius / spacing / sigma: these describe a mixture (ring, grid)");
            }
            if d.n_train == Some(0) {
                bail!("data.n_train = 0: must be at least 1");
            }
            if let (GanDataName::FashionMnist, Some(p)) = (d.name, &d.path) {
                if !p.is_dir() {
                    bail!("data.path = {}: no such directory", p.display());
                }
            }
        }
        for (key, n) in [("generator", &self.generator), ("discriminator", &self.discriminator)] {
            if n.hidden.contains(&0) || n.channels.contains(&0) {
                bail!("{key}: widths and channels must be at least 1");
            }
            if n.kind == NetKind::Dcgan {
                if d.is_mixture() {
                    bail!("{key}.kind = \"dcgan\": convolutions need images; use mlp for {:?} data", d.name);
                }
                if n.channels.len() != 2 {
                    bail!("{key}.channels: a dcgan network takes two channel counts, e.g. [64, 32]");
                }
            }
        }
        if self.generator.latent == Some(0) {
            bail!("generator.latent = 0: must be at least 1");
        }
        if self.discriminator.latent.is_some() || self.discriminator.output.is_some() {
            bail!("discriminator.latent / output: only the generator has a latent and an output activation");
        }
        if self.discriminator.spectral_norm && self.discriminator.kind == NetKind::Dcgan {
            bail!("discriminator.spectral_norm: odl normalizes linear layers only; use kind = \"mlp\"");
        }
        if self.generator.spectral_norm {
            bail!("generator.spectral_norm: spectral normalization is for the discriminator");
        }
        Ok(())
    }

    /// Each player's learning-rate schedule (constant).
    pub fn schedule(&self) -> ScheduleSpec {
        ScheduleSpec::default()
    }
}
