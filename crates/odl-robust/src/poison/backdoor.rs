//! BadNets (Gu, Dolan-Gavitt & Garg 2017): a small patch stamped in a
//! corner of a fraction of the training images, whose labels become the
//! target class. A network trained on it keeps its clean accuracy and
//! answers the target class whenever the patch is present.

use odl_tensor::Rng;

/// A square trigger of `size` pixels of value `value`, `margin` pixels from
/// the bottom-right corner of every channel of `[c, h, w]` images.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Trigger {
    /// one example's shape `[c, h, w]`
    pub image: [usize; 3],
    /// side of the square
    pub size: usize,
    /// distance from the bottom and right edges
    pub margin: usize,
    /// the pixel value written
    pub value: f32,
}

impl Trigger {
    /// Validates the trigger against its image, naming the problem.
    pub fn validate(&self) -> Result<(), String> {
        let [_, h, w] = self.image;
        if self.size == 0 || self.size + self.margin > h.min(w) {
            return Err(format!(
                "trigger of {} pixels at margin {} does not fit {h}×{w} images",
                self.size, self.margin
            ));
        }
        Ok(())
    }

    /// Stamps the trigger on every example of `x` (`[n, c·h·w]`).
    pub fn stamp(&self, x: &mut [f32]) {
        let [c, h, w] = self.image;
        let d = c * h * w;
        for ex in x.chunks_mut(d) {
            for ch in 0..c {
                for r in h - self.margin - self.size..h - self.margin {
                    for q in w - self.margin - self.size..w - self.margin {
                        ex[ch * h * w + r * w + q] = self.value;
                    }
                }
            }
        }
    }
}

/// Poisons `count` training examples drawn uniformly among those not of the
/// `target` class: the trigger stamped, the label set to `target`. Returns
/// the poisoned inputs and labels and the indices poisoned.
pub fn poison(
    x: &[f32],
    labels: &[usize],
    trigger: &Trigger,
    target: usize,
    count: usize,
    rng: &mut Rng,
) -> (Vec<f32>, Vec<usize>, Vec<usize>) {
    let [c, h, w] = trigger.image;
    let d = c * h * w;
    let others: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] != target).collect();
    let order = rng.permutation(others.len());
    let chosen: Vec<usize> = order.into_iter().take(count.min(others.len())).map(|k| others[k]).collect();
    let (mut xs, mut ys) = (x.to_vec(), labels.to_vec());
    for &i in &chosen {
        trigger.stamp(&mut xs[i * d..(i + 1) * d]);
        ys[i] = target;
    }
    (xs, ys, chosen)
}

/// Attack success rate: among examples not of `target`, the fraction that
/// `predict` (the model's predictions of stamped inputs) assigns to
/// `target`.
pub fn success_rate(stamped_predictions: &[usize], labels: &[usize], target: usize) -> f64 {
    let idx: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] != target).collect();
    idx.iter().filter(|&&i| stamped_predictions[i] == target).count() as f64 / idx.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trigger_lands_in_the_corner_and_poison_relabels_only_others() {
        let t = Trigger { image: [1, 6, 6], size: 2, margin: 1, value: 1.0 };
        t.validate().unwrap();
        let mut x = vec![0.0f32; 36];
        t.stamp(&mut x);
        let lit: Vec<usize> = (0..36).filter(|&i| x[i] == 1.0).collect();
        assert_eq!(lit, vec![3 * 6 + 3, 3 * 6 + 4, 4 * 6 + 3, 4 * 6 + 4]);
        let labels = [0, 1, 2, 1, 0, 2];
        let xs = vec![0.0f32; 36 * 6];
        let (px, py, chosen) = poison(&xs, &labels, &t, 1, 3, &mut Rng::seed(1));
        assert_eq!(chosen.len(), 3);
        assert!(chosen.iter().all(|&i| labels[i] != 1 && py[i] == 1));
        assert_eq!(px.iter().filter(|&&v| v == 1.0).count(), 3 * 4);
        assert!(Trigger { size: 6, ..t }.validate().unwrap_err().contains("does not fit"));
        assert_eq!(success_rate(&[1, 1, 0, 1, 1, 1], &labels, 1), 0.75);
    }
}
