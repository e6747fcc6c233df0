//! How GANs are evaluated from features of real and generated samples:
//! the Fréchet distance between Gaussians fitted to them (FID, Heusel et al.
//! 2017) and the kernel distance (KID, Bińkowski et al. 2018, an unbiased
//! MMD² with the cubic polynomial kernel). Features are rows of a row-major
//! `n × d` matrix; which network made them is the caller's to say (odl has
//! no Inception network: its metrics name their features).

use faer::{Mat, Side};

/// Mean and unbiased covariance (`n − 1`) of the rows of `x` (`n × d`).
pub fn mean_cov(x: &[f64], n: usize, d: usize) -> (Vec<f64>, Vec<f64>) {
    assert!(n >= 2 && x.len() == n * d, "mean_cov: need at least 2 rows of {d}, got {} values", x.len());
    let mut mu = vec![0.0; d];
    for r in x.chunks(d) {
        mu.iter_mut().zip(r).for_each(|(m, v)| *m += v / n as f64);
    }
    let mut c = vec![0.0; d * d];
    for r in x.chunks(d) {
        for i in 0..d {
            let a = r[i] - mu[i];
            for j in 0..=i {
                c[i * d + j] += a * (r[j] - mu[j]);
            }
        }
    }
    for i in 0..d {
        for j in 0..=i {
            let v = c[i * d + j] / (n - 1) as f64;
            c[i * d + j] = v;
            c[j * d + i] = v;
        }
    }
    (mu, c)
}

/// `tr √M` for a symmetric positive semi-definite `d × d` matrix (negative
/// eigenvalues from rounding count as 0).
fn trace_sqrt_sym(m: &Mat<f64>) -> f64 {
    let e = m.self_adjoint_eigen(Side::Lower).expect("symmetric eigendecomposition");
    let s = e.S().column_vector();
    (0..m.nrows()).map(|i| s[i].max(0.0).sqrt()).sum()
}

/// The Fréchet distance between `N(μ₁, Σ₁)` and `N(μ₂, Σ₂)`:
/// `‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁^{½} Σ₂ Σ₁^{½})^{½}`, with the
/// square roots taken of symmetric matrices by eigendecomposition (stable
/// where `sqrtm(Σ₁Σ₂)` of a non-symmetric product is not).
pub fn frechet(mu1: &[f64], s1: &[f64], mu2: &[f64], s2: &[f64]) -> f64 {
    let d = mu1.len();
    let a = Mat::<f64>::from_fn(d, d, |i, j| (s1[i * d + j] + s1[j * d + i]) / 2.0);
    let b = Mat::<f64>::from_fn(d, d, |i, j| (s2[i * d + j] + s2[j * d + i]) / 2.0);
    let e = a.self_adjoint_eigen(Side::Lower).expect("symmetric eigendecomposition");
    let (u, s) = (e.U(), e.S().column_vector());
    let root =
        Mat::<f64>::from_fn(d, d, |i, j| (0..d).map(|k| u[(i, k)] * s[k].max(0.0).sqrt() * u[(j, k)]).sum());
    let m = &root * &b * &root;
    let m = Mat::<f64>::from_fn(d, d, |i, j| (m[(i, j)] + m[(j, i)]) / 2.0);
    let dm: f64 = mu1.iter().zip(mu2).map(|(a, b)| (a - b) * (a - b)).sum();
    let tr = |x: &Mat<f64>| (0..d).map(|i| x[(i, i)]).sum::<f64>();
    (dm + tr(&a) + tr(&b) - 2.0 * trace_sqrt_sym(&m)).max(0.0)
}

/// FID between two feature sets (`n₁ × d` and `n₂ × d`).
pub fn fid(x: &[f64], n1: usize, y: &[f64], n2: usize, d: usize) -> f64 {
    let (m1, c1) = mean_cov(x, n1, d);
    let (m2, c2) = mean_cov(y, n2, d);
    frechet(&m1, &c1, &m2, &c2)
}

/// KID: the unbiased MMD² estimate with `k(a, b) = (aᵀb/d + 1)³` between
/// two feature sets — zero in expectation when both come from one
/// distribution, at any sample size.
pub fn kid(x: &[f64], n1: usize, y: &[f64], n2: usize, d: usize) -> f64 {
    assert!(n1 >= 2 && n2 >= 2, "kid: need at least 2 samples on each side");
    let k =
        |a: &[f64], b: &[f64]| (a.iter().zip(b).map(|(p, q)| p * q).sum::<f64>() / d as f64 + 1.0).powi(3);
    let within = |m: &[f64], n: usize| {
        let mut s = 0.0;
        for i in 0..n {
            for j in 0..i {
                s += k(&m[i * d..(i + 1) * d], &m[j * d..(j + 1) * d]);
            }
        }
        2.0 * s / (n * (n - 1)) as f64
    };
    let mut cross = 0.0;
    for i in 0..n1 {
        for j in 0..n2 {
            cross += k(&x[i * d..(i + 1) * d], &y[j * d..(j + 1) * d]);
        }
    }
    within(x, n1) + within(y, n2) - 2.0 * cross / (n1 * n2) as f64
}

