//! The Hessian's exact spectrum (small models) and the generalized
//! Gauss–Newton operator `G = Jᵀ ∇²_z ℓ J` beside it.

use odl_autodiff::{grad, to_dense, vjp, Hessian, LinOp, Tensor};
use odl_tensor::Array;

use crate::linalg::sym_eig;

/// The largest dimension [`exact_spectrum`] accepts (its cost is `n` operator
/// applications and an `n×n` eigendecomposition).
pub const EXACT_MAX_DIM: usize = 6000;

/// All eigenvalues (ascending) and eigenvectors (row-major, column `j` for
/// eigenvalue `j`) of an operator, by materializing it.
pub fn exact_spectrum(op: &dyn LinOp) -> Result<(Vec<f64>, Vec<f64>), String> {
    let n = op.dim();
    if n > EXACT_MAX_DIM {
        return Err(format!(
            "the exact spectrum needs a dense {n}×{n} matrix; it is offered up to {EXACT_MAX_DIM} parameters (use Lanczos)"
        ));
    }
    Ok(sym_eig(&to_dense(op), n))
}

/// The generalized Gauss–Newton operator of a loss `ℓ(f(θ))`: `v ↦ Jᵀ H_ℓ J v`
/// where `J = ∂f/∂θ` and `H_ℓ = ∇²_z ℓ(z)` at `z = f(θ)`. Positive
/// semi-definite whenever ℓ is convex in `z` (MSE, cross-entropy), and equal
/// to the Hessian when `f` is linear in θ.
pub struct Ggn {
    params: Vec<Tensor>,
    outputs: Tensor,
    /// the dummy cotangent `u` and `Jᵀu`, kept as a graph: `J v = ∂⟨Jᵀu, v⟩/∂u`
    u: Tensor,
    jt_u: Vec<Tensor>,
    h_out: Hessian,
    dim: usize,
}

impl Ggn {
    /// `outputs = f(params)` (a graph from the leaf tensors `params`) and the
    /// loss as a function of the outputs.
    pub fn new(params: &[Tensor], outputs: Tensor, loss_of_outputs: impl Fn(&Tensor) -> Tensor) -> Ggn {
        let u = Tensor::param(Array::zeros(outputs.shape(), outputs.dtype()));
        let refs: Vec<&Tensor> = params.iter().collect();
        let jt_u = vjp(&outputs, &refs, &u, true);
        let z = Tensor::param(outputs.value().clone());
        let h_out = Hessian::new(&loss_of_outputs(&z), std::slice::from_ref(&z));
        let dim = params.iter().map(Tensor::numel).sum();
        Ggn { params: params.to_vec(), outputs, u, jt_u, h_out, dim }
    }

    /// `G v` for `v` given per parameter.
    pub fn apply_arrays(&self, v: &[Array]) -> Vec<Array> {
        let mut s: Option<Tensor> = None;
        for (g, vi) in self.jt_u.iter().zip(v) {
            let term = g.dot(&Tensor::constant(vi.clone()));
            s = Some(match s {
                None => term,
                Some(acc) => &acc + &term,
            });
        }
        let jv = grad(&s.expect("Ggn: no parameters"), &[&self.u]).remove(0);
        let hjv = self.h_out.apply_arrays(&[jv.value().clone()]).remove(0);
        let refs: Vec<&Tensor> = self.params.iter().collect();
        vjp(&self.outputs, &refs, &Tensor::constant(hjv), false)
            .into_iter()
            .map(|t| t.value().clone())
            .collect()
    }
}

