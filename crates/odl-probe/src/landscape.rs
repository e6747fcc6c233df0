//! Pictures of the loss surface (Li et al. 2018): linear interpolation
//! between two parameter vectors, 1-D and 2-D slices along random directions
//! with filter normalization, and the PCA plane of a training trajectory.

use odl_tensor::{Array, Rng};

use crate::linalg::{dot, norm, top_right_singular};
use crate::objective::{flatten, offset, unflatten};

/// Loss and accuracy at a parameter vector (any evaluation the caller likes:
/// a batch, the training set).
pub type Eval<'a> = dyn Fn(&[Array]) -> (f64, f64) + 'a;

/// A Gaussian direction shaped like `theta`.
pub fn random_direction(theta: &[Array], rng: &mut Rng) -> Vec<Array> {
    theta.iter().map(|a| rng.normal(a.shape(), 0.0, 1.0, a.dtype())).collect()
}

/// Filter normalization (Li et al. 2018): each filter of `d` — row `i` along
/// the first axis of a weight with ≥ 2 axes (a neuron of a linear layer, an
/// output channel of a convolution) — is rescaled to the norm of the same
/// filter of `theta`. Directions of 1-d parameters (biases, BatchNorm's
/// scale and shift) are set to zero, as Li et al. do.
pub fn filter_normalize(d: &mut [Array], theta: &[Array]) {
    for (di, ti) in d.iter_mut().zip(theta) {
        let mut v = di.to_vec_f64();
        if ti.ndim() < 2 {
            v.iter_mut().for_each(|x| *x = 0.0);
        } else {
            let rows = ti.shape()[0];
            let k = v.len() / rows;
            let t = ti.to_vec_f64();
            for r in 0..rows {
                let tn = norm(&t[r * k..(r + 1) * k]);
                let dn = norm(&v[r * k..(r + 1) * k]);
                let s = if dn > 0.0 { tn / dn } else { 0.0 };
                v[r * k..(r + 1) * k].iter_mut().for_each(|x| *x *= s);
            }
        }
        *di = Array::from_f64(&v, ti.shape(), ti.dtype());
    }
}

/// A seeded random direction with filter normalization.
pub fn filter_normalized_direction(theta: &[Array], seed: u64) -> Vec<Array> {
    let mut d = random_direction(theta, &mut Rng::seed(seed));
    filter_normalize(&mut d, theta);
    d
}

/// `(loss, acc)` at `(1 − α) a + α b` for each `α`.
pub fn interpolate(eval: &Eval, a: &[Array], b: &[Array], alphas: &[f64]) -> Vec<(f64, f64)> {
    let diff = unflatten(&flatten(b).iter().zip(flatten(a)).map(|(x, y)| x - y).collect::<Vec<_>>(), a);
    alphas.iter().map(|&t| eval(&offset(a, &[(&diff, t)]))).collect()
}

/// `(loss, acc)` at `θ + α d` for each `α`.
pub fn slice_1d(eval: &Eval, theta: &[Array], d: &[Array], alphas: &[f64]) -> Vec<(f64, f64)> {
    alphas.iter().map(|&t| eval(&offset(theta, &[(d, t)]))).collect()
}

/// `(loss, acc)` at `θ + α d₁ + β d₂` on the grid `alphas × betas`, row-major
/// over `(β, α)` (so it draws directly as a heat map with α across).
pub fn slice_2d(
    eval: &Eval,
    theta: &[Array],
    d1: &[Array],
    d2: &[Array],
    alphas: &[f64],
    betas: &[f64],
) -> Vec<(f64, f64)> {
    betas
        .iter()
        .flat_map(|&b| alphas.iter().map(move |&a| (a, b)))
        .map(|(a, b)| eval(&offset(theta, &[(d1, a), (d2, b)])))
        .collect()
}

/// The PCA plane of a trajectory (Li et al. §7): the top two principal
/// directions of `θ_i − θ_final`, the coordinates of every point in that
/// plane, and the fraction of the variance each direction explains.
pub struct PcaPlane {
    /// first principal direction (unit norm overall)
    pub d1: Vec<Array>,
    /// second principal direction
    pub d2: Vec<Array>,
    /// `(α, β)` of each trajectory point relative to the final point
    pub coords: Vec<(f64, f64)>,
    /// explained variance ratios of `d1`, `d2`
    pub explained: (f64, f64),
}

