//! Losses as functions of parameters. Probes differentiate a loss with
//! respect to a list of parameter tensors; [`ModelLoss`] turns a network, a
//! batch and a loss function into such a function by running the network with
//! its parameters swapped for the probe's tensors.

use std::cell::RefCell;

use odl_autodiff::{Hessian, LinOp, Tensor};
use odl_nn::{Ctx, Module};
use odl_tensor::Array;

/// Runs `model` on `x` with its parameters replaced by `params` (in the
/// order of [`Module::named_params`]); the model's own parameters are put back
/// afterwards. The output's graph reaches `params`, so it can be
/// differentiated with respect to them.
#[track_caller]
pub fn forward_with(model: &mut dyn Module, params: &[Tensor], x: &Tensor, ctx: &mut Ctx) -> Tensor {
    let slots = model.params_mut();
    assert_eq!(
        slots.len(),
        params.len(),
        "forward_with: {} tensors for {} parameters",
        params.len(),
        slots.len()
    );
    let mut saved = Vec::with_capacity(params.len());
    for (slot, p) in slots.into_iter().zip(params) {
        assert_eq!(slot.shape(), p.shape(), "forward_with: parameter shape mismatch");
        saved.push(std::mem::replace(slot, p.clone()));
    }
    let y = model.forward(x, ctx);
    for (slot, s) in model.params_mut().into_iter().zip(saved) {
        *slot = s;
    }
    y
}

/// A network's loss on one batch, as a function of its parameters (evaluation
/// mode: BatchNorm uses running statistics, dropout is off).
pub struct ModelLoss<'a> {
    model: RefCell<&'a mut dyn Module>,
    /// the inputs
    pub x: Tensor,
    loss: Box<dyn Fn(&Tensor) -> Tensor + 'a>,
}

impl<'a> ModelLoss<'a> {
    /// `loss` maps the network's outputs on `x` to a scalar.
    pub fn new(model: &'a mut dyn Module, x: Tensor, loss: impl Fn(&Tensor) -> Tensor + 'a) -> ModelLoss<'a> {
        ModelLoss { model: RefCell::new(model), x, loss: Box::new(loss) }
    }

    /// The model's current parameter values.
    pub fn theta(&self) -> Vec<Array> {
        self.model.borrow().param_values()
    }

    /// Parameter names, in order.
    pub fn names(&self) -> Vec<String> {
        self.model.borrow().named_params().into_iter().map(|(n, _)| n).collect()
    }

    /// The network's outputs with parameters `params`.
    pub fn outputs(&self, params: &[Tensor]) -> Tensor {
        forward_with(&mut **self.model.borrow_mut(), params, &self.x, &mut Ctx::eval())
    }

    /// A loss of the network's outputs on other inputs `x` (a chunk of the
    /// batch, say) with parameters `params`.
    pub fn loss_on(&self, params: &[Tensor], x: &Tensor, loss: &dyn Fn(&Tensor) -> Tensor) -> Tensor {
        loss(&forward_with(&mut **self.model.borrow_mut(), params, x, &mut Ctx::eval()))
    }

    /// The loss of the outputs (what the network's outputs feed into).
    pub fn loss_of_outputs(&self, z: &Tensor) -> Tensor {
        (self.loss)(z)
    }

    /// The loss with parameters `params`.
    pub fn loss(&self, params: &[Tensor]) -> Tensor {
        self.loss_of_outputs(&self.outputs(params))
    }

    /// The loss at parameter values `theta` (no graph).
    pub fn value_at(&self, theta: &[Array]) -> f64 {
        let ps: Vec<Tensor> = theta.iter().map(|a| Tensor::constant(a.clone())).collect();
        odl_autodiff::no_grad(|| self.loss(&ps).item())
    }
}

/// Leaf tensors (requiring gradients) holding `theta`.
pub fn leaves(theta: &[Array]) -> Vec<Tensor> {
    theta.iter().map(|a| Tensor::param(a.clone())).collect()
}

/// The Hessian of `f` at `theta` as an operator (its graph is built once).
pub fn hessian_at(f: &dyn Fn(&[Tensor]) -> Tensor, theta: &[Array]) -> Hessian {
    let p = leaves(theta);
    let loss = f(&p);
    Hessian::new(&loss, &p)
}

/// The weighted sum `Σ wᵢ Aᵢ` of operators of one dimension: the Hessian of a
/// data set's mean loss from its batches' Hessians.
pub struct SumOp {
    /// the terms
    pub terms: Vec<(f64, Box<dyn LinOp>)>,
}

impl LinOp for SumOp {
    fn dim(&self) -> usize {
        self.terms.first().map_or(0, |t| t.1.dim())
    }
    fn apply(&self, v: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; v.len()];
        for (w, op) in &self.terms {
            crate::linalg::axpy(&mut out, *w, &op.apply(v));
        }
        out
    }
}

/// Flattens per-parameter arrays into one `f64` vector.
pub fn flatten(parts: &[Array]) -> Vec<f64> {
    parts.iter().flat_map(|a| a.to_vec_f64()).collect()
}

/// Splits a flat vector into arrays shaped (and typed) like `like`.
#[track_caller]
pub fn unflatten(v: &[f64], like: &[Array]) -> Vec<Array> {
    let total: usize = like.iter().map(Array::numel).sum();
    assert_eq!(v.len(), total, "unflatten: {} values for {total} parameters", v.len());
    let mut at = 0;
    like.iter()
        .map(|a| {
            let n = a.numel();
            at += n;
            Array::from_f64(&v[at - n..at], a.shape(), a.dtype())
        })
        .collect()
}

/// The value of `f` at `theta` and its gradient.
pub fn value_and_grad(f: &dyn Fn(&[Tensor]) -> Tensor, theta: &[Array]) -> (f64, Vec<Array>) {
    let p = leaves(theta);
    let l = f(&p);
    let refs: Vec<&Tensor> = p.iter().collect();
    let g = odl_autodiff::grad(&l, &refs).into_iter().map(|t| t.value().clone()).collect();
    (l.item(), g)
}

/// `θ + Σ cᵢ dᵢ` for parameter lists (in `theta`'s dtypes).
pub fn offset(theta: &[Array], dirs: &[(&[Array], f64)]) -> Vec<Array> {
    let mut v = flatten(theta);
    for (d, c) in dirs {
        crate::linalg::axpy(&mut v, *c, &flatten(d));
    }
    unflatten(&v, theta)
}
