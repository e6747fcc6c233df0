//! 2-D mixtures of Gaussians, the standard test of mode collapse (Metz et
//! al. 2017; Srivastava et al. 2017): eight on a ring and twenty-five on a
//! grid, and the metrics that say how much of a mixture a generator covers.
//!
//! A generated sample is **high quality** when it lies within `threshold·σ`
//! of its nearest center, and then counts for that center's mode; a mode is
//! **covered** when it holds at least `min_share` of the high-quality
//! samples a uniform spread would give it (default 0.1: a tenth of its fair
//! share, so that a single stray sample does not count). The mode histogram
//! is compared with the uniform one by the Jensen–Shannon divergence (nats,
//! 0 to log 2).

use odl_tensor::{Array, DType, Rng};

/// A mixture of equally weighted isotropic Gaussians in the plane.
#[derive(Clone, Debug, PartialEq)]
pub struct Mixture {
    /// the means
    pub centers: Vec<[f64; 2]>,
    /// the standard deviation of every component
    pub sigma: f64,
    /// a sample within `threshold·σ` of a center is high quality
    pub threshold: f64,
    /// a mode is covered with at least this share of its fair count
    pub min_share: f64,
}

/// What a set of samples covers.
#[derive(Clone, Debug, PartialEq)]
pub struct Coverage {
    /// the number of modes
    pub modes: usize,
    /// modes covered
    pub covered: usize,
    /// fraction of samples that are high quality
    pub high_quality: f64,
    /// JS divergence of the high-quality samples' mode histogram to uniform
    /// (log 2 when no sample is high quality)
    pub js_uniform: f64,
    /// high-quality samples per mode
    pub counts: Vec<usize>,
}

impl Mixture {
    /// `k` components evenly on a circle of `radius` (ring-8: `k = 8`,
    /// radius 2, σ = 0.02).
    pub fn ring(k: usize, radius: f64, sigma: f64) -> Mixture {
        let centers = (0..k)
            .map(|i| {
                let a = 2.0 * std::f64::consts::PI * i as f64 / k as f64;
                [radius * a.cos(), radius * a.sin()]
            })
            .collect();
        Mixture { centers, sigma, threshold: 3.0, min_share: 0.1 }
    }

    /// A `side × side` grid with `spacing` between neighbours, centred on
    /// the origin (grid-25: side 5, spacing 2, σ = 0.05).
    pub fn grid(side: usize, spacing: f64, sigma: f64) -> Mixture {
        let off = (side as f64 - 1.0) / 2.0;
        let mut centers = Vec::with_capacity(side * side);
        for i in 0..side {
            for j in 0..side {
                centers.push([(i as f64 - off) * spacing, (j as f64 - off) * spacing]);
            }
        }
        Mixture { centers, sigma, threshold: 3.0, min_share: 0.1 }
    }

    /// `n` samples `[n, 2]`, components drawn uniformly.
    pub fn sample(&self, n: usize, rng: &mut Rng, dtype: DType) -> Array {
        let mut v = Vec::with_capacity(2 * n);
        for _ in 0..n {
            let c = self.centers[rng.below(self.centers.len())];
            v.push(c[0] + self.sigma * rng.normal_f64());
            v.push(c[1] + self.sigma * rng.normal_f64());
        }
        Array::from_f64(&v, &[n, 2], dtype)
    }

    /// The index of the nearest center and the distance to it.
    pub fn nearest(&self, p: [f64; 2]) -> (usize, f64) {
        let mut best = (0, f64::INFINITY);
        for (i, c) in self.centers.iter().enumerate() {
            let d = ((p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2)).sqrt();
            if d < best.1 {
                best = (i, d);
            }
        }
        best
    }

    /// Coverage of `samples` (`[n, 2]`, row-major as `x0 y0 x1 y1 …`).
    /// Non-finite samples count as low quality.
    pub fn coverage(&self, samples: &[f64]) -> Coverage {
        let k = self.centers.len();
        let n = samples.len() / 2;
        let mut counts = vec![0usize; k];
        for p in samples.chunks_exact(2) {
            if !(p[0].is_finite() && p[1].is_finite()) {
                continue;
            }
            let (i, d) = self.nearest([p[0], p[1]]);
            if d <= self.threshold * self.sigma {
                counts[i] += 1;
            }
        }
        let hq: usize = counts.iter().sum();
        let fair = hq as f64 / k as f64;
        let covered =
            if hq == 0 { 0 } else { counts.iter().filter(|&&c| c as f64 >= self.min_share * fair).count() };
        Coverage {
            modes: k,
            covered,
            high_quality: if n == 0 { 0.0 } else { hq as f64 / n as f64 },
            js_uniform: js_to_uniform(&counts),
            counts,
        }
    }
}

/// `JS(p‖u)` in nats for the histogram `counts` normalized, against the
/// uniform distribution on as many bins; `log 2` for an empty histogram.
pub fn js_to_uniform(counts: &[usize]) -> f64 {
    let total: usize = counts.iter().sum();
    if total == 0 {
        return std::f64::consts::LN_2;
    }
    let u = 1.0 / counts.len() as f64;
    let mut js = 0.0;
    for &c in counts {
        let p = c as f64 / total as f64;
        let m = 0.5 * (p + u);
        if p > 0.0 {
            js += 0.5 * p * (p / m).ln();
        }
        js += 0.5 * u * (u / m).ln();
    }
    js
}
