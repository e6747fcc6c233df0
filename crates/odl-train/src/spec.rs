//! Training specs (`odl train SPEC.toml`): typed, with every choice an enum,
//! unknown keys rejected, and values range-checked before anything runs.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use odl_nn::Activation;
use serde::{Deserialize, Serialize};

/// A complete training run.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// seed of every random draw (init, batches, dropout, data generation)
    #[serde(default)]
    pub seed: u64,
    /// the data
    pub data: DataSpec,
    /// the network
    pub model: ModelSpec,
    /// the optimizer
    pub optim: OptimSpec,
    /// the learning-rate schedule
    #[serde(default)]
    pub schedule: ScheduleSpec,
    /// the loop
    pub train: TrainSpec,
    /// adversarial training (none: standard training)
    #[serde(default)]
    pub adversarial: Option<crate::adversarial::AdversarialSpec>,
}

/// Data sets odl can train on.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub enum DataName {
    /// Fashion-MNIST from Debian's package (60 000 + 10 000 images)
    FashionMnist,
    /// the Fashion-MNIST subset shipped inside odl (10 000 + 2 000 images)
    FashionMnistSubset,
    /// the MNIST-1D-style generator
    Mnist1d,
    /// two moons
    TwoMoons,
    /// Gaussian mixture (10 clusters in 20 dimensions)
    GaussianMixture,
    /// a `.npz` file with `x` and `y`
    Npz,
}

/// Which data, how much, and how it is altered.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// the data set
    pub name: DataName,
    /// a directory (Fashion-MNIST) or file (npz) to read instead of the default
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// use only the first this many training examples
    #[serde(default)]
    pub n_train: Option<usize>,
    /// use only the first this many test examples
    #[serde(default)]
    pub n_test: Option<usize>,
    /// fraction of training labels replaced by random ones (0–1)
    #[serde(default)]
    pub corrupt_labels: f64,
    /// apply one fixed random permutation to the input features
    #[serde(default)]
    pub shuffle_pixels: bool,
    /// standardize inputs with the training set's mean and std
    #[serde(default)]
    pub normalize: bool,
    /// fraction of the training set held out for validation (0 = none)
    #[serde(default)]
    pub val_fraction: f64,
}

/// Network families.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// fully connected
    Mlp,
    /// convolutions (3×3, padding 1) each followed by the activation and 2×2 max-pooling, then a linear layer
    Cnn,
}

/// Normalization by name.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub enum NormName {
    /// none
    None,
    /// BatchNorm
    Batch,
    /// LayerNorm
    Layer,
}

/// Initializations by name.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub enum InitName {
    /// PyTorch's default
    TorchDefault,
    /// He/Kaiming normal with the activation's gain
    KaimingNormal,
    /// Xavier/Glorot uniform with the activation's gain
    XavierUniform,
    /// LeCun normal
    LecunNormal,
    /// scaled orthogonal with the activation's gain
    Orthogonal,
}

/// The network.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// family
    pub kind: ModelKind,
    /// hidden widths (MLP) — the input and output widths come from the data
    #[serde(default)]
    pub hidden: Vec<usize>,
    /// channels of the convolutions (CNN)
    #[serde(default)]
    pub channels: Vec<usize>,
    /// activation
    #[serde(default = "default_act")]
    pub activation: Activation,
    /// biases in linear layers
    #[serde(default = "yes")]
    pub bias: bool,
    /// normalization after hidden linear layers (MLP)
    #[serde(default = "default_norm")]
    pub norm: NormName,
    /// residual connections where widths agree (MLP)
    #[serde(default)]
    pub residual: bool,
    /// weight initialization
    #[serde(default = "default_init")]
    pub init: InitName,
}

fn default_act() -> Activation {
    Activation::Relu
}
fn default_norm() -> NormName {
    NormName::None
}
fn default_init() -> InitName {
    InitName::TorchDefault
}
fn yes() -> bool {
    true
}

