//! [`Dataset`]: inputs, targets, and the operations experiments need.

use std::path::Path;

use odl_tensor::npy::{NpyError, Npz};
use odl_tensor::{Array, DType, Rng};

/// What a data set asks a model to predict.
#[derive(Clone, Debug)]
pub enum Targets {
    /// class labels in `0..classes`
    Classes {
        /// one label per example
        labels: Vec<usize>,
        /// number of classes
        classes: usize,
    },
    /// real-valued targets, first axis = examples
    Values(Array),
}

/// Examples (first axis of `x`) with their targets.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// inputs, `[n, …]`
    pub x: Array,
    /// targets
    pub y: Targets,
}

/// One mini-batch.
#[derive(Clone, Debug)]
pub struct Batch {
    /// inputs `[b, …]`
    pub x: Array,
    /// targets of the batch
    pub y: Targets,
    /// indices of the examples in the data set
    pub index: Vec<usize>,
}

impl Batch {
    /// The class labels of the batch (empty for a regression set).
    pub fn labels(&self) -> &[usize] {
        match &self.y {
            Targets::Classes { labels, .. } => labels,
            Targets::Values(_) => &[],
        }
    }
}

impl Dataset {
    /// A classification set; checks that labels fit `classes`.
    #[track_caller]
    pub fn classification(x: Array, labels: Vec<usize>, classes: usize) -> Dataset {
        assert_eq!(
            x.shape().first().copied().unwrap_or(0),
            labels.len(),
            "Dataset: {} inputs, {} labels",
            x.shape()[0],
            labels.len()
        );
        assert!(labels.iter().all(|&l| l < classes), "Dataset: a label is ≥ {classes} classes");
        Dataset { x, y: Targets::Classes { labels, classes } }
    }

    /// A regression set.
    #[track_caller]
    pub fn regression(x: Array, y: Array) -> Dataset {
        assert_eq!(x.shape()[0], y.shape()[0], "Dataset: {} inputs, {} targets", x.shape()[0], y.shape()[0]);
        Dataset { x, y: Targets::Values(y) }
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.x.shape().first().copied().unwrap_or(0)
    }

    /// True when there are no examples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The class labels (panics for a regression set).
    #[track_caller]
    pub fn labels(&self) -> &[usize] {
        match &self.y {
            Targets::Classes { labels, .. } => labels,
            Targets::Values(_) => panic!("labels: this is a regression data set"),
        }
    }

    /// Number of classes (0 for a regression set).
    pub fn classes(&self) -> usize {
        match &self.y {
            Targets::Classes { classes, .. } => *classes,
            Targets::Values(_) => 0,
        }
    }

    /// The examples at `idx`, in that order.
    pub fn subset(&self, idx: &[usize]) -> Dataset {
        let y = match &self.y {
            Targets::Classes { labels, classes } => {
                Targets::Classes { labels: idx.iter().map(|&i| labels[i]).collect(), classes: *classes }
            }
            Targets::Values(v) => Targets::Values(v.take_rows(idx)),
        };
        Dataset { x: self.x.take_rows(idx), y }
    }

    /// The first `n` examples (all if fewer).
    pub fn take(&self, n: usize) -> Dataset {
        self.subset(&(0..n.min(self.len())).collect::<Vec<_>>())
    }

    /// A seeded random split into `(frac, 1 − frac)` of the examples.
    pub fn split(&self, frac: f64, seed: u64) -> (Dataset, Dataset) {
        let perm = Rng::seed(seed).permutation(self.len());
        let k = ((self.len() as f64) * frac).round() as usize;
        (self.subset(&perm[..k]), self.subset(&perm[k..]))
    }

