//! The Square attack (Andriushchenko, Croce, Flammarion & Hein 2020): a
//! random search that uses only the classifier's scores, and keeps a change
//! when the margin `z_y − max_{j≠y} z_j` drops. Its window shrinks on the
//! paper's schedule (`p` from 0.8, halved at fixed fractions of the budget).
//! No gradient is used, so masked or shattered gradients do not stop it.
//!
//! - ℓ∞: starts from vertical stripes of ±ε, then redraws one random square
//!   window per query (per channel, ±ε).
//! - ℓ2: starts from a grid of tiles, each holding the paper's "centered"
//!   pattern (two halves of opposite sign, each a stack of concentric
//!   rectangles weighted 1/k²) with a random sign, scaled to ‖δ‖₂ = ε. Each
//!   query moves mass between two random windows: the second window's
//!   perturbation is zeroed and its energy, with any budget the image has
//!   left, goes to the first window, redrawn as a fresh centered pattern plus
//!   that window's old direction; the whole perturbation is then rescaled to
//!   ‖δ‖₂ = ε (and clipped to the box, which only shortens it).

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

/// Scores the candidates `cand` of the `live` examples and keeps each one
/// that lowers its example's margin `m` (in `x`).
fn accept(
    c: &mut dyn Classifier,
    cand: &[f32],
    d: usize,
    live: &[usize],
    y: &[usize],
    m: &mut [f64],
    x: &mut [f32],
) {
    let ys: Vec<usize> = live.iter().map(|&i| y[i]).collect();
    let mc = margins(c, cand, d, &ys);
    for (j, &i) in live.iter().enumerate() {
        if mc[j] < m[i] {
            m[i] = mc[j];
            x[i * d..(i + 1) * d].copy_from_slice(&cand[j * d..(j + 1) * d]);
        }
    }
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
    let [ch, h, w] = a.image.unwrap_or([1, 1, d]);
    if ch * h * w != d {
        return Err(format!("square: an image of {ch}×{h}×{w} values does not match inputs of {d}"));
    }
    match t.norm {
        Norm::Linf => linf(a, c, t, x0, [ch, h, w], y),
        Norm::L2 => l2(a, c, t, x0, [ch, h, w], y),
    }
}

fn linf(
    a: &Attack,
    c: &mut dyn Classifier,
    t: &Threat,
    x0: &[f32],
    [ch, h, w]: [usize; 3],
    y: &[usize],
) -> Result<Found, String> {
    let d = ch * h * w;
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
        accept(c, &cand, d, &live, y, &mut m, &mut x);
    }
    Ok(Found { success: m.iter().map(|&v| v < 0.0).collect(), x })
}

/// Concentric rectangles around the middle of an `r × c` window, the k-th
/// (from the center, k = 1, 2, …) adding 1/k² to its entries; unit ℓ2 norm.
fn rectangles(r: usize, c: usize) -> Vec<f64> {
    let mut p = vec![0.0; r * c];
    let (r0, c0) = (r as isize / 2, c as isize / 2);
    for k in 0..=(r.max(c) / 2) as isize {
        let add = 1.0 / ((k + 1) * (k + 1)) as f64;
        let rows = (r0 - k).max(0) as usize..((r0 + k + 1) as usize).min(r);
        for i in rows {
            for j in (c0 - k).max(0) as usize..((c0 + k + 1) as usize).min(c) {
                p[i * c + j] += add;
            }
        }
    }
    unit(&mut p);
    p
}

fn unit(p: &mut [f64]) {
    let n = p.iter().map(|v| v * v).sum::<f64>().sqrt();
    if n > 0.0 {
        p.iter_mut().for_each(|v| *v /= n);
    }
}