/// Optimizers by name.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub enum OptimName {
    /// gradient descent
    Sgd,
    /// heavy-ball momentum
    Momentum,
    /// Nesterov momentum
    Nesterov,
    /// AdaGrad
    Adagrad,
    /// RMSProp
    Rmsprop,
    /// Adam
    Adam,
    /// AdamW
    Adamw,
    /// AMSGrad
    Amsgrad,
}

/// The optimizer.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OptimSpec {
    /// which
    pub name: OptimName,
    /// peak learning rate
    pub lr: f64,
    /// momentum coefficient (momentum, Nesterov)
    #[serde(default = "default_momentum")]
    pub momentum: f64,
    /// (β₁, β₂) (Adam family); α = β₂ for RMSProp
    #[serde(default = "default_betas")]
    pub betas: [f64; 2],
    /// ε in denominators
    #[serde(default = "default_eps")]
    pub eps: f64,
    /// L2 weight decay (SGD family, coupled) or decoupled decay (AdamW)
    #[serde(default)]
    pub weight_decay: f64,
    /// clip gradients to this global norm
    #[serde(default)]
    pub clip_norm: Option<f64>,
}

fn default_momentum() -> f64 {
    0.9
}
fn default_betas() -> [f64; 2] {
    [0.9, 0.999]
}
fn default_eps() -> f64 {
    1e-8
}

/// Schedules by name.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ScheduleKind {
    /// constant
    #[default]
    Constant,
    /// ×gamma every `every` steps
    Step,
    /// ×gamma at each milestone
    Multistep,
    /// ×gamma every step
    Exponential,
    /// lr/√(t+1)
    InvSqrt,
    /// cosine decay to `min_lr` over the run
    Cosine,
    /// one-cycle over the run
    OneCycle,
}

/// The learning-rate schedule.
#[derive(Clone, Debug, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    /// which
    #[serde(default)]
    pub kind: ScheduleKind,
    /// linear warm-up steps before it
    #[serde(default)]
    pub warmup: usize,
    /// steps between decays (step)
    #[serde(default)]
    pub every: Option<usize>,
    /// decay factor (step, multistep, exponential)
    #[serde(default)]
    pub gamma: Option<f64>,
    /// steps at which to decay (multistep)
    #[serde(default)]
    pub milestones: Vec<usize>,
    /// final rate (cosine)
    #[serde(default)]
    pub min_lr: f64,
}

/// The loop.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSpec {
    /// passes over the training set (give this or `steps`)
    #[serde(default)]
    pub epochs: Option<usize>,
    /// optimizer steps (give this or `epochs`)
    #[serde(default)]
    pub steps: Option<usize>,
    /// examples per step
    pub batch_size: usize,
    /// evaluate on the test set every this many steps (and at the end)
    #[serde(default = "default_eval_every")]
    pub eval_every: usize,
    /// label smoothing of the cross-entropy
    #[serde(default)]
    pub label_smoothing: f64,
    /// record the top Hessian eigenvalue ("sharpness", by Lanczos) every this
    /// many steps (0: never) — the edge-of-stability measurement
    #[serde(default)]
    pub sharpness_every: usize,
    /// training examples the sharpness is measured on (a fixed batch)
    #[serde(default = "default_sharpness_batch")]
    pub sharpness_batch: usize,
    /// stop as diverged once the loss exceeds this many times its first
    /// value (0: only NaN/∞ count as divergence)
    #[serde(default = "default_diverge_factor")]
    pub diverge_factor: f64,
    /// trace the training step once and replay it (bit-identical to eager
    /// execution) where the model allows it; `false` runs every step eagerly
    #[serde(default = "default_compile")]
    pub compile: bool,
}

fn default_compile() -> bool {
    true
}

fn default_diverge_factor() -> f64 {
    1000.0
}

fn default_sharpness_batch() -> usize {
    256
}

fn default_eval_every() -> usize {
    500
}

