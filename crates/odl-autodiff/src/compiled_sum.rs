//! [`value_and_grad_of_sum`](crate::value_and_grad_of_sum) traced once and
//! replayed: a training step's loss over a batch cut into shards, each
//! shard's loss and gradient a [`Compiled`] step that takes the parameters
//! and the shard's data (inputs, one-hot targets) as inputs. The shards
//! replay side by side on the compute threads, the gradients are added as
//! the eager version adds them, so the two agree bit for bit.

use std::collections::HashMap;
use std::sync::Mutex;

use odl_tensor::Array;

use crate::compile::{CompileError, Compiled};
use crate::functional::{grad, weighted_sum};
use crate::tensor::{par_map, Tensor};

/// Compiled shard steps, traced on first sight of a shard's data shapes.
/// See the module docs.
#[derive(Default)]
pub struct CompiledSum {
    /// traced steps by (shard index, the shapes of its data)
    traced: HashMap<(usize, Vec<Vec<usize>>), Mutex<Compiled>>,
    refused: Option<CompileError>,
}

/// One shard: its weight and its data arrays.
pub type Term = (f64, Vec<Array>);

/// A shard's weight, its traced step and its data.
type Replay<'a> = (f64, (&'a Mutex<Compiled>, &'a Vec<Array>));

impl CompiledSum {
    /// Nothing traced yet.
    pub fn new() -> CompiledSum {
        CompiledSum::default()
    }

    /// Why the loss could not be compiled (then every call returns `None`).
    pub fn refused(&self) -> Option<&CompileError> {
        self.refused.as_ref()
    }

    /// `Σ_k w_k L_k` and its gradient in `wrt`, with `L_k = loss(data_k)` for
    /// `terms = [(w_k, data_k)]`: `loss` gets the data as tensors and reaches
    /// the parameters `wrt` however it likes (through a model). A shard is
    /// traced the first time its index and data shapes are seen (the last,
    /// smaller batch of an epoch is traced once more) and replayed after
    /// that with the current values of `wrt`. `None` when the loss cannot be
    /// compiled ([`CompiledSum::refused`] says why): the caller runs eagerly.
    /// `loss` must be a pure function of `wrt` and the data: a replay does
    /// not call it.
    pub fn value_and_grad(
        &mut self,
        terms: &[Term],
        wrt: &[&Tensor],
        loss: &dyn Fn(&[Tensor]) -> Tensor,
    ) -> Option<(f64, Vec<Array>)> {
        if self.refused.is_some() {
            return None;
        }
        let keys: Vec<(usize, Vec<Vec<usize>>)> = terms
            .iter()
            .enumerate()
            .map(|(k, (_, data))| (k, data.iter().map(|a| a.shape().to_vec()).collect()))
            .collect();
        for ((_, data), key) in terms.iter().zip(&keys) {
            if self.traced.contains_key(key) {
                continue;
            }
            match trace(data, wrt, loss) {
                Ok(c) => {
                    self.traced.insert(key.clone(), Mutex::new(c));
                }
                Err(e) => {
                    self.traced.clear();
                    self.refused = Some(e);
                    return None;
                }
            }
        }
        let values: Vec<&Array> = wrt.iter().map(|t| t.value()).collect();
        let work: Vec<Replay<'_>> =
            terms.iter().zip(&keys).map(|((w, data), key)| (*w, (&self.traced[key], data))).collect();
        let parts = par_map(&work, &|(w, (c, data))| {
            let mut c = c.lock().unwrap_or_else(|e| e.into_inner());
            for (i, v) in values.iter().enumerate() {
                c.set_input(i, (*v).clone());
            }
            for (j, a) in data.iter().enumerate() {
                c.set_input(values.len() + j, a.clone());
            }
            c.replay();
            c.release_inputs();
            let l = c.output(0).item();
            let g: Vec<Array> = (1..=values.len()).map(|i| c.take_output(i)).collect();
            (*w, l, g)
        });
        let value = parts.iter().map(|(w, l, _)| w * l).sum();
        Some((value, weighted_sum(parts.into_iter().map(|(w, _, g)| (w, g)).collect())))
    }
}

/// One shard's step: inputs `wrt ++ data`, outputs the loss and its gradient.
fn trace(
    data: &[Array],
    wrt: &[&Tensor],
    loss: &dyn Fn(&[Tensor]) -> Tensor,
) -> Result<Compiled, CompileError> {
    let leaves: Vec<Tensor> = data.iter().map(|a| Tensor::constant(a.clone())).collect();
    let inputs: Vec<Tensor> = wrt.iter().map(|&t| t.clone()).chain(leaves.iter().cloned()).collect();
    Compiled::trace_with(&inputs, || {
        let l = loss(&leaves);
        assert_eq!(l.numel(), 1, "CompiledSum: the loss must be a scalar, got shape {:?}", l.shape());
        let mut out = vec![l.clone()];
        out.extend(grad(&l, wrt));
        out
    })
}
