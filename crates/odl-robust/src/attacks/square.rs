//! The Square attack, ℓ∞ (Andriushchenko, Croce, Flammarion & Hein 2020): a
//! random search that uses only the classifier's scores. It starts from
//! vertical stripes of ±ε, then repeatedly redraws one random square window
//! (per channel, ±ε) and keeps the change when the margin `z_y − max_{j≠y}
//! z_j` drops. Its window shrinks on the paper's schedule (`p` from 0.8,
//! halved at fixed fractions of the budget). No gradient is used, so masked
//! or shattered gradients do not stop it.

use odl_tensor::Rng;

use super::{Attack, Found};
use crate::classifier::{logits_of, Classifier};
use crate::threat::{Norm, Threat};

/// The fraction of pixels in the window at query `it` of `n` (the paper's
/// schedule for a budget of 10 000, stretched to `n`).
pub fn window_fraction(it: usize, n: usize) -> f64 {
    let it = (it as f64 / n.max(1) as f64 * 10_000.0) as usize;
    let halvings = match it {
        0..=10 => 0,
        11..=50 => 1,
        51..=200 => 2,
        201..=500 => 3,
        501..=1000 => 4,
        1001..=2000 => 5,
        2001..=4000 => 6,
        4001..=6000 => 7,
        6001..=8000 => 8,
        _ => 9,
    };
    0.8 / f64::from(1u32 << halvings)
}

fn margins(c: &mut dyn Classifier, x: &[f32], d: usize, y: &[usize]) -> Vec<f64> {
    logits_of(c, x, d)
        .iter()
        .zip(y)
        .map(|(r, &l)| {
            let other =
                r.iter().enumerate().filter(|&(j, _)| j != l).fold(f64::NEG_INFINITY, |m, (_, &v)| m.max(v));
            r[l] - other
        })
        .collect()
}

/// The Square attack on each example (`queries` forward passes at most).
pub fn run(
    a: &Attack,
    c: &mut dyn Classifier,
    t: &Threat,
    x0: &[f32],
    d: usize,
    y: &[usize],
) -> Result<Found, String> {
    if t.norm != Norm::Linf {
        return Err("square: odl implements the ℓ∞ Square attack only; use --norm linf".into());
    }
    let [ch, h, w] = a.image.unwrap_or([1, 1, d]);
    let n = y.len();
    let e = t.eps as f32;
    let mut rng = Rng::stream(a.seed, 0x5C0A);
    // stripes: one sign per (example, channel, column)
    let mut x = x0.to_vec();
    for i in 0..n {
        for cc in 0..ch {
            for col in 0..w {
                let s = if rng.uniform_f64() < 0.5 { -e } else { e };
                for r in 0..h {
                    x[i * d + (cc * h + r) * w + col] += s;
                }
            }
        }
    }
    t.project(&mut x, x0, d);
    let mut m = margins(c, &x, d, y);
    for it in 1..a.queries {
        let live: Vec<usize> = (0..n).filter(|&i| m[i] >= 0.0).collect();
        if live.is_empty() {
            break;
        }
        let s = ((window_fraction(it, a.queries) * (h * w) as f64).sqrt().round() as usize)
            .clamp(1, h.min(w).max(1));
        let (sh, sw) = (s.min(h), s.min(w));
        let mut cand: Vec<f32> = live.iter().flat_map(|&i| x[i * d..(i + 1) * d].iter().copied()).collect();
        let base: Vec<f32> = super::rows(x0, d, &live);
        for j in 0..live.len() {
            let (r0, c0) = (rng.below(h - sh + 1), rng.below(w - sw + 1));
            for cc in 0..ch {
                let v = if rng.uniform_f64() < 0.5 { -e } else { e };
                for r in r0..r0 + sh {
                    for col in c0..c0 + sw {
                        let p = j * d + (cc * h + r) * w + col;
                        cand[p] = base[p] + v;
                    }
                }
            }
        }
        t.project(&mut cand, &base, d);
        let ys: Vec<usize> = live.iter().map(|&i| y[i]).collect();
        let mc = margins(c, &cand, d, &ys);
        for (j, &i) in live.iter().enumerate() {
            if mc[j] < m[i] {
                m[i] = mc[j];
                x[i * d..(i + 1) * d].copy_from_slice(&cand[j * d..(j + 1) * d]);
            }
        }
    }
    Ok(Found { success: m.iter().map(|&v| v < 0.0).collect(), x })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_schedule_halves_from_point_eight() {
        assert_eq!(window_fraction(0, 10_000), 0.8);
        assert_eq!(window_fraction(30, 10_000), 0.4);
        assert_eq!(window_fraction(9_000, 10_000), 0.8 / 512.0);
        // stretched: the same fraction of a smaller budget
        assert_eq!(window_fraction(3, 1000), window_fraction(30, 10_000));
    }
}
