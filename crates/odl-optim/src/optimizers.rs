//! The named optimizers, each a [`Chain`] of transformations with PyTorch's
//! update conventions (so runs compare with `torch.optim`).

use crate::schedule::Schedule;
use crate::transform::{chain, Chain};
use crate::transforms::{
    add_decayed_weights, scale, scale_by_adagrad, scale_by_adam, scale_by_learning_rate, scale_by_rms, trace,
    AdamConfig,
};

/// Gradient descent: `p ← p − η g`.
pub fn sgd(lr: f64) -> Chain {
    chain(vec![Box::new(scale(-lr))])
}

/// Gradient descent with a learning-rate schedule: `p ← p − η_t g`.
pub fn sgd_scheduled(schedule: impl Schedule + 'static) -> Chain {
    chain(vec![Box::new(scale_by_learning_rate(schedule))])
}

/// Heavy-ball momentum (Polyak 1964), PyTorch's form: `v ← μv + g`, `p ← p − ηv`.
pub fn momentum(lr: f64, mu: f64) -> Chain {
    chain(vec![Box::new(trace(mu, false)), Box::new(scale(-lr))])
}

/// Nesterov momentum, PyTorch's form: `v ← μv + g`, `p ← p − η(g + μv)`.
pub fn nesterov(lr: f64, mu: f64) -> Chain {
    chain(vec![Box::new(trace(mu, true)), Box::new(scale(-lr))])
}

/// AdaGrad (Duchi, Hazan & Singer 2011): `Σ ← Σ + g²`, `p ← p − η g/(√Σ + ε)`.
pub fn adagrad(lr: f64, eps: f64) -> Chain {
    chain(vec![Box::new(scale_by_adagrad(eps, 0.0)), Box::new(scale(-lr))])
}

/// RMSProp (Tieleman & Hinton 2012): `s ← αs + (1−α)g²`, `p ← p − η g/(√s + ε)`.
pub fn rmsprop(lr: f64, alpha: f64, eps: f64) -> Chain {
    chain(vec![Box::new(scale_by_rms(alpha, eps)), Box::new(scale(-lr))])
}

fn adam_cfg(b1: f64, b2: f64, eps: f64, amsgrad: bool) -> AdamConfig {
    AdamConfig { b1, b2, eps, bias_correction: true, amsgrad }
}

/// Adam (Kingma & Ba 2015) with bias correction, as in docs/workloads.md:
/// `p ← p − η (m/(1−β₁ᵗ)) / (√(s/(1−β₂ᵗ)) + ε)`. For Adam without bias
/// correction chain [`scale_by_adam`] with `bias_correction: false`.
pub fn adam(lr: f64, b1: f64, b2: f64, eps: f64) -> Chain {
    chain(vec![Box::new(scale_by_adam(adam_cfg(b1, b2, eps, false))), Box::new(scale(-lr))])
}

/// AMSGrad (Reddi, Kale & Kumar 2018): Adam with the running maximum of the
/// second moment in the denominator (PyTorch's `amsgrad=True`).
pub fn amsgrad(lr: f64, b1: f64, b2: f64, eps: f64) -> Chain {
    chain(vec![Box::new(scale_by_adam(adam_cfg(b1, b2, eps, true))), Box::new(scale(-lr))])
}

/// AdamW (Loshchilov & Hutter 2019): Adam plus decoupled weight decay,
/// `p ← p − η(adam(g) + λp)`.
pub fn adamw(lr: f64, b1: f64, b2: f64, eps: f64, weight_decay: f64) -> Chain {
    chain(vec![
        Box::new(scale_by_adam(adam_cfg(b1, b2, eps, false))),
        Box::new(add_decayed_weights(weight_decay)),
        Box::new(scale(-lr)),
    ])
}
