//! The evaluator: mean loss and accuracy of a classifier over a whole data
//! set, in evaluation mode, without building a graph.

use std::sync::Mutex;

use odl_autodiff::{no_grad, par_map, Tensor};
use odl_data::Dataset;
use odl_nn::{cross_entropy_smoothed, Ctx, Module};

use crate::data::model_input;

/// Examples per forward pass of the evaluator.
pub const EVAL_CHUNK: usize = 1000;

/// A model's loss and accuracy on a data set.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Eval {
    /// mean (label-smoothed) cross-entropy
    pub loss: f64,
    /// fraction of examples whose largest logit is at the label
    pub accuracy: f64,
}

/// Mean cross-entropy (with label smoothing `smoothing`) and accuracy of
/// `model` on `data`, in evaluation mode, [`EVAL_CHUNK`] examples at a time;
/// `in_shape` is one example's shape as the model sees it (`None`: flat).
/// The chunks run side by side on the compute threads, each run of
/// consecutive chunks on a replica of the model (evaluation never couples
/// examples); the sums are taken in chunk order whatever the thread count.
pub fn evaluate(model: &mut dyn Module, data: &Dataset, in_shape: Option<&[usize]>, smoothing: f64) -> Eval {
    let all: Vec<usize> = (0..data.len()).collect();
    let chunks: Vec<&[usize]> = all.chunks(EVAL_CHUNK).collect();
    let one = |m: &mut dyn Module, chunk: &[usize]| {
        let b = data.subset(chunk);
        let logits = m.forward(&model_input(&b.x, in_shape), &mut Ctx::eval());
        (
            cross_entropy_smoothed(&logits, b.labels(), smoothing).item() * chunk.len() as f64,
            accuracy_count(&logits, b.labels()),
        )
    };
    let groups = odl_tensor::num_threads().min(chunks.len());
    let per_chunk: Vec<(f64, usize)> = no_grad(|| {
        if groups <= 1 {
            return chunks.iter().map(|c| one(model, c)).collect();
        }
        let work: Vec<Group<'_>> = (0..groups)
            .map(|g| {
                (
                    &chunks[g * chunks.len() / groups..(g + 1) * chunks.len() / groups],
                    Mutex::new(model.replica()),
                )
            })
            .collect();
        par_map(&work, &|(cs, m)| {
            let mut m = m.lock().unwrap_or_else(|e| e.into_inner());
            cs.iter().map(|c| one(&mut **m, c)).collect::<Vec<_>>()
        })
        .into_iter()
        .flatten()
        .collect()
    });
    let (mut loss, mut correct) = (0.0, 0usize);
    for (l, c) in per_chunk {
        loss += l;
        correct += c;
    }
    let n = data.len().max(1) as f64;
    Eval { loss: loss / n, accuracy: correct as f64 / n }
}

/// A run of consecutive chunks and the replica that evaluates it.
type Group<'a> = (&'a [&'a [usize]], Mutex<Box<dyn Module>>);

/// How many rows of `logits` have their (first) largest entry at the label.
pub fn accuracy_count(logits: &Tensor, labels: &[usize]) -> usize {
    let k = logits.shape()[1];
    let v = logits.to_vec_f64();
    labels
        .iter()
        .enumerate()
        .filter(|(i, &l)| {
            let row = &v[i * k..(i + 1) * k];
            let arg = (0..k).fold(0, |b, j| if row[j] > row[b] { j } else { b });
            arg == l
        })
        .count()
}
