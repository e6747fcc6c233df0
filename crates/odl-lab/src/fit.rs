//! Least-squares fits for checking scaling laws: slopes, exponents, R².

/// The least-squares line `y ≈ a + b x`: returns `(a, b, r²)`. Non-finite
/// points are skipped; fewer than two points give NaNs.
pub fn line(x: &[f64], y: &[f64]) -> (f64, f64, f64) {
    let pts: Vec<(f64, f64)> =
        x.iter().zip(y).filter(|(a, b)| a.is_finite() && b.is_finite()).map(|(a, b)| (*a, *b)).collect();
    let n = pts.len() as f64;
    if pts.len() < 2 {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let syy: f64 = pts.iter().map(|p| (p.1 - my).powi(2)).sum();
    let b = sxy / sxx;
    let a = my - b * mx;
    let r2 = if syy > 0.0 { (sxy * sxy) / (sxx * syy) } else { 1.0 };
    (a, b, r2)
}

/// The exponent `p` of `y ≈ c xᵖ` (a line in log–log): `(p, r²)`.
pub fn power_law(x: &[f64], y: &[f64]) -> (f64, f64) {
    let lx: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
    let (_, b, r2) = line(&lx, &ly);
    (b, r2)
}

/// Mean and (population) variance.
pub fn mean_var(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let m = v.iter().sum::<f64>() / n;
    (m, v.iter().map(|a| (a - m).powi(2)).sum::<f64>() / n)
}

/// Median (NaN for an empty slice).
pub fn median(v: &[f64]) -> f64 {
    let mut s: Vec<f64> = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    if s.is_empty() {
        return f64::NAN;
    }
    let m = s.len() / 2;
    if s.len() % 2 == 1 {
        s[m]
    } else {
        0.5 * (s[m - 1] + s[m])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_recover_known_lines_and_powers() {
        let x = [1.0, 2.0, 3.0, 4.0];
        let (a, b, r2) = line(&x, &[3.0, 5.0, 7.0, 9.0]);
        assert!((a - 1.0).abs() < 1e-12 && (b - 2.0).abs() < 1e-12 && (r2 - 1.0).abs() < 1e-12);
        let (p, r2) = power_law(&[10.0, 100.0, 1000.0], &[5.0, 5.0 * 10f64.powf(1.5), 5000.0]);
        assert!((p - 1.5).abs() < 1e-12 && (r2 - 1.0).abs() < 1e-12);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(mean_var(&[1.0, 3.0]), (2.0, 1.0));
        assert!(line(&[1.0], &[1.0]).1.is_nan());
    }
}

/// The digamma function ψ(x) for x > 0 (recurrence to x ≥ 12, then the
/// asymptotic series; error < 1e-12).
pub fn digamma(mut x: f64) -> f64 {
    let mut acc = 0.0;
    while x < 12.0 {
        acc -= 1.0 / x;
        x += 1.0;
    }
    let x2 = 1.0 / (x * x);
    acc + x.ln() - 0.5 / x - x2 * (1.0 / 12.0 - x2 * (1.0 / 120.0 - x2 * (1.0 / 252.0 - x2 / 240.0)))
}

/// The trigamma function ψ′(x) for x > 0.
pub fn trigamma(mut x: f64) -> f64 {
    let mut acc = 0.0;
    while x < 12.0 {
        acc += 1.0 / (x * x);
        x += 1.0;
    }
    let x2 = 1.0 / (x * x);
    acc + 1.0 / x + x2 / 2.0 + x2 / x * (1.0 / 6.0 - x2 * (1.0 / 30.0 - x2 * (1.0 / 42.0 - x2 / 30.0)))
}

#[cfg(test)]
mod special_tests {
    use super::*;

    #[test]
    fn digamma_and_trigamma_match_known_values() {
        // ψ(1) = −γ, ψ(1/2) = −γ − 2 ln 2, ψ′(1) = π²/6, ψ′(1/2) = π²/2
        let g = 0.577_215_664_901_532_9;
        assert!((digamma(1.0) + g).abs() < 1e-12);
        assert!((digamma(0.5) + g + 2.0 * 2f64.ln()).abs() < 1e-12);
        let pi2 = std::f64::consts::PI.powi(2);
        assert!((trigamma(1.0) - pi2 / 6.0).abs() < 1e-12);
        assert!((trigamma(0.5) - pi2 / 2.0).abs() < 1e-12);
    }
}

/// Maximizes a smooth concave function of a few parameters by Newton's
/// method, the Hessian by double backward through `value`, with step
/// halving so the value never decreases. Returns the maximizer found after
/// at most `iters` steps (it stops early at a singular Hessian or when no
/// halving improves).
pub fn newton_max(
    value: &dyn Fn(&odl_autodiff::Tensor) -> odl_autodiff::Tensor,
    w0: Vec<f64>,
    iters: usize,
) -> Vec<f64> {
    use odl_autodiff::{grad, grad_graph, Tensor};
    use odl_tensor::{Array, DType};
    let n = w0.len();
    let eval = |w: &[f64]| value(&Tensor::from_f64(w, &[n], DType::F64)).item();
    let mut w = w0;
    for _ in 0..iters {
        let p = Tensor::param(Array::from_vec(w.clone(), &[n]));
        let g = grad_graph(&value(&p), &[&p]).remove(0);
        let h: Vec<Vec<f64>> =
            (0..n).map(|i| grad(&g.slice(0, i, i + 1, 1).sum_all(), &[&p]).remove(0).to_vec_f64()).collect();
        let Some(step) = solve(h, g.to_vec_f64()) else { break };
        let f0 = eval(&w);
        let mut t = 1.0;
        loop {
            let cand: Vec<f64> = w.iter().zip(&step).map(|(a, s)| a - t * s).collect();
            let f1 = eval(&cand);
            if f1.is_finite() && f1 >= f0 {
                w = cand;
                break;
            }
            t /= 2.0;
            if t < 1e-12 {
                return w;
            }
        }
    }
    w
}

/// Gradient ascent with Adam (β = 0.9, 0.999) on a function of a few
/// parameters from `w0` (a critic's or discriminator's training): `steps + 1`
/// updates, each after recording the value it starts from. Returns those
/// values and the point after the last update.
pub fn adam_ascent(
    value: &dyn Fn(&odl_autodiff::Tensor) -> odl_autodiff::Tensor,
    w0: &[f64],
    lr: f64,
    steps: usize,
) -> (Vec<f64>, Vec<f64>) {
    use odl_autodiff::{grad, Tensor};
    use odl_optim::Transform;
    use odl_tensor::{Array, DType};
    let n = w0.len();
    let mut opt = odl_optim::adam(lr, 0.9, 0.999, 1e-8);
    let mut w = vec![Array::from_f64(w0, &[n], DType::F64)];
    let mut trace = Vec::with_capacity(steps + 1);
    for _ in 0..=steps {
        let p = Tensor::param(w[0].clone());
        let v = value(&p);
        trace.push(v.item());
        // ascent: the optimizer descends −value
        let g: Vec<f64> = grad(&v, &[&p]).remove(0).to_vec_f64().iter().map(|x| -x).collect();
        opt.step(&mut w, vec![Array::from_f64(&g, &[n], DType::F64)]);
    }
    (trace, w[0].to_vec_f64())
}

/// Solves the small dense system `A x = b` by Gaussian elimination with
/// partial pivoting; `None` when `A` is singular.
pub fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for c in 0..n {
        let piv = (c..n).max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))?;
        if a[piv][c].abs() < 1e-300 || !a[piv][c].is_finite() {
            return None;
        }
        a.swap(c, piv);
        b.swap(c, piv);
        for r in c + 1..n {
            let f = a[r][c] / a[c][c];
            for k in c..n {
                a[r][k] -= f * a[c][k];
            }
            b[r] -= f * b[c];
        }
    }
    let mut x = vec![0.0; n];
    for r in (0..n).rev() {
        x[r] = (b[r] - (r + 1..n).map(|k| a[r][k] * x[k]).sum::<f64>()) / a[r][r];
    }
    Some(x)
}

