//! The two-layer ReLU teacher–student problem of Safran & Shamir (2018)
//! through its closed-form population loss under Gaussian inputs: a student
//! x ↦ Σᵢ relu(wᵢᵀx) fit to a teacher x ↦ Σⱼ relu(vⱼᵀx), with
//! E[relu(aᵀx)relu(bᵀx)] = ‖a‖‖b‖(sin θ + (π−θ)cos θ)/2π and its exact
//! gradient. Shared by `spurious-minima` and `matrix-sensing` (its contrast).

const TWO_PI: f64 = 2.0 * std::f64::consts::PI;

/// g(a, b) = E[relu(aᵀx) relu(bᵀx)] and ∂g/∂a.
pub fn kernel(a: &[f64], b: &[f64]) -> (f64, Vec<f64>) {
    let (na, nb) = (norm(a), norm(b));
    if na == 0.0 || nb == 0.0 {
        return (0.0, b.iter().map(|v| v / 4.0).collect());
    }
    let c = (dot(a, b) / (na * nb)).clamp(-1.0, 1.0);
    let th = c.acos();
    let s = th.sin();
    let val = na * nb * (s + (std::f64::consts::PI - th) * c) / TWO_PI;
    let grad = a
        .iter()
        .zip(b)
        .map(|(ai, bi)| (nb * s * ai / na + (std::f64::consts::PI - th) * bi) / TWO_PI)
        .collect();
    (val, grad)
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// The population loss and its gradient for student rows `w` and teacher rows `v`.
pub fn loss_grad(w: &[Vec<f64>], v: &[Vec<f64>]) -> (f64, Vec<Vec<f64>>) {
    let mut loss = 0.0;
    let mut grad = vec![vec![0.0; w[0].len()]; w.len()];
    for (i, wi) in w.iter().enumerate() {
        for wj in w {
            let (g, dg) = kernel(wi, wj);
            loss += 0.5 * g;
            grad[i].iter_mut().zip(&dg).for_each(|(a, b)| *a += b);
        }
        for vj in v {
            let (g, dg) = kernel(wi, vj);
            loss -= g;
            grad[i].iter_mut().zip(&dg).for_each(|(a, b)| *a -= b);
        }
    }
    for vi in v {
        for vj in v {
            loss += 0.5 * kernel(vi, vj).0;
        }
    }
    (loss, grad)
}

/// How a run of gradient descent ended.
pub enum End {
    /// reached a global minimum
    Global,
    /// converged to a spurious minimum with this loss
    Spurious(f64),
    /// hit the iteration cap
    Unconverged,
}

/// Gradient descent on the population loss from `w0`.
pub fn descend(w0: Vec<Vec<f64>>, v: &[Vec<f64>], eta: f64, tol: f64, bad: f64, cap: usize) -> End {
    let mut w = w0;
    for _ in 0..cap {
        let (l, g) = loss_grad(&w, v);
        let gn = g.iter().map(|r| dot(r, r)).sum::<f64>().sqrt();
        if gn < tol {
            return if l > bad { End::Spurious(l) } else { End::Global };
        }
        if l < bad * 1e-3 {
            return End::Global;
        }
        for (wi, gi) in w.iter_mut().zip(&g) {
            wi.iter_mut().zip(gi).for_each(|(a, b)| *a -= eta * b);
        }
    }
    End::Unconverged
}
