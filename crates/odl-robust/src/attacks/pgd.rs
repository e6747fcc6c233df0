//! PGD (Madry et al. 2018): from a random point of the ball, `steps` ascent
//! steps of size `α` on a loss, each projected back onto the threat model;
//! `restarts` independent starts. An example is broken as soon as any
//! iterate of any restart is misclassified; otherwise the highest-loss point
//! is kept.

use odl_tensor::Rng;

use super::{Attack, Found};
use crate::classifier::{loss_grad, predict, Classifier};
use crate::losses::Loss;
use crate::threat::Threat;

/// PGD on `loss` for each example.
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
    for r in 0..a.restarts {
        let mut rng = Rng::stream(a.seed, r as u64);
        let mut x = t.random_start(x0, d, &mut rng);
        for k in 0..=a.steps {
            let e = loss_grad(c, &x, d, y, &[], loss);
            for i in 0..n {
                if best.success[i] {
                    continue;
                }
                if e.pred[i] != y[i] {
                    best.success[i] = true;
                    best.x[i * d..(i + 1) * d].copy_from_slice(&x[i * d..(i + 1) * d]);
                } else if e.loss[i] > best_loss[i] {
                    best_loss[i] = e.loss[i];
                    best.x[i * d..(i + 1) * d].copy_from_slice(&x[i * d..(i + 1) * d]);
                }
            }
            if k == a.steps || best.success.iter().all(|&s| s) {
                break;
            }
            t.ascend(&mut x, &e.grad, &vec![alpha; n], d);
            t.project(&mut x, x0, d);
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
