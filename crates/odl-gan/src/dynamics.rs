//! Algorithms for differentiable games, as one [`Solver`] that steps a
//! [`Point`]. With `ξ` the game's field and `J` its Jacobian:
//!
//! | method | update |
//! |---|---|
//! | simultaneous GDA | `θ ← θ − ηξ(θ)` |
//! | alternating GDA | players in turn, each seeing the others' new values |
//! | extragradient (Korpelevich 1976) | `θ ← θ − ηξ(θ − ηξ(θ))` |
//! | optimistic GDA (Daskalakis et al. 2018) | `θ ← θ − 2ηξₖ + ηξₖ₋₁` |
//! | consensus (Mescheder et al. 2017) | `θ ← θ − η(ξ + γJᵀξ)` |
//! | symplectic gradient adjustment (Balduzzi et al. 2018) | `θ ← θ − η(ξ + λAᵀξ)`, `A = (J − Jᵀ)/2` |
//! | unrolled (Metz et al. 2017) | the first player descends `ℓ₁(x, yₖ(x))`, `yₖ` after `k` steps of the second player, differentiated through |

use odl_autodiff::{grad, grad_graph, Tensor};

use crate::field::{field, field_and_jt_vec, j_vec, Point};
use crate::game::{leaf, Game};

/// A game algorithm.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Method {
    /// simultaneous gradient descent(–ascent)
    Simultaneous,
    /// alternating gradient descent(–ascent), players in order
    Alternating,
    /// extragradient
    Extragradient,
    /// optimistic gradient descent(–ascent)
    Optimistic,
    /// consensus optimization with weight `gamma`
    Consensus {
        /// weight of `∇½‖ξ‖² = Jᵀξ`
        gamma: f64,
    },
    /// symplectic gradient adjustment with weight `lambda`
    Sga {
        /// weight of `Aᵀξ`
        lambda: f64,
    },
    /// two players: the first looks `steps` steps of size `lr` of the
    /// second ahead and differentiates through them
    Unrolled {
        /// unrolled steps of the second player
        steps: usize,
        /// their step size
        lr: f64,
    },
}

impl Method {
    /// A short name for tables and legends.
    pub fn name(&self) -> String {
        match self {
            Method::Simultaneous => "simultaneous GDA".into(),
            Method::Alternating => "alternating GDA".into(),
            Method::Extragradient => "extragradient".into(),
            Method::Optimistic => "optimistic GDA".into(),
            Method::Consensus { gamma } => format!("consensus γ={gamma}"),
            Method::Sga { lambda } => format!("SGA λ={lambda}"),
            Method::Unrolled { steps, .. } => format!("unrolled k={steps}"),
        }
    }
}

/// Steps a game with one method and step size `η`; keeps what the method
/// remembers (optimistic GDA's previous field).
#[derive(Clone, Debug)]
pub struct Solver {
    /// the algorithm
    pub method: Method,
    /// the step size `η`
    pub lr: f64,
    prev: Option<Point>,
}

fn axpy(z: &mut [Vec<f64>], a: f64, v: &[Vec<f64>]) {
    for (zb, vb) in z.iter_mut().zip(v) {
        for (x, y) in zb.iter_mut().zip(vb) {
            *x += a * y;
        }
    }
}

impl Solver {
    /// A solver for `method` with step size `lr`.
    pub fn new(method: Method, lr: f64) -> Solver {
        Solver { method, lr, prev: None }
    }

    /// One step from `z`, in place.
    pub fn step(&mut self, game: &dyn Game, z: &mut Point) {
        let eta = self.lr;
        match self.method {
            Method::Simultaneous => {
                let xi = field(game, z);
                axpy(z, -eta, &xi);
            }
            Method::Alternating => {
                for i in 0..z.len() {
                    let xi = field(game, z);
                    for (x, g) in z[i].iter_mut().zip(&xi[i]) {
                        *x -= eta * g;
                    }
                }
            }
            Method::Extragradient => {
                let mut half = z.clone();
                axpy(&mut half, -eta, &field(game, z));
                axpy(z, -eta, &field(game, &half));
            }
            Method::Optimistic => {
                let xi = field(game, z);
                let prev = self.prev.replace(xi.clone()).unwrap_or_else(|| xi.clone());
                axpy(z, -2.0 * eta, &xi);
                axpy(z, eta, &prev);
            }
            Method::Consensus { gamma } => {
                let xi = field(game, z);
                let (_, jt) = field_and_jt_vec(game, z, &xi);
                axpy(z, -eta, &xi);
                axpy(z, -eta * gamma, &jt);
            }
            Method::Sga { lambda } => {
                // Aᵀξ = ½(Jᵀξ − Jξ)
                let xi = field(game, z);
                let (_, jt) = field_and_jt_vec(game, z, &xi);
                let jv = j_vec(game, z, &xi);
                axpy(z, -eta, &xi);
                axpy(z, -eta * lambda / 2.0, &jt);
                axpy(z, eta * lambda / 2.0, &jv);
            }
            Method::Unrolled { steps, lr } => {
                assert_eq!(z.len(), 2, "unrolled steps need a two-player game");
                let gx = unrolled_grad(game, z, steps, lr);
                let xi = field(game, z);
                for (x, g) in z[0].iter_mut().zip(&gx) {
                    *x -= eta * g;
                }
                for (y, g) in z[1].iter_mut().zip(&xi[1]) {
                    *y -= eta * g;
                }
            }
        }
    }
}

