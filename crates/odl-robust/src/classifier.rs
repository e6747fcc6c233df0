//! What an attack attacks: a map from a batch of inputs `[n, d]` in the
//! data's own units to logits `[n, k]`, and the evaluations every attack
//! needs (predictions, per-example losses and their input gradients).

use odl_autodiff::{grad, no_grad, Tensor};
use odl_nn::{Ctx, Module, Sequential};
use odl_tensor::{Array, DType};

use crate::losses::Loss;

/// A classifier of flat inputs in data units.
pub trait Classifier {
    /// Logits `[n, k]` of `x` (`[n, d]`), differentiable in `x`.
    fn logits(&mut self, x: &Tensor) -> Tensor;
}

impl<F: FnMut(&Tensor) -> Tensor> Classifier for F {
    fn logits(&mut self, x: &Tensor) -> Tensor {
        self(x)
    }
}

/// An odl-nn network in evaluation mode behind its input normalization:
/// `logits(x) = model(reshape((x − mean)/std, in_shape))`.
pub struct Net<'a> {
    /// the network
    pub model: &'a mut Sequential,
    /// one example's shape as the network sees it
    pub in_shape: Vec<usize>,
    /// subtracted from data-unit inputs
    pub mean: f64,
    /// then divided by
    pub std: f64,
}

impl Classifier for Net<'_> {
    fn logits(&mut self, x: &Tensor) -> Tensor {
        let n = x.shape()[0];
        let mut shape = vec![n];
        shape.extend(&self.in_shape);
        let z = if self.mean == 0.0 && self.std == 1.0 {
            x.reshape(&shape)
        } else {
            x.add_scalar(-self.mean).mul_scalar(1.0 / self.std).reshape(&shape)
        };
        self.model.forward(&z, &mut Ctx::eval())
    }
}

/// A batch as an f32 array `[n, d]`.
pub fn batch(x: &[f32], d: usize) -> Array {
    Array::from_vec(x.to_vec(), &[x.len() / d.max(1), d])
}

/// Logits of `x` (`[n, d]`) without a graph, as rows of f64.
pub fn logits_of(c: &mut dyn Classifier, x: &[f32], d: usize) -> Vec<Vec<f64>> {
    let z = no_grad(|| c.logits(&Tensor::constant(batch(x, d))));
    let k = z.shape()[1];
    z.value().to_vec_f64().chunks(k).map(<[f64]>::to_vec).collect()
}

/// The first index of the largest entry of each row.
pub fn argmax(rows: &[Vec<f64>]) -> Vec<usize> {
    rows.iter().map(|r| r.iter().enumerate().fold(0, |b, (i, &v)| if v > r[b] { i } else { b })).collect()
}

/// Predicted classes of `x`.
pub fn predict(c: &mut dyn Classifier, x: &[f32], d: usize) -> Vec<usize> {
    argmax(&logits_of(c, x, d))
}

/// What one forward and backward pass gives an attack.
pub struct Eval {
    /// the objective of each example (what the attack ascends)
    pub loss: Vec<f64>,
    /// its gradient with respect to each example's input, `[n·d]`
    pub grad: Vec<f32>,
    /// the predicted class of each example at this point
    pub pred: Vec<usize>,
}

/// [`loss_grad`] without the gradient (`grad` is empty): one forward pass,
/// for the last iterate of an attack, whose gradient nothing uses.
pub fn loss_at(
    c: &mut dyn Classifier,
    x: &[f32],
    d: usize,
    labels: &[usize],
    targets: &[usize],
    loss: Loss,
) -> Eval {
    let (z, per) = no_grad(|| {
        let z = c.logits(&Tensor::constant(batch(x, d)));
        let per = loss.per_example(&z, labels, targets);
        (z, per)
    });
    Eval::of(&z, &per, Vec::new())
}

impl Eval {
    /// From the logits, the per-example losses and the input gradient.
    fn of(z: &Tensor, per: &Tensor, grad: Vec<f32>) -> Eval {
        let k = z.shape()[1];
        let rows: Vec<Vec<f64>> = z.value().to_vec_f64().chunks(k).map(<[f64]>::to_vec).collect();
        Eval { loss: per.value().to_vec_f64(), grad, pred: argmax(&rows) }
    }
}

/// Per-example `loss` of `x` against `labels` (targets `targets` for the
/// targeted losses) and its input gradient. Examples do not interact (the
/// network runs in evaluation mode), so the gradient of the summed loss is
/// each example's own gradient.
pub fn loss_grad(
    c: &mut dyn Classifier,
    x: &[f32],
    d: usize,
    labels: &[usize],
    targets: &[usize],
    loss: Loss,
) -> Eval {
    let xt = Tensor::param(batch(x, d));
    let z = c.logits(&xt);
    let per = loss.per_example(&z, labels, targets);
    let g = grad(&per.sum_all(), &[&xt]).remove(0);
    Eval::of(&z, &per, g.value().cast(DType::F32).to_vec_f32())
}
