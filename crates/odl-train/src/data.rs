//! A spec's data sets (train, validation, test) and batches shaped for a
//! model.

use anyhow::{bail, Context, Result};
use odl_autodiff::Tensor;
use odl_data::synthetic::{gaussian_mixture, two_moons};
use odl_data::{fashion_mnist, fashion_mnist_subset, mnist1d, Dataset, Mnist1dConfig};
use odl_tensor::{Array, DType};

use crate::spec::{DataName, ModelKind, Spec};

/// The data a spec asks for: `(train, validation, test)`, f32, altered and
/// normalized as the spec says.
pub fn load(spec: &Spec) -> Result<(Dataset, Option<Dataset>, Dataset)> {
    load_scaled(spec).map(|(tr, val, te, _)| (tr, val, te))
}

/// How the model's inputs relate to the data's own units: `model = (raw −
/// mean) / std` (the identity when the spec does not normalize).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scaling {
    /// subtracted first
    pub mean: f64,
    /// then divided by
    pub std: f64,
}

impl Scaling {
    /// No change.
    pub const IDENTITY: Scaling = Scaling { mean: 0.0, std: 1.0 };

    /// Model inputs back in the data's own units, `model·std + mean`
    /// (rounded to f32: clip to the data's box where that matters).
    pub fn to_data(&self, model: &[f32]) -> Vec<f32> {
        model.iter().map(|&u| (u as f64 * self.std + self.mean) as f32).collect()
    }

    /// Data-unit values as the model sees them, `(raw − mean)/std`.
    pub fn to_model(&self, raw: &[f32]) -> Vec<f32> {
        raw.iter().map(|&u| ((u as f64 - self.mean) / self.std) as f32).collect()
    }
}

/// [`load`], and the [`Scaling`] it applied.
pub fn load_scaled(spec: &Spec) -> Result<(Dataset, Option<Dataset>, Dataset, Scaling)> {
    let d = &spec.data;
    let (mut train, mut test) = match d.name {
        DataName::FashionMnist => fashion_mnist(d.path.as_deref()).context(
            "data.name = \"fashion-mnist\" reads Debian's dataset-fashion-mnist; \
             without it, name = \"fashion-mnist-subset\" trains on the 10 000 + 2 000 images odl ships",
        )?,
        DataName::FashionMnistSubset => fashion_mnist_subset(),
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
    let mut scaling = Scaling::IDENTITY;
    if d.normalize {
        let (m, s) = train.normalize();
        test.normalize_with(m, s);
        scaling = Scaling { mean: m, std: s };
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
    Ok((train, val, test, scaling))
}

/// The input shape a spec's model sees for one example: flat vectors for
/// MLPs, images as `[1, 28, 28]`, 1-d signals (MNIST-1D) as `[1, 1, length]`
/// for convolutions.
pub fn example_shape(spec: &Spec, data: &Dataset) -> Result<Vec<usize>> {
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

/// Examples `x: [n, …]` as a model's input `[n, …in_shape]` (a constant);
/// `None` flattens each example (`[n, d]`, for MLPs).
pub fn model_input(x: &Array, in_shape: Option<&[usize]>) -> Tensor {
    let n = x.shape()[0];
    let shape = match in_shape {
        None => vec![n, x.numel() / n.max(1)],
        Some(s) => std::iter::once(n).chain(s.iter().copied()).collect(),
    };
    Tensor::constant(x.reshape(&shape))
}

/// Labels as one-hot rows `[n, k]` of `dtype` (the targets of a compiled step).
pub fn one_hot(labels: &[usize], k: usize, dtype: DType) -> Array {
    let mut v = vec![0.0; labels.len() * k];
    for (i, &l) in labels.iter().enumerate() {
        v[i * k + l] = 1.0;
    }
    Array::from_f64(&v, &[labels.len(), k], dtype)
}
