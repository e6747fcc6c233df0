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
    let mut grad = vec![0.0; a.len()];
    let val = kernel_terms(a, b, na, nb, cos_angle_sin(a, b, na, nb), &mut grad, 1.0);
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

/// A teacher with what [`loss_grad`] recomputes at every call done once:
/// the norms of its rows and the loss's constant teacher–teacher term.
pub struct Teacher<'a> {
    v: &'a [Vec<f64>],
    norms: Vec<f64>,
    constant: f64,
}

impl<'a> Teacher<'a> {
    /// The teacher with rows `v`.
    pub fn new(v: &'a [Vec<f64>]) -> Teacher<'a> {
        let constant = v.iter().flat_map(|vi| v.iter().map(move |vj| 0.5 * kernel(vi, vj).0)).sum();
        Teacher { v, norms: v.iter().map(|r| norm(r)).collect(), constant }
    }

    /// [`loss_grad`] with the gradient written into `grad` (same shape as
    /// `w`): the same gradient bit for bit — every term in the same order,
    /// each student–student angle computed once for both rows — and the
    /// same loss up to the rounding of adding the constant term last.
    pub fn loss_grad_into(&self, w: &[Vec<f64>], grad: &mut [Vec<f64>]) -> f64 {
        let n = w.len();
        let wn: Vec<f64> = w.iter().map(|r| norm(r)).collect();
        // (cos, angle, sin) of every student pair, i < j
        let mut angle = vec![(0.0, 0.0, 0.0); n * n];
        for i in 0..n {
            for j in i + 1..n {
                angle[i * n + j] = cos_angle_sin(&w[i], &w[j], wn[i], wn[j]);
            }
        }
        let mut loss = 0.0;
        for (i, (wi, gi)) in w.iter().zip(grad.iter_mut()).enumerate() {
            gi.iter_mut().for_each(|g| *g = 0.0);
            for (j, wj) in w.iter().enumerate() {
                let (na, nb) = (wn[i], wn[j]);
                if na == 0.0 || nb == 0.0 {
                    gi.iter_mut().zip(wj).for_each(|(g, b)| *g += b / 4.0);
                    continue;
                }
                let t = match i.cmp(&j) {
                    std::cmp::Ordering::Less => angle[i * n + j],
                    std::cmp::Ordering::Greater => angle[j * n + i],
                    std::cmp::Ordering::Equal => cos_angle_sin(wi, wj, na, nb),
                };
                loss += 0.5 * kernel_terms(wi, wj, na, nb, t, gi, 1.0);
            }
            for (vj, &nb) in self.v.iter().zip(&self.norms) {
                let na = wn[i];
                if na == 0.0 || nb == 0.0 {
                    gi.iter_mut().zip(vj).for_each(|(g, b)| *g -= b / 4.0);
                    continue;
                }
                let t = cos_angle_sin(wi, vj, na, nb);
                loss -= kernel_terms(wi, vj, na, nb, t, gi, -1.0);
            }
        }
        loss + self.constant
    }
}

/// cos θ, θ and sin θ of the angle between `a` and `b` (norms given, non-zero),
/// as [`kernel`] computes them.
fn cos_angle_sin(a: &[f64], b: &[f64], na: f64, nb: f64) -> (f64, f64, f64) {
    let c = (dot(a, b) / (na * nb)).clamp(-1.0, 1.0);
    let th = c.acos();
    (c, th, th.sin())
}

/// [`kernel`]'s value from a precomputed angle, adding `sign · ∂g/∂a` to `grad`.
fn kernel_terms(
    a: &[f64],
    b: &[f64],
    na: f64,
    nb: f64,
    t: (f64, f64, f64),
    grad: &mut [f64],
    sign: f64,
) -> f64 {
    let (c, th, s) = t;
    let pi = std::f64::consts::PI;
    for ((g, ai), bi) in grad.iter_mut().zip(a).zip(b) {
        let d = (nb * s * ai / na + (pi - th) * bi) / TWO_PI;
        if sign > 0.0 {
            *g += d;
        } else {
            *g -= d;
        }
    }
    na * nb * (s + (pi - th) * c) / TWO_PI
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
    let teacher = Teacher::new(v);
    let mut g = w.clone();
    for _ in 0..cap {
        let l = teacher.loss_grad_into(&w, &mut g);
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

#[cfg(test)]
mod tests {
    use super::*;
    use odl_tensor::Rng;

    #[test]
    fn the_cached_teacher_gives_loss_grad_bit_for_bit() {
        let mut rng = Rng::seed(3);
        for (k, n) in [(3, 3), (6, 7), (10, 10)] {
            // an orthonormal teacher (as in the lab) and a random one
            let eye: Vec<Vec<f64>> =
                (0..k).map(|i| (0..k).map(|j| if i == j { 1.0 } else { 0.0 }).collect()).collect();
            let rand: Vec<Vec<f64>> = (0..k).map(|_| (0..k).map(|_| rng.normal_f64()).collect()).collect();
            for v in [eye, rand] {
                let mut w: Vec<Vec<f64>> =
                    (0..n).map(|_| (0..k).map(|_| rng.normal_f64()).collect()).collect();
                // a duplicated row (angle 0) and a zero row take their own branches
                w[1] = w[0].clone();
                w[n - 1] = vec![0.0; k];
                let (l, g) = loss_grad(&w, &v);
                let mut g2 = vec![vec![f64::NAN; k]; n];
                let l2 = Teacher::new(&v).loss_grad_into(&w, &mut g2);
                assert_eq!(g, g2, "k = {k}, n = {n}");
                assert!((l - l2).abs() <= 1e-12 * l.abs().max(1.0), "{l} vs {l2}");
            }
        }
    }
}
