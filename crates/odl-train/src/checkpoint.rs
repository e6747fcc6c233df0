//! Checkpoints: one `.npz` that numpy reads, with the keys `param.<name>`
//! (PyTorch-style names such as `param.0.weight`), `buffer.<name>`
//! (BatchNorm's running statistics), `optim.<name>` (optimizer state, e.g.
//! `optim.1.m.0`) and `meta.step`. Written under a temporary name and
//! renamed, so a crash never leaves half a file.

use std::path::Path;

use anyhow::{bail, Context, Result};
use odl_nn::{Module, Sequential};
use odl_optim::{Chain, Transform};
use odl_tensor::npy::{write_npz, NpyValue, Npz};
use odl_tensor::DType;

/// The checkpoint's file name in a run folder.
pub const FILE: &str = "checkpoint.npz";

/// Writes `out/checkpoint.npz` for `model` and `opt` after `step` steps
/// (with the run's first loss, the reference of its divergence test).
pub fn save(out: &Path, model: &Sequential, opt: &Chain, step: usize, first_loss: Option<f64>) -> Result<()> {
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
    if let Some(l) = first_loss {
        entries.push(("meta.first_loss".into(), NpyValue::from(&odl_tensor::Array::scalar(l, DType::F64))));
    }
    let tmp = out.join(format!("{FILE}.tmp"));
    write_npz(&tmp, entries.iter().map(|(k, v)| (k.as_str(), v.clone())))?;
    std::fs::rename(&tmp, out.join(FILE)).with_context(|| format!("writing {}", out.join(FILE).display()))?;
    Ok(())
}

/// Parameters (`param.<name>`) and buffers (`buffer.<name>`) from a
/// checkpoint, checked against the model's names and shapes.
pub fn load_model_state(npz: &Npz, model: &mut Sequential) -> Result<()> {
    load_model_state_at(npz, "", model)
}

/// [`load_model_state`] for keys under `prefix` (`generator.` reads
/// `generator.param.<name>` and `generator.buffer.<name>`): one file
/// holding several models.
pub fn load_model_state_at(npz: &Npz, prefix: &str, model: &mut Sequential) -> Result<()> {
    let shapes: Vec<(String, Vec<usize>, DType)> =
        model.named_params().into_iter().map(|(n, t)| (n, t.shape().to_vec(), t.dtype())).collect();
    let mut values = Vec::new();
    for (n, s, d) in &shapes {
        values.push(npz.array(&format!("{prefix}param.{n}"), *d, Some(s))?);
    }
    model.set_param_values(values);
    let names: Vec<(String, Vec<usize>, DType)> =
        model.named_buffers().into_iter().map(|(n, a)| (n, a.shape().to_vec(), a.dtype())).collect();
    for ((n, s, d), b) in names.iter().zip(model.buffers_mut()) {
        *b = npz.array(&format!("{prefix}buffer.{n}"), *d, Some(s))?;
    }
    Ok(())
}

/// The step a checkpoint was written at (`meta.step`, one integer).
pub fn step_of(npz: &Npz, path: &Path) -> Result<usize> {
    let steps = npz.indices("meta.step", None)?;
    match steps.as_slice() {
        [s] => Ok(*s),
        other => bail!(
            "{}: meta.step holds {} values; a checkpoint has exactly one step",
            path.display(),
            other.len()
        ),
    }
}

/// Restores `model` and `opt` from `out/checkpoint.npz`; returns its step
/// and the run's first loss.
pub fn load(out: &Path, model: &mut Sequential, opt: &mut Chain) -> Result<(usize, Option<f64>)> {
    let path = out.join(FILE);
    let npz = Npz::open(&path).context("--resume")?;
    let step = step_of(&npz, &path)?;
    load_model_state(&npz, model)?;
    let mut state = Vec::new();
    for k in npz.keys() {
        if let Some(rest) = k.strip_prefix("optim.") {
            state.push((rest.to_string(), npz.value(k)?.to_array()));
        }
    }
    opt.load_state(&state).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let first = if npz.keys().any(|k| k == "meta.first_loss") {
        Some(npz.array("meta.first_loss", DType::F64, Some(&[]))?.item())
    } else {
        None
    };
    Ok((step, first))
}
