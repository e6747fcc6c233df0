//! The evaluator: mean loss and accuracy of a classifier over a whole data
//! set, in evaluation mode, without building a graph.

use odl_autodiff::{no_grad, Tensor};
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
pub fn evaluate(model: &mut dyn Module, data: &Dataset, in_shape: Option<&[usize]>, smoothing: f64) -> Eval {
    no_grad(|| {
        let (mut loss, mut correct) = (0.0, 0usize);
        let all: Vec<usize> = (0..data.len()).collect();
        for chunk in all.chunks(EVAL_CHUNK) {
            let b = data.subset(chunk);
            let logits = model.forward(&model_input(&b.x, in_shape), &mut Ctx::eval());
            loss += cross_entropy_smoothed(&logits, b.labels(), smoothing).item() * chunk.len() as f64;
            correct += accuracy_count(&logits, b.labels());
        }
        let n = data.len().max(1) as f64;
        Eval { loss: loss / n, accuracy: correct as f64 / n }
    })
}

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
