//! Axes decided from all of the data: the range every finite value fits in
//! (on a log axis, every positive value within [`MAX_DECADES`] of the
//! largest), tick positions a reader can use (at least two labels, whatever
//! the span), and labels that print round numbers as round numbers and
//! values within rounding error of 0 as `0`.

/// A log axis spans at most this many decades below its largest value;
/// anything smaller (or ≤ 0) is drawn clipped at the axis' lower end.
pub const MAX_DECADES: f64 = 40.0;

/// One axis: its range, scale and ticks.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// lower end (positive on a log axis)
    pub lo: f64,
    /// upper end
    pub hi: f64,
    /// logarithmic
    pub log: bool,
    /// tick positions, increasing, inside `[lo, hi]`
    pub ticks: Vec<f64>,
    /// their labels
    pub labels: Vec<String>,
}

impl Axis {
    /// The axis for these values: every finite value (every positive one
    /// within [`MAX_DECADES`] of the largest on a log axis) inside, with a
    /// little room at both ends. `None` when no value can be shown.
    pub fn fit(values: impl Iterator<Item = f64>, log: bool) -> Option<Axis> {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in values.filter(|v| v.is_finite() && (!log || *v > 0.0)) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if lo > hi {
            return None;
        }
        let (lo, hi) = if log {
            let lo = lo.max(hi / 10f64.powf(MAX_DECADES));
            if hi / lo < 1.0 + 1e-9 {
                (lo / 1.5, hi * 1.5)
            } else {
                let pad = (hi / lo).powf(0.04);
                (lo / pad, hi * pad)
            }
        } else if hi - lo <= 1e-12 * hi.abs().max(lo.abs()).max(1e-300) {
            let d = if hi == 0.0 { 1.0 } else { hi.abs() * 0.1 };
            (lo - d, hi + d)
        } else {
            let pad = (hi - lo) * 0.04;
            (lo - pad, hi + pad)
        };
        Some(Axis::new(lo, hi, log))
    }

    /// An axis over `[lo, hi]` with its ticks.
    pub fn new(lo: f64, hi: f64, log: bool) -> Axis {
        let (ticks, labels) = if log { log_ticks(lo, hi) } else { linear_ticks(lo, hi, 6) };
        Axis { lo, hi, log, ticks, labels }
    }

    /// Where `v` falls on the axis, from 0 (lower end) to 1 (upper end).
    pub fn frac(&self, v: f64) -> f64 {
        if self.log {
            (v.ln() - self.lo.ln()) / (self.hi.ln() - self.lo.ln())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        }
    }

    /// Whether `v` can be drawn where it is (finite, inside the range).
    pub fn shows(&self, v: f64) -> bool {
        v.is_finite() && v >= self.lo && v <= self.hi
    }
}

/// A "nice" step (1, 2 or 5 × 10ᵏ) giving about `target` intervals over `span`.
fn nice_step(span: f64, target: usize) -> f64 {
    let raw = span / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let m = if f < 1.5 {
        1.0
    } else if f < 3.0 {
        2.0
    } else if f < 7.0 {
        5.0
    } else {
        10.0
    };
    m * mag
}

/// Ticks at multiples of a nice step inside `[lo, hi]`, at least two.
pub fn linear_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, Vec<String>) {
    let mut target = target;
    loop {
        let step = nice_step(hi - lo, target);
        let first = (lo / step).ceil() as i64;
        let last = (hi / step).floor() as i64;
        // multiples of the step, exactly 0 where they should be
        let ticks: Vec<f64> = (first..=last)
            .map(|k| k as f64 * step)
            .map(|t| if t.abs() < step * 1e-9 { 0.0 } else { t })
            .collect();
        if ticks.len() >= 2 || target > 40 {
            let labels = ticks.iter().map(|&t| fmt_tick(t, step)).collect();
            return (ticks, labels);
        }
        target *= 2;
    }
}

/// Ticks of a log axis over `[lo, hi]` (lo > 0): powers of ten when it spans
/// enough decades (every k-th when there are many), with 2× and 5× between
/// them over a decade or two, and finer steps over less than a decade;
/// always at least two.
pub fn log_ticks(lo: f64, hi: f64) -> (Vec<f64>, Vec<String>) {
    let decades = (hi / lo).log10();
    let (e0, e1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let inside = |v: &f64| *v >= lo * (1.0 - 1e-12) && *v <= hi * (1.0 + 1e-12);
    let with = |mults: &[f64], every: i32| -> Vec<f64> {
        (e0..=e1)
            .filter(|e| e.rem_euclid(every) == 0)
            .flat_map(|e| mults.iter().map(move |m| m * 10f64.powi(e)))
            .filter(inside)
            .collect()
    };
    let mut ticks = if decades >= 2.0 {
        let every = (decades / 8.0).ceil().max(1.0) as i32;
        with(&[1.0], every)
    } else if decades >= 0.7 {
        with(&[1.0, 2.0, 5.0], 1)
    } else {
        with(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0], 1)
    };
    if ticks.len() < 2 {
        // less than a step of the finest grid: plain nice steps inside the range
        let (t, _) = linear_ticks(lo, hi, 4);
        ticks = t.into_iter().filter(|v| *v > 0.0).collect();
        if ticks.len() < 2 {
            ticks = vec![lo, hi];
        }
    }
    ticks.sort_by(f64::total_cmp);
    ticks.dedup_by(|a, b| (*a / *b - 1.0).abs() < 1e-9);
    let labels = ticks.iter().map(|&t| fmt_log_tick(t)).collect();
    (ticks, labels)
}

