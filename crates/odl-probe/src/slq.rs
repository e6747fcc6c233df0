//! Stochastic Lanczos quadrature (Ghorbani et al. 2019, Ubaru et al. 2017):
//! the eigenvalue density of a large symmetric operator from a few Lanczos
//! runs. Each run from a random vector `v` gives Gauss-quadrature nodes θᵢ and
//! weights τᵢ with Σ τᵢ f(θᵢ) ≈ vᵀ f(A) v / ‖v‖²; averaging over runs
//! estimates tr f(A) / n, and smoothing the nodes with a Gaussian of width σ
//! gives a density curve.

use odl_autodiff::LinOp;
use odl_tensor::Rng;

use crate::lanczos::lanczos;

/// Nodes and weights of the spectral measure, pooled over the random vectors
/// (weights sum to 1).
#[derive(Clone, Debug)]
pub struct SpectralDensity {
    /// Ritz values, all runs together
    pub nodes: Vec<f64>,
    /// their weights (each run's weights sum to 1 / runs)
    pub weights: Vec<f64>,
}

/// SLQ with `vectors` Rademacher start vectors and `steps` Lanczos steps each.
pub fn slq(op: &dyn LinOp, vectors: usize, steps: usize, seed: u64) -> SpectralDensity {
    let n = op.dim();
    let mut rng = Rng::seed(seed);
    let (mut nodes, mut weights) = (Vec::new(), Vec::new());
    let runs = vectors.max(1);
    for _ in 0..runs {
        let v: Vec<f64> = (0..n).map(|_| if rng.uniform_f64() < 0.5 { -1.0 } else { 1.0 }).collect();
        let (vals, w, _) = lanczos(op, &v, steps).ritz();
        nodes.extend(vals);
        weights.extend(w.into_iter().map(|w| w / runs as f64));
    }
    SpectralDensity { nodes, weights }
}

impl SpectralDensity {
    /// The density at each point of `grid`: Σ τᵢ N(t; θᵢ, σ²).
    pub fn density(&self, grid: &[f64], sigma: f64) -> Vec<f64> {
        let c = 1.0 / (sigma * (2.0 * std::f64::consts::PI).sqrt());
        grid.iter()
            .map(|t| {
                self.nodes
                    .iter()
                    .zip(&self.weights)
                    .map(|(th, w)| w * c * (-(t - th).powi(2) / (2.0 * sigma * sigma)).exp())
                    .sum()
            })
            .collect()
    }

    /// The estimate of `tr(Aᵏ) / n`: Σ τᵢ θᵢᵏ.
    pub fn moment(&self, k: i32) -> f64 {
        self.nodes.iter().zip(&self.weights).map(|(th, w)| w * th.powi(k)).sum()
    }

    /// A grid covering the nodes with a margin of 5σ.
    pub fn grid(&self, points: usize, sigma: f64) -> Vec<f64> {
        let lo = self.nodes.iter().copied().fold(f64::INFINITY, f64::min) - 5.0 * sigma;
        let hi = self.nodes.iter().copied().fold(f64::NEG_INFINITY, f64::max) + 5.0 * sigma;
        let p = points.max(2);
        (0..p).map(|i| lo + (hi - lo) * i as f64 / (p - 1) as f64).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::sym_eigvals;
    use odl_autodiff::DenseOp;

    fn sym(n: usize, seed: u64) -> DenseOp {
        let mut rng = Rng::seed(seed);
        let g: Vec<f64> = (0..n * n).map(|_| rng.normal_f64()).collect();
        let a = (0..n * n).map(|k| (g[k] + g[(k % n) * n + k / n]) / (2.0 * (n as f64).sqrt())).collect();
        DenseOp { n, a }
    }

    #[test]
    fn the_density_integrates_to_one_and_its_moments_match_the_spectrum() {
        let n = 120;
        let op = sym(n, 3);
        let exact = sym_eigvals(&op.a, n);
        let d = slq(&op, 30, 25, 11);
        let sigma = 0.05;
        let grid = d.grid(2001, sigma);
        let dens = d.density(&grid, sigma);
        let h = grid[1] - grid[0];
        let integral: f64 = dens.iter().sum::<f64>() * h;
        assert!((integral - 1.0).abs() < 1e-6, "∫ density = {integral}");
        for k in 1..=4 {
            let want: f64 = exact.iter().map(|l| l.powi(k)).sum::<f64>() / n as f64;
            let got = d.moment(k);
            // Hutchinson error of vᵀAᵏv/n with 30 Rademacher vectors
            assert!((got - want).abs() < 0.08 * want.abs().max(0.5), "k={k}: {got} vs {want}");
        }
    }

    #[test]
    fn quadrature_is_exact_for_one_vector_and_low_degrees() {
        // Gauss quadrature with m nodes integrates polynomials of degree ≤ 2m−1 exactly
        let n = 60;
        let op = sym(n, 5);
        let mut rng = Rng::seed(2);
        let v: Vec<f64> = (0..n).map(|_| rng.normal_f64()).collect();
        let (nodes, w, _) = lanczos(&op, &v, 5).ritz();
        let mut av = v.clone();
        let vv: f64 = v.iter().map(|x| x * x).sum();
        for k in 1..=9 {
            av = op.apply(&av);
            // k applications: vᵀAᵏv
            let exact: f64 = v.iter().zip(&av).map(|(a, b)| a * b).sum::<f64>() / vv;
            let quad: f64 = nodes.iter().zip(&w).map(|(t, w)| w * t.powi(k)).sum();
            assert!((exact - quad).abs() < 1e-9 * exact.abs().max(1.0), "k={k}: {quad} vs {exact}");
        }
    }
}
