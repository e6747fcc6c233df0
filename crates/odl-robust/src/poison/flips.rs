//! Label flipping. Random: `count` examples, each to a uniformly drawn other
//! class. Greedy by loss: the flips a clean model finds most surprising —
//! each example's least likely class, the `count` examples whose flip costs
//! the most cross-entropy first.

use odl_tensor::Rng;

/// Labels with `count` of them (distinct examples, drawn uniformly) moved
/// to a uniformly drawn other class; also the flipped indices.
pub fn random_flips(
    labels: &[usize],
    classes: usize,
    count: usize,
    rng: &mut Rng,
) -> (Vec<usize>, Vec<usize>) {
    let mut out = labels.to_vec();
    let order = rng.permutation(labels.len());
    let chosen: Vec<usize> = order.into_iter().take(count.min(labels.len())).collect();
    for &i in &chosen {
        let shift = 1 + (rng.uniform_f64() * (classes - 1) as f64) as usize % (classes - 1).max(1);
        out[i] = (labels[i] + shift) % classes;
    }
    (out, chosen)
}

/// Labels with `count` examples moved to their least likely class under a
/// clean model's probabilities `probs` (`[n, classes]`), the examples whose
/// new label has the largest loss `−log p` first; also the flipped indices.
pub fn greedy_flips(
    labels: &[usize],
    probs: &[f64],
    classes: usize,
    count: usize,
) -> (Vec<usize>, Vec<usize>) {
    let n = labels.len();
    let least: Vec<(usize, f64)> = (0..n)
        .map(|i| {
            let p = &probs[i * classes..(i + 1) * classes];
            let j = (0..classes).filter(|&j| j != labels[i]).fold(usize::MAX, |b, j| {
                if b == usize::MAX || p[j] < p[b] {
                    j
                } else {
                    b
                }
            });
            (j, -p[j].max(1e-300).ln())
        })
        .collect();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| least[b].1.total_cmp(&least[a].1).then(a.cmp(&b)));
    let chosen: Vec<usize> = order.into_iter().take(count.min(n)).collect();
    let mut out = labels.to_vec();
    for &i in &chosen {
        out[i] = least[i].0;
    }
    (out, chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flips_change_exactly_count_labels_to_other_classes() {
        let labels: Vec<usize> = (0..200).map(|i| i % 10).collect();
        let (out, chosen) = random_flips(&labels, 10, 37, &mut Rng::seed(3));
        assert_eq!(chosen.len(), 37);
        assert_eq!(out.iter().zip(&labels).filter(|(a, b)| a != b).count(), 37);
        assert!(out.iter().all(|&l| l < 10));
        // reproducible
        assert_eq!(random_flips(&labels, 10, 37, &mut Rng::seed(3)).0, out);
    }

    #[test]
    fn greedy_flips_pick_the_most_surprising_new_labels() {
        // three examples, three classes: example 1's least likely class is the least likely of all
        let labels = [0, 1, 2];
        let probs = [0.8, 0.15, 0.05, 0.1, 0.899, 0.001, 0.3, 0.3, 0.4];
        let (out, chosen) = greedy_flips(&labels, &probs, 3, 2);
        assert_eq!(chosen, vec![1, 0]);
        assert_eq!(out, vec![2, 2, 2]);
    }
}
