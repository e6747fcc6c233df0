//! The f-GAN family (Nowozin, Cseke & Tomioka 2016): for a convex `f`
//! (with `f(1) = 0`, except the GAN's `f(1) = −log 4`), `D_f(P‖Q) = ∫ q f(p/q)` is bounded below by
//! `E_P[T] − E_Q[f*(T)]` for every critic `T`, with equality at
//! `T* = f'(p/q)`. A GAN's discriminator outputs `V(x)`; the output
//! activation `g_f` maps it into the domain of the conjugate `f*`, so
//! `T = g_f(V)`.

use odl_autodiff::Tensor;

/// An f-divergence of the f-GAN paper's Table 2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FDivergence {
    /// Kullback–Leibler, `f(u) = u log u`
    Kl,
    /// reverse KL, `f(u) = −log u`
    ReverseKl,
    /// Pearson χ², `f(u) = (u − 1)²`
    PearsonChi2,
    /// squared Hellinger, `f(u) = (√u − 1)²`
    SquaredHellinger,
    /// Jensen–Shannon (twice the JSD), `f(u) = −(u+1) log((1+u)/2) + u log u`
    JensenShannon,
    /// the original GAN's, `f(u) = u log u − (u+1) log(u+1)` (= 2·JSD − log 4)
    Gan,
}

impl FDivergence {
    /// All six, in the paper's order.
    pub const ALL: [FDivergence; 6] = [
        FDivergence::Kl,
        FDivergence::ReverseKl,
        FDivergence::PearsonChi2,
        FDivergence::SquaredHellinger,
        FDivergence::JensenShannon,
        FDivergence::Gan,
    ];

    /// Its name in tables and legends.
    pub fn name(self) -> &'static str {
        match self {
            FDivergence::Kl => "KL",
            FDivergence::ReverseKl => "reverse KL",
            FDivergence::PearsonChi2 => "Pearson χ²",
            FDivergence::SquaredHellinger => "squared Hellinger",
            FDivergence::JensenShannon => "Jensen–Shannon",
            FDivergence::Gan => "GAN",
        }
    }

    /// A key for metric names (`kl`, `reverse_kl`, …).
    pub fn key(self) -> &'static str {
        match self {
            FDivergence::Kl => "kl",
            FDivergence::ReverseKl => "reverse_kl",
            FDivergence::PearsonChi2 => "pearson_chi2",
            FDivergence::SquaredHellinger => "squared_hellinger",
            FDivergence::JensenShannon => "jensen_shannon",
            FDivergence::Gan => "gan",
        }
    }

    /// The generator function `f(u)`, `u > 0`.
    pub fn f(self, u: f64) -> f64 {
        match self {
            FDivergence::Kl => u * u.ln(),
            FDivergence::ReverseKl => -u.ln(),
            FDivergence::PearsonChi2 => (u - 1.0).powi(2),
            FDivergence::SquaredHellinger => (u.sqrt() - 1.0).powi(2),
            FDivergence::JensenShannon => -(u + 1.0) * ((1.0 + u) / 2.0).ln() + u * u.ln(),
            FDivergence::Gan => u * u.ln() - (u + 1.0) * (u + 1.0).ln(),
        }
    }

    /// The conjugate `f*(t) = sup_u (tu − f(u))` on its domain.
    pub fn conjugate(self, t: f64) -> f64 {
        match self {
            FDivergence::Kl => (t - 1.0).exp(),
            FDivergence::ReverseKl => -1.0 - (-t).ln(),
            FDivergence::PearsonChi2 => t * t / 4.0 + t,
            FDivergence::SquaredHellinger => t / (1.0 - t),
            FDivergence::JensenShannon => -(2.0 - t.exp()).ln(),
            FDivergence::Gan => -(1.0 - t.exp()).ln(),
        }
    }

    /// The output activation `T = g_f(V)`, into the domain of `f*`.
    pub fn activation(self, v: &Tensor) -> Tensor {
        match self {
            FDivergence::Kl | FDivergence::PearsonChi2 => v.clone(),
            FDivergence::ReverseKl => -(-v).exp(),
            FDivergence::SquaredHellinger => -(-v).exp() + 1.0,
            FDivergence::JensenShannon => -(-v).softplus() + std::f64::consts::LN_2,
            FDivergence::Gan => -(-v).softplus(),
        }
    }

    /// `f*(g_f(V))`, simplified so it stays finite wherever `V` is
    /// (`−log(1 − σ(v)) = softplus(v)` for the GAN, and so on).
    pub fn conjugate_of_activation(self, v: &Tensor) -> Tensor {
        match self {
            FDivergence::Kl => (v - 1.0).exp(),
            FDivergence::ReverseKl => v - 1.0,
            FDivergence::PearsonChi2 => v.square() * 0.25 + v,
            FDivergence::SquaredHellinger => v.exp() - 1.0,
            FDivergence::JensenShannon => v.softplus() - std::f64::consts::LN_2,
            FDivergence::Gan => v.softplus(),
        }
    }

    /// The variational lower bound `Σ wₚ g_f(V(xₚ)) − Σ w_q f*(g_f(V(x_q)))`
    /// from the critic's outputs on samples (or quadrature nodes) of `P` and
    /// `Q` with weights summing to 1 (`wp`, `wq` as 1-D tensors).
    pub fn bound(self, v_p: &Tensor, wp: &Tensor, v_q: &Tensor, wq: &Tensor) -> Tensor {
        self.activation(v_p).dot(wp) - self.conjugate_of_activation(v_q).dot(wq)
    }

    /// `D_f(P‖Q) = ∫ q f(p/q)` for densities on `[lo, hi]`, by the composite
    /// Simpson rule on `n` (even) intervals.
    pub fn integrate(
        self,
        p: impl Fn(f64) -> f64,
        q: impl Fn(f64) -> f64,
        lo: f64,
        hi: f64,
        n: usize,
    ) -> f64 {
        let n = n + n % 2;
        let h = (hi - lo) / n as f64;
        let term = |x: f64| {
            let (a, b) = (p(x), q(x));
            if b <= 0.0 || a <= 0.0 {
                0.0
            } else {
                b * self.f(a / b)
            }
        };
        let mut s = term(lo) + term(hi);
        for i in 1..n {
            s += term(lo + i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
        }
        s * h / 3.0
    }
}

