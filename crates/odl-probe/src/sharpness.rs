//! Sharpness and smoothness: Keskar et al.'s ε-sharpness and Santurkar et
//! al.'s measures of the landscape along the gradient direction.

use odl_tensor::Array;

use crate::linalg::norm;
use crate::objective::{flatten, unflatten};

/// The loss and its gradient at a parameter vector.
pub type ValueGrad<'a> = dyn Fn(&[Array]) -> (f64, Vec<Array>) + 'a;

/// Keskar et al. 2017's ε-sharpness:
/// `100 · (max_{y ∈ C_ε} L(θ + y) − L(θ)) / (1 + L(θ))` over the box
/// `|yᵢ| ≤ ε (|θᵢ| + 1)`. The maximum is approached by `steps` steps of
/// projected sign-gradient ascent (the box's natural steepest ascent); the
/// result is a lower bound on the true maximum, as with the paper's L-BFGS-B.
pub fn epsilon_sharpness(vg: &ValueGrad, theta: &[Array], eps: f64, steps: usize) -> f64 {
    let t = flatten(theta);
    let bound: Vec<f64> = t.iter().map(|x| eps * (x.abs() + 1.0)).collect();
    let (l0, _) = vg(theta);
    let mut y = vec![0.0; t.len()];
    let mut best = l0;
    let step = 2.5 / steps.max(1) as f64;
    for _ in 0..steps {
        let p: Vec<f64> = t.iter().zip(&y).map(|(a, b)| a + b).collect();
        let (l, g) = vg(&unflatten(&p, theta));
        if l.is_finite() {
            best = best.max(l);
        }
        for ((yi, gi), bi) in y.iter_mut().zip(flatten(&g)).zip(&bound) {
            *yi = (*yi + step * bi * gi.signum()).clamp(-bi, *bi);
        }
    }
    let p: Vec<f64> = t.iter().zip(&y).map(|(a, b)| a + b).collect();
    let (l, _) = vg(&unflatten(&p, theta));
    if l.is_finite() {
        best = best.max(l);
    }
    100.0 * (best - l0) / (1.0 + l0)
}

/// Santurkar et al. 2018's measures at `θ` along the gradient `g = ∇L(θ)`,
/// over the step sizes `etas`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct AlongGradient {
    /// the step sizes
    pub etas: Vec<f64>,
    /// `L(θ − η g)` for each η
    pub losses: Vec<f64>,
    /// `‖∇L(θ − η g) − ∇L(θ)‖` for each η (gradient predictiveness)
    pub grad_changes: Vec<f64>,
    /// loss Lipschitzness: `max − min` of the losses
    pub loss_range: f64,
    /// the largest gradient change
    pub max_grad_change: f64,
    /// effective β-smoothness: `max_η ‖∇L(θ − ηg) − ∇L(θ)‖ / ‖η g‖`
    pub beta: f64,
}

/// See [`AlongGradient`].
pub fn along_gradient(vg: &ValueGrad, theta: &[Array], etas: &[f64]) -> AlongGradient {
    let (_, g0) = vg(theta);
    let t = flatten(theta);
    let g = flatten(&g0);
    let gn = norm(&g);
    let (mut losses, mut changes, mut beta) = (Vec::new(), Vec::new(), 0.0f64);
    for &eta in etas {
        let p: Vec<f64> = t.iter().zip(&g).map(|(a, b)| a - eta * b).collect();
        let (l, gi) = vg(&unflatten(&p, theta));
        let d: Vec<f64> = flatten(&gi).iter().zip(&g).map(|(a, b)| a - b).collect();
        let c = norm(&d);
        losses.push(l);
        changes.push(c);
        if eta > 0.0 && gn > 0.0 {
            beta = beta.max(c / (eta * gn));
        }
    }
    let fin = losses.iter().copied().filter(|v| v.is_finite());
    let (lo, hi) = fin.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    AlongGradient {
        etas: etas.to_vec(),
        loss_range: hi - lo,
        max_grad_change: changes.iter().copied().fold(0.0, f64::max),
        losses,
        grad_changes: changes,
        beta,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use odl_tensor::DType;

    /// L(θ) = ½ Σ λᵢ θᵢ²
    fn quad(lams: Vec<f64>) -> impl Fn(&[Array]) -> (f64, Vec<Array>) {
        move |p: &[Array]| {
            let v = p[0].to_vec_f64();
            let l = 0.5 * v.iter().zip(&lams).map(|(x, l)| l * x * x).sum::<f64>();
            let g: Vec<f64> = v.iter().zip(&lams).map(|(x, l)| l * x).collect();
            (l, vec![Array::from_f64(&g, &[v.len()], DType::F64)])
        }
    }

    #[test]
    fn sharpness_of_a_quadratic_at_its_minimum_is_half_lambda_eps_squared() {
        // at θ = 0 the box is |y| ≤ ε: max ½ Σ λᵢ ε² — the sharper quadratic scores higher
        let theta = vec![Array::zeros(&[3], DType::F64)];
        let eps = 1e-2;
        let s_flat = epsilon_sharpness(&quad(vec![1.0, 1.0, 1.0]), &theta, eps, 20);
        let s_sharp = epsilon_sharpness(&quad(vec![100.0, 1.0, 1.0]), &theta, eps, 20);
        assert!((s_flat - 100.0 * 0.5 * 3.0 * eps * eps).abs() < 1e-9, "{s_flat}");
        assert!((s_sharp - 100.0 * 0.5 * 102.0 * eps * eps).abs() < 1e-9, "{s_sharp}");
    }

    #[test]
    fn beta_smoothness_along_the_gradient_of_a_quadratic() {
        // g = Λθ; ∇L(θ − ηg) − ∇L(θ) = −η Λ g; ratio = ‖Λg‖/‖g‖ ≤ λ_max
        let lams = vec![10.0, 1.0];
        let theta = vec![Array::from_f64(&[1.0, 0.0], &[2], DType::F64)];
        let m = along_gradient(&quad(lams), &theta, &[0.01, 0.05, 0.1]);
        assert!((m.beta - 10.0).abs() < 1e-9, "{}", m.beta);
        assert!((m.max_grad_change - 0.1 * 100.0).abs() < 1e-9);
        // L(θ − ηg) = 5 (1 − 10η)²: 4.05, 1.25, 0
        assert!((m.loss_range - 4.05).abs() < 1e-9, "{}", m.loss_range);
    }
}