/// Sets `key` (dotted, e.g. `optim.lr`) to `value` (TOML syntax; a bare word
/// is a string; comma-separated TOML values are a list, `16,32` as `[16, 32]`,
/// as `odl run --set` takes them); an empty value removes the key (e.g.
/// `--set train.epochs=` together with `--set train.steps=500`).
fn set(table: &mut toml::Table, key: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        let parts: Vec<&str> = key.split('.').collect();
        let mut t = table;
        for p in &parts[..parts.len() - 1] {
            t = t
                .get_mut(*p)
                .and_then(toml::Value::as_table_mut)
                .with_context(|| format!("--set {key}=: no section '{p}'"))?;
        }
        t.remove(parts[parts.len() - 1])
            .with_context(|| format!("--set {key}=: the spec has no key '{key}' to remove"))?;
        return Ok(());
    }
    let toml_value =
        |v: String| toml::from_str::<toml::Table>(&format!("v = {v}")).ok().and_then(|mut t| t.remove("v"));
    let parsed = toml_value(value.to_string())
        .or_else(|| value.contains(',').then(|| toml_value(format!("[{value}]"))).flatten())
        .unwrap_or_else(|| toml::Value::String(value.to_string()));
    let parts: Vec<&str> = key.split('.').collect();
    let mut t = table;
    for p in &parts[..parts.len() - 1] {
        t = t
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .with_context(|| format!("--set {key}: '{p}' is not a section"))?;
    }
    t.insert(parts[parts.len() - 1].to_string(), parsed);
    Ok(())
}

/// Reads a TOML spec of any type `T` (unknown keys and type errors name
/// their key), after `--set key=value` overrides; returns it with the
/// origin that error messages cite (the file, and the `--set`s).
pub fn read<T: serde::de::DeserializeOwned>(path: &Path, sets: &[String]) -> Result<(T, String)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut table: toml::Table =
        toml::from_str(&text).with_context(|| format!("{}: not valid TOML", path.display()))?;
    let mut seen: Vec<&str> = Vec::new();
    for s in sets {
        let (k, v) = s.split_once('=').with_context(|| format!("--set {s}: expected key=value"))?;
        let k = k.trim();
        if seen.contains(&k) {
            bail!("--set {k}: given twice; give each key once");
        }
        seen.push(k);
        set(&mut table, k, v.trim())?;
    }
    // where a problem comes from: the file, or the file as --set changed it
    let origin = if sets.is_empty() {
        path.display().to_string()
    } else {
        format!("{} with --set {}", path.display(), sets.join(" --set "))
    };
    // the key of a type error, by its path in the table (`train.epochs`)
    let spec: T = serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.into_inner();
        anyhow::anyhow!("{origin}: {key}: {}", inner.message())
    })?;
    Ok((spec, origin))
}

/// Reads a spec file, applies `--set key=value` overrides, and validates it.
pub fn load(path: &Path, sets: &[String]) -> Result<Spec> {
    let (spec, origin): (Spec, String) = read(path, sets)?;
    spec.validate().with_context(|| origin.clone())?;
    Ok(spec)
}

impl OptimSpec {
    /// Range checks of the optimizer's values; `key` is the section's name
    /// in messages (`optim`, `optim.generator`).
    pub fn validate(&self, key: &str) -> Result<()> {
        let pos = |k: &str, v: f64| -> Result<()> {
            if !(v.is_finite() && v > 0.0) {
                bail!("{key}.{k} = {v}: must be a positive number");
            }
            Ok(())
        };
        pos("lr", self.lr)?;
        pos("eps", self.eps)?;
        if !(0.0..1.0).contains(&self.momentum) {
            bail!("{key}.momentum = {}: must be in [0, 1)", self.momentum);
        }
        for (i, b) in self.betas.iter().enumerate() {
            if !(0.0..1.0).contains(b) {
                bail!("{key}.betas[{i}] = {b}: must be in [0, 1)");
            }
        }
        if self.weight_decay < 0.0 {
            bail!("{key}.weight_decay = {}: must be ≥ 0", self.weight_decay);
        }
        if let Some(c) = self.clip_norm {
            pos("clip_norm", c)?;
        }
        Ok(())
    }
}

