//! Threat models: `{x' : ‖x' − x‖ ≤ ε, lo ≤ x' ≤ hi}` for ℓ∞ or ℓ2, with the
//! operations attacks need (projection, ascent steps, random starts), on
//! row-major batches `[n, d]` of f32 values.

use std::fmt;
use std::str::FromStr;

use odl_tensor::Rng;
use serde::{Deserialize, Serialize};

/// Which norm measures a perturbation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Norm {
    /// largest absolute change of any input
    Linf,
    /// Euclidean length of the change
    L2,
}

impl FromStr for Norm {
    type Err = String;
    fn from_str(s: &str) -> Result<Norm, String> {
        match s {
            "linf" | "Linf" | "inf" => Ok(Norm::Linf),
            "l2" | "L2" => Ok(Norm::L2),
            _ => Err(format!("unknown norm '{s}' (expected linf or l2)")),
        }
    }
}

impl fmt::Display for Norm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Norm::Linf => "linf",
            Norm::L2 => "l2",
        })
    }
}

/// A ball of radius `eps` in `norm`, intersected with the box `[lo, hi]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Threat {
    /// the norm
    pub norm: Norm,
    /// the radius (data units)
    pub eps: f64,
    /// smallest valid input value (−∞: none)
    pub lo: f64,
    /// largest valid input value (+∞: none)
    pub hi: f64,
}

impl Threat {
    /// A threat model; `Err` names a negative or non-finite ε or an empty box.
    pub fn new(norm: Norm, eps: f64, lo: f64, hi: f64) -> Result<Threat, String> {
        if !(eps.is_finite() && eps >= 0.0) {
            return Err(format!("eps = {eps}: must be a finite number ≥ 0"));
        }
        if lo.is_nan() || hi.is_nan() || lo >= hi {
            return Err(format!("box [{lo}, {hi}]: must be a non-empty interval"));
        }
        Ok(Threat { norm, eps, lo, hi })
    }

    /// The same threat model with radius `eps`.
    pub fn with_eps(&self, eps: f64) -> Threat {
        Threat { eps, ..*self }
    }

    /// The distance of each row of `x` from the matching row of `x0`
    /// (`[n, d]`), exact: the difference of two f32 values is exact in f64.
    pub fn distances(&self, x: &[f32], x0: &[f32], d: usize) -> Vec<f64> {
        x.chunks(d)
            .zip(x0.chunks(d))
            .map(|(a, b)| {
                let e = a.iter().zip(b).map(|(&u, &v)| u as f64 - v as f64);
                match self.norm {
                    Norm::Linf => e.fold(0.0f64, |m, v| m.max(v.abs())),
                    Norm::L2 => e.map(|v| v * v).sum::<f64>().sqrt(),
                }
            })
            .collect()
    }

    /// Projects each row of `x` onto the ball around the matching row of `x0`
    /// and the box. For ℓ2 the ball's projection comes first, then the box's
    /// clip, which can only shrink the perturbation: the result is inside both.
    pub fn project(&self, x: &mut [f32], x0: &[f32], d: usize) {
        for (r, r0) in x.chunks_mut(d).zip(x0.chunks(d)) {
            match self.norm {
                Norm::Linf => {
                    let e = self.eps as f32;
                    for (v, &o) in r.iter_mut().zip(r0) {
                        *v = v.clamp(o - e, o + e);
                    }
                }
                Norm::L2 => {
                    let n = r.iter().zip(r0).map(|(&v, &o)| ((v - o) as f64).powi(2)).sum::<f64>().sqrt();
                    if n > self.eps {
                        let s = (self.eps / n) as f32;
                        for (v, &o) in r.iter_mut().zip(r0) {
                            *v = o + (*v - o) * s;
                        }
                    }
                }
            }
            for v in r.iter_mut() {
                *v = v.clamp(self.lo as f32, self.hi as f32);
            }
            self.settle(r, r0);
        }
    }