    /// Mini-batches of size `batch` (the last may be smaller) in a seeded
    /// random order; the same seed gives the same batches.
    pub fn batches(&self, batch: usize, seed: u64) -> impl Iterator<Item = Batch> + '_ {
        assert!(batch > 0, "batches: batch size must be positive");
        let perm = Rng::seed(seed).permutation(self.len());
        let chunks: Vec<Vec<usize>> = perm.chunks(batch).map(|c| c.to_vec()).collect();
        chunks.into_iter().map(move |index| {
            let d = self.subset(&index);
            Batch { x: d.x, y: d.y, index }
        })
    }

    /// Standardizes inputs to mean 0 and standard deviation 1 with statistics
    /// `(mean, std)` over all input entries; returns them, so the same
    /// transform can be applied to a test set with [`Dataset::normalize_with`].
    pub fn normalize(&mut self) -> (f64, f64) {
        // one pass in the array's own type, accumulated in f64 (no copies)
        let (sum, sq, n) =
            match self.x.dtype() {
                DType::F32 => self.x.as_slice::<f32>().iter().fold((0.0, 0.0, 0usize), |(s, q, n), &v| {
                    (s + v as f64, q + (v as f64) * (v as f64), n + 1)
                }),
                DType::F64 => self
                    .x
                    .as_slice::<f64>()
                    .iter()
                    .fold((0.0, 0.0, 0usize), |(s, q, n), &v| (s + v, q + v * v, n + 1)),
            };
        let m = sum / n.max(1) as f64;
        let s = (sq / n.max(1) as f64 - m * m).max(0.0).sqrt().max(1e-12);
        self.normalize_with(m, s);
        (m, s)
    }

    /// `x ← (x − mean)/std`, in place.
    pub fn normalize_with(&mut self, mean: f64, std: f64) {
        match self.x.dtype() {
            DType::F32 => {
                let (m, s) = (mean as f32, std as f32);
                self.x.as_mut_slice::<f32>().iter_mut().for_each(|v| *v = (*v - m) / s);
            }
            DType::F64 => self.x.as_mut_slice::<f64>().iter_mut().for_each(|v| *v = (*v - mean) / std),
        }
    }

    /// Replaces a fraction `frac` of the labels, chosen at random, by uniformly
    /// random labels (Zhang et al. 2017's partially corrupted labels; `frac = 1`
    /// gives completely random labels). Returns how many labels changed.
    #[track_caller]
    pub fn corrupt_labels(&mut self, frac: f64, seed: u64) -> usize {
        assert!((0.0..=1.0).contains(&frac), "corrupt_labels: fraction {frac} outside [0, 1]");
        let Targets::Classes { labels, classes } = &mut self.y else {
            panic!("corrupt_labels: not a classification set")
        };
        let mut rng = Rng::seed(seed);
        let n = labels.len();
        let k = (n as f64 * frac).round() as usize;
        let chosen = rng.permutation(n);
        let mut changed = 0;
        for &i in &chosen[..k] {
            let new = rng.below(*classes);
            changed += usize::from(new != labels[i]);
            labels[i] = new;
        }
        changed
    }

    /// Applies one fixed random permutation to the features of every example
    /// (Zhang et al.'s shuffled pixels), from `seed`.
    pub fn shuffle_pixels(&mut self, seed: u64) {
        let n = self.len();
        let row: usize = self.x.shape()[1..].iter().product();
        let perm = Rng::seed(seed).permutation(row);
        let idx: Vec<usize> = (0..n).flat_map(|i| perm.iter().map(move |&p| i * row + p)).collect();
        self.x = self.x.take(&idx, self.x.shape());
    }

    /// Converts the inputs (and real targets) to `dtype`.
    pub fn cast(&mut self, dtype: DType) {
        self.x = self.x.cast(dtype);
        if let Targets::Values(v) = &mut self.y {
            *v = v.cast(dtype);
        }
    }

    /// Reads a data set from a `.npz` with inputs under `x_key` and integer
    /// labels under `y_key` (validated: counts agree, labels non-negative).
    pub fn from_npz(path: impl AsRef<Path>, x_key: &str, y_key: &str) -> Result<Dataset, NpyError> {
        let npz = Npz::open(path.as_ref())?;
        let xv = npz.value(x_key)?;
        let x = xv.to_array();
        let labels = npz.indices(y_key, None)?;
        if labels.len() != x.shape().first().copied().unwrap_or(0) {
            return Err(NpyError::Invalid {
                path: path.as_ref().into(),
                key: y_key.into(),
                detail: format!(
                    "{} labels for {} examples in '{x_key}'",
                    labels.len(),
                    x.shape().first().copied().unwrap_or(0)
                ),
            });
        }
        let classes = labels.iter().max().map_or(0, |m| m + 1);
        Ok(Dataset { x, y: Targets::Classes { labels, classes } })
    }
}