impl Spec {
    /// Range checks and cross-field rules; names the key and what is allowed.
    pub fn validate(&self) -> Result<()> {
        self.optim.validate("optim")?;
        if let Some(a) = &self.adversarial {
            a.validate()?;
        }
        if !(0.0..=1.0).contains(&self.data.corrupt_labels) {
            bail!("data.corrupt_labels = {}: must be in [0, 1]", self.data.corrupt_labels);
        }
        if !(0.0..1.0).contains(&self.data.val_fraction) {
            bail!("data.val_fraction = {}: must be in [0, 1)", self.data.val_fraction);
        }
        if !(0.0..=1.0).contains(&self.train.label_smoothing) {
            bail!("train.label_smoothing = {}: must be in [0, 1]", self.train.label_smoothing);
        }
        if self.train.batch_size == 0 {
            bail!("train.batch_size = 0: must be at least 1");
        }
        let f = self.train.diverge_factor;
        if !(f == 0.0 || (f.is_finite() && f > 1.0)) {
            bail!("train.diverge_factor = {f}: must be 0 (off) or a number above 1");
        }
        if self.train.sharpness_batch == 0 {
            bail!("train.sharpness_batch = 0: must be at least 1");
        }
        if self.train.eval_every == 0 {
            bail!("train.eval_every = 0: must be at least 1");
        }
        match (self.train.epochs, self.train.steps) {
            (None, None) => bail!("train: give epochs or steps"),
            (Some(_), Some(_)) => bail!("train: give epochs or steps, not both"),
            (Some(0), _) | (_, Some(0)) => bail!("train: epochs/steps must be at least 1"),
            _ => {}
        }
        if self.model.kind == ModelKind::Cnn && self.model.channels.is_empty() {
            bail!("model.channels: a cnn needs at least one convolution, e.g. channels = [32, 64]");
        }
        if self.model.hidden.contains(&0) || self.model.channels.contains(&0) {
            bail!("model: widths and channels must be at least 1");
        }
        if self.data.name == DataName::Npz {
            match &self.data.path {
                None => bail!("data.path: the npz data set needs a file"),
                Some(p) if !p.is_file() => bail!("data.path = {}: no such file", p.display()),
                _ => {}
            }
        }
        if let (DataName::FashionMnist, Some(p)) = (self.data.name, &self.data.path) {
            if !p.is_dir() {
                bail!("data.path = {}: no such directory", p.display());
            }
        }
        match self.schedule.kind {
            ScheduleKind::Step if self.schedule.every.unwrap_or(0) == 0 => {
                bail!("schedule.every: the step schedule needs every ≥ 1")
            }
            ScheduleKind::Step | ScheduleKind::Multistep | ScheduleKind::Exponential => {
                let g = self.schedule.gamma.unwrap_or(f64::NAN);
                if !(g > 0.0 && g <= 1.0) {
                    bail!("schedule.gamma = {g}: must be in (0, 1] for this schedule");
                }
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--set` values: TOML, a bare word as a string, comma-separated values as a list.
    #[test]
    fn set_values_are_toml_words_or_comma_lists() {
        let mut t = toml::Table::new();
        let get = |t: &toml::Table, k: &str| t["s"][k].clone();
        for (v, want) in [
            ("16,32", toml::Value::Array(vec![16.into(), 32.into()])),
            ("[16, 32]", toml::Value::Array(vec![16.into(), 32.into()])),
            ("0.1,0.3", toml::Value::Array(vec![0.1.into(), 0.3.into()])),
            ("1e-3", 1e-3.into()),
            ("adam", "adam".into()),
            ("a,b", "a,b".into()),
            ("true", true.into()),
        ] {
            set(&mut t, "s.k", v).unwrap();
            assert_eq!(get(&t, "k"), want, "--set s.k={v}");
        }
        set(&mut t, "s.k", "").unwrap();
        assert!(!t["s"].as_table().unwrap().contains_key("k"), "an empty value removes the key");
    }
}
