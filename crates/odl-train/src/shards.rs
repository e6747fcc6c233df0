//! A batch split into shards of consecutive rows, for data parallelism
//! (`value_and_grad_of_sum`, `Hessian::sum`): the batch's mean loss is the
//! weighted sum of the shards' mean losses.

use odl_autodiff::Tensor;

/// Splits `x: [B, …]` with `labels` into `n` shards (at most `B`) of
/// consecutive rows, as `(weight, (rows, labels))` with weight = shard size / B.
pub fn shards(x: &Tensor, labels: &[usize], n: usize) -> Vec<(f64, (Tensor, Vec<usize>))> {
    let b = labels.len();
    let n = n.clamp(1, b.max(1));
    (0..n)
        .map(|k| {
            let (lo, hi) = (k * b / n, (k + 1) * b / n);
            ((hi - lo) as f64 / b as f64, (x.slice(0, lo, hi, 1).detach(), labels[lo..hi].to_vec()))
        })
        .collect()
}
