//! Randomized smoothing (Cohen, Rosenfeld & Kolter 2019). The smoothed
//! classifier `g(x) = argmax_c P(f(x + N(0, σ²I)) = c)` is certifiably
//! robust in ℓ2: if its top class has probability at least `p_A > ½`, no
//! perturbation of norm below `σ Φ⁻¹(p_A)` changes it. CERTIFY estimates
//! this from samples: `n0` noisy copies guess the top class, `n` more count
//! it, the one-sided Clopper–Pearson bound at level `1 − α` gives `p̲_A`; if
//! `p̲_A ≤ ½` the answer is to abstain. The radius holds with probability at
//! least `1 − α` over the sampling.

use odl_tensor::Rng;
use statrs::distribution::{Beta, ContinuousCDF, Normal};

use crate::classifier::{predict, Classifier};

/// CERTIFY's settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Smoothing {
    /// noise standard deviation (data units)
    pub sigma: f64,
    /// samples that choose the class
    pub n0: usize,
    /// samples that bound its probability
    pub n: usize,
    /// the failure probability of the bound
    pub alpha: f64,
    /// noisy copies per forward pass
    pub batch: usize,
}

/// CERTIFY's answer for one input.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Smoothed {
    /// the certified class, or `None` (abstain)
    pub class: Option<usize>,
    /// the lower confidence bound `p̲_A` on the top class's probability
    pub p_lower: f64,
    /// the certified ℓ2 radius `σ Φ⁻¹(p̲_A)` (0 when abstaining)
    pub radius: f64,
}

/// The one-sided `1 − alpha` Clopper–Pearson lower bound on a probability
/// from `k` successes in `n` trials.
pub fn clopper_pearson_lower(k: usize, n: usize, alpha: f64) -> f64 {
    if k == 0 {
        return 0.0;
    }
    Beta::new(k as f64, (n - k + 1) as f64).map_or(0.0, |b| b.inverse_cdf(alpha))
}

impl Smoothing {
    /// Validates the settings, naming the bad one.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.sigma.is_finite() && self.sigma > 0.0) {
            return Err(format!("sigma = {}: must be a positive number", self.sigma));
        }
        if self.n0 == 0 || self.n == 0 || self.batch == 0 {
            return Err("n0, n and the batch must be at least 1".into());
        }
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(format!("alpha = {}: must be in (0, 1)", self.alpha));
        }
        Ok(())
    }

    /// Class counts of `f` over `m` noisy copies of `x` (`d` values).
    fn counts(
        &self,
        c: &mut dyn Classifier,
        x: &[f32],
        d: usize,
        m: usize,
        k: usize,
        rng: &mut Rng,
    ) -> Vec<usize> {
        let mut counts = vec![0usize; k];
        let mut left = m;
        while left > 0 {
            let b = left.min(self.batch);
            let noisy: Vec<f32> = (0..b)
                .flat_map(|_| {
                    x.iter().map(|&v| v + (self.sigma * rng.normal_f64()) as f32).collect::<Vec<_>>()
                })
                .collect();
            for p in predict(c, &noisy, d) {
                counts[p] += 1;
            }
            left -= b;
        }
        counts
    }

    /// CERTIFY for one input `x` of a `k`-class classifier.
    pub fn certify(&self, c: &mut dyn Classifier, x: &[f32], d: usize, k: usize, rng: &mut Rng) -> Smoothed {
        let guess = self.counts(c, x, d, self.n0, k, rng);
        let top = (0..k).fold(0, |b, j| if guess[j] > guess[b] { j } else { b });
        let n_a = self.counts(c, x, d, self.n, k, rng)[top];
        let p_lower = clopper_pearson_lower(n_a, self.n, self.alpha);
        if p_lower > 0.5 {
            let radius = self.sigma * Normal::standard().inverse_cdf(p_lower);
            Smoothed { class: Some(top), p_lower, radius }
        } else {
            Smoothed { class: None, p_lower, radius: 0.0 }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use odl_autodiff::Tensor;
    use odl_tensor::{Array, DType};

    #[test]
    fn clopper_pearson_matches_known_values() {
        // 9 of 10 at 95 %: 0.6058; all of n: α^(1/n)
        assert!((clopper_pearson_lower(9, 10, 0.05) - 0.605_836_7).abs() < 1e-6);
        assert!((clopper_pearson_lower(100, 100, 0.001) - 0.001f64.powf(0.01)).abs() < 1e-9);
        assert_eq!(clopper_pearson_lower(0, 10, 0.05), 0.0);
    }

    #[test]
    fn a_linear_classifier_is_certified_to_its_distance_from_the_boundary() {
        // f(x) = [x₀ + x₁ > ½] (logits differ by 2(x₀ + x₁) − 1): smoothing a half-space gives p_A = Φ(dist/σ)
        // exactly, so σΦ⁻¹(p̲_A) approaches the ℓ2 distance from below
        let mut f = |x: &Tensor| {
            let w = Tensor::constant(Array::from_f64(&[-1.0, -1.0, 1.0, 1.0], &[2, 2], DType::F32));
            let b = Tensor::constant(Array::from_f64(&[0.5, -0.5], &[2], DType::F32));
            x.linear(&w, Some(&b))
        };
        let s = Smoothing { sigma: 0.5, n0: 100, n: 20_000, alpha: 0.001, batch: 5000 };
        s.validate().unwrap();
        let mut rng = Rng::seed(1);
        for (x, class) in [([1.0f32, 0.6], 1), ([0.2f32, 0.1], 0), ([0.9, 0.5], 1)] {
            let dist = ((x[0] + x[1] - 0.5) as f64).abs() / 2f64.sqrt();
            let r = s.certify(&mut f, &x, 2, 2, &mut rng);
            assert_eq!(r.class, Some(class));
            // below the truth (a lower bound) and close to it (Monte-Carlo error)
            assert!(r.radius <= dist && r.radius > dist - 0.05, "radius {} vs distance {dist}", r.radius);
        }
        // on the boundary: abstain
        let r = s.certify(&mut f, &[0.25, 0.25], 2, 2, &mut rng);
        assert_eq!(r.class, None);
        assert!(s.with_sigma(-1.0).validate().unwrap_err().contains("sigma = -1"));
    }

    impl Smoothing {
        fn with_sigma(self, sigma: f64) -> Smoothing {
            Smoothing { sigma, ..self }
        }
    }
}
