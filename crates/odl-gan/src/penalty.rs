//! Regularizers of GAN training, each a differentiable tensor (so its
//! gradient with respect to the discriminator's weights is exact — a
//! derivative of a derivative):
//!
//! * R1 / R2 (Mescheder et al. 2018): `γ/2 · E‖∇ₓD(x)‖²` on real / generated samples;
//! * the gradient penalty of WGAN-GP (Gulrajani et al. 2017):
//!   `λ · E(‖∇ₓD(x̂)‖ − 1)²` on random interpolates `x̂ = εx + (1 − ε)x̃`;
//! * BigGAN's orthogonal regularization (Brock et al. 2019):
//!   `β · Σ_W ‖W Wᵀ ⊙ (1 − I)‖²_F` on the generator's weight matrices.
//!
//! Also here: the generator's exponential moving average ([`Ema`]) and the
//! truncation trick ([`truncated_normal`]).

use odl_autodiff::{grad_graph, Tensor};
use odl_tensor::{Array, DType, Rng};

/// A penalty on the discriminator's input gradients.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Penalty {
    /// `γ/2 · E‖∇ₓD(x)‖²` at real samples
    R1(f64),
    /// `γ/2 · E‖∇ₓD(x̃)‖²` at generated samples
    R2(f64),
    /// `λ · E(‖∇ₓD(x̂)‖ − 1)²` at interpolates
    GradientPenalty(f64),
}

/// `∇ₓ Σᵢ D(xᵢ)` at `x` (one row per example: with no batch coupling in `D`,
/// row `i` is `∇D(xᵢ)`), kept differentiable.
pub fn input_gradients(d: &mut dyn FnMut(&Tensor) -> Tensor, x: &Array) -> Tensor {
    let xt = Tensor::param(x.clone());
    let out = d(&xt).sum_all();
    grad_graph(&out, &[&xt]).remove(0)
}

/// `‖gᵢ‖²` of each row of `g` (`[n, …]` → `[n]`).
pub fn row_sq_norms(g: &Tensor) -> Tensor {
    let n = g.shape()[0];
    g.reshape(&[n, usize::MAX]).square().sum(&[1], false)
}

/// Random interpolates `εᵢ xᵢ + (1 − εᵢ) x̃ᵢ`, one `ε ~ U(0, 1)` per example.
pub fn interpolates(real: &Array, fake: &Array, rng: &mut Rng) -> Array {
    let n = real.shape()[0];
    let (r, f) = (real.to_vec_f64(), fake.to_vec_f64());
    let per = r.len() / n.max(1);
    let mut out = Vec::with_capacity(r.len());
    for i in 0..n {
        let e = rng.uniform_f64();
        out.extend((0..per).map(|j| e * r[i * per + j] + (1.0 - e) * f[i * per + j]));
    }
    Array::from_f64(&out, real.shape(), real.dtype())
}

impl Penalty {
    /// The penalty's value for discriminator `d` with `real` and `fake`
    /// samples (`rng` draws the interpolation weights).
    pub fn value(
        self,
        d: &mut dyn FnMut(&Tensor) -> Tensor,
        real: &Array,
        fake: &Array,
        rng: &mut Rng,
    ) -> Tensor {
        match self {
            Penalty::R1(g) => row_sq_norms(&input_gradients(d, real)).mean_all() * (g / 2.0),
            Penalty::R2(g) => row_sq_norms(&input_gradients(d, fake)).mean_all() * (g / 2.0),
            Penalty::GradientPenalty(l) => {
                let x = interpolates(real, fake, rng);
                // √(‖g‖² + tiny): the norm stays differentiable where a gradient vanishes
                let norm = (row_sq_norms(&input_gradients(d, &x)) + 1e-12).powf(0.5);
                (norm - 1.0).square().mean_all() * l
            }
        }
    }

    /// Its name in logs (`r1`, `r2`, `gp`).
    pub fn key(self) -> &'static str {
        match self {
            Penalty::R1(_) => "r1",
            Penalty::R2(_) => "r2",
            Penalty::GradientPenalty(_) => "gp",
        }
    }
}

/// BigGAN's orthogonal regularization `β Σ_W ‖W Wᵀ ⊙ (1 − I)‖²_F` over
/// weight matrices `[out, in]` (rows are the filters; biases are skipped by
/// the caller).
pub fn orthogonal(weights: &[&Tensor], beta: f64) -> Tensor {
    let mut total: Option<Tensor> = None;
    for w in weights {
        let rows = w.shape()[0];
        let w2 = w.reshape(&[rows, usize::MAX]);
        let gram = w2.matmul(&w2.t());
        let off = Tensor::constant(off_diagonal(rows, w.dtype()));
        let term = (gram * off).square().sum_all();
        total = Some(match total {
            None => term,
            Some(t) => t + term,
        });
    }
    total.map(|t| t * beta).unwrap_or_else(|| Tensor::scalar(0.0, DType::F32))
}

fn off_diagonal(n: usize, dtype: DType) -> Array {
    let v: Vec<f64> = (0..n * n).map(|k| if k / n == k % n { 0.0 } else { 1.0 }).collect();
    Array::from_f64(&v, &[n, n], dtype)
}

/// An exponential moving average of the generator's weights, the network
/// BigGAN and most later GANs sample from: `θ̄ ← δθ̄ + (1 − δ)θ`.
#[derive(Clone, Debug)]
pub struct Ema {
    /// the decay δ
    pub decay: f64,
    /// the averaged values, one per parameter
    pub values: Vec<Array>,
}

impl Ema {
    /// Starts the average at `values`.
    pub fn new(decay: f64, values: &[Array]) -> Ema {
        Ema { decay, values: values.to_vec() }
    }

    /// One update with the current weights.
    pub fn update(&mut self, current: &[Array]) {
        let d = self.decay;
        for (avg, cur) in self.values.iter_mut().zip(current) {
            let v: Vec<f64> =
                avg.to_vec_f64().iter().zip(cur.to_vec_f64()).map(|(a, c)| d * a + (1.0 - d) * c).collect();
            *avg = Array::from_f64(&v, avg.shape(), avg.dtype());
        }
    }
}

/// Latent codes from the standard normal truncated to `[−τ, τ]` (each
/// coordinate redrawn until it falls inside): BigGAN's truncation trick,
/// trading variety for quality. `τ = ∞` is the plain normal.
pub fn truncated_normal(rng: &mut Rng, shape: &[usize], tau: f64, dtype: DType) -> Array {
    assert!(tau > 0.0, "truncated_normal: τ = {tau} must be positive");
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n)
        .map(|_| loop {
            let z = rng.normal_f64();
            if z.abs() <= tau {
                break z;
            }
        })
        .collect();
    Array::from_f64(&v, shape, dtype)
}
