//! The inner maximization of adversarial training: fixed-budget
//! perturbations that return the last iterate (what the outer step trains
//! on), unlike the evaluation attacks of [`crate::attacks`], which stop at
//! the first misclassified point.
//!
//! - [`perturb`]: PGD from a uniform random start — Madry et al.'s PGD-AT
//!   (`steps` steps of `α`), and with one step of `α = 1.25ε` the "fast"
//!   FGSM with random start of Wong, Rice & Kolter (2020); from the clean
//!   input with one step of `ε`, Goodfellow et al.'s FGSM training.
//! - [`trades_perturb`]: TRADES' maximization of `KL(p(x) ‖ p(x'))` (Zhang
//!   et al. 2019) from `x + 0.001·N(0, I)`.
//! - [`ibp_worst_logits`]: IBP training's worst-case logits (Gowal et al.
//!   2018), differentiable in the parameters.

use odl_autodiff::{grad, Tensor};
use odl_nn::Module;
use odl_tensor::{DType, Rng};

use crate::classifier::{batch, loss_grad, Classifier, Net};
use crate::losses::Loss;
use crate::threat::{linf_step, Threat};

/// `steps` ascent steps of size `alpha` on the cross-entropy from a uniform
/// random point of the ball drawn with `start` (or from the clean input when
/// `None`: FGSM training is one step of `ε` from there), projected after
/// each; the last iterate.
#[allow(clippy::too_many_arguments)]
pub fn perturb(
    c: &mut dyn Classifier,
    t: &Threat,
    x0: &[f32],
    d: usize,
    y: &[usize],
    steps: usize,
    alpha: f64,
    start: Option<&mut Rng>,
) -> Vec<f32> {
    let mut x = match start {
        Some(rng) => t.random_start(x0, d, rng),
        None => x0.to_vec(),
    };
    let bounds = t.linf_bounds(x0);
    for _ in 0..steps {
        let e = loss_grad(c, &x, d, y, &[], Loss::Ce);
        ascend_projected(t, &mut x, &e.grad, alpha, x0, d, bounds.as_ref());
    }
    x
}

/// One ascent step of size `alpha` on every row, then the projection; for
/// ℓ∞, with `bounds` from [`Threat::linf_bounds`], both in one clamp per entry.
fn ascend_projected(
    t: &Threat,
    x: &mut [f32],
    g: &[f32],
    alpha: f64,
    x0: &[f32],
    d: usize,
    bounds: Option<&(Vec<f32>, Vec<f32>)>,
) {
    match bounds {
        Some((lo, hi)) => linf_step(x, g, alpha as f32, lo, hi),
        None => {
            t.ascend(x, g, &vec![alpha; x.len() / d.max(1)], d);
            t.project(x, x0, d);
        }
    }
}

/// TRADES' inner problem: `steps` ascent steps of size `alpha` on
/// `Σᵢ KL(p(xᵢ) ‖ p(x'ᵢ))` (the clean probabilities held fixed) from
/// `x + 0.001·N(0, I)`; the last iterate.
pub fn trades_perturb(
    c: &mut dyn Classifier,
    t: &Threat,
    x0: &[f32],
    d: usize,
    steps: usize,
    alpha: f64,
    rng: &mut Rng,
) -> Vec<f32> {
    let p_clean = odl_autodiff::no_grad(|| c.logits(&Tensor::constant(batch(x0, d))).softmax(1));
    let mut x: Vec<f32> = x0.iter().map(|&v| v + (0.001 * rng.normal_f64()) as f32).collect();
    t.project(&mut x, x0, d);
    let bounds = t.linf_bounds(x0);
    for _ in 0..steps {
        let xt = Tensor::param(batch(&x, d));
        let kl = kl_sum(&p_clean, &c.logits(&xt));
        let g = grad(&kl, &[&xt]).remove(0).value().cast(DType::F32).to_vec_f32();
        ascend_projected(t, &mut x, &g, alpha, x0, d, bounds.as_ref());
    }
    x
}

/// The worst-case logits of IBP training: `−m` with `m` the interval lower
/// bounds `[n, k]` of the margins `z_y − z_j` over the ℓ∞ ball of each `x0`
/// row (0 at `j = y`), in the model's dtype, differentiable in the
/// parameters. `cross_entropy(−m, y)` upper-bounds the worst cross-entropy in
/// the ball.
pub fn ibp_worst_logits(
    net: &mut Net,
    t: &Threat,
    x0: &[f32],
    d: usize,
    y: &[usize],
) -> Result<Tensor, String> {
    if t.norm != crate::threat::Norm::Linf {
        return Err("ibp training bounds an ℓ∞ ball (norm = \"linf\")".into());
    }
    let dtype = net.model.params().first().map_or(DType::F32, |p| p.dtype());
    let (lo, hi, _) = crate::certify::input_box(net, t, x0, d, dtype);
    Ok(crate::certify::ibp::worst_margins(net.model, lo, hi, y).neg())
}

/// `Σᵢ KL(pᵢ ‖ softmax(zᵢ))` for probabilities `p` and logits `z`
/// (differentiable in both).
pub fn kl_sum(p: &Tensor, z: &Tensor) -> Tensor {
    // Σ p (log p − log q); 0·log 0 taken as 0 by flooring p inside the log
    let logp = p.maximum(&p.scalar_like(1e-30)).log();
    (p * &(logp - z.log_softmax(1))).sum_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::threat::Norm;
    use odl_tensor::Array;

    fn model(x: &Tensor) -> Tensor {
        let w = Tensor::constant(Array::from_f64(&[1.0, -2.0, 0.5, 0.3, 1.0, -1.0], &[3, 2], DType::F32));
        x.linear(&w, None)
    }

    #[test]
    fn perturbations_stay_in_the_threat_model_and_raise_their_objective() {
        let t = Threat::new(Norm::Linf, 0.2, -1.0, 1.0).unwrap();
        let x0 = vec![0.1f32, -0.3, 0.5, 0.2, -0.9, 0.9];
        let y = vec![0, 1, 2];
        let mut m = model;
        let x = perturb(&mut m, &t, &x0, 2, &y, 5, 0.05, Some(&mut Rng::seed(0)));
        assert!(t.distances(&x, &x0, 2).iter().all(|&v| v <= 0.2) && t.in_box(&x));
        let ce = |x: &[f32], m: &mut dyn Classifier| {
            loss_grad(m, x, 2, &y, &[], Loss::Ce).loss.iter().sum::<f64>()
        };
        assert!(ce(&x, &mut m) > ce(&x0, &mut m));
        let xt = trades_perturb(&mut m, &t, &x0, 2, 5, 0.05, &mut Rng::seed(0));
        assert!(t.distances(&xt, &x0, 2).iter().all(|&v| v <= 0.2) && t.in_box(&xt));
        let p = odl_autodiff::no_grad(|| model(&Tensor::constant(batch(&x0, 2))).softmax(1));
        let kl = |x: &[f32]| kl_sum(&p, &model(&Tensor::constant(batch(x, 2)))).item();
        assert!(kl(&x0).abs() < 1e-6 && kl(&xt) > 1e-3, "KL at x0 {} and after {}", kl(&x0), kl(&xt));
    }
}