impl LinOp for Ggn {
    fn dim(&self) -> usize {
        self.dim
    }
    fn apply(&self, v: &[f64]) -> Vec<f64> {
        let like: Vec<Array> = self.params.iter().map(|p| p.value().clone()).collect();
        let parts = crate::objective::unflatten(v, &like);
        crate::objective::flatten(&self.apply_arrays(&parts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lanczos::{eigenpairs, Which};
    use crate::linalg::sym_eigvals;
    use crate::objective::{hessian_at, leaves, ModelLoss};
    use odl_nn::{Activation, MlpConfig};
    use odl_tensor::{DType, Rng};

    fn small_net(seed: u64) -> (odl_nn::Sequential, Tensor, Vec<usize>) {
        let mut rng = Rng::seed(seed);
        let net = MlpConfig::new(&[4, 6, 3], Activation::Tanh).build(&mut rng, DType::F64);
        let x = Tensor::constant(rng.normal(&[20, 4], 0.0, 1.0, DType::F64));
        let y: Vec<usize> = (0..20).map(|i| i % 3).collect();
        (net, x, y)
    }

    #[test]
    fn lanczos_matches_the_exact_hessian_spectrum_of_a_small_network() {
        let (mut net, x, y) = small_net(1);
        let ml = ModelLoss::new(&mut net, x, move |z| z.cross_entropy(&y));
        let theta = ml.theta();
        let h = hessian_at(&|p| ml.loss(p), &theta);
        let n = h.dim();
        assert_eq!(n, 4 * 6 + 6 + 6 * 3 + 3);
        let (exact, _) = exact_spectrum(&h).unwrap();
        let (top, _) = eigenpairs(&h, 3, n, Which::Largest, 5);
        for i in 0..3 {
            let e = exact[n - 1 - i];
            assert!((top[i] - e).abs() < 1e-8 * e.abs().max(1.0), "{i}: {} vs {e}", top[i]);
        }
        let (low, _) = eigenpairs(&h, 1, n, Which::Smallest, 5);
        assert!((low[0] - exact[0]).abs() < 1e-8, "{} vs {}", low[0], exact[0]);
        // also with fewer steps than the dimension, the top value converges
        let (top20, _) = eigenpairs(&h, 1, 20, Which::Largest, 5);
        assert!((top20[0] - exact[n - 1]).abs() < 1e-6 * exact[n - 1]);
    }

    #[test]
    fn ggn_is_jt_h_j_and_psd() {
        let (mut net, x, y) = small_net(2);
        let ml = ModelLoss::new(&mut net, x, move |z| z.cross_entropy(&y));
        let p = leaves(&ml.theta());
        let out = ml.outputs(&p);
        let ggn = Ggn::new(&p, out.clone(), |z| ml.loss_of_outputs(z));
        let g = to_dense(&ggn);
        let n = ggn.dim();
        // the dense Jacobian of the flat outputs and the output Hessian, multiplied out
        let m = out.numel();
        let theta = ml.theta();
        let jac = odl_autodiff::jacobian(
            |flat| {
                let parts: Vec<Tensor> = split(flat, &theta);
                ml.outputs(&parts).reshape(&[m])
            },
            &Array::from_f64(&crate::objective::flatten(&theta), &[n], DType::F64),
        )
        .to_vec_f64();
        let z = Tensor::param(out.value().clone());
        let hz = to_dense(&Hessian::new(&ml.loss_of_outputs(&z), std::slice::from_ref(&z)));
        for i in (0..n).step_by(7) {
            for j in (0..n).step_by(5) {
                let mut want = 0.0;
                for a in 0..m {
                    for b in 0..m {
                        want += jac[a * n + i] * hz[a * m + b] * jac[b * n + j];
                    }
                }
                assert!((g[i * n + j] - want).abs() < 1e-10, "G[{i},{j}] = {} vs {want}", g[i * n + j]);
            }
        }
        let ev = sym_eigvals(&g, n);
        assert!(ev[0] > -1e-10, "GGN has eigenvalue {}", ev[0]);
    }

    fn split(flat: &Tensor, like: &[Array]) -> Vec<Tensor> {
        let mut at = 0;
        like.iter()
            .map(|a| {
                let n = a.numel();
                at += n;
                flat.slice(0, at - n, at, 1).reshape(a.shape())
            })
            .collect()
    }

    #[test]
    fn for_a_linear_model_with_squared_loss_ggn_equals_the_hessian() {
        let mut rng = Rng::seed(3);
        let x = Tensor::constant(rng.normal(&[10, 3], 0.0, 1.0, DType::F64));
        let t = Tensor::constant(rng.normal(&[10, 2], 0.0, 1.0, DType::F64));
        let theta = vec![rng.normal(&[3, 2], 0.0, 1.0, DType::F64)];
        let f = |p: &[Tensor]| x.matmul(&p[0]);
        let h = hessian_at(&|p| f(p).mse(&t), &theta);
        let p = leaves(&theta);
        let ggn = Ggn::new(&p, f(&p), |z| z.mse(&t));
        let (a, b) = (to_dense(&h), to_dense(&ggn));
        let d = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
        assert!(d < 1e-12, "max |H − G| = {d}");
    }
}