    /// For ℓ∞: the interval `[lo_i, hi_i]` of each entry that the ball
    /// around `x0` and the box allow — the projections of −∞ and +∞ —, so
    /// that projecting is one clamp per entry: `v.clamp(lo_i, hi_i)` equals
    /// [`Threat::project`]'s result for every f32 `v` (an f32 strictly
    /// inside the rounded bounds lies inside the exact ball). `None` for ℓ2.
    pub fn linf_bounds(&self, x0: &[f32]) -> Option<(Vec<f32>, Vec<f32>)> {
        if self.norm != Norm::Linf || x0.is_empty() {
            return None;
        }
        let mut lo = vec![f32::NEG_INFINITY; x0.len()];
        let mut hi = vec![f32::INFINITY; x0.len()];
        self.project(&mut lo, x0, x0.len());
        self.project(&mut hi, x0, x0.len());
        Some((lo, hi))
    }

    /// Removes the f32 rounding that can leave a projected row a few ulps
    /// outside the ball: the distance is checked exactly (in f64, where the
    /// difference of two f32 values is exact) and an entry outside is set to
    /// `o ± ε` rounded towards `o` (ℓ∞), or the row pulled inwards by a
    /// relative 1e-6 at a time (ℓ2). The clean row must lie in the box
    /// (see [`Threat::clip`]), so the result stays in it.
    fn settle(&self, r: &mut [f32], r0: &[f32]) {
        match self.norm {
            Norm::Linf => {
                for (v, &o) in r.iter_mut().zip(r0) {
                    if (*v as f64 - o as f64).abs() > self.eps {
                        let edge = (o as f64 + self.eps.copysign(*v as f64 - o as f64)) as f32;
                        *v = if (edge as f64 - o as f64).abs() > self.eps { toward(edge, o) } else { edge };
                    }
                }
            }
            Norm::L2 => {
                for _ in 0..64 {
                    let n =
                        r.iter().zip(r0).map(|(&v, &o)| (v as f64 - o as f64).powi(2)).sum::<f64>().sqrt();
                    if n <= self.eps {
                        return;
                    }
                    for (v, &o) in r.iter_mut().zip(r0) {
                        let pulled = o + (*v - o) * (1.0 - 1e-6);
                        *v = if pulled == *v { toward(*v, o) } else { pulled };
                    }
                }
                // still outside after 64 pulls (cannot happen for ε ≫ ulps): the clean row itself
                r.copy_from_slice(r0);
            }
        }
    }

    /// Clips inputs into the box (pixels rebuilt from normalized data can sit
    /// a rounding error outside it); attacks require clean inputs in the box.
    pub fn clip(&self, x: &mut [f32]) {
        for v in x {
            *v = v.clamp(self.lo as f32, self.hi as f32);
        }
    }

    /// Whether every input lies in the box.
    pub fn in_box(&self, x: &[f32]) -> bool {
        x.iter().all(|&v| (v as f64) >= self.lo && (v as f64) <= self.hi)
    }

    /// The steepest-ascent step of size `alpha` on each row: `alpha·sign(g)`
    /// for ℓ∞, `alpha·g/‖g‖` for ℓ2 (no step where `g = 0`), added to `x`.
    pub fn ascend(&self, x: &mut [f32], g: &[f32], alpha: &[f64], d: usize) {
        for ((r, gr), &a) in x.chunks_mut(d).zip(g.chunks(d)).zip(alpha) {
            match self.norm {
                Norm::Linf => {
                    for (v, &gi) in r.iter_mut().zip(gr) {
                        if gi != 0.0 {
                            *v += (a as f32).copysign(gi);
                        }
                    }
                }
                Norm::L2 => {
                    let n = row_norm(Norm::L2, gr);
                    if n > 0.0 {
                        let s = (a / n) as f32;
                        for (v, &gi) in r.iter_mut().zip(gr) {
                            *v += s * gi;
                        }
                    }
                }
            }
        }
    }

    /// A uniformly random point of the ball around each row of `x0` (then
    /// clipped to the box).
    pub fn random_start(&self, x0: &[f32], d: usize, rng: &mut Rng) -> Vec<f32> {
        let mut x = x0.to_vec();
        for r in x.chunks_mut(d) {
            match self.norm {
                Norm::Linf => {
                    for v in r.iter_mut() {
                        *v += ((2.0 * rng.uniform_f64() - 1.0) * self.eps) as f32;
                    }
                }
                Norm::L2 => {
                    let dir: Vec<f64> = (0..d).map(|_| rng.normal_f64()).collect();
                    let n = dir.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-300);
                    // radius ∝ u^{1/d}: uniform in the ball's volume
                    let rad = self.eps * rng.uniform_f64().powf(1.0 / d as f64);
                    for (v, u) in r.iter_mut().zip(dir) {
                        *v += (rad * u / n) as f32;
                    }
                }
            }
        }
        self.project(&mut x, x0, d);
        x
    }
}

