//! Inputs of the workloads: drawn from odl's seeded RNG with the distributions
//! of `docs/workloads.md`, or loaded exactly from `scripts/peers.py --dump DIR` files so
//! that `check` can be compared with PyTorch and JAX.

use std::path::Path;

use anyhow::{Context, Result};
use odl_tensor::npy::Npz;
use odl_tensor::{Array, DType, Rng};

/// Where the starting values come from.
pub enum Source<'a> {
    /// odl's own RNG, seeded with the workload number.
    Random,
    /// `DIR/<W>.npz` written by `scripts/peers.py --dump DIR`.
    Dump(&'a Path),
}

/// A linear layer's weight `[out, in]` and bias `[out]`.
pub type Layer = (Array, Array);

/// Opens `DIR/<wl>.npz`, with a message that says how to make it.
pub fn open_dump(dir: &Path, wl: &str) -> Result<Npz> {
    let path = dir.join(format!("{wl}.npz"));
    if !path.exists() {
        anyhow::bail!(
            "{} does not exist; write it with: python scripts/peers.py --workload {wl} --dump {}",
            path.display(),
            dir.display()
        );
    }
    Ok(Npz::open(&path)?)
}

/// PyTorch's default init for a linear layer `in→out`.
fn torch_linear(rng: &mut Rng, fan_in: usize, fan_out: usize) -> Layer {
    let bnd = 1.0 / (fan_in as f64).sqrt();
    (rng.uniform(&[fan_out, fan_in], -bnd, bnd, DType::F32), rng.uniform(&[fan_out], -bnd, bnd, DType::F32))
}

/// The layers of an MLP with the given sizes: random, or `prefix.i.0`/`prefix.i.1` of a dump.
pub fn mlp(
    src: &Source,
    npz: Option<&Npz>,
    prefix: &str,
    sizes: &[usize],
    rng: &mut Rng,
) -> Result<Vec<Layer>> {
    sizes
        .windows(2)
        .enumerate()
        .map(|(i, w)| match src {
            Source::Random => Ok(torch_linear(rng, w[0], w[1])),
            Source::Dump(_) => {
                let npz = npz.expect("dump open");
                let wt = npz.array(&format!("{prefix}.{i}.0"), DType::F32, Some(&[w[1], w[0]]))?;
                let b = npz.array(&format!("{prefix}.{i}.1"), DType::F32, Some(&[w[1]]))?;
                Ok((wt, b))
            }
        })
        .collect()
}

/// A batch `x ~ N(0,1)` of the given shape and labels in `0..10`.
pub fn batch(src: &Source, npz: Option<&Npz>, shape: &[usize], rng: &mut Rng) -> Result<(Array, Vec<usize>)> {
    match src {
        Source::Random => {
            let x = rng.normal(shape, 0.0, 1.0, DType::F32);
            let y = (0..shape[0]).map(|_| rng.below(10)).collect();
            Ok((x, y))
        }
        Source::Dump(_) => {
            let npz = npz.expect("dump open");
            let x = npz.array("x", DType::F32, Some(shape))?;
            let y = npz.indices("y", Some(10))?;
            anyhow::ensure!(y.len() == shape[0], "y has {} labels for a batch of {}", y.len(), shape[0]);
            Ok((x, y))
        }
    }
}

/// Opens the dump for `wl` when the source is a dump.
pub fn maybe_open(src: &Source, wl: &str) -> Result<Option<Npz>> {
    match src {
        Source::Random => Ok(None),
        Source::Dump(dir) => {
            open_dump(dir, wl).map(Some).with_context(|| format!("loading the inputs of {wl}"))
        }
    }
}