#[cfg(test)]
mod newton_tests {
    use super::*;
    use odl_autodiff::Tensor;

    #[test]
    fn newton_finds_the_maximum_of_a_concave_function() {
        // f(w) = −Σ softplus(wᵢ − i) − ½‖w‖² + w₀w₁/4: concave, maximizer where ∇f = 0
        let f = |w: &Tensor| {
            let shift = Tensor::from_f64(&[0.0, 1.0, 2.0], &[3], odl_tensor::DType::F64);
            -(w - &shift).softplus().sum_all() - w.square().sum_all() * 0.5
                + w.slice(0, 0, 1, 1).sum_all() * w.slice(0, 1, 2, 1).sum_all() * 0.25
        };
        let w = newton_max(&f, vec![5.0, -5.0, 5.0], 50);
        let p = Tensor::param(odl_tensor::Array::from_vec(w.clone(), &[3]));
        let g = odl_autodiff::grad(&f(&p), &[&p]).remove(0).to_vec_f64();
        assert!(g.iter().all(|x| x.abs() < 1e-12), "gradient at the maximizer {g:?}");
        assert_eq!(solve(vec![vec![0.0, 1.0], vec![1.0, 0.0]], vec![2.0, 3.0]), Some(vec![3.0, 2.0]));
        assert_eq!(solve(vec![vec![1.0, 2.0], vec![2.0, 4.0]], vec![1.0, 1.0]), None);
    }
}