/// The paper's "centered" pattern on an `r × c` window: two halves of
/// opposite sign, split across the longer side's rows (across the columns
/// of a single row), each a stack of [`rectangles`]; a square window is
/// transposed with probability ½. Unit ℓ2 norm.
pub fn centered(r: usize, c: usize, rng: &mut Rng) -> Vec<f64> {
    let mut p = vec![0.0; r * c];
    if r >= 2 {
        let (top, bottom) = (rectangles(r / 2, c), rectangles(r - r / 2, c));
        p[..top.len()].copy_from_slice(&top);
        p[top.len()..].iter_mut().zip(&bottom).for_each(|(v, &b)| *v = -b);
    } else if c >= 2 {
        let (left, right) = (rectangles(1, c / 2), rectangles(1, c - c / 2));
        p[..left.len()].copy_from_slice(&left);
        p[left.len()..].iter_mut().zip(&right).for_each(|(v, &b)| *v = -b);
    } else {
        p.fill(1.0);
    }
    unit(&mut p);
    let flip = rng.uniform_f64() < 0.5;
    if flip && r == c {
        let q = p.clone();
        for i in 0..r {
            for j in 0..c {
                p[i * c + j] = q[j * c + i];
            }
        }
    }
    p
}

/// The window of a query at fraction `p` of an `h × w` image: side
/// `round(√(p·h·w))`, at least 3 and odd (the paper's rule), within the
/// image; a single row gets a strip of `p·w` entries.
fn l2_window(p: f64, h: usize, w: usize) -> (usize, usize) {
    if h == 1 {
        return (1, ((p * w as f64).round() as usize).clamp(1, w));
    }
    let mut s = ((p * (h * w) as f64).sqrt().round() as usize).max(3);
    if s.is_multiple_of(2) {
        s += 1;
    }
    (s.min(h), s.min(w))
}

/// Scales each row's perturbation `x − x0` to ℓ2 length ε (a zero one
/// stays zero), then projects onto the threat model (the box's clip can only
/// shorten it).
fn to_sphere(t: &Threat, delta: &[f64], x0: &[f32], d: usize) -> Vec<f32> {
    let mut x = x0.to_vec();
    for ((r, dr), r0) in x.chunks_mut(d).zip(delta.chunks(d)).zip(x0.chunks(d)) {
        let n = dr.iter().map(|v| v * v).sum::<f64>().sqrt();
        if n > 0.0 {
            for ((v, &dv), &o) in r.iter_mut().zip(dr).zip(r0) {
                *v = (o as f64 + dv * t.eps / n) as f32;
            }
        }
    }
    t.project(&mut x, x0, d);
    x
}

