//! FGSM (Goodfellow, Shlens & Szegedy 2015): one step of length ε along the
//! steepest-ascent direction of the cross-entropy — `ε·sign(∇ₓL)` for ℓ∞,
//! `ε·∇ₓL/‖∇ₓL‖` for ℓ2 — then the box.

use super::Found;
use crate::classifier::{loss_grad, Classifier};
use crate::losses::Loss;
use crate::threat::Threat;

/// FGSM on each example.
pub fn run(c: &mut dyn Classifier, t: &Threat, x0: &[f32], d: usize, y: &[usize]) -> Found {
    let e = loss_grad(c, x0, d, y, &[], Loss::Ce);
    let mut x = x0.to_vec();
    t.ascend(&mut x, &e.grad, &vec![t.eps; y.len()], d);
    t.project(&mut x, x0, d);
    let pred = crate::classifier::predict(c, &x, d);
    Found { success: pred.iter().zip(y).map(|(p, l)| p != l).collect(), x }
}
