//! APGD (Croce & Hein 2020, "Reliable evaluation of adversarial robustness
//! with an ensemble of diverse parameter-free attacks"): PGD with momentum
//! 0.75 and a step size that starts at 2ε and halves, per example, at
//! checkpoints `w_j = ⌈p_j N⌉` (`p₀ = 0, p₁ = 0.22, p_{j+1} = p_j +
//! max(p_j − p_{j−1} − 0.03, 0.06)`) when fewer than 75 % of the steps since
//! the last checkpoint increased the loss, or when neither the step size nor
//! the best loss changed since then. After a halving the iterate restarts
//! from the best point found.

use odl_tensor::Rng;

use super::{Attack, Found};
use crate::classifier::{logits_of, loss_grad, predict, Classifier};
use crate::losses::{top_indices, Loss};
use crate::threat::Threat;

/// The checkpoints `w_j` of `n` iterations (increasing, last ≤ n).
pub fn checkpoints(n: usize) -> Vec<usize> {
    let mut p = vec![0.0f64, 0.22];
    while *p.last().expect("two entries") < 1.0 {
        let (a, b) = (p[p.len() - 2], p[p.len() - 1]);
        p.push(b + (b - a - 0.03).max(0.06));
    }
    let mut w: Vec<usize> =
        p.iter().map(|q| (q * n as f64 - 1e-9).ceil() as usize).filter(|&w| w > 0 && w <= n).collect();
    w.dedup();
    w
}

/// APGD on an untargeted loss (CE or DLR), `restarts` times from random starts.
pub fn untargeted(
    a: &Attack,
    loss: Loss,
    c: &mut dyn Classifier,
    t: &Threat,
    x0: &[f32],
    d: usize,
    y: &[usize],
) -> Result<Found, String> {
    if loss == Loss::Dlr && classes(c, x0, d) < 3 {
        return Err("apgd-dlr: the DLR loss needs at least 3 classes".into());
    }
    Ok(restarted(a, c, t, x0, d, y, loss, None))
}

/// APGD on the targeted DLR loss towards each of the `targets` classes the
/// clean input ranks highest after the label, on what earlier targets left.
pub fn targeted(
    a: &Attack,
    c: &mut dyn Classifier,
    t: &Threat,
    x0: &[f32],
    d: usize,
    y: &[usize],
) -> Result<Found, String> {
    let k = classes(c, x0, d);
    if k < 4 {
        return Err(format!("apgd-t: the targeted DLR loss needs at least 4 classes, the model has {k}"));
    }
    let z = logits_of(c, x0, d);
    let flat: Vec<f64> = z.iter().flatten().copied().collect();
    let order = top_indices(&odl_tensor::Array::from_f64(&flat, &[y.len(), k], odl_tensor::DType::F64), k);
    let mut best = Found { x: x0.to_vec(), success: vec![false; y.len()] };
    for j in 0..a.targets.min(k - 1) {
        let live: Vec<usize> = (0..y.len()).filter(|&i| !best.success[i]).collect();
        if live.is_empty() {
            break;
        }
        // the (j+1)-th highest class other than the label
        let tg: Vec<usize> = live
            .iter()
            .map(|&i| order[i].iter().copied().filter(|&cl| cl != y[i]).nth(j).expect("k ≥ 4"))
            .collect();
        let xs: Vec<f32> = super::rows(x0, d, &live);
        let ys: Vec<usize> = live.iter().map(|&i| y[i]).collect();
        let sub = Attack { seed: a.seed.wrapping_add(1000 * (j as u64 + 1)), ..a.clone() };
        let f = restarted(&sub, c, t, &xs, d, &ys, Loss::DlrTargeted, Some(&tg));
        for (m, &i) in live.iter().enumerate() {
            if f.success[m] || j == 0 {
                best.x[i * d..(i + 1) * d].copy_from_slice(&f.x[m * d..(m + 1) * d]);
            }
            best.success[i] = f.success[m];
        }
    }
    Ok(best)
}

fn classes(c: &mut dyn Classifier, x0: &[f32], d: usize) -> usize {
    logits_of(c, &x0[..d], d)[0].len()
}

#[allow(clippy::too_many_arguments)]
fn restarted(
    a: &Attack,
    c: &mut dyn Classifier,
    t: &Threat,
    x0: &[f32],
    d: usize,
    y: &[usize],
    loss: Loss,
    targets: Option<&[usize]>,
) -> Found {
    let n = y.len();
    let mut best = Found { x: x0.to_vec(), success: vec![false; n] };
    for r in 0..a.restarts {
        let live: Vec<usize> = (0..n).filter(|&i| !best.success[i]).collect();
        if live.is_empty() {
            break;
        }
        let xs: Vec<f32> = super::rows(x0, d, &live);
        let ys: Vec<usize> = live.iter().map(|&i| y[i]).collect();
        let ts: Vec<usize> = targets.map(|tg| live.iter().map(|&i| tg[i]).collect()).unwrap_or_default();
        let mut rng = Rng::stream(a.seed, r as u64);
        let f = one_run(a.steps, c, t, &xs, d, &ys, &ts, loss, &mut rng);
        for (m, &i) in live.iter().enumerate() {
            if f.success[m] || r == 0 {
                best.x[i * d..(i + 1) * d].copy_from_slice(&f.x[m * d..(m + 1) * d]);
            }
            best.success[i] = f.success[m];
        }
    }
    best
}

