//! Derivatives as functions, with JAX's names: [`grad`], [`vjp`], [`jvp`],
//! [`hvp`], [`jacobian`], and the Hessian as a linear operator ([`Hessian`]).

use odl_tensor::{Array, BinaryOp};

use crate::backward::backward;
use crate::linop::LinOp;
use crate::tensor::{par_map, Tensor};

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

/// The value and gradient of `Σ_k w_k L_k`, where `L_k = loss(item_k)` for
/// `items = [(w_k, item_k)]`: data parallelism. Each term (say, one shard of a
/// batch whose loss is a mean over examples) is evaluated and differentiated
/// on its share of the compute threads (one thread each when there are at
/// least as many terms as threads), and the gradients are added. For a
/// batch's mean loss split into shards with weights `shard size / batch
/// size` this is the batch's gradient, computed without a barrier per GEMM
/// and with the elementwise work split too. Not for models that couple
/// examples (BatchNorm in training mode).
pub fn value_and_grad_of_sum<T: Sync>(
    items: &[(f64, T)],
    wrt: &[&Tensor],
    loss: &(dyn Fn(&T) -> Tensor + Sync),
) -> (f64, Vec<Array>) {
    assert!(!items.is_empty(), "value_and_grad_of_sum: no terms");
    let parts = par_map(items, &|(w, item): &(f64, T)| {
        let l = loss(item);
        assert_eq!(l.numel(), 1, "value_and_grad_of_sum: loss must be a scalar, got shape {:?}", l.shape());
        let g = grad(&l, wrt).into_iter().map(|t| t.value().clone()).collect::<Vec<Array>>();
        (*w, l.item(), g)
    });
    let value = parts.iter().map(|(w, l, _)| w * l).sum();
    (value, weighted_sum(parts.into_iter().map(|(w, _, g)| (w, g)).collect()))
}

/// `Σ_k w_k x_k` for per-term lists of arrays, accumulated in place into the
/// first term's arrays (a lone weight-1 term is returned as is).
pub(crate) fn weighted_sum(mut parts: Vec<(f64, Vec<Array>)>) -> Vec<Array> {
    let (w0, mut out) = parts.remove(0);
    if parts.is_empty() {
        if w0 == 1.0 {
            return out;
        }
        return out.iter().map(|o| o.binary(BinaryOp::Mul, &Array::scalar(w0, o.dtype()))).collect();
    }
    // out ← w0·out + w1·x1, then out ← out + wk·xk
    for (k, (w, xs)) in parts.iter().enumerate() {
        let a = if k == 0 { w0 } else { 1.0 };
        Array::scale_add_all(&mut out, a, xs, *w);
    }
    out
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
///
/// A loss that is a weighted sum of terms — a batch's mean loss as the mean of
/// its shards' — can keep one graph per term ([`Hessian::of_sum`],
/// [`Hessian::sum`]): the terms are then applied side by side, each on its
/// share of the compute threads (data parallelism), and their products
/// summed.
pub struct Hessian {
    params: Vec<Tensor>,
    /// (weight, gradient graph of the term)
    terms: Vec<(f64, Vec<Tensor>)>,
    dim: usize,
}

impl Hessian {
    /// Builds the operator from `loss` (a scalar that depends on `params`).
    #[track_caller]
    pub fn new(loss: &Tensor, params: &[Tensor]) -> Hessian {
        Hessian::sum(&[(1.0, loss.clone())], params)
    }

    /// The Hessian of `Σ_k w_k L_k` for `terms = [(w_k, L_k)]`, each `L_k` a
    /// scalar that depends on `params`; every term keeps its own graph.
    #[track_caller]
    pub fn sum(terms: &[(f64, Tensor)], params: &[Tensor]) -> Hessian {
        Hessian::of_sum(terms, params, &Tensor::clone)
    }

    /// The Hessian of `Σ_k w_k loss(item_k)` for `items = [(w_k, item_k)]`
    /// (a batch's shards): each term's loss and gradient graph are built on
    /// one thread, start to end, as in [`value_and_grad_of_sum`].
    #[track_caller]
    pub fn of_sum<T: Sync>(
        items: &[(f64, T)],
        params: &[Tensor],
        loss: &(dyn Fn(&T) -> Tensor + Sync),
    ) -> Hessian {
        assert!(!items.is_empty(), "Hessian: a sum of no terms");
        let refs: Vec<&Tensor> = params.iter().collect();
        let grads = par_map(items, &|(w, item): &(f64, T)| (*w, grad_graph(&loss(item), &refs)));
        Hessian { params: params.to_vec(), terms: grads, dim: params.iter().map(Tensor::numel).sum() }
    }

    /// The gradient `∇L(θ)` (values).
    pub fn gradient(&self) -> Vec<Array> {
        weighted_sum(
            self.terms.iter().map(|(w, g)| (*w, g.iter().map(|t| t.value().clone()).collect())).collect(),
        )
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
        let refs: Vec<&Tensor> = self.params.iter().collect();
        let apply = |(w, grads): &(f64, Vec<Tensor>)| {
            let seeds: Vec<(&Tensor, Tensor)> =
                grads.iter().zip(v).map(|(g, vi)| (g, Tensor::constant(vi.clone()))).collect();
            (*w, backward(&seeds, &refs, false).into_iter().map(|t| t.value().clone()).collect())
        };
        weighted_sum(par_map(&self.terms, &apply))
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
