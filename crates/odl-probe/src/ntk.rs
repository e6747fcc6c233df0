//! The empirical neural tangent kernel (Jacot et al. 2018; Du et al. 2018):
//! `K_ij = Σ_c ⟨∇_θ f_c(x_i), ∇_θ f_c(x_j)⟩` on a batch, its smallest
//! eigenvalue, and how far kernel and weights move in training.

use odl_autodiff::{vjp, Tensor};
use odl_nn::{Ctx, Module};
use odl_tensor::{Array, DType};

use crate::linalg::{norm, sym_eigvals};
use crate::objective::{flatten, forward_with, leaves};

/// The `n×n` NTK Gram matrix (row-major) of `model` on the `n` examples of
/// `x`, summed over output units (evaluation mode). Costs `n·outputs`
/// reverse passes.
pub fn ntk_gram(model: &mut dyn Module, x: &Array) -> Vec<f64> {
    let p = leaves(&model.param_values());
    let refs: Vec<&Tensor> = p.iter().collect();
    let n = x.shape()[0];
    let d: usize = x.shape()[1..].iter().product();
    let dim: usize = p.iter().map(Tensor::numel).sum();
    let xv = x.to_vec_f64();
    let mut shape = x.shape().to_vec();
    shape[0] = 1;
    let example = |i: usize| Tensor::constant(Array::from_f64(&xv[i * d..(i + 1) * d], &shape, x.dtype()));
    let m = forward_with(model, &p, &example(0), &mut Ctx::eval()).numel();
    let mut k = Array::zeros(&[n, n], DType::F64);
    // one output unit at a time: the n×P matrix R_c of per-example gradients
    // ∇_θ f_c(x_i), then K += R_c R_cᵀ as one GEMM (memory n·P)
    for c in 0..m {
        let mut r = Vec::with_capacity(n * dim);
        for i in 0..n {
            let y = forward_with(model, &p, &example(i), &mut Ctx::eval()).flatten();
            let mut e = vec![0.0; m];
            e[c] = 1.0;
            let g = vjp(&y, &refs, &Tensor::from_f64(&e, &[1, m], y.dtype()), false);
            r.extend(g.iter().flat_map(|t| t.value().to_vec_f64()));
        }
        let r = Array::from_vec(r, &[n, dim]);
        k = k.binary(odl_tensor::BinaryOp::Add, &Array::matmul(&r, &r, false, true));
    }
    k.to_vec_f64()
}

/// The smallest eigenvalue of a Gram matrix (`λ_min`, Du et al.'s λ₀).
pub fn lambda_min(k: &[f64], n: usize) -> f64 {
    sym_eigvals(k, n).first().copied().unwrap_or(0.0)
}

/// `‖K_t − K_0‖_F / ‖K_0‖_F`.
pub fn kernel_distance(k0: &[f64], kt: &[f64]) -> f64 {
    let d: Vec<f64> = k0.iter().zip(kt).map(|(a, b)| b - a).collect();
    norm(&d) / norm(k0).max(1e-300)
}

/// `‖θ_t − θ_0‖ / ‖θ_0‖` over all parameters.
pub fn relative_weight_change(theta0: &[Array], theta: &[Array]) -> f64 {
    let (a, b) = (flatten(theta0), flatten(theta));
    let d: Vec<f64> = a.iter().zip(&b).map(|(x, y)| y - x).collect();
    norm(&d) / norm(&a).max(1e-300)
}

/// The largest movement `max_r ‖w_r(t) − w_r(0)‖` of a row (a hidden
/// neuron's incoming weights) of a weight matrix `[out, in]`.
pub fn max_row_movement(w0: &Array, w: &Array) -> f64 {
    let (a, b) = (w0.to_vec_f64(), w.to_vec_f64());
    let k = w0.shape()[1..].iter().product::<usize>().max(1);
    a.chunks(k)
        .zip(b.chunks(k))
        .map(|(r0, r)| r0.iter().zip(r).map(|(x, y)| (y - x).powi(2)).sum::<f64>().sqrt())
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use odl_nn::{Activation, Init, Linear, MlpConfig, Sequential};
    use odl_tensor::Rng;

    #[test]
    fn the_ntk_of_a_linear_model_is_the_input_gram_matrix() {
        // f(x) = wᵀx + b: ∇_θ f = (x, 1), K = XXᵀ + 1
        let mut rng = Rng::seed(1);
        let mut net = Sequential::new();
        net.push(Linear::new(4, 1, true, &Init::Normal(1.0), None, &mut rng, DType::F64));
        let x = rng.normal(&[5, 4], 0.0, 1.0, DType::F64);
        let k = ntk_gram(&mut net, &x);
        let xv = x.to_vec_f64();
        for i in 0..5 {
            for j in 0..5 {
                let want: f64 = (0..4).map(|d| xv[i * 4 + d] * xv[j * 4 + d]).sum::<f64>() + 1.0;
                assert!((k[i * 5 + j] - want).abs() < 1e-12);
            }
        }
        assert!(lambda_min(&k, 5) > 0.0);
    }

    #[test]
    fn the_ntk_is_psd_and_the_distance_measures_change() {
        let mut rng = Rng::seed(2);
        let mut net = MlpConfig::new(&[3, 32, 2], Activation::Relu).build(&mut rng, DType::F64);
        let x = rng.normal(&[6, 3], 0.0, 1.0, DType::F64);
        let k0 = ntk_gram(&mut net, &x);
        assert!(lambda_min(&k0, 6) > -1e-10);
        let theta0 = net.param_values();
        let moved: Vec<Array> = theta0
            .iter()
            .map(|a| {
                Array::from_f64(
                    &a.to_vec_f64().iter().map(|v| v * 1.1).collect::<Vec<_>>(),
                    a.shape(),
                    DType::F64,
                )
            })
            .collect();
        assert!((relative_weight_change(&theta0, &moved) - 0.1).abs() < 1e-12);
        net.set_param_values(moved.clone());
        let k1 = ntk_gram(&mut net, &x);
        assert!(kernel_distance(&k0, &k1) > 0.01);
        assert_eq!(kernel_distance(&k0, &k0), 0.0);
        let m = max_row_movement(&theta0[0], &moved[0]);
        assert!(m > 0.0 && m < 0.11 * theta0[0].to_vec_f64().iter().map(|v| v * v).sum::<f64>().sqrt());
    }
}
