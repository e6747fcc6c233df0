//! A GAN run's checkpoint: one `.npz` with both players' parameters and
//! buffers (`generator.param.0.weight`, `discriminator.buffer.0.u`, …),
//! both optimizers' state (`optim.generator.…`), the generator's moving
//! average (`ema.<name>`) and `meta.step`. Written under a temporary name
//! and renamed, so a crash never leaves half a file.

use std::path::Path;

use anyhow::{Context, Result};
use odl_nn::{Module, Sequential};
use odl_optim::{Chain, Transform};
use odl_tensor::npy::{write_npz, NpyValue, Npz};
use odl_tensor::Array;

/// The checkpoint's file name in a run folder.
pub const FILE: &str = "checkpoint.npz";

/// Both players, their optimizers and the generator's average.
pub struct State<'a> {
    /// the generator
    pub g: &'a mut Sequential,
    /// the discriminator
    pub d: &'a mut Sequential,
    /// the generator's optimizer
    pub opt_g: &'a mut Chain,
    /// the discriminator's optimizer
    pub opt_d: &'a mut Chain,
    /// the generator's moving average (empty when off)
    pub ema: &'a mut Vec<Array>,
}

fn entries(prefix: &str, net: &Sequential, opt: &Chain, out: &mut Vec<(String, NpyValue)>) {
    for (n, t) in net.named_params() {
        out.push((format!("{prefix}.param.{n}"), NpyValue::from(t.value())));
    }
    for (n, b) in net.named_buffers() {
        out.push((format!("{prefix}.buffer.{n}"), NpyValue::from(b)));
    }
    for (n, a) in opt.state() {
        out.push((format!("optim.{prefix}.{n}"), NpyValue::from(&a)));
    }
}

/// Writes `out/checkpoint.npz` after `step` generator steps.
pub fn save(out: &Path, s: &State, step: usize) -> Result<()> {
    let mut e: Vec<(String, NpyValue)> = Vec::new();
    entries("generator", s.g, s.opt_g, &mut e);
    entries("discriminator", s.d, s.opt_d, &mut e);
    for ((n, _), a) in s.g.named_params().into_iter().zip(s.ema.iter()) {
        e.push((format!("ema.{n}"), NpyValue::from(a)));
    }
    e.push(("meta.step".into(), NpyValue::ints(vec![step as i64], &[])));
    let tmp = out.join(format!("{FILE}.tmp"));
    write_npz(&tmp, e.iter().map(|(k, v)| (k.as_str(), v.clone())))?;
    std::fs::rename(&tmp, out.join(FILE)).with_context(|| format!("writing {}", out.join(FILE).display()))?;
    Ok(())
}

fn restore(npz: &Npz, prefix: &str, net: &mut Sequential, opt: &mut Chain, path: &Path) -> Result<()> {
    odl_train::checkpoint::load_model_state_at(npz, &format!("{prefix}."), net)?;
    let key = format!("optim.{prefix}.");
    let mut state = Vec::new();
    for k in npz.keys() {
        if let Some(rest) = k.strip_prefix(&key) {
            state.push((rest.to_string(), npz.value(k)?.to_array()));
        }
    }
    opt.load_state(&state).map_err(|e| anyhow::anyhow!("{}: {prefix}'s optimizer: {e}", path.display()))
}

/// Restores everything from `out/checkpoint.npz`; returns its step.
pub fn load(out: &Path, s: &mut State) -> Result<usize> {
    let path = out.join(FILE);
    let npz = Npz::open(&path).context("--resume")?;
    let step = odl_train::checkpoint::step_of(&npz, &path)?;
    restore(&npz, "generator", s.g, s.opt_g, &path)?;
    restore(&npz, "discriminator", s.d, s.opt_d, &path)?;
    if !s.ema.is_empty() {
        let shapes: Vec<(String, Vec<usize>, odl_tensor::DType)> =
            s.g.named_params().into_iter().map(|(n, t)| (n, t.shape().to_vec(), t.dtype())).collect();
        let mut ema = Vec::new();
        for (n, sh, d) in &shapes {
            ema.push(npz.array(&format!("ema.{n}"), *d, Some(sh))?);
        }
        *s.ema = ema;
    }
    Ok(step)
}
