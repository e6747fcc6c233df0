//! The per-example objectives that attacks ascend, from logits `z` `[n, k]`
//! and labels `y`:
//!
//! | loss | value | note |
//! |---|---|---|
//! | `Ce` | `−log softmax(z)_y` | unbounded; saturates when the model is confident |
//! | `Margin` | `max_{j≠y} z_j − z_y` | Carlini & Wagner; > 0 exactly when misclassified |
//! | `Dlr` | `−(z_y − max_{j≠y} z_j) / (z_π₁ − z_π₃)` | Croce & Hein 2020: invariant to shifting and scaling the logits |
//! | `DlrTargeted` | `−(z_y − z_t) / (z_π₁ − (z_π₃ + z_π₄)/2)` | towards target `t` |
//!
//! `π` orders the logits decreasingly. The DLR denominators get `1e-12` so
//! that equal logits give a finite value.

use odl_autodiff::Tensor;
use odl_tensor::Array;

/// An attack objective.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    /// cross-entropy
    Ce,
    /// Carlini–Wagner margin
    Margin,
    /// difference of logits ratio (untargeted)
    Dlr,
    /// difference of logits ratio towards a target class
    DlrTargeted,
}

/// A `[n, k]` array with `v` at `(i, idx[i])` and 0 elsewhere.
fn one_hot(idx: &[usize], k: usize, v: f64, z: &Tensor) -> Tensor {
    let mut a = vec![0.0; idx.len() * k];
    for (i, &j) in idx.iter().enumerate() {
        a[i * k + j] = v;
    }
    Tensor::constant(Array::from_f64(&a, &[idx.len(), k], z.dtype()))
}

/// The column `idx[i]` of each row of `z`, `[n]`.
fn pick(z: &Tensor, idx: &[usize]) -> Tensor {
    let n = idx.len();
    z.gather(1, idx, &[n, 1]).reshape(&[n])
}

/// Indices of each row's `m` largest entries, largest first.
pub fn top_indices(z: &Array, m: usize) -> Vec<Vec<usize>> {
    let k = z.shape()[1];
    z.to_vec_f64()
        .chunks(k)
        .map(|r| {
            let mut o: Vec<usize> = (0..k).collect();
            o.sort_by(|&a, &b| r[b].total_cmp(&r[a]).then(a.cmp(&b)));
            o.truncate(m);
            o
        })
        .collect()
}

impl Loss {
    /// The objective of each example, `[n]` (differentiable in `z`).
    /// `targets` is read by [`Loss::DlrTargeted`] only.
    pub fn per_example(self, z: &Tensor, y: &[usize], targets: &[usize]) -> Tensor {
        let k = z.shape()[1];
        let zy = pick(z, y);
        // the largest logit other than the label's
        let other = || (z - &one_hot(y, k, 1e9, z)).max(&[1], false);
        match self {
            Loss::Ce => {
                let lp = z.log_softmax(1);
                -pick(&lp, y)
            }
            Loss::Margin => other() - zy,
            Loss::Dlr | Loss::DlrTargeted => {
                assert!(
                    k >= 4 || self == Loss::Dlr && k >= 3,
                    "DLR needs at least 3 (targeted: 4) classes, got {k}"
                );
                let top = top_indices(z.value(), 4.min(k));
                let col = |c: usize| pick(z, &top.iter().map(|t| t[c]).collect::<Vec<_>>());
                if self == Loss::Dlr {
                    let den = (col(0) - col(2)).add_scalar(1e-12);
                    -((zy - other()) / den)
                } else {
                    let den = (col(0) - (col(2) + col(3)).mul_scalar(0.5)).add_scalar(1e-12);
                    -((zy - pick(z, targets)) / den)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use odl_tensor::DType;

    fn z() -> Tensor {
        Tensor::param(Array::from_f64(&[3.0, 1.0, 0.0, -1.0, 0.5, 2.0, 4.0, 1.0], &[2, 4], DType::F64))
    }

    #[test]
    fn values_match_their_definitions() {
        let y = [0, 1];
        let m = Loss::Margin.per_example(&z(), &y, &[]).to_vec_f64();
        assert_eq!(m, vec![1.0 - 3.0, 4.0 - 2.0]);
        let ce = Loss::Ce.per_example(&z(), &y, &[]).to_vec_f64();
        let lse = |r: &[f64]| r.iter().map(|v| v.exp()).sum::<f64>().ln();
        assert!((ce[0] - (lse(&[3.0, 1.0, 0.0, -1.0]) - 3.0)).abs() < 1e-12);
        assert!((ce[1] - (lse(&[0.5, 2.0, 4.0, 1.0]) - 2.0)).abs() < 1e-12);
        // row 0 sorted: 3, 1, 0, −1; row 1 sorted: 4, 2, 1, 0.5
        let dlr = Loss::Dlr.per_example(&z(), &y, &[]).to_vec_f64();
        assert!((dlr[0] - (-(3.0 - 1.0) / (3.0 - 0.0))).abs() < 1e-9);
        assert!((dlr[1] - (-(2.0 - 4.0) / (4.0 - 1.0))).abs() < 1e-9);
        let t = Loss::DlrTargeted.per_example(&z(), &y, &[3, 0]).to_vec_f64();
        assert!((t[0] - (-(3.0 - -1.0) / (3.0 - (0.0 - 1.0) / 2.0))).abs() < 1e-9);
        assert!((t[1] - (-(2.0 - 0.5) / (4.0 - (1.0 + 0.5) / 2.0))).abs() < 1e-9);
    }

    #[test]
    fn dlr_is_invariant_to_shifting_and_scaling_logits() {
        let y = [2, 0];
        let a = Loss::Dlr.per_example(&z(), &y, &[]).to_vec_f64();
        let b = Loss::Dlr.per_example(&z().mul_scalar(7.0).add_scalar(-3.0), &y, &[]).to_vec_f64();
        for (u, v) in a.iter().zip(&b) {
            assert!((u - v).abs() < 1e-9);
        }
    }

    #[test]
    fn gradients_agree_with_finite_differences() {
        for loss in [Loss::Ce, Loss::Margin, Loss::Dlr, Loss::DlrTargeted] {
            let f = |zt: &Tensor| loss.per_example(zt, &[0, 1], &[3, 0]).sum_all();
            let zt = z();
            let g = odl_autodiff::grad(&f(&zt), &[&zt]).remove(0).to_vec_f64();
            let base = zt.value().to_vec_f64();
            for i in 0..base.len() {
                let mut p = base.clone();
                p[i] += 1e-6;
                let mut m = base.clone();
                m[i] -= 1e-6;
                let fp = f(&Tensor::constant(Array::from_f64(&p, &[2, 4], DType::F64))).item();
                let fm = f(&Tensor::constant(Array::from_f64(&m, &[2, 4], DType::F64))).item();
                assert!(
                    (g[i] - (fp - fm) / 2e-6).abs() < 1e-6,
                    "{loss:?} entry {i}: {} vs {}",
                    g[i],
                    (fp - fm) / 2e-6
                );
            }
        }
    }
}
