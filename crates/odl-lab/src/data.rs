//! Data for the lab's classifiers: real Fashion-MNIST images everywhere.
//!
//! * `tiny` and `quick` scales draw from the subset odl ships (the first
//!   10 000 training and 2 000 test images, [`odl_data::fashion_mnist_subset`]),
//!   so every machine — with or without Debian's `dataset-fashion-mnist` —
//!   runs the same lab on the same images, and the tests see what CI sees;
//! * `full` draws from the whole data set when the package is installed (or
//!   `ODL_FASHION_MNIST` points at its files); without it, from the shipped
//!   subset when that holds enough images (said in the report), else it
//!   stops with a message naming the package and the parameter.
//!
//! Each experiment's draw is a seeded subset, so different seeds see
//! different examples; inputs are normalized with the training set's mean
//! and standard deviation.

use std::path::Path;

use anyhow::{bail, Result};
use odl_autodiff::Tensor;
use odl_data::{fashion_mnist, fashion_mnist_subset, Dataset, SUBSET_TEST, SUBSET_TRAIN};
use odl_tensor::{Array, DType, Rng};
use odl_train::data::Scaling;

use crate::experiment::{Outcome, Run, Scale};

/// Where a lab data set came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// the subset shipped inside odl
    Subset,
    /// the whole data set from Debian's package
    Full,
}

/// A normalized train/test pair and where it came from.
pub struct LabData {
    /// training examples (f32, normalized)
    pub train: Dataset,
    /// test examples (normalized with the training statistics)
    pub test: Dataset,
    /// input features per example
    pub d: usize,
    /// number of classes
    pub classes: usize,
    /// the pool the examples were drawn from
    pub source: Source,
    /// a sentence for the report: which data, how many examples
    pub description: String,
    /// a remark when the full data set was asked for but not found
    pub note: Option<String>,
    /// the pixel mean subtracted from every input (`normalized = (pixel − mean)/std`)
    pub mean: f64,
    /// the pixel standard deviation inputs were divided by
    pub std: f64,
}

impl LabData {
    /// The first `n` examples of `d` (a split of this data) in pixel units,
    /// clipped to [0, 1] against the normalization's rounding, with their
    /// labels: what attacks and certificates take.
    pub fn pixels(&self, d: &Dataset, n: usize) -> (Vec<f32>, Vec<usize>) {
        let n = n.min(d.len());
        let dim = d.x.numel() / d.len().max(1);
        let mut x = self.scaling().to_data(&d.x.to_vec_f32()[..n * dim]);
        x.iter_mut().for_each(|v| *v = v.clamp(0.0, 1.0));
        (x, d.labels()[..n].to_vec())
    }

    /// How model inputs relate to pixels.
    pub fn scaling(&self) -> Scaling {
        Scaling { mean: self.mean, std: self.std }
    }

    /// The data of a running experiment: `n_train` training and `n_test`
    /// test examples drawn with the experiment's seed from the pool its
    /// scale uses (see the module docs), recorded in `out` (the report says
    /// which data was used).
    pub fn load(r: &Run, out: &mut Outcome, n_train: usize, n_test: usize) -> Result<LabData> {
        let data = LabData::draw(r.scale, n_train, n_test, r.seed(), None)?;
        out.data = Some(data.description.clone());
        out.notes.extend(data.note.clone());
        Ok(data)
    }

    /// `n_train` + `n_test` examples for `scale`, drawn with `seed`;
    /// `debian` overrides where the package's files are looked for.
    pub fn draw(
        scale: Scale,
        n_train: usize,
        n_test: usize,
        seed: u64,
        debian: Option<&Path>,
    ) -> Result<LabData> {
        let fits = n_train <= SUBSET_TRAIN && n_test <= SUBSET_TEST;
        let (pool, source, note) = match scale {
            Scale::Tiny | Scale::Quick => {
                if !fits {
                    bail!(
                        "{n_train} training / {n_test} test examples: tiny and quick scales draw from the \
                         shipped Fashion-MNIST subset ({SUBSET_TRAIN} / {SUBSET_TEST}); use --scale full \
                         (with Debian's dataset-fashion-mnist) for more"
                    );
                }
                (fashion_mnist_subset(), Source::Subset, None)
            }
            Scale::Full => match fashion_mnist(debian) {
                Ok(all) => (all, Source::Full, None),
                Err(e) if fits => (
                    fashion_mnist_subset(),
                    Source::Subset,
                    Some(format!(
                        "Full scale reads Debian's dataset-fashion-mnist, which was not found ({e}); \
                         the examples were drawn from the subset odl ships instead."
                    )),
                ),
                Err(e) => bail!(
                    "{n_train} training / {n_test} test examples need the whole Fashion-MNIST, which was not \
                     found ({e}); install it (apt-get install dataset-fashion-mnist), or use at most \
                     {SUBSET_TRAIN} / {SUBSET_TEST} (--set n_train=…) to draw from the subset odl ships"
                ),
            },
        };
        let (all_train, all_test) = pool;
        // a seeded subset, so different seeds see different examples
        let pick = |d: &Dataset, n: usize, s: u64| {
            let idx: Vec<usize> = Rng::seed(s).permutation(d.len()).into_iter().take(n).collect();
            d.subset(&idx)
        };
        let (mut train, mut test) = (pick(&all_train, n_train, seed), pick(&all_test, n_test, seed ^ 0x7e57));
        train.cast(DType::F32);
        test.cast(DType::F32);
        let (m, s) = train.normalize();
        test.normalize_with(m, s);
        let d = train.x.numel() / train.len().max(1);
        let classes = train.classes().max(test.classes());
        let description = format!(
            "Fashion-MNIST, {} training and {} test images drawn (seed {seed}) from {}",
            train.len(),
            test.len(),
            match source {
                Source::Subset => "the subset odl ships (10 000 + 2 000 images)",
                Source::Full => "the whole data set (60 000 + 10 000 images, Debian's dataset-fashion-mnist)",
            }
        );
        Ok(LabData { train, test, d, classes, source, description, note, mean: m, std: s })
    }

    /// The training inputs as one flat batch `[n, d]` (a constant).
    pub fn train_x(&self) -> Tensor {
        odl_train::data::model_input(&self.train.x, None)
    }
}

/// The examples of classes `a` and `b`, relabelled 0 and 1.
pub fn two_classes(d: &Dataset, a: usize, b: usize) -> Dataset {
    let idx: Vec<usize> = (0..d.len()).filter(|&i| d.labels()[i] == a || d.labels()[i] == b).collect();
    let s = d.subset(&idx);
    let labels = s.labels().iter().map(|&l| usize::from(l == b)).collect();
    Dataset::classification(s.x.clone(), labels, 2)
}

/// Average-pools 28×28 images (`[n, 784]`) by `k` → `[n, (28/k)²]`.
pub fn pool(d: &Dataset, k: usize) -> Dataset {
    let n = d.len();
    let side = 28 / k;
    let x = d.x.to_vec_f32();
    let mut out = vec![0.0f32; n * side * side];
    for i in 0..n {
        for r in 0..28 {
            for c in 0..28 {
                out[i * side * side + (r / k) * side + c / k] += x[i * 784 + r * 28 + c] / (k * k) as f32;
            }
        }
    }
    Dataset::classification(Array::from_vec(out, &[n, side * side]), d.labels().to_vec(), 2)
}