/// See [`PcaPlane`]. Needs at least 3 points.
pub fn pca_plane(trajectory: &[Vec<Array>]) -> Result<PcaPlane, String> {
    if trajectory.len() < 3 {
        return Err(format!("a PCA plane needs at least 3 trajectory points, got {}", trajectory.len()));
    }
    let last = flatten(trajectory.last().unwrap());
    let p = last.len();
    let rows = trajectory.len() - 1;
    let mut m = Vec::with_capacity(rows * p);
    for t in &trajectory[..rows] {
        m.extend(flatten(t).iter().zip(&last).map(|(a, b)| a - b));
    }
    let (s, dirs) = top_right_singular(&m, rows, p, 2);
    let total: f64 = m.iter().map(|x| x * x).sum();
    let like = trajectory.last().unwrap();
    let coords = trajectory
        .iter()
        .map(|t| {
            let v: Vec<f64> = flatten(t).iter().zip(&last).map(|(a, b)| a - b).collect();
            (dot(&v, &dirs[0]), dirs.get(1).map_or(0.0, |d| dot(&v, d)))
        })
        .collect();
    let ev = |i: usize| s.get(i).map_or(0.0, |x| x * x / total.max(1e-300));
    Ok(PcaPlane {
        d1: unflatten(&dirs[0], like),
        d2: unflatten(dirs.get(1).unwrap_or(&vec![0.0; p]), like),
        coords,
        explained: (ev(0), ev(1)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lanczos::{eigenpairs, Which};
    use crate::objective::{hessian_at, ModelLoss};
    use odl_autodiff::{no_grad, Tensor};
    use odl_nn::{Activation, Ctx, MlpConfig, Module};
    use odl_tensor::DType;

    #[test]
    fn filters_have_the_weights_norms_and_biases_are_left_alone() {
        let mut rng = Rng::seed(1);
        let theta =
            vec![rng.normal(&[4, 3, 3, 3], 0.0, 2.0, DType::F64), rng.normal(&[4], 0.0, 1.0, DType::F64)];
        let d = filter_normalized_direction(&theta, 5);
        let (t, v) = (theta[0].to_vec_f64(), d[0].to_vec_f64());
        for r in 0..4 {
            let a = norm(&t[r * 27..(r + 1) * 27]);
            let b = norm(&v[r * 27..(r + 1) * 27]);
            assert!((a - b).abs() < 1e-12 * a, "filter {r}: {a} vs {b}");
        }
        assert!(d[1].to_vec_f64().iter().all(|x| *x == 0.0));
    }

    #[test]
    fn rescaled_relu_nets_share_the_filter_normalized_plot_not_the_hessian() {
        // Dinh et al. 2017: (αW₁, αb₁, W₂/α) computes the same function as
        // (W₁, b₁, W₂) for ReLU, yet its Hessian is very differently scaled
        let mut rng = Rng::seed(2);
        let mut net = MlpConfig::new(&[5, 16, 3], Activation::Relu).build(&mut rng, DType::F64);
        let x = Tensor::constant(rng.normal(&[40, 5], 0.0, 1.0, DType::F64));
        let y: Vec<usize> = (0..40).map(|i| i % 3).collect();
        let theta = net.param_values();
        let alpha = 8.0;
        let scale = [alpha, alpha, 1.0 / alpha, 1.0];
        let theta2: Vec<Array> = theta
            .iter()
            .zip(scale)
            .map(|(a, s)| {
                Array::from_f64(
                    &a.to_vec_f64().iter().map(|v| v * s).collect::<Vec<_>>(),
                    a.shape(),
                    a.dtype(),
                )
            })
            .collect();
        let yy = y.clone();
        let ml = ModelLoss::new(&mut net, x, move |z| z.cross_entropy(&yy));
        let eval = |p: &[Array]| (ml.value_at(p), 0.0);
        let alphas: Vec<f64> = (-10..=10).map(|i| i as f64 / 10.0).collect();
        let c1 = slice_1d(&eval, &theta, &filter_normalized_direction(&theta, 9), &alphas);
        let c2 = slice_1d(&eval, &theta2, &filter_normalized_direction(&theta2, 9), &alphas);
        for (a, b) in c1.iter().zip(&c2) {
            assert!((a.0 - b.0).abs() < 1e-9 * a.0.max(1.0), "{} vs {}", a.0, b.0);
        }
        let l1 = eigenpairs(&hessian_at(&|p| ml.loss(p), &theta), 1, 30, Which::Largest, 1).0[0];
        let l2 = eigenpairs(&hessian_at(&|p| ml.loss(p), &theta2), 1, 30, Which::Largest, 1).0[0];
        assert!(l2 > 5.0 * l1, "λ_max {l1} vs rescaled {l2}");
        // the raw (not normalized) direction gives different plots
        let raw = random_direction(&theta, &mut Rng::seed(9));
        let r1 = slice_1d(&eval, &theta, &raw, &alphas);
        let r2 = slice_1d(&eval, &theta2, &raw, &alphas);
        assert!(r1.iter().zip(&r2).any(|(a, b)| (a.0 - b.0).abs() > 1e-3));
    }

    #[test]
    fn interpolation_ends_at_both_points_and_pca_recovers_a_planar_path() {
        let mut rng = Rng::seed(3);
        let mut net = MlpConfig::new(&[3, 4, 2], Activation::Tanh).build(&mut rng, DType::F64);
        let x = Tensor::constant(rng.normal(&[10, 3], 0.0, 1.0, DType::F64));
        let a = net.param_values();
        let b: Vec<Array> = a.iter().map(|t| rng.normal(t.shape(), 0.0, 1.0, DType::F64)).collect();
        let f = |p: &[Array]| -> (f64, f64) {
            net.set_param_values(p.to_vec());
            (no_grad(|| net.forward(&x, &mut Ctx::eval()).square().sum_all().item()), 0.0)
        };
        let cell = std::cell::RefCell::new(f);
        let eval = |p: &[Array]| (cell.borrow_mut())(p);
        let r = interpolate(&eval, &a, &b, &[0.0, 1.0]);
        assert!((r[0].0 - eval(&a).0).abs() < 1e-12 && (r[1].0 - eval(&b).0).abs() < 1e-12);
        // a path in a 2-d plane through the end point: PCA explains all of it
        let u = random_direction(&a, &mut rng);
        let w = random_direction(&a, &mut rng);
        let path: Vec<Vec<Array>> = (0..12)
            .map(|i| {
                let t = i as f64 / 11.0;
                offset(&a, &[(&u, (1.0 - t) * 2.0), (&w, (1.0 - t).powi(2))])
            })
            .collect();
        let plane = pca_plane(&path).unwrap();
        assert!(plane.explained.0 + plane.explained.1 > 1.0 - 1e-9, "{:?}", plane.explained);
        assert_eq!(plane.coords.last(), Some(&(0.0, 0.0)));
        assert!(pca_plane(&path[..2]).is_err());
    }
}