fn l2(
    a: &Attack,
    c: &mut dyn Classifier,
    t: &Threat,
    x0: &[f32],
    [ch, h, w]: [usize; 3],
    y: &[usize],
) -> Result<Found, String> {
    let d = ch * h * w;
    let n = y.len();
    let mut rng = Rng::stream(a.seed, 0x5C0B);
    // a grid of tiles (five per side, centered), each a centered pattern
    // with a random sign per channel
    let (th, tw) = ((h / 5).max(1), (w / 5).max(1));
    let (nh, nw) = (h / th, w / tw);
    let (oh, ow) = ((h - th * nh) / 2, (w - tw * nw) / 2);
    let mut delta = vec![0.0f64; n * d];
    let tile = centered(th, tw, &mut rng);
    for i in 0..n {
        for cc in 0..ch {
            for bi in 0..nh {
                for bj in 0..nw {
                    let s = if rng.uniform_f64() < 0.5 { -1.0 } else { 1.0 };
                    for r in 0..th {
                        for col in 0..tw {
                            let p = i * d + (cc * h + oh + bi * th + r) * w + ow + bj * tw + col;
                            delta[p] = s * tile[r * tw + col];
                        }
                    }
                }
            }
        }
    }
    let mut x = to_sphere(t, &delta, x0, d);
    let mut m = margins(c, &x, d, y);
    for it in 1..a.queries {
        let live: Vec<usize> = (0..n).filter(|&i| m[i] >= 0.0).collect();
        if live.is_empty() {
            break;
        }
        let (sh, sw) = l2_window(window_fraction(it, a.queries), h, w);
        let pattern = centered(sh, sw, &mut rng);
        let base: Vec<f32> = super::rows(x0, d, &live);
        // the current perturbations of the live examples, exact in f64
        let mut cand: Vec<f64> = live
            .iter()
            .flat_map(|&i| (0..d).map(move |k| (i, k)))
            .map(|(i, k)| x[i * d + k] as f64 - x0[i * d + k] as f64)
            .collect();
        let eps2 = t.eps * t.eps;
        for dj in cand.chunks_mut(d) {
            let (r1, c1) = (rng.below(h - sh + 1), rng.below(w - sw + 1));
            let (r2, c2) = (rng.below(h - sh + 1), rng.below(w - sw + 1));
            let in1 = |r: usize, col: usize| (r1..r1 + sh).contains(&r) && (c1..c1 + sw).contains(&col);
            let in2 = |r: usize, col: usize| (r2..r2 + sh).contains(&r) && (c2..c2 + sw).contains(&col);
            let left = (eps2 - dj.iter().map(|v| v * v).sum::<f64>()).max(0.0) / ch as f64;
            for cc in 0..ch {
                let at = |r: usize, col: usize| (cc * h + r) * w + col;
                let sign = if rng.uniform_f64() < 0.5 { -1.0 } else { 1.0 };
                let (mut w1, mut both) = (0.0, 0.0);
                for r in 0..h {
                    for col in 0..w {
                        let v = dj[at(r, col)];
                        if in1(r, col) {
                            w1 += v * v;
                        }
                        if in1(r, col) || in2(r, col) {
                            both += v * v;
                        }
                    }
                }
                let w1 = w1.sqrt() + 1e-10;
                let mut fresh: Vec<f64> =
                    (0..sh * sw).map(|k| sign * pattern[k] + dj[at(r1 + k / sw, c1 + k % sw)] / w1).collect();
                unit(&mut fresh);
                let len = (left + both).sqrt();
                for r in r2..r2 + sh {
                    for col in c2..c2 + sw {
                        dj[at(r, col)] = 0.0;
                    }
                }
                for (k, v) in fresh.iter().enumerate() {
                    dj[at(r1 + k / sw, c1 + k % sw)] = v * len;
                }
            }
        }
        let cand = to_sphere(t, &cand, &base, d);
        accept(c, &cand, d, &live, y, &mut m, &mut x);
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

    #[test]
    fn the_centered_pattern_has_unit_norm_opposite_halves_and_peaks_in_their_middles() {
        let mut rng = Rng::seed(1);
        for (r, c) in [(5, 5), (6, 4), (1, 7), (2, 2), (1, 1), (7, 3)] {
            let p = centered(r, c, &mut rng);
            let norm: f64 = p.iter().map(|v| v * v).sum::<f64>().sqrt();
            assert!((norm - 1.0).abs() < 1e-12, "{r}×{c}: norm {norm}");
            if r * c == 1 {
                continue;
            }
            let pos = p.iter().filter(|&&v| v > 0.0).count();
            let neg = p.iter().filter(|&&v| v < 0.0).count();
            assert_eq!(pos + neg, r * c, "{r}×{c}: every entry has a sign");
            assert!(pos.abs_diff(neg) <= r.max(c), "{r}×{c}: halves of {pos} and {neg}");
        }
        // a row of 6: +,+,+ then −,−,−, each half largest in its middle
        let p = centered(1, 6, &mut rng);
        assert!(p[..3].iter().all(|&v| v > 0.0) && p[3..].iter().all(|&v| v < 0.0));
        assert!(p[1] > p[0] && p[1] > p[2] && p[4] < p[3] && p[4] < p[5], "{p:?}");
        // concentric rectangles: the center gets 1 + 1/4 + 1/9, a corner of 5 × 5 1/9
        let q = rectangles(5, 5);
        assert!((q[12] / q[0] - (1.0 + 0.25 + 1.0 / 9.0) * 9.0).abs() < 1e-12);
        assert!((q[6] / q[0] - (0.25 + 1.0 / 9.0) * 9.0).abs() < 1e-12);
    }

    #[test]
    fn the_l2_window_is_odd_at_least_three_and_inside_the_image() {
        assert_eq!(l2_window(0.8, 28, 28), (25, 25));
        assert_eq!(l2_window(0.8 / 512.0, 28, 28), (3, 3));
        assert_eq!(l2_window(0.1, 28, 28), (9, 9)); // √78.4 = 8.85 → 9
        assert_eq!(l2_window(0.2, 28, 28), (13, 13)); // √156.8 = 12.52 → 13
        assert_eq!(l2_window(0.4, 28, 28), (19, 19)); // √313.6 = 17.7 → 18, made odd
        assert_eq!(l2_window(0.8, 2, 2), (2, 2));
        assert_eq!(l2_window(0.5, 1, 12), (1, 6));
    }
}
