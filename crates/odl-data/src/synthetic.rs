//! Synthetic data sets with known structure: Gaussian mixtures, two moons,
//! spirals, linearly separable data with a margin, teacher–student
//! regression, and low-rank matrix sensing/completion.

use std::f64::consts::PI;

use odl_tensor::{Array, DType, Rng};

use crate::dataset::Dataset;

/// `k` Gaussian clusters in `d` dimensions: centres `N(0, spread²·I)`, points
/// `centre + N(0, std²·I)`, label = cluster.
pub fn gaussian_mixture(n: usize, k: usize, d: usize, spread: f64, std: f64, seed: u64) -> Dataset {
    let mut rng = Rng::seed(seed);
    let centres: Vec<f64> = (0..k * d).map(|_| spread * rng.normal_f64()).collect();
    let mut x = Vec::with_capacity(n * d);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let c = rng.below(k);
        y.push(c);
        x.extend((0..d).map(|j| centres[c * d + j] + std * rng.normal_f64()));
    }
    Dataset::classification(Array::from_f64(&x, &[n, d], DType::F64), y, k)
}

/// Two interleaved half circles (scikit-learn's `make_moons`), with Gaussian noise.
pub fn two_moons(n: usize, noise: f64, seed: u64) -> Dataset {
    let mut rng = Rng::seed(seed);
    let mut x = Vec::with_capacity(2 * n);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let c = i % 2;
        let t = PI * rng.uniform_f64();
        let (px, py) = if c == 0 { (t.cos(), t.sin()) } else { (1.0 - t.cos(), 0.5 - t.sin()) };
        x.push(px + noise * rng.normal_f64());
        x.push(py + noise * rng.normal_f64());
        y.push(c);
    }
    Dataset::classification(Array::from_f64(&x, &[n, 2], DType::F64), y, 2)
}

/// `arms` interleaved spirals in the plane.
pub fn spirals(n: usize, arms: usize, noise: f64, seed: u64) -> Dataset {
    let mut rng = Rng::seed(seed);
    let mut x = Vec::with_capacity(2 * n);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let c = i % arms;
        let r = rng.uniform_f64();
        let theta = 4.0 * r + 2.0 * PI * c as f64 / arms as f64;
        x.push(r * theta.cos() + noise * rng.normal_f64());
        x.push(r * theta.sin() + noise * rng.normal_f64());
        y.push(c);
    }
    Dataset::classification(Array::from_f64(&x, &[n, 2], DType::F64), y, arms)
}

/// Linearly separable data with margin: a random unit `w*`, inputs `N(0, I)`
/// kept only when `|⟨w*, x⟩| ≥ margin`, label `⟨w*, x⟩ > 0`. Returns the data
/// and `w*`.
pub fn linearly_separable(n: usize, d: usize, margin: f64, seed: u64) -> (Dataset, Vec<f64>) {
    let mut rng = Rng::seed(seed);
    let mut w: Vec<f64> = (0..d).map(|_| rng.normal_f64()).collect();
    let nw = w.iter().map(|v| v * v).sum::<f64>().sqrt();
    w.iter_mut().for_each(|v| *v /= nw);
    let mut x = Vec::with_capacity(n * d);
    let mut y = Vec::with_capacity(n);
    while y.len() < n {
        let p: Vec<f64> = (0..d).map(|_| rng.normal_f64()).collect();
        let s: f64 = p.iter().zip(&w).map(|(a, b)| a * b).sum();
        if s.abs() >= margin {
            y.push(usize::from(s > 0.0));
            x.extend(p);
        }
    }
    (Dataset::classification(Array::from_f64(&x, &[n, d], DType::F64), y, 2), w)
}

/// Regression data labelled by a teacher: inputs `N(0, I_d)`, targets
/// `teacher(x)` (any function of the `[n, d]` batch, e.g. a fixed network).
pub fn teacher_student(n: usize, d: usize, teacher: impl Fn(&Array) -> Array, seed: u64) -> Dataset {
    let x = Rng::seed(seed).normal(&[n, d], 0.0, 1.0, DType::F64);
    let y = teacher(&x);
    Dataset::regression(x, y)
}

/// A low-rank matrix sensing problem: `M* = U Vᵀ` (`d1×d2`, rank `r`, factors
/// `N(0, 1/r)`), `m` Gaussian measurement matrices `A_i` and `y_i = ⟨A_i, M*⟩`.
pub struct Sensing {
    /// the planted matrix, `[d1, d2]`
    pub m_star: Array,
    /// the measurement matrices, `[m, d1, d2]`
    pub a: Array,
    /// the measurements, `[m]`
    pub y: Array,
}

/// Draws a [`Sensing`] problem.
pub fn low_rank_sensing(d1: usize, d2: usize, r: usize, m: usize, seed: u64) -> Sensing {
    let mut rng = Rng::seed(seed);
    let s = (1.0 / r as f64).sqrt();
    let u = rng.normal(&[d1, r], 0.0, s, DType::F64);
    let v = rng.normal(&[d2, r], 0.0, s, DType::F64);
    let m_star = Array::matmul(&u, &v, false, true);
    let a = rng.normal(&[m, d1, d2], 0.0, 1.0, DType::F64);
    let ms = m_star.to_vec_f64();
    let av = a.to_vec_f64();
    let y: Vec<f64> = (0..m)
        .map(|i| av[i * d1 * d2..(i + 1) * d1 * d2].iter().zip(&ms).map(|(p, q)| p * q).sum())
        .collect();
    Sensing { m_star, a, y: Array::from_f64(&y, &[m], DType::F64) }
}

/// A matrix completion problem: `M* = U Vᵀ` of rank `r` and a uniformly random
/// set of observed entries (each with probability `p`), as flat indices.
pub fn low_rank_completion(d1: usize, d2: usize, r: usize, p: f64, seed: u64) -> (Array, Vec<usize>) {
    let mut rng = Rng::seed(seed);
    let s = (1.0 / r as f64).sqrt();
    let u = rng.normal(&[d1, r], 0.0, s, DType::F64);
    let v = rng.normal(&[d2, r], 0.0, s, DType::F64);
    let m_star = Array::matmul(&u, &v, false, true);
    let observed = (0..d1 * d2).filter(|_| rng.uniform_f64() < p).collect();
    (m_star, observed)
}
