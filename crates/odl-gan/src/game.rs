//! Differentiable games: player `i` controls a flat parameter vector `θᵢ`
//! and moves it to lower its own loss `ℓᵢ(θ₁, …, θₙ)`. A min-max problem
//! `min_x max_y f(x, y)` is the two-player game `ℓ₁ = f`, `ℓ₂ = −f`.

use std::sync::Arc;

use odl_autodiff::Tensor;
use odl_tensor::{Array, DType};

/// A game whose players' losses odl can differentiate (to any order).
pub trait Game: Sync {
    /// The length of each player's parameter vector.
    fn sizes(&self) -> Vec<usize>;
    /// Each player's loss (a scalar tensor) at the players' parameters
    /// (one 1-D tensor per player, in the order of [`Game::sizes`]).
    fn losses(&self, players: &[Tensor]) -> Vec<Tensor>;
}

/// A loss of two players' parameters, built from tensor ops.
pub type Objective = Arc<dyn Fn(&Tensor, &Tensor) -> Tensor + Send + Sync>;

/// `min_x max_y f(x, y)`, with an optional penalty that only the second
/// player (the discriminator, the adversary) pays: `ℓ₁ = f`,
/// `ℓ₂ = −f + r(x, y)`.
#[derive(Clone)]
pub struct MinMax {
    sizes: [usize; 2],
    f: Objective,
    penalty: Option<Objective>,
}

impl MinMax {
    /// The zero-sum game of `f` with players of `sizes`.
    pub fn new(sizes: [usize; 2], f: impl Fn(&Tensor, &Tensor) -> Tensor + Send + Sync + 'static) -> MinMax {
        MinMax { sizes, f: Arc::new(f), penalty: None }
    }

    /// Adds a penalty `r(x, y)` to the second player's loss.
    pub fn with_penalty(mut self, r: impl Fn(&Tensor, &Tensor) -> Tensor + Send + Sync + 'static) -> MinMax {
        self.penalty = Some(Arc::new(r));
        self
    }
}

impl Game for MinMax {
    fn sizes(&self) -> Vec<usize> {
        self.sizes.to_vec()
    }

    fn losses(&self, p: &[Tensor]) -> Vec<Tensor> {
        let f = (self.f)(&p[0], &p[1]);
        let second = match &self.penalty {
            Some(r) => r(&p[0], &p[1]) - &f,
            None => -&f,
        };
        vec![f, second]
    }
}

/// The bilinear game `f(x, y) = xᵀ A y` (`A` is `n × m`, row-major): its
/// only equilibrium is `x = 0, y = 0` when `A` has full rank, and its
/// vector field is a pure rotation, the simplest game where gradient
/// descent–ascent fails.
#[derive(Clone, Debug)]
pub struct Bilinear {
    a: Vec<f64>,
    n: usize,
    m: usize,
}

impl Bilinear {
    /// `xᵀAy` for the `n × m` matrix `a` (row-major).
    pub fn new(a: Vec<f64>, n: usize, m: usize) -> Bilinear {
        assert_eq!(a.len(), n * m, "Bilinear: A has {} entries, not {n}×{m}", a.len());
        Bilinear { a, n, m }
    }

    /// The matrix `A` (row-major).
    pub fn matrix(&self) -> &[f64] {
        &self.a
    }
}

impl Game for Bilinear {
    fn sizes(&self) -> Vec<usize> {
        vec![self.n, self.m]
    }

    fn losses(&self, p: &[Tensor]) -> Vec<Tensor> {
        let a = Tensor::from_f64(&self.a, &[self.n, self.m], DType::F64);
        let f = p[0].reshape(&[1, self.n]).matmul(&a).reshape(&[self.m]).dot(&p[1]);
        let neg = -&f;
        vec![f, neg]
    }
}

/// The discriminator's loss function in the Dirac-GAN.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DiracLoss {
    /// the original GAN's `f(t) = −log(1 + e^{−t})`, `f'(0) = ½`
    Gan,
    /// the Wasserstein GAN's `f(t) = t` (no clipping)
    Wgan,
}

/// The Dirac-GAN (Mescheder, Geiger & Nowozin 2018): real data is a point
/// mass at 0, the generator a point mass at `θ`, the discriminator
/// `D_ψ(x) = ψx`; the game value is `L(θ, ψ) = f(ψθ) + f(0)`, minimized by the
/// generator and maximized by the discriminator. Its only equilibrium is
/// `(0, 0)`. Regularizers of the discriminator: R1 (`γ/2 ‖∇ₓD‖²` on real
/// data, here `γ/2 ψ²`) and instance noise (`N(0, σ²)` added to real and
/// fake samples, its expectation taken by Gauss–Hermite quadrature so the
/// game stays deterministic).
#[derive(Clone, Debug)]
pub struct DiracGan {
    /// the loss function `f`
    pub loss: DiracLoss,
    /// R1 weight γ (0: none)
    pub r1: f64,
    /// instance noise σ (0: none)
    pub noise: f64,
}

