//! Derivatives as functions, with JAX's names: [`grad`], [`vjp`], [`jvp`],
//! [`hvp`], [`jacobian`], and the Hessian as a linear operator ([`Hessian`]).

use odl_tensor::Array;

use crate::backward::backward;
use crate::linop::LinOp;
use crate::tensor::Tensor;

/// `∂y/∂x` for each `x` in `wrt`, where `y` is a scalar; the results are constants.
#[track_caller]
pub fn grad(y: &Tensor, wrt: &[&Tensor]) -> Vec<Tensor> {
    assert_eq!(y.numel(), 1, "grad: output must be a scalar, got shape {:?}", y.shape());
    backward(&[(y, Tensor::ones(y.shape(), y.dtype()))], wrt, false)
}

/// Like [`grad`], but the gradients keep their graph, so they can be
/// differentiated again (HVPs, gradient penalties, third derivatives).
#[track_caller]
pub fn grad_graph(y: &Tensor, wrt: &[&Tensor]) -> Vec<Tensor> {
    assert_eq!(y.numel(), 1, "grad_graph: output must be a scalar, got shape {:?}", y.shape());
    backward(&[(y, Tensor::ones(y.shape(), y.dtype()))], wrt, true)
}

/// The vector-Jacobian product `cᵀ ∂y/∂x` for each `x` in `wrt`.
#[track_caller]
pub fn vjp(y: &Tensor, wrt: &[&Tensor], cotangent: &Tensor, create_graph: bool) -> Vec<Tensor> {
    backward(&[(y, cotangent.clone())], wrt, create_graph)
}

/// The Jacobian-vector product `(∂f/∂x) t` at `x`, by the double-VJP trick: the
/// VJP is linear in its cotangent `u`, so differentiating `⟨vjp(u), t⟩` in `u`
/// gives `J t`. Costs about two reverse passes.
#[track_caller]
pub fn jvp(f: impl Fn(&Tensor) -> Tensor, x: &Array, t: &Array) -> (Tensor, Tensor) {
    assert_eq!(
        x.shape(),
        t.shape(),
        "jvp: tangent shape {:?} differs from input shape {:?}",
        t.shape(),
        x.shape()
    );
    let xp = Tensor::param(x.clone());
    let y = f(&xp);
    let u = Tensor::param(Array::zeros(y.shape(), y.dtype()));
    let gx = backward(&[(&y, u.clone())], &[&xp], true).remove(0);
    let jt = grad(&gx.dot(&Tensor::constant(t.clone())), &[&u]).remove(0);
    (y.detach(), jt)
}

/// The Hessian-vector product `∇²f(θ) v`, for a scalar function of several
/// tensors, by reverse-over-reverse.
#[track_caller]
pub fn hvp(f: impl Fn(&[Tensor]) -> Tensor, params: &[Array], v: &[Array]) -> Vec<Array> {
    let ps: Vec<Tensor> = params.iter().map(|p| Tensor::param(p.clone())).collect();
    let loss = f(&ps);
    Hessian::new(&loss, &ps).apply_arrays(v)
}

/// The full Jacobian `∂f(x)/∂x` as a matrix `[numel(f(x)), numel(x)]`, one
/// reverse pass per output over a graph built once.
#[track_caller]
pub fn jacobian(f: impl Fn(&Tensor) -> Tensor, x: &Array) -> Array {
    let xp = Tensor::param(x.clone());
    let y = f(&xp);
    let (m, n) = (y.numel(), x.numel());
    let mut rows = Vec::with_capacity(m * n);
    let mut seed = vec![0.0; m];
    for i in 0..m {
        seed[i] = 1.0;
        let s = Tensor::from_f64(&seed, y.shape(), y.dtype());
        let g = backward(&[(&y, s)], &[&xp], false).remove(0);
        rows.extend(g.value().to_vec_f64());
        seed[i] = 0.0;
    }
    Array::from_f64(&rows, &[m, n], x.dtype())
}

/// The Hessian of a scalar loss with respect to some parameters, as a linear
/// operator. The gradient graph is built once; each [`Hessian::apply_arrays`]
/// is one more reverse pass through it (what PyTorch does with
/// `retain_graph=True`).
pub struct Hessian {
    params: Vec<Tensor>,
    grads: Vec<Tensor>,
    dim: usize,
}

impl Hessian {
    /// Builds the operator from `loss` (a scalar that depends on `params`).
    #[track_caller]
    pub fn new(loss: &Tensor, params: &[Tensor]) -> Hessian {
        let refs: Vec<&Tensor> = params.iter().collect();
        let grads = grad_graph(loss, &refs);
        Hessian { params: params.to_vec(), grads, dim: params.iter().map(Tensor::numel).sum() }
    }

    /// The gradient `∇L(θ)` (values).
    pub fn gradient(&self) -> Vec<Array> {
        self.grads.iter().map(|g| g.value().clone()).collect()
    }

    /// `H v` for `v` given as one array per parameter.
    #[track_caller]
    pub fn apply_arrays(&self, v: &[Array]) -> Vec<Array> {
        assert_eq!(
            v.len(),
            self.params.len(),
            "Hessian: {} direction tensors for {} parameters",
            v.len(),
            self.params.len()
        );
        let seeds: Vec<(&Tensor, Tensor)> =
            self.grads.iter().zip(v).map(|(g, vi)| (g, Tensor::constant(vi.clone()))).collect();
        let refs: Vec<&Tensor> = self.params.iter().collect();
        backward(&seeds, &refs, false).into_iter().map(|t| t.value().clone()).collect()
    }
}

impl LinOp for Hessian {
    fn dim(&self) -> usize {
        self.dim
    }

    fn apply(&self, v: &[f64]) -> Vec<f64> {
        let mut parts = Vec::with_capacity(self.params.len());
        let mut at = 0;
        for p in &self.params {
            let n = p.numel();
            parts.push(Array::from_f64(&v[at..at + n], p.shape(), p.dtype()));
            at += n;
        }
        self.apply_arrays(&parts).iter().flat_map(|a| a.to_vec_f64()).collect()
    }
}
