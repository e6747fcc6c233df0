//! Seeded random numbers. Every random draw in odl comes from an [`Rng`] made
//! from an explicit seed, so the same seed gives the same numbers on every
//! machine (ChaCha8 is portable and stable across versions).

use rand::{Rng as _, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::array::Array;
use crate::dtype::DType;
use crate::shape::numel;

/// A seeded, portable random generator.
#[derive(Clone, Debug)]
pub struct Rng(ChaCha8Rng);

impl Rng {
    /// A generator from a seed.
    pub fn seed(seed: u64) -> Rng {
        Rng(ChaCha8Rng::seed_from_u64(seed))
    }

    /// An independent generator for sub-stream `stream` of `seed` (e.g. one per
    /// parallel run), unaffected by how many numbers other streams drew.
    pub fn stream(seed: u64, stream: u64) -> Rng {
        let mut r = ChaCha8Rng::seed_from_u64(seed);
        r.set_stream(stream);
        Rng(r)
    }

    /// A uniform draw from `[0, 1)`.
    pub fn uniform_f64(&mut self) -> f64 {
        self.0.random::<f64>()
    }

    /// A standard normal draw.
    pub fn normal_f64(&mut self) -> f64 {
        StandardNormal.sample(&mut self.0)
    }

    /// A uniform integer in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        self.0.random_range(0..n)
    }

    /// A uniformly random permutation of `0..n`.
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut p: Vec<usize> = (0..n).collect();
        self.shuffle(&mut p);
        p
    }

    /// Shuffles a slice in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }

    /// An array of `U(lo, hi)` draws.
    pub fn uniform(&mut self, shape: &[usize], lo: f64, hi: f64, dtype: DType) -> Array {
        let v: Vec<f64> = (0..numel(shape)).map(|_| lo + (hi - lo) * self.uniform_f64()).collect();
        Array::from_f64(&v, shape, dtype)
    }

    /// An array of `N(mean, std²)` draws.
    pub fn normal(&mut self, shape: &[usize], mean: f64, std: f64, dtype: DType) -> Array {
        let v: Vec<f64> = (0..numel(shape)).map(|_| mean + std * self.normal_f64()).collect();
        Array::from_f64(&v, shape, dtype)
    }
}