impl DiracGan {
    /// The unregularized Dirac-GAN with loss `f`.
    pub fn new(loss: DiracLoss) -> DiracGan {
        DiracGan { loss, r1: 0.0, noise: 0.0 }
    }

    /// `f'(0)`.
    pub fn f1(&self) -> f64 {
        match self.loss {
            DiracLoss::Gan => 0.5,
            DiracLoss::Wgan => 1.0,
        }
    }

    /// `f''(0)`.
    pub fn f2(&self) -> f64 {
        match self.loss {
            DiracLoss::Gan => -0.25,
            DiracLoss::Wgan => 0.0,
        }
    }

    fn f(&self, t: &Tensor) -> Tensor {
        match self.loss {
            DiracLoss::Gan => -(-t).softplus(),
            DiracLoss::Wgan => t.clone(),
        }
    }
}

impl Game for DiracGan {
    fn sizes(&self) -> Vec<usize> {
        vec![1, 1]
    }

    fn losses(&self, p: &[Tensor]) -> Vec<Tensor> {
        let (theta, psi) = (&p[0], &p[1]);
        let (value, real) = if self.noise > 0.0 {
            // E_ε f(ψ(θ+ε)) and E_ε f(−ψε) over ε ~ N(0, σ²)
            let (nodes, weights) = gauss_hermite(16);
            let k = nodes.len();
            let eps =
                Tensor::from_f64(&nodes.iter().map(|z| z * self.noise).collect::<Vec<_>>(), &[k], DType::F64);
            let w = Tensor::from_f64(&weights, &[k], DType::F64);
            let fake = self.f(&(psi * &(theta + &eps))).dot(&w);
            let real = self.f(&-(psi * &eps)).dot(&w);
            (fake, real)
        } else {
            (self.f(&(psi * theta)).sum_all(), Tensor::scalar(0.0, DType::F64))
        };
        let value = value + &real;
        let mut disc = -&value;
        if self.r1 > 0.0 {
            disc = disc + psi.square().sum_all() * (self.r1 / 2.0);
        }
        vec![value.sum_all(), disc.sum_all()]
    }
}

/// Nodes and weights of `n`-point Gauss–Hermite quadrature for the standard
/// normal (`E g(Z) ≈ Σ wᵢ g(zᵢ)`, exact for polynomials of degree < 2n),
/// by Golub–Welsch: the eigenvalues of the Jacobi matrix of the
/// probabilists' Hermite polynomials, with weights the squared first
/// components of its eigenvectors.
pub fn gauss_hermite(n: usize) -> (Vec<f64>, Vec<f64>) {
    let t = faer::Mat::<f64>::from_fn(
        n,
        n,
        |i, j| if i.abs_diff(j) == 1 { (i.max(j) as f64).sqrt() } else { 0.0 },
    );
    let eig = t.self_adjoint_eigen(faer::Side::Lower).expect("Gauss–Hermite: symmetric eigendecomposition");
    let (s, u) = (eig.S(), eig.U());
    let nodes = (0..n).map(|i| s.column_vector()[i]).collect();
    let weights = (0..n).map(|i| u[(0, i)] * u[(0, i)]).collect();
    (nodes, weights)
}

/// A player's parameters as a differentiable tensor (a fresh leaf).
pub(crate) fn leaf(v: &[f64]) -> Tensor {
    Tensor::param(Array::from_vec(v.to_vec(), &[v.len()]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauss_hermite_moments_of_the_standard_normal() {
        let (z, w) = gauss_hermite(8);
        let m = |k: i32| z.iter().zip(&w).map(|(z, w)| w * z.powi(k)).sum::<f64>();
        // E Z^0..8 = 1, 0, 1, 0, 3, 0, 15, 0, 105; exact up to degree 15
        for (k, e) in [1.0, 0.0, 1.0, 0.0, 3.0, 0.0, 15.0, 0.0, 105.0].iter().enumerate() {
            assert!((m(k as i32) - e).abs() < 1e-10 * e.max(1.0), "E Z^{k} = {} not {e}", m(k as i32));
        }
        assert!((m(14) - 135135.0).abs() < 1e-6 * 135135.0);
    }
}