/// `x ← clamp(x + α·sign(g), lo, hi)` entry by entry (no step where `g = 0`):
/// [`Threat::ascend`] then [`Threat::project`] for ℓ∞ in one pass, with the
/// projection's exact per-entry bounds from [`Threat::linf_bounds`].
///
/// Written without branches (the sign of a gradient entry is a coin flip
/// that a branch predictor loses half the time) and with `max`/`min`
/// instead of `clamp` (which checks `l ≤ h` per entry), so that it runs as
/// a vector loop; the same values as `(v + s).clamp(l, h)` for `l ≤ h` and
/// finite `v` (up to the sign of a zero).
pub fn linf_step(x: &mut [f32], g: &[f32], alpha: f32, lo: &[f32], hi: &[f32]) {
    for (((v, &gi), &l), &h) in x.iter_mut().zip(g).zip(lo).zip(hi) {
        let sign = (gi > 0.0) as i32 - (gi < 0.0) as i32;
        *v = (*v + alpha * sign as f32).max(l).min(h);
    }
}

/// The f32 next to `v` in the direction of `o` (`v` itself when equal).
fn toward(v: f32, o: f32) -> f32 {
    if v == o {
        v
    } else if v == 0.0 {
        f32::from_bits(1).copysign(o)
    } else if (v > o) == (v > 0.0) {
        // towards zero: one step down in magnitude
        f32::from_bits(v.to_bits() - 1)
    } else {
        f32::from_bits(v.to_bits() + 1)
    }
}

