//! Losses, each a composition of primitives (so every order of derivative is
//! available). Cross-entropy and MSE live on `Tensor` itself
//! (`cross_entropy`, `mse`); these add the rest of the course's list.

use odl_autodiff::Tensor;

/// Cross-entropy with label smoothing ε (PyTorch's `label_smoothing`):
/// `(1−ε)·CE(logits, y) + ε·mean_i mean_k (−log p_ik)`.
#[track_caller]
pub fn cross_entropy_smoothed(logits: &Tensor, labels: &[usize], eps: f64) -> Tensor {
    smoothed(logits.cross_entropy(labels), logits, eps)
}

/// [`cross_entropy_smoothed`] with the labels as one-hot rows `targets`
/// (`[n, k]`): the same numbers bit for bit, and a loss that a compiled step
/// can replay for new labels (see `odl_autodiff::CompiledSum`).
#[track_caller]
pub fn cross_entropy_smoothed_targets(logits: &Tensor, targets: &Tensor, eps: f64) -> Tensor {
    smoothed(logits.cross_entropy_targets(targets), logits, eps)
}

/// `(1−ε)·ce + ε·mean(−log_softmax(logits))`, or `ce` itself at ε = 0.
#[track_caller]
fn smoothed(ce: Tensor, logits: &Tensor, eps: f64) -> Tensor {
    assert!((0.0..=1.0).contains(&eps), "cross_entropy_smoothed: ε = {eps} outside [0, 1]");
    if eps == 0.0 {
        return ce;
    }
    let uniform = logits.log_softmax(1).mean_all().neg();
    ce.mul_scalar(1.0 - eps).add(&uniform.mul_scalar(eps))
}

/// Logistic loss on logits with targets in `[0, 1]`, computed stably:
/// `mean(softplus(z) − z·t)` (PyTorch's `BCEWithLogitsLoss`).
#[track_caller]
pub fn bce_with_logits(logits: &Tensor, targets: &Tensor) -> Tensor {
    logits.softplus().sub(&logits.mul(targets)).mean_all()
}

/// Hinge loss for labels `±1`: `mean(max(0, 1 − y·s))`.
#[track_caller]
pub fn hinge(scores: &Tensor, signs: &Tensor) -> Tensor {
    scores.mul(signs).neg().add_scalar(1.0).relu().mean_all()
}

/// ℓ_p regression loss `mean(|pred − target|^p)` (p = 2 is MSE, p = 4 the
/// loss of Arora, Cohen & Hazan's ℓ4 regression).
#[track_caller]
pub fn lp_loss(pred: &Tensor, target: &Tensor, p: f64) -> Tensor {
    let d = pred.sub(target);
    if p == 2.0 {
        d.square().mean_all()
    } else {
        d.abs().powf(p).mean_all()
    }
}