/// The quadratic critic `V(x) = a + bx + cx²` for `w = (a, b, c)`: the
/// family that contains `log p/q` for any two Gaussians, so every optimal
/// critic above whose activation inverts to a log-ratio.
pub fn quadratic_critic(w: &Tensor, x: &Tensor) -> Tensor {
    let (a, b, c) = (w.slice(0, 0, 1, 1), w.slice(0, 1, 2, 1), w.slice(0, 2, 3, 1));
    &a + &(x * &b) + x.square() * &c
}

/// The density of `N(mu, sigma²)`.
pub fn normal_pdf(x: f64, mu: f64, sigma: f64) -> f64 {
    (-(x - mu).powi(2) / (2.0 * sigma * sigma)).exp() / (sigma * (2.0 * std::f64::consts::PI).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;
    use odl_tensor::DType;

    #[test]
    fn fenchel_young_is_an_equality_at_the_derivative() {
        // f*(f'(u)) = u f'(u) − f(u): the conjugate is the right one
        for d in FDivergence::ALL {
            let f1 = if d == FDivergence::Gan { -(4f64.ln()) } else { 0.0 };
            assert!((d.f(1.0) - f1).abs() < 1e-15, "{d:?}: f(1) = {f1}");
            for u in [0.2, 0.7, 1.0, 1.9, 4.5] {
                let h = 1e-6;
                let df = (d.f(u + h) - d.f(u - h)) / (2.0 * h);
                let (lhs, rhs) = (d.conjugate(df), u * df - d.f(u));
                assert!((lhs - rhs).abs() < 1e-6, "{d:?} at u = {u}: f*(f'(u)) = {lhs}, u f' − f = {rhs}");
                // and strictly above elsewhere: f*(t) ≥ t u − f(u)
                assert!(d.conjugate(df * 0.9) >= df * 0.9 * u - d.f(u) - 1e-12);
            }
        }
    }

    #[test]
    fn the_stable_composition_is_the_conjugate_of_the_activation() {
        let vs = [-3.0, -0.5, 0.0, 0.4, 2.0];
        let v = Tensor::from_f64(&vs, &[5], DType::F64);
        for d in FDivergence::ALL {
            let t = d.activation(&v).to_vec_f64();
            let c = d.conjugate_of_activation(&v).to_vec_f64();
            for i in 0..5 {
                assert!(
                    (d.conjugate(t[i]) - c[i]).abs() < 1e-12 * (1.0 + c[i].abs()),
                    "{d:?} at v = {}",
                    vs[i]
                );
            }
        }
    }

    #[test]
    fn integrals_match_the_gaussian_closed_forms() {
        let (m1, s1, m2, s2) = (1.0, 0.8, 0.0, 1.0);
        let p = |x: f64| normal_pdf(x, m1, s1);
        let q = |x: f64| normal_pdf(x, m2, s2);
        let int = |d: FDivergence| d.integrate(p, q, -15.0, 15.0, 20_000);
        let kl = (s2 / s1).ln() + (s1 * s1 + (m1 - m2) * (m1 - m2)) / (2.0 * s2 * s2) - 0.5;
        let rkl = (s1 / s2).ln() + (s2 * s2 + (m1 - m2) * (m1 - m2)) / (2.0 * s1 * s1) - 0.5;
        let d2 = 2.0 * s2 * s2 - s1 * s1;
        let chi2 = s2 / (s1 * d2.sqrt()) * ((m1 - m2).powi(2) / d2).exp() - 1.0;
        let bc = (2.0 * s1 * s2 / (s1 * s1 + s2 * s2)).sqrt()
            * (-(m1 - m2).powi(2) / (4.0 * (s1 * s1 + s2 * s2))).exp();
        for (d, want) in [
            (FDivergence::Kl, kl),
            (FDivergence::ReverseKl, rkl),
            (FDivergence::PearsonChi2, chi2),
            (FDivergence::SquaredHellinger, 2.0 - 2.0 * bc),
        ] {
            assert!((int(d) - want).abs() < 1e-9, "{d:?}: {} vs {want}", int(d));
        }
        // GAN = Jensen–Shannon − log 4
        assert!((int(FDivergence::Gan) - (int(FDivergence::JensenShannon) - 4f64.ln())).abs() < 1e-9);
    }
}