/// A tick label on a linear axis with step `step`: as many decimals as the
/// step needs, scientific notation for very large or small magnitudes.
pub fn fmt_tick(v: f64, step: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs().max(step.abs());
    if !(1e-3..1e5).contains(&a) {
        return fmt_sci(v);
    }
    let decimals = (-(step.abs().log10().floor())).max(0.0) as usize;
    format!("{v:.decimals$}")
}

/// A tick label on a log axis: `0.01`, `2`, `500`, `1e5`, `2e-6`.
pub fn fmt_log_tick(v: f64) -> String {
    if (1e-3..1e5).contains(&v.abs()) {
        let s = format!("{v:.6}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        fmt_sci(v)
    }
}

/// `2.5e7`, `1e-6`: scientific notation with up to 3 significant digits.
pub fn fmt_sci(v: f64) -> String {
    let s = format!("{v:.2e}");
    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
    let m = m.trim_end_matches('0').trim_end_matches('.');
    format!("{m}e{e}")
}

/// A number for a label or a note: 4 significant digits, `0` within
/// rounding error of 0 (|v| < 1e-12), scientific when very large or small.
pub fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return if v.is_nan() {
            "—".into()
        } else if v > 0.0 {
            "∞".into()
        } else {
            "−∞".into()
        };
    }
    if v.abs() < 1e-12 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) {
        return fmt_sci(v);
    }
    let s = format!("{v:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_fits_and_log_axes_keep_forty_decades() {
        let a = Axis::fit([1.0, 100.0, f64::NAN, -3.0].into_iter(), true).unwrap();
        assert!(a.lo < 1.0 && a.lo > 0.5 && a.hi > 100.0 && a.hi < 200.0, "{a:?}");
        // 6e-29 next to 1: kept (the orthogonal linear net's spread)
        let a = Axis::fit([6e-29, 1.0].into_iter(), true).unwrap();
        assert!(a.shows(6e-29) && a.shows(1.0));
        // 1e-300 next to 1: clipped at 40 decades
        let a = Axis::fit([1e-300, 1.0].into_iter(), true).unwrap();
        assert!(!a.shows(1e-300) && a.lo < 1e-40 && a.lo > 1e-42, "{a:?}");
        let a = Axis::fit([3.0, 3.0].into_iter(), false).unwrap();
        assert!(a.lo < 3.0 && a.hi > 3.0);
        assert!(Axis::fit([f64::NAN].into_iter(), false).is_none());
        assert!(Axis::fit([-1.0, 0.0].into_iter(), true).is_none());
    }

    #[test]
    fn short_log_ranges_get_intermediate_ticks() {
        for (lo, hi) in
            [(0.3, 0.8), (1.02, 1.9), (0.05, 0.9), (2.0, 2.3), (1e-3, 1e3), (1e-30, 10.0), (0.9, 1.1)]
        {
            let (t, l) = log_ticks(lo, hi);
            assert!(t.len() >= 2, "[{lo}, {hi}]: {t:?}");
            assert!(t.iter().all(|v| *v >= lo * 0.999 && *v <= hi * 1.001), "[{lo}, {hi}]: {t:?}");
            assert!(t.len() <= 12, "[{lo}, {hi}]: {} ticks", t.len());
            assert_eq!(t.len(), l.len());
        }
        let (_, l) = log_ticks(0.3, 0.8);
        assert_eq!(l, vec!["0.3", "0.4", "0.5", "0.6", "0.7", "0.8"]);
        let (_, l) = log_ticks(0.05, 0.9);
        assert_eq!(l, vec!["0.05", "0.1", "0.2", "0.5"]);
    }

    #[test]
    fn linear_ticks_are_round_and_zero_is_zero() {
        let (t, l) = linear_ticks(-0.2000000001, 0.4, 6);
        assert!(t.contains(&0.0), "{t:?}");
        assert!(l.iter().all(|s| !s.contains("e-1")), "{l:?}");
        assert_eq!(l, ["-0.2", "-0.1", "0", "0.1", "0.2", "0.3", "0.4"]);
        let (t, _) = linear_ticks(4.0, 4.3, 6);
        assert!(t.len() >= 2);
        let (t, _) = linear_ticks(2.0, 2.0000001, 6);
        assert!(t.len() >= 2, "{t:?}");
    }

    #[test]
    fn numbers_print_short_and_near_zero_as_zero() {
        assert_eq!(fmt_num(-2.2e-16), "0");
        assert_eq!(fmt_num(0.5), "0.5");
        assert_eq!(fmt_num(100.0), "100");
        assert_eq!(fmt_num(1e-6), "1e-6");
        assert_eq!(fmt_num(2.5e7), "2.5e7");
        assert_eq!(fmt_num(f64::NAN), "—");
        assert_eq!(fmt_log_tick(0.02), "0.02");
        assert_eq!(fmt_log_tick(1e-5), "1e-5");
        assert_eq!(fmt_tick(1.5, 0.5), "1.5");
        assert_eq!(fmt_tick(3e6, 1e6), "3e6");
    }
}