/// One APGD run of `steps` iterations from a random start.
#[allow(clippy::too_many_arguments)]
fn one_run(
    steps: usize,
    c: &mut dyn Classifier,
    t: &Threat,
    x0: &[f32],
    d: usize,
    y: &[usize],
    tg: &[usize],
    loss: Loss,
    rng: &mut Rng,
) -> Found {
    const ALPHA: f32 = 0.75;
    const RHO: f64 = 0.75;
    let n = y.len();
    let checks = checkpoints(steps);
    let mut eta = vec![2.0 * t.eps; n];
    let mut x = t.random_start(x0, d, rng);
    let mut e = loss_grad(c, &x, d, y, tg, loss);
    let mut found = Found { x: x.clone(), success: e.pred.iter().zip(y).map(|(p, l)| p != l).collect() };
    let (mut x_max, mut f_max, mut g_max) = (x.clone(), e.loss.clone(), e.grad.clone());
    let mut x_prev = x.clone();
    let mut f_prev = e.loss.clone();
    let mut increases = vec![0usize; n];
    let mut last_check = 0usize;
    let (mut eta_at_check, mut fmax_at_check) = (eta.clone(), f_max.clone());
    for k in 0..steps {
        // z = P(x + η·step(g)); x ← P(x + α(z − x) + (1 − α)(x − x_prev)), no momentum on the first step
        let mut z = x.clone();
        t.ascend(&mut z, &e.grad, &eta, d);
        t.project(&mut z, x0, d);
        let mut next = z.clone();
        if k > 0 {
            for ((nx, (&zi, &xi)), &pi) in next.iter_mut().zip(z.iter().zip(&x)).zip(&x_prev) {
                *nx = xi + ALPHA * (zi - xi) + (1.0 - ALPHA) * (xi - pi);
            }
            t.project(&mut next, x0, d);
        }
        x_prev = std::mem::replace(&mut x, next);
        e = loss_grad(c, &x, d, y, tg, loss);
        for i in 0..n {
            let row = i * d..(i + 1) * d;
            if !found.success[i] && e.pred[i] != y[i] {
                found.success[i] = true;
                found.x[row.clone()].copy_from_slice(&x[row.clone()]);
            }
            if e.loss[i] > f_prev[i] {
                increases[i] += 1;
            }
            if e.loss[i] > f_max[i] {
                f_max[i] = e.loss[i];
                x_max[row.clone()].copy_from_slice(&x[row.clone()]);
                g_max[row.clone()].copy_from_slice(&e.grad[row]);
            }
        }
        f_prev.clone_from(&e.loss);
        if checks.contains(&(k + 1)) {
            let span = (k + 1 - last_check) as f64;
            for i in 0..n {
                let stalled = (increases[i] as f64) < RHO * span;
                let unchanged = eta_at_check[i] == eta[i] && fmax_at_check[i] == f_max[i];
                if stalled || unchanged {
                    eta[i] /= 2.0;
                    let row = i * d..(i + 1) * d;
                    x[row.clone()].copy_from_slice(&x_max[row.clone()]);
                    x_prev[row.clone()].copy_from_slice(&x_max[row.clone()]);
                    e.grad[row.clone()].copy_from_slice(&g_max[row]);
                }
                increases[i] = 0;
            }
            last_check = k + 1;
            eta_at_check.clone_from(&eta);
            fmax_at_check.clone_from(&f_max);
        }
    }
    for i in 0..n {
        if !found.success[i] {
            let row = i * d..(i + 1) * d;
            found.x[row.clone()].copy_from_slice(&x_max[row]);
        }
    }
    let pred = predict(c, &found.x, d);
    found.success = pred.iter().zip(y).map(|(p, l)| p != l).collect();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_follow_croce_and_hein() {
        // p = 0, 0.22, 0.41, 0.57, 0.70, 0.80, 0.87, 0.93, 0.99, 1.05 → w for N = 100
        assert_eq!(checkpoints(100), vec![22, 41, 57, 70, 80, 87, 93, 99]);
        let w = checkpoints(7);
        assert!(w.windows(2).all(|p| p[0] < p[1]) && *w.last().unwrap() <= 7);
    }
}
