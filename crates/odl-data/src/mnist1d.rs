//! An MNIST-1D-style generator, written from the description in Greydanus
//! (2020), "Scaling down deep learning": ten short 1-D templates, each placed
//! in zero padding at a random offset, stretched, sheared, given correlated
//! and white noise, and resampled to a fixed length. Small enough to train in
//! seconds, yet a CNN clearly beats an MLP on it (the point of the data set).

use odl_tensor::{Array, Rng};

use crate::dataset::Dataset;

/// Generator settings (defaults follow the paper's description).
#[derive(Clone, Debug)]
pub struct Mnist1dConfig {
    /// examples to draw
    pub n: usize,
    /// scale of the templates relative to the noise (the paper's templates
    /// span about 0–7 against noise of 0.25)
    pub amplitude: f64,
    /// length of each output sequence
    pub length: usize,
    /// total zero padding around the template: a uniform integer in this range
    pub padding: (usize, usize),
    /// relative stretch: the template is scaled by `1 + scale·U(−1, 1)`
    pub scale: f64,
    /// slope of the added linear ramp: `shear·U(−1, 1)`
    pub shear: f64,
    /// standard deviation of the smoothed (correlated) noise
    pub corr_noise: f64,
    /// standard deviation of the white noise added last
    pub iid_noise: f64,
    /// seed
    pub seed: u64,
}

impl Default for Mnist1dConfig {
    fn default() -> Self {
        Mnist1dConfig {
            n: 5000,
            amplitude: 6.0,
            length: 40,
            padding: (36, 60),
            scale: 0.4,
            shear: 0.75,
            corr_noise: 0.25,
            iid_noise: 0.02,
            seed: 42,
        }
    }
}

/// The ten templates (12 points each): shapes chosen to be pairwise distinct
/// under shifts — a bump, a spike, ramps, steps, a wave, a V and its inverse.
pub fn templates() -> [[f64; 12]; 10] {
    [
        [0.0, 0.3, 0.7, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.7, 0.3, 0.0],
        [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        [0.0, 0.09, 0.18, 0.27, 0.36, 0.45, 0.55, 0.64, 0.73, 0.82, 0.91, 1.0],
        [0.0, 0.6, 1.0, 0.6, 0.0, 0.0, 0.0, 0.0, 0.6, 1.0, 0.6, 0.0],
        [1.0, 0.91, 0.82, 0.73, 0.64, 0.55, 0.45, 0.36, 0.27, 0.18, 0.09, 0.0],
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
        [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        [0.0, 0.5, 0.87, 1.0, 0.87, 0.5, 0.0, -0.5, -0.87, -1.0, -0.87, -0.5],
        [1.0, 0.8, 0.6, 0.4, 0.2, 0.0, 0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
        [0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.0, 0.8, 0.6, 0.4, 0.2, 0.0],
    ]
}

/// Linear interpolation of `v` at `t ∈ [0, 1]` (its ends at 0 and 1).
fn interp(v: &[f64], t: f64) -> f64 {
    let x = t.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let i = (x.floor() as usize).min(v.len() - 2);
    let f = x - i as f64;
    v[i] * (1.0 - f) + v[i + 1] * f
}

/// Draws an MNIST-1D-style data set: inputs `[n, length]` (f32), labels 0–9
/// (balanced in expectation).
pub fn mnist1d(cfg: &Mnist1dConfig) -> Dataset {
    let mut rng = Rng::seed(cfg.seed);
    let tpl = templates();
    let mut xs = Vec::with_capacity(cfg.n * cfg.length);
    let mut labels = Vec::with_capacity(cfg.n);
    for _ in 0..cfg.n {
        let c = rng.below(10);
        labels.push(c);
        // pad at a random offset
        let pad = cfg.padding.0 + rng.below(cfg.padding.1 - cfg.padding.0 + 1);
        let left = rng.below(pad + 1);
        let mut seq = vec![0.0; left];
        seq.extend(tpl[c].iter().map(|v| cfg.amplitude * v));
        seq.resize(left + 12 + (pad - left), 0.0);
        let m = seq.len();
        // stretch about the centre, then shear (a linear ramp)
        let s = 1.0 + cfg.scale * (2.0 * rng.uniform_f64() - 1.0);
        let shear = cfg.shear * (2.0 * rng.uniform_f64() - 1.0);
        let stretched: Vec<f64> = (0..m)
            .map(|i| {
                let t = i as f64 / (m - 1) as f64;
                interp(&seq, 0.5 + (t - 0.5) / s) + shear * (t - 0.5)
            })
            .collect();
        // correlated noise: white noise smoothed by a width-5 moving average
        let white: Vec<f64> = (0..m + 4).map(|_| rng.normal_f64()).collect();
        let corr: Vec<f64> = (0..m).map(|i| white[i..i + 5].iter().sum::<f64>() / 5f64.sqrt()).collect();
        let noisy: Vec<f64> = stretched.iter().zip(&corr).map(|(v, n)| v + cfg.corr_noise * n).collect();
        // resample to the final length, add white noise
        for j in 0..cfg.length {
            let t = j as f64 / (cfg.length - 1) as f64;
            xs.push((interp(&noisy, t) + cfg.iid_noise * rng.normal_f64()) as f32);
        }
    }
    Dataset::classification(Array::from_vec(xs, &[cfg.n, cfg.length]), labels, 10)
}
