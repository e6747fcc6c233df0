//! The vector field of a game and its Jacobian, computed exactly by the
//! engine: `ξ(θ) = (∇_{θ₁}ℓ₁, …, ∇_{θₙ}ℓₙ)`, `J = ∂ξ/∂θ`.
//!
//! `Jᵀv` is one reverse pass through `ξ·v`; `Jv` is a reverse pass through
//! that one, with respect to `v` (`Jv = ∇ᵤ (Jᵀu)·v`, linear in `u`). Neither
//! forms `J`; [`jacobian`] forms it row by row for the diagnostics of small
//! games. `J` is not symmetric unless the game is a potential game: its
//! antisymmetric part `A = (J − Jᵀ)/2` is the rotation that makes gradient
//! descent–ascent cycle (Balduzzi et al. 2018, "The mechanics of n-player
//! differentiable games").

use odl_autodiff::{grad, grad_graph, Tensor};

use crate::game::{leaf, Game};

/// A point of a game: one flat parameter vector per player.
pub type Point = Vec<Vec<f64>>;

/// The field's blocks `∇_{θᵢ}ℓᵢ` at `params` (with their graph when
/// `graph`, so they can be differentiated again).
pub fn field_tensors(game: &dyn Game, params: &[Tensor], graph: bool) -> Vec<Tensor> {
    let losses = game.losses(params);
    assert_eq!(losses.len(), params.len(), "a game must give one loss per player");
    losses
        .iter()
        .zip(params)
        .map(|(l, p)| if graph { grad_graph(l, &[p]) } else { grad(l, &[p]) }.remove(0))
        .collect()
}

/// The vector field `ξ` at `z`.
pub fn field(game: &dyn Game, z: &[Vec<f64>]) -> Point {
    let params: Vec<Tensor> = z.iter().map(|v| leaf(v)).collect();
    field_tensors(game, &params, false).iter().map(|t| t.to_vec_f64()).collect()
}

/// `‖ξ‖²`, the Hamiltonian whose gradient consensus optimization follows.
pub fn sq_norm(v: &[Vec<f64>]) -> f64 {
    v.iter().flatten().map(|a| a * a).sum()
}

/// `Σᵢ aᵢ·bᵢ` over the blocks of two tensors lists.
fn dot_blocks(a: &[Tensor], b: &[Tensor]) -> Tensor {
    let mut s = a[0].dot(&b[0]);
    for (x, y) in a.iter().zip(b).skip(1) {
        s = s + x.dot(y);
    }
    s
}

fn consts(v: &[Vec<f64>]) -> Vec<Tensor> {
    v.iter().map(|b| Tensor::from_f64(b, &[b.len()], odl_tensor::DType::F64)).collect()
}

/// `ξ(z)` and `Jᵀv` at `z`.
pub fn field_and_jt_vec(game: &dyn Game, z: &[Vec<f64>], v: &[Vec<f64>]) -> (Point, Point) {
    let params: Vec<Tensor> = z.iter().map(|b| leaf(b)).collect();
    let xi = field_tensors(game, &params, true);
    let s = dot_blocks(&xi, &consts(v));
    let refs: Vec<&Tensor> = params.iter().collect();
    let jt = grad(&s, &refs).iter().map(|t| t.to_vec_f64()).collect();
    (xi.iter().map(|t| t.to_vec_f64()).collect(), jt)
}

/// `Jv` at `z`, by differentiating `u ↦ Jᵀu · v` with respect to `u`.
pub fn j_vec(game: &dyn Game, z: &[Vec<f64>], v: &[Vec<f64>]) -> Point {
    let params: Vec<Tensor> = z.iter().map(|b| leaf(b)).collect();
    let xi = field_tensors(game, &params, true);
    let u: Vec<Tensor> = z.iter().map(|b| leaf(&vec![0.0; b.len()])).collect();
    let refs: Vec<&Tensor> = params.iter().collect();
    let jt_u = grad_graph(&dot_blocks(&xi, &u), &refs);
    let urefs: Vec<&Tensor> = u.iter().collect();
    grad(&dot_blocks(&jt_u, &consts(v)), &urefs).iter().map(|t| t.to_vec_f64()).collect()
}

