//! A run rebuilt for probing: its spec, data and network, with the trained
//! parameters from `checkpoint.npz`.

use std::path::Path;

use anyhow::{bail, Result};
use odl_autodiff::Tensor;
use odl_data::Dataset;
use odl_nn::{Module, Sequential};
use odl_tensor::npy::Npz;
use odl_tensor::{Array, DType, Rng};

use crate::data::model_input;
use crate::spec::Spec;
use crate::{build, checkpoint, data};

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
    /// how the data's own units were normalized for the model
    pub scaling: data::Scaling,
    /// whether parameters came from a checkpoint
    pub trained: bool,
    /// the parameters the run started from (the spec's seeded initialization)
    pub initial: Vec<Array>,
}

/// Rebuilds a run for probing; `target` is a run folder or a spec file. A
/// run folder without `checkpoint.npz` is an error unless `fresh` (probe
/// the spec's initialization instead).
pub fn restore(target: &Path, sets: &[String], fresh: bool) -> Result<Restored> {
    let (spec_path, ckpt) = if target.is_dir() {
        let s = target.join("spec.toml");
        if !s.exists() {
            bail!(
                "{}: not a run folder (no spec.toml); give a run folder from `odl train` or a spec file",
                target.display()
            );
        }
        let ckpt = target.join(checkpoint::FILE);
        if !ckpt.exists() && !fresh {
            bail!(
                "{}: the run folder holds no {} (the run never reached an evaluation step); \
                 give --fresh to probe the spec's initialization instead",
                target.display(),
                checkpoint::FILE
            );
        }
        (s, Some(ckpt).filter(|c| c.exists() && !fresh))
    } else if target.exists() {
        (target.to_path_buf(), None)
    } else {
        bail!("{}: no such run folder or spec file", target.display());
    };
    let spec = crate::spec::load(&spec_path, sets)?;
    let (train, _, test, scaling) = data::load_scaled(&spec)?;
    let in_shape = data::example_shape(&spec, &train)?;
    let classes = train.classes().max(test.classes());
    let mut model = build::model(&spec, &in_shape, classes, &mut Rng::seed(spec.seed))?;
    let initial = model.param_values();
    // the checkpoint a finished run recorded must be the one on disk
    if let (Some(c), Ok(text)) = (&ckpt, std::fs::read_to_string(target.join("summary.json"))) {
        let recorded = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("checkpoint").and_then(|c| c.as_str()).map(str::to_string));
        if let Some(want) = recorded {
            let now = crate::files::checksum(c)?;
            if now != want {
                bail!(
                    "{}: changed since the run finished ({now}; its summary.json recorded {want}); train again or give --fresh",
                    c.display()
                );
            }
        }
    }
    let trained = if let Some(c) = &ckpt {
        let npz = Npz::open(c)?;
        checkpoint::load_model_state(&npz, &mut model)?;
        true
    } else {
        false
    };
    Ok(Restored { spec, model, in_shape, train, test, scaling, trained, initial })
}

impl Restored {
    /// Inputs of examples `idx` of `data`, shaped for the model, in `dtype`.
    pub fn inputs(&self, data: &Dataset, idx: &[usize], dtype: DType) -> (Tensor, Vec<usize>) {
        let b = data.subset(idx);
        (model_input(&b.x.cast(dtype), Some(&self.in_shape)), b.labels().to_vec())
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
