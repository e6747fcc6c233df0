//! Hutchinson's trace estimator: `tr A = E[zᵀ A z]` for Rademacher `z`.

use odl_autodiff::LinOp;
use odl_tensor::Rng;

use crate::linalg::dot;

/// The running estimate after each of `samples` Rademacher probes (the last
/// entry is the estimate; the sequence shows its convergence).
pub fn hutchinson(op: &dyn LinOp, samples: usize, seed: u64) -> Vec<f64> {
    let n = op.dim();
    let mut rng = Rng::seed(seed);
    let mut sum = 0.0;
    (1..=samples)
        .map(|i| {
            let z: Vec<f64> = (0..n).map(|_| if rng.uniform_f64() < 0.5 { -1.0 } else { 1.0 }).collect();
            sum += dot(&z, &op.apply(&z));
            sum / i as f64
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use odl_autodiff::DenseOp;

    #[test]
    fn converges_to_the_exact_trace_at_the_predicted_rate() {
        let n = 50;
        let mut rng = Rng::seed(4);
        let g: Vec<f64> = (0..n * n).map(|_| rng.normal_f64()).collect();
        let a: Vec<f64> = (0..n * n)
            .map(|k| g[k] + g[(k % n) * n + k / n] + if k % (n + 1) == 0 { 3.0 } else { 0.0 })
            .collect();
        let tr: f64 = (0..n).map(|i| a[i * n + i]).sum();
        // Var[zᵀAz] = 2 Σ_{i≠j} A_ij² for Rademacher z
        let off: f64 = (0..n * n).filter(|k| k % (n + 1) != 0).map(|k| a[k] * a[k]).sum();
        let sd = (2.0 * off).sqrt();
        let op = DenseOp { n, a };
        let est = hutchinson(&op, 4000, 9);
        for &m in &[100usize, 4000] {
            let err = (est[m - 1] - tr).abs();
            assert!(
                err < 4.0 * sd / (m as f64).sqrt(),
                "m={m}: error {err}, σ/√m = {}",
                sd / (m as f64).sqrt()
            );
        }
    }
}
