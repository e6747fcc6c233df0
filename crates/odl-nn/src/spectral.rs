//! Spectral normalization (Miyato et al. 2018) of a linear layer: the weight
//! is divided by an estimate of its largest singular value, kept by one step of
//! power iteration per training forward pass with a persistent vector `u`.

use odl_autodiff::{no_grad, Tensor};
use odl_tensor::{Array, Rng};

use crate::layers::Linear;
use crate::module::{Ctx, Module};

/// A [`Linear`] layer whose weight is used as `W / σ̂(W)`.
#[derive(Clone)]
pub struct SpectralNorm {
    /// the wrapped layer (its `weight` is the unnormalized parameter)
    pub inner: Linear,
    /// the persistent left singular vector estimate, `[out]`
    pub u: Array,
    /// power-iteration steps per training forward pass
    pub iterations: usize,
}

impl SpectralNorm {
    /// Wraps `inner`, drawing the initial `u` from `rng`.
    pub fn new(inner: Linear, rng: &mut Rng) -> SpectralNorm {
        let out = inner.weight.shape()[0];
        let u = rng.normal(&[out], 0.0, 1.0, inner.weight.dtype());
        SpectralNorm { inner, u: normalized(&u), iterations: 1 }
    }

    /// The current estimate `σ̂ = uᵀ W v` of the largest singular value.
    pub fn sigma(&self) -> f64 {
        let w = self.inner.weight.value();
        let v = normalized(
            &Array::matmul(&self.u.reshape(&[1, w.shape()[0]]), w, false, false).reshape(&[w.shape()[1]]),
        );
        let wv = Array::matmul(w, &v.reshape(&[w.shape()[1], 1]), false, false);
        dot(&self.u, &wv)
    }
}

fn dot(a: &Array, b: &Array) -> f64 {
    a.to_vec_f64().iter().zip(b.to_vec_f64()).map(|(x, y)| x * y).sum()
}

fn normalized(a: &Array) -> Array {
    let n = dot(a, a).sqrt().max(1e-12);
    Array::from_f64(&a.to_vec_f64().iter().map(|x| x / n).collect::<Vec<_>>(), a.shape(), a.dtype())
}

impl Module for SpectralNorm {
    fn couples_examples(&self) -> bool {
        true
    }
    fn kind(&self) -> crate::LayerKind {
        crate::LayerKind::Affine
    }
    fn forward(&mut self, x: &Tensor, ctx: &mut Ctx) -> Tensor {
        let w = &self.inner.weight;
        let (out, inp) = (w.shape()[0], w.shape()[1]);
        // power iteration on the weight's value; u and v are constants, as in the paper
        let (u, v) = no_grad(|| {
            let mut u = self.u.clone();
            let mut v = Array::zeros(&[inp], w.dtype());
            for _ in 0..self.iterations.max(1) {
                v = normalized(
                    &Array::matmul(&u.reshape(&[1, out]), w.value(), false, false).reshape(&[inp]),
                );
                u = normalized(
                    &Array::matmul(w.value(), &v.reshape(&[inp, 1]), false, false).reshape(&[out]),
                );
            }
            (u, v)
        });
        if ctx.train {
            self.u = u.clone();
        }
        let ut = Tensor::constant(u.reshape(&[1, out]));
        let vt = Tensor::constant(v.reshape(&[inp, 1]));
        let sigma = ut.matmul(w).matmul(&vt).reshape(&[]);
        x.linear(&w.div(&sigma), self.inner.bias.as_ref())
    }
    fn named_params(&self) -> Vec<(String, &Tensor)> {
        self.inner.named_params()
    }
    fn params_mut(&mut self) -> Vec<&mut Tensor> {
        self.inner.params_mut()
    }
    fn named_buffers(&self) -> Vec<(String, &Array)> {
        vec![("u".into(), &self.u)]
    }
    fn buffers_mut(&mut self) -> Vec<&mut Array> {
        vec![&mut self.u]
    }
}