/// The dense Jacobian `J[a][b] = ∂ξₐ/∂θ_b` at `z` (row-major, `d × d` for
/// `d` parameters in all), one reverse pass per row.
pub fn jacobian(game: &dyn Game, z: &[Vec<f64>]) -> (usize, Vec<f64>) {
    let params: Vec<Tensor> = z.iter().map(|b| leaf(b)).collect();
    let xi = field_tensors(game, &params, true);
    let flat = Tensor::concat(&xi, 0);
    let d = flat.numel();
    let refs: Vec<&Tensor> = params.iter().collect();
    let mut j = Vec::with_capacity(d * d);
    for a in 0..d {
        let row = grad(&flat.slice(0, a, a + 1, 1).sum_all(), &refs);
        j.extend(row.iter().flat_map(|t| t.to_vec_f64()));
    }
    (d, j)
}

/// The eigenvalues `(re, im)` of a real `d × d` matrix (row-major), sorted
/// by real part, then imaginary part (real parts within rounding of each
/// other count as equal, so a conjugate pair comes out `−i` first).
pub fn eigenvalues(m: &[f64], d: usize) -> Vec<(f64, f64)> {
    let a = faer::Mat::<f64>::from_fn(d, d, |i, j| m[i * d + j]);
    let mut ev: Vec<(f64, f64)> =
        a.eigenvalues().expect("eigenvalues of the game Jacobian").iter().map(|c| (c.re, c.im)).collect();
    let tol = 1e-12 * ev.iter().map(|e| e.0.hypot(e.1)).fold(1.0, f64::max);
    ev.sort_by(|p, q| if (p.0 - q.0).abs() > tol { p.0.total_cmp(&q.0) } else { p.1.total_cmp(&q.1) });
    ev
}

/// What explains a game's dynamics at a point.
#[derive(Clone, Debug)]
pub struct Diagnostics {
    /// `‖ξ‖²` (0 exactly at a fixed point)
    pub field_sq_norm: f64,
    /// the dense Jacobian `J` (row-major)
    pub jacobian: Vec<f64>,
    /// the eigenvalues of `J`, `(re, im)`; gradient descent on the game
    /// converges locally with small steps when every real part is positive
    pub eigenvalues: Vec<(f64, f64)>,
    /// the eigenvalues of the symmetric (potential) part `S = (J + Jᵀ)/2`
    pub symmetric_eigenvalues: Vec<f64>,
    /// the Frobenius norm of `S`
    pub symmetric_norm: f64,
    /// the Frobenius norm of the antisymmetric (Hamiltonian) part `A = (J − Jᵀ)/2`
    pub antisymmetric_norm: f64,
}

/// The game's [`Diagnostics`] at `z`.
pub fn diagnostics(game: &dyn Game, z: &[Vec<f64>]) -> Diagnostics {
    let (d, j) = jacobian(game, z);
    let mut s = vec![0.0; d * d];
    let (mut sn, mut an) = (0.0, 0.0);
    for a in 0..d {
        for b in 0..d {
            let (x, y) = (j[a * d + b], j[b * d + a]);
            s[a * d + b] = (x + y) / 2.0;
            sn += ((x + y) / 2.0).powi(2);
            an += ((x - y) / 2.0).powi(2);
        }
    }
    let mut sym: Vec<f64> = eigenvalues(&s, d).iter().map(|e| e.0).collect();
    sym.sort_by(f64::total_cmp);
    Diagnostics {
        field_sq_norm: sq_norm(&field(game, z)),
        eigenvalues: eigenvalues(&j, d),
        jacobian: j,
        symmetric_eigenvalues: sym,
        symmetric_norm: sn.sqrt(),
        antisymmetric_norm: an.sqrt(),
    }
}