/// The Inception-Score formula `exp(E_x KL(p(y|x) ‖ p(y)))` (Salimans et
/// al. 2016) from class probabilities `probs` (`n` rows of `k`, each summing
/// to 1) of whatever classifier the caller names: 1 when every sample gets
/// the same distribution, `k` when samples are confidently and evenly spread
/// over the `k` classes.
pub fn inception_score(probs: &[f64], n: usize, k: usize) -> f64 {
    assert!(n >= 1 && probs.len() == n * k, "inception_score: {} values for {n} rows of {k}", probs.len());
    let mut marginal = vec![0.0; k];
    for row in probs.chunks(k) {
        for (m, p) in marginal.iter_mut().zip(row) {
            *m += p / n as f64;
        }
    }
    let mut kl = 0.0;
    for row in probs.chunks(k) {
        for (p, m) in row.iter().zip(&marginal) {
            if *p > 0.0 {
                kl += p * (p / m).ln() / n as f64;
            }
        }
    }
    kl.exp()
}

#[cfg(test)]
mod tests {
    use super::*;
    use odl_tensor::Rng;

    fn spd(d: usize, rng: &mut Rng) -> Vec<f64> {
        let a: Vec<f64> = (0..d * d).map(|_| rng.normal_f64()).collect();
        let mut s = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..d {
                s[i * d + j] = (0..d).map(|k| a[i * d + k] * a[j * d + k]).sum::<f64>() / d as f64;
            }
            s[i * d + i] += 0.1;
        }
        s
    }

    #[test]
    fn frechet_matches_the_trace_of_the_square_root_of_the_product() {
        // tr (Σ₁Σ₂)^{½} = Σ √λᵢ(Σ₁Σ₂): the eigenvalues of the non-symmetric
        // product, an independent route to the same number
        let mut rng = Rng::seed(3);
        let d = 6;
        let (s1, s2) = (spd(d, &mut rng), spd(d, &mut rng));
        let (m1, m2): (Vec<f64>, Vec<f64>) =
            ((0..d).map(|_| rng.normal_f64()).collect(), (0..d).map(|_| rng.normal_f64()).collect());
        let prod = Mat::<f64>::from_fn(d, d, |i, j| (0..d).map(|k| s1[i * d + k] * s2[k * d + j]).sum());
        let ev = prod.eigenvalues().unwrap();
        let tr_sqrt: f64 = ev.iter().map(|c| c.re.max(0.0).sqrt()).sum();
        let dm: f64 = m1.iter().zip(&m2).map(|(a, b)| (a - b) * (a - b)).sum();
        let tr = |s: &[f64]| (0..d).map(|i| s[i * d + i]).sum::<f64>();
        let want = dm + tr(&s1) + tr(&s2) - 2.0 * tr_sqrt;
        assert!((frechet(&m1, &s1, &m2, &s2) - want).abs() < 1e-10 * want.abs().max(1.0));
        // commuting (diagonal) covariances: Σ(√a − √b)²
        let (a, b) = ([1.0, 4.0, 9.0], [4.0, 1.0, 9.0]);
        let diag = |v: &[f64]| (0..9).map(|k| if k % 4 == 0 { v[k / 4] } else { 0.0 }).collect::<Vec<f64>>();
        assert!((frechet(&[0.0; 3], &diag(&a), &[0.0; 3], &diag(&b)) - 2.0).abs() < 1e-12);
        assert!(frechet(&m1, &s1, &m1, &s1) < 1e-9);
    }

    #[test]
    fn kid_is_unbiased_where_fid_is_not() {
        // two samples of 20 from one distribution, 300 times: KID averages 0
        // within its standard error, FID stays well above 0
        let (d, n, reps) = (4, 20, 300);
        let mut rng = Rng::seed(11);
        let (mut ks, mut fs) = (Vec::new(), Vec::new());
        for _ in 0..reps {
            let x: Vec<f64> = (0..n * d).map(|_| rng.normal_f64()).collect();
            let y: Vec<f64> = (0..n * d).map(|_| rng.normal_f64()).collect();
            ks.push(kid(&x, n, &y, n, d));
            fs.push(fid(&x, n, &y, n, d));
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let (km, fm) = (mean(&ks), mean(&fs));
        let se = (ks.iter().map(|k| (k - km).powi(2)).sum::<f64>() / (reps * (reps - 1)) as f64).sqrt();
        assert!(km.abs() < 3.0 * se, "KID mean {km} vs standard error {se}");
        assert!(fm > 10.0 * se && fm > 0.2, "FID's small-sample bias: mean {fm}");
    }

    #[test]
    fn inception_score_is_one_for_constant_predictions_and_k_for_confident_even_ones() {
        let same: Vec<f64> = (0..5).flat_map(|_| [0.2, 0.3, 0.5]).collect();
        assert!((inception_score(&same, 5, 3) - 1.0).abs() < 1e-14);
        let spread: Vec<f64> = (0..6)
            .flat_map(|i| {
                let mut r = [0.0; 3];
                r[i % 3] = 1.0;
                r
            })
            .collect();
        assert!((inception_score(&spread, 6, 3) - 3.0).abs() < 1e-14);
        // two samples, p(y|x) = (1, 0) and (½, ½): marginal (¾, ¼);
        // KL₁ = log(4/3), KL₂ = ½log(2/3) + ½log 2; IS = exp of their mean
        let v = [1.0, 0.0, 0.5, 0.5];
        let want = (0.5 * ((4.0f64 / 3.0).ln() + 0.5 * (2.0f64 / 3.0).ln() + 0.5 * 2f64.ln())).exp();
        assert!((inception_score(&v, 2, 2) - want).abs() < 1e-14);
    }
}