/// `∇ₓ ℓ₁(x, yₖ(x))` with `y₀ = y`, `yₜ₊₁ = yₜ − lr ∇_y ℓ₂(x, yₜ)`, the
/// dependence of every `yₜ` on `x` differentiated through.
pub fn unrolled_grad(game: &dyn Game, z: &[Vec<f64>], steps: usize, lr: f64) -> Vec<f64> {
    let x = leaf(&z[0]);
    let mut y: Tensor = leaf(&z[1]);
    for _ in 0..steps {
        let l2 = game.losses(&[x.clone(), y.clone()]).remove(1);
        let gy = grad_graph(&l2, &[&y]).remove(0);
        y = &y - &(gy * lr);
    }
    let l1 = game.losses(&[x.clone(), y]).remove(0);
    grad(&l1, &[&x]).remove(0).to_vec_f64()
}

/// The path of a game under a solver: every point and its distance to an
/// equilibrium.
#[derive(Clone, Debug)]
pub struct Trajectory {
    /// `z₀, z₁, …, z_K`
    pub points: Vec<Point>,
    /// `‖zₖ − z*‖` for each point
    pub distance: Vec<f64>,
}

impl Trajectory {
    /// The measured per-step rate over the last `window` steps,
    /// `(dist_K / dist_{K−w})^{1/w}`: the spectral radius of the linearized
    /// update once its slowest (or fastest-growing) mode dominates. A run
    /// that stopped because its point overflowed is measured up to its last
    /// finite distance. `NaN` when a distance is 0 or no finite one is left.
    pub fn rate(&self, window: usize) -> f64 {
        rate_over(&self.distance, window)
    }

    /// [`Trajectory::rate`] over the last third of the steps before the
    /// distance first falls below `floor·dist_0` (of the whole run if it
    /// never does). A field that is a difference of O(1) terms — the Dirac
    /// GAN's `f'(ψx)` against its value at 0 — is computed with an absolute
    /// rounding error of ~10⁻¹⁷, so a converging run's iterates stop
    /// following the linear map once they get that small; the floor keeps
    /// the measurement in the range where they still do.
    pub fn rate_above(&self, floor: f64) -> f64 {
        let d0 = self.distance[0];
        let end = self.distance.iter().position(|&d| d < floor * d0).unwrap_or(self.distance.len() - 1);
        rate_over(&self.distance[..=end], (end / 3).max(1))
    }

    /// `max_k dist_k / dist_0`.
    pub fn max_growth(&self) -> f64 {
        self.distance.iter().fold(0.0f64, |m, d| m.max(*d)) / self.distance[0]
    }
}

/// `(d_K / d_{K−w})^{1/w}` with `K` the last finite distance of `distance`
/// and `w = window` (at most `K`, at least 1); `NaN` when no two finite
/// distances are there or one of the two is 0.
fn rate_over(distance: &[f64], window: usize) -> f64 {
    let Some(k) = distance.iter().rposition(|d| d.is_finite()) else { return f64::NAN };
    let w = window.min(k).max(1);
    if w > k {
        return f64::NAN;
    }
    let (a, b) = (distance[k - w], distance[k]);
    if a > 0.0 && b > 0.0 && a.is_finite() {
        (b / a).powf(1.0 / w as f64)
    } else {
        f64::NAN
    }
}

/// Runs `steps` steps of `solver` from `z0`, recording the path and its
/// distance to `equilibrium` (stops early if the point stops being finite).
pub fn trajectory(
    game: &dyn Game,
    solver: &mut Solver,
    z0: Point,
    steps: usize,
    equilibrium: &[Vec<f64>],
) -> Trajectory {
    // scaled by the largest entry, so that the squares cannot overflow
    // before the point itself does (a diverging method is still measured)
    let dist = |z: &Point| {
        let diff = || z.iter().flatten().zip(equilibrium.iter().flatten()).map(|(a, b)| a - b);
        let m = diff().fold(0.0f64, |m, d| m.max(d.abs()));
        if m == 0.0 || !m.is_finite() {
            return if diff().any(f64::is_nan) { f64::NAN } else { m };
        }
        m * diff().map(|d| (d / m) * (d / m)).sum::<f64>().sqrt()
    };
    let mut z = z0;
    let mut t = Trajectory { distance: vec![dist(&z)], points: vec![z.clone()] };
    for _ in 0..steps {
        solver.step(game, &mut z);
        let d = dist(&z);
        t.points.push(z.clone());
        t.distance.push(d);
        if !d.is_finite() {
            break;
        }
    }
    t
}
