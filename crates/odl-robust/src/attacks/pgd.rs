//! PGD (Madry et al. 2018): from a random point of the ball, `steps` ascent
//! steps of size `α` on a loss, each projected back onto the threat model;
//! `restarts` independent starts. An example is broken as soon as any
//! iterate of any restart is misclassified; otherwise the highest-loss point
//! is kept.

use odl_tensor::Rng;

use super::{rows, Attack, Found};
use crate::classifier::{loss_at, loss_grad, predict, Classifier};
use crate::losses::Loss;
use crate::threat::{linf_step, Threat};

/// PGD on `loss` for each example. An example leaves the batch at its
/// first misclassified iterate (its verdict is then settled), so later
/// steps cost only what the still-robust examples need; the iterates of
/// the others are those of the full batch.
pub fn run(
    a: &Attack,
    loss: Loss,
    c: &mut dyn Classifier,
    t: &Threat,
    x0: &[f32],
    d: usize,
    y: &[usize],
) -> Found {
    let n = y.len();
    let alpha = t.eps * a.step_size.unwrap_or(2.5 / a.steps as f64);
    let mut best = Found { x: x0.to_vec(), success: vec![false; n] };
    let mut best_loss = vec![f64::NEG_INFINITY; n];
    let bounds = t.linf_bounds(x0);
    for r in 0..a.restarts {
        let mut rng = Rng::stream(a.seed, r as u64);
        let mut x = t.random_start(x0, d, &mut rng);
        // the examples still attacked, in order
        let mut live: Vec<usize> = (0..n).filter(|&i| !best.success[i]).collect();
        for k in 0..=a.steps {
            if live.is_empty() {
                break;
            }
            let xs = if live.len() == n { x.clone() } else { rows(&x, d, &live) };
            let ys: Vec<usize> = live.iter().map(|&i| y[i]).collect();
            // the last iterate is only judged: no gradient
            let last = k == a.steps;
            let e =
                if last { loss_at(c, &xs, d, &ys, &[], loss) } else { loss_grad(c, &xs, d, &ys, &[], loss) };
            let mut still = Vec::with_capacity(live.len());
            for (j, &i) in live.iter().enumerate() {
                let row = i * d..(i + 1) * d;
                if e.pred[j] != y[i] {
                    best.success[i] = true;
                    best.x[row.clone()].copy_from_slice(&x[row]);
                    continue;
                }
                if e.loss[j] > best_loss[i] {
                    best_loss[i] = e.loss[j];
                    best.x[row.clone()].copy_from_slice(&x[row]);
                }
                still.push(j);
            }
            if last {
                break;
            }
            for &j in &still {
                let (i, g) = (live[j], &e.grad[j * d..(j + 1) * d]);
                let row = i * d..(i + 1) * d;
                match &bounds {
                    // ℓ∞: the step and the projection in one pass (the same numbers)
                    Some((lo, hi)) => {
                        linf_step(&mut x[row.clone()], g, alpha as f32, &lo[row.clone()], &hi[row])
                    }
                    None => {
                        t.ascend(&mut x[row.clone()], g, &[alpha], d);
                        t.project(&mut x[row.clone()], &x0[row], d);
                    }
                }
            }
            live = still.into_iter().map(|j| live[j]).collect();
        }
        if best.success.iter().all(|&s| s) {
            break;
        }
    }
    // the verdict is the classifier's at the returned point
    let pred = predict(c, &best.x, d);
    best.success = pred.iter().zip(y).map(|(p, l)| p != l).collect();
    best
}