/// ‖r‖ in `norm`.
pub fn row_norm(norm: Norm, r: &[f32]) -> f64 {
    match norm {
        Norm::Linf => r.iter().fold(0.0f64, |m, &v| m.max((v as f64).abs())),
        Norm::L2 => r.iter().map(|&v| (v as f64).powi(2)).sum::<f64>().sqrt(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn within(t: &Threat, x: &[f32], x0: &[f32], d: usize) -> bool {
        t.distances(x, x0, d).iter().all(|&n| n <= t.eps)
            && x.iter().all(|&v| (v as f64) >= t.lo && (v as f64) <= t.hi)
    }

    #[test]
    fn projection_lands_in_ball_and_box_and_fixes_inside_points() {
        let mut rng = Rng::seed(3);
        for norm in [Norm::Linf, Norm::L2] {
            let t = Threat::new(norm, 0.3, 0.0, 1.0).unwrap();
            let d = 16;
            let x0: Vec<f32> = (0..4 * d).map(|_| rng.uniform_f64() as f32).collect();
            let mut x: Vec<f32> = x0.iter().map(|&v| v + (3.0 * rng.normal_f64()) as f32).collect();
            t.project(&mut x, &x0, d);
            assert!(within(&t, &x, &x0, d), "{norm}: projected point outside");
            // projecting again changes nothing (a projection is idempotent)
            let mut y = x.clone();
            t.project(&mut y, &x0, d);
            assert_eq!(x, y);
            // random starts are inside and differ from x0
            let s = t.random_start(&x0, d, &mut rng);
            assert!(within(&t, &s, &x0, d));
            assert!(s.iter().zip(&x0).any(|(a, b)| a != b));
        }
    }

    #[test]
    fn projection_is_exact_in_f64_despite_f32_rounding() {
        // ε not representable near large inputs: o ± ε rounds outwards unless settled
        for norm in [Norm::Linf, Norm::L2] {
            let t = Threat::new(norm, 0.017_922_809_991_717_1, f64::NEG_INFINITY, f64::INFINITY).unwrap();
            let x0: Vec<f32> = (0..64).map(|i| -3.0 + 0.1 * i as f32).collect();
            let mut x: Vec<f32> =
                x0.iter().enumerate().map(|(i, &v)| if i % 2 == 0 { v + 1.0 } else { v - 1.0 }).collect();
            t.project(&mut x, &x0, 64);
            assert!(within(&t, &x, &x0, 64), "{norm}");
        }
        assert_eq!(toward(1.0, 0.0), 1.0 - f32::EPSILON / 2.0);
        assert_eq!(toward(-1.0, 0.0), -1.0 + f32::EPSILON / 2.0);
        assert_eq!(toward(1.0, 2.0), 1.0 + f32::EPSILON);
        assert!(toward(0.0, 1.0) > 0.0 && toward(0.0, -1.0) < 0.0);
    }

    #[test]
    fn linf_bounds_clamp_exactly_as_the_projection_does() {
        let mut rng = Rng::seed(7);
        let d = 64;
        // clean values on the box's edges and inside, radii that do not round evenly
        let x0: Vec<f32> = (0..4 * d)
            .map(|i| match i % 5 {
                0 => 0.0,
                1 => 1.0,
                _ => rng.uniform_f64() as f32,
            })
            .collect();
        for eps in [0.0, 0.1, 0.3, 1.0 / 3.0, 2.0] {
            let t = Threat::new(Norm::Linf, eps, 0.0, 1.0).unwrap();
            let (lo, hi) = t.linf_bounds(&x0).unwrap();
            for _ in 0..20 {
                let x: Vec<f32> =
                    x0.iter().map(|&o| o + ((rng.uniform_f64() * 6.0 - 3.0) * eps.max(0.1)) as f32).collect();
                let mut projected = x.clone();
                t.project(&mut projected, &x0, d);
                let clamped: Vec<f32> =
                    x.iter().zip(lo.iter().zip(&hi)).map(|(v, (l, h))| v.clamp(*l, *h)).collect();
                assert_eq!(projected, clamped, "ε = {eps}");
                assert!(within(&t, &clamped, &x0, d));
                // a signed step and its projection in one pass: the two passes' numbers
                let g: Vec<f32> = (0..x.len()).map(|i| [-1.5f32, 0.0, 2.0][i % 3]).collect();
                let (mut one, mut two) = (clamped.clone(), clamped.clone());
                linf_step(&mut one, &g, 0.07, &lo, &hi);
                t.ascend(&mut two, &g, &vec![0.07; x.len() / d], d);
                t.project(&mut two, &x0, d);
                assert_eq!(one, two, "ε = {eps}");
            }
        }
        assert!(Threat::new(Norm::L2, 0.1, 0.0, 1.0).unwrap().linf_bounds(&x0).is_none());
    }

    #[test]
    fn l2_projection_of_an_outside_point_has_radius_eps() {
        let t = Threat::new(Norm::L2, 0.5, f64::NEG_INFINITY, f64::INFINITY).unwrap();
        let x0 = vec![0.0f32; 3];
        let mut x = vec![3.0f32, 4.0, 0.0];
        t.project(&mut x, &x0, 3);
        assert!((row_norm(Norm::L2, &x) - 0.5).abs() < 1e-6);
        // along the same direction
        assert!((x[0] / x[1] - 0.75).abs() < 1e-6);
    }

    #[test]
    fn ascent_steps_have_the_requested_length() {
        let g = vec![0.5f32, -2.0, 0.0, 1.0];
        for (norm, want) in [(Norm::Linf, 0.1), (Norm::L2, 0.1)] {
            let t = Threat::new(norm, 1.0, -10.0, 10.0).unwrap();
            let mut x = vec![0.0f32; 4];
            t.ascend(&mut x, &g, &[0.1], 4);
            assert!((row_norm(norm, &x) - want).abs() < 1e-6, "{norm}");
            assert!(x[1] < 0.0 && x[0] > 0.0 && x[2] == 0.0);
        }
    }

    #[test]
    fn bad_radius_or_box_is_an_error_naming_it() {
        assert!(Threat::new(Norm::Linf, -0.1, 0.0, 1.0).unwrap_err().contains("eps = -0.1"));
        assert!(Threat::new(Norm::Linf, f64::NAN, 0.0, 1.0).is_err());
        assert!(Threat::new(Norm::L2, 0.1, 1.0, 0.0).unwrap_err().contains("box"));
        assert_eq!("l2".parse::<Norm>(), Ok(Norm::L2));
        assert!("l3".parse::<Norm>().unwrap_err().contains("l3"));
    }
}
