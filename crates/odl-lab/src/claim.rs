//! Claims: a paper's statement, the prediction in numbers, what was
//! measured, and whether the measurement bears it out. A prediction's text
//! and its verdict come from the same numbers: a [`Check`] is built from a
//! measured value and a bound and writes both, so the two cannot drift
//! (as pytest derives its assertion message from the asserted expression).
//!
//! ```
//! use odl_lab::{Check, Claim};
//! let c = Claim::check("gd_linear", "GD needs O(κ) iterations", Check::in_range("exponent of κ", 0.98, 0.85, 1.15));
//! assert!(c.holds);
//! assert_eq!(c.prediction, "exponent of κ in [0.85, 1.15]");
//! assert_eq!(c.measured, "exponent of κ = 0.98");
//! let c = Claim::all("both", "…", vec![Check::less("a", 2.0, 1.0), Check::greater("b", 3.0, 1.0)]);
//! assert!(!c.holds && c.prediction == "a < 1 and b > 1");
//! ```

/// `v` with 3 significant digits (for claim texts and labels); a missing
/// value (NaN) reads "—". Tiny values keep their magnitude (`2.88e-18`):
/// a measurement near 0 is not 0.
pub fn g3(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if v.is_nan() {
        return "—".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "∞".into() } else { "−∞".into() };
    }
    if v.abs() < 1e-3 || v.abs() >= 1e4 {
        format!("{v:.2e}")
    } else if v.abs() < 1.0 {
        // 3 significant digits: 0.00125, 0.0741, 0.98
        let decimals = (2 - v.abs().log10().floor() as i32).max(0) as usize;
        let s = format!("{v:.decimals$}");
        let s = s.trim_end_matches('0');
        s.trim_end_matches('.').to_string()
    } else {
        format!("{}", (v * 1e3).round() / 1e3)
    }
}

/// A bound as written by hand: `0.85`, `1e-10`, `2.5e7` (the shortest
/// exact form when it is short, else 3 significant digits).
pub fn short(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let plain = format!("{v}");
    if (1e-3..1e4).contains(&v.abs()) && plain.len() <= 7 {
        return plain;
    }
    let sci = format!("{v:e}");
    if sci.len() <= 7 {
        return sci;
    }
    g3(v)
}

/// One condition of a claim, with its prediction and measurement as text.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    /// the condition, e.g. `exponent in [0.85, 1.15]`
    pub prediction: String,
    /// the numbers it was decided on, e.g. `exponent = 0.98`
    pub measured: String,
    /// whether the condition holds (false for NaN)
    pub holds: bool,
}

impl Check {
    fn new(prediction: String, measured: String, holds: bool) -> Check {
        Check { prediction, measured, holds }
    }

    /// `lo ≤ v ≤ hi`.
    pub fn in_range(what: &str, v: f64, lo: f64, hi: f64) -> Check {
        Check::new(
            format!("{what} in [{}, {}]", short(lo), short(hi)),
            format!("{what} = {}", g3(v)),
            v >= lo && v <= hi,
        )
    }

    /// `v < bound`.
    pub fn less(what: &str, v: f64, bound: f64) -> Check {
        Check::new(format!("{what} < {}", short(bound)), format!("{what} = {}", g3(v)), v < bound)
    }

    /// `v ≤ bound`.
    pub fn at_most(what: &str, v: f64, bound: f64) -> Check {
        Check::new(format!("{what} ≤ {}", short(bound)), format!("{what} = {}", g3(v)), v <= bound)
    }

    /// `v > bound`.
    pub fn greater(what: &str, v: f64, bound: f64) -> Check {
        Check::new(format!("{what} > {}", short(bound)), format!("{what} = {}", g3(v)), v > bound)
    }

    /// `v ≥ bound`.
    pub fn at_least(what: &str, v: f64, bound: f64) -> Check {
        Check::new(format!("{what} ≥ {}", short(bound)), format!("{what} = {}", g3(v)), v >= bound)
    }

    /// `v = target` exactly (fractions of runs that must all succeed).
    pub fn equals(what: &str, v: f64, target: f64) -> Check {
        Check::new(format!("{what} = {}", short(target)), format!("{what} = {}", g3(v)), v == target)
    }

    /// `|v / target − 1| < rel` (a relative tolerance, e.g. 0.15 for 15 %).
    pub fn within(what: &str, v: f64, target: f64, rel: f64) -> Check {
        Check::new(
            format!("{what} within {}% of {}", short(100.0 * rel), g3(target)),
            format!("{what} = {}", g3(v)),
            (v / target - 1.0).abs() < rel,
        )
    }

    /// `a < factor · b` between two measured values (`factor` 1: `a < b`).
    pub fn less_than(a: (&str, f64), factor: f64, b: (&str, f64)) -> Check {
        Check::new(
            format!("{} < {}{}", a.0, times(factor), b.0),
            format!("{} = {}, {} = {}", a.0, g3(a.1), b.0, g3(b.1)),
            a.1 < factor * b.1,
        )
    }

    /// `a > factor · b` between two measured values (`factor` 1: `a > b`).
    pub fn greater_than(a: (&str, f64), factor: f64, b: (&str, f64)) -> Check {
        Check::new(
            format!("{} > {}{}", a.0, times(factor), b.0),
            format!("{} = {}, {} = {}", a.0, g3(a.1), b.0, g3(b.1)),
            a.1 > factor * b.1,
        )
    }

    /// A condition that is not one comparison (a per-setting verdict, a
    /// count): the caller states it, shows the numbers, and decides it from
    /// those same numbers.
    pub fn that(prediction: impl Into<String>, measured: impl Into<String>, holds: bool) -> Check {
        Check::new(prediction.into(), measured.into(), holds)
    }
}

fn times(factor: f64) -> String {
    if factor == 1.0 {
        String::new()
    } else {
        format!("{} × ", short(factor))
    }
}

/// One check of theory against measurement.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Claim {
    /// short id, unique within the experiment
    pub id: String,
    /// what the paper says
    pub statement: String,
    /// the prediction in numbers
    pub prediction: String,
    /// what was measured
    pub measured: String,
    /// whether the measurement bears the claim out
    pub holds: bool,
    /// decided by wall-clock times, so it depends on the machine's load:
    /// reported like any claim, but neither the tests nor `odl lab
    /// --strict` require it
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub timing: bool,
}

impl Claim {
    /// A claim decided by one check.
    pub fn check(id: &str, statement: &str, c: Check) -> Claim {
        Claim::all(id, statement, vec![c])
    }

    /// A claim that holds when every check does; the predictions are joined
    /// with "and", the measurements with ";".
    pub fn all(id: &str, statement: &str, checks: Vec<Check>) -> Claim {
        Claim {
            id: id.into(),
            statement: statement.into(),
            prediction: checks.iter().map(|c| c.prediction.as_str()).collect::<Vec<_>>().join(" and "),
            measured: checks.iter().map(|c| c.measured.as_str()).collect::<Vec<_>>().join("; "),
            holds: !checks.is_empty() && checks.iter().all(|c| c.holds),
            timing: false,
        }
    }

    /// Marks a claim decided by wall-clock times (see [`Claim::timing`]).
    pub fn timing(mut self) -> Claim {
        self.timing = true;
        self
    }

    /// `lo ≤ v ≤ hi`.
    pub fn in_range(id: &str, statement: &str, what: &str, v: f64, lo: f64, hi: f64) -> Claim {
        Claim::check(id, statement, Check::in_range(what, v, lo, hi))
    }

    /// `v < bound`.
    pub fn less(id: &str, statement: &str, what: &str, v: f64, bound: f64) -> Claim {
        Claim::check(id, statement, Check::less(what, v, bound))
    }

    /// `v > bound`.
    pub fn greater(id: &str, statement: &str, what: &str, v: f64, bound: f64) -> Claim {
        Claim::check(id, statement, Check::greater(what, v, bound))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_and_verdicts_come_from_the_same_numbers() {
        let c = Check::in_range("p", 1.2, 0.75, 1.35);
        assert!(c.holds);
        assert_eq!((c.prediction.as_str(), c.measured.as_str()), ("p in [0.75, 1.35]", "p = 1.2"));
        assert!(!Check::in_range("p", f64::NAN, 0.0, 1.0).holds, "NaN never holds");
        assert!(!Check::less("x", 1.0, 1.0).holds && Check::at_most("x", 1.0, 1.0).holds);
        assert!(!Check::greater("x", 1.0, 1.0).holds && Check::at_least("x", 1.0, 1.0).holds);
        let c = Check::less_than(("noisy", 3.0), 2.0, ("BN", 1.0));
        assert!(!c.holds);
        assert_eq!(c.prediction, "noisy < 2 × BN");
        assert!(Check::greater_than(("a", 3.0), 1.0, ("b", 1.0)).holds);
        assert_eq!(Check::greater_than(("a", 3.0), 1.0, ("b", 1.0)).prediction, "a > b");
        let w = Check::within("slope", 5.5, 5.0, 0.15);
        assert!(w.holds && w.prediction == "slope within 15% of 5");
        assert!(!Check::within("slope", 6.0, 5.0, 0.15).holds);
        assert!(Check::equals("fraction", 1.0, 1.0).holds && !Check::equals("fraction", 0.9, 1.0).holds);
        let all = Claim::all("id", "s", vec![Check::less("a", 0.5, 1.0), Check::greater("b", 0.5, 1.0)]);
        assert!(!all.holds);
        assert_eq!(all.measured, "a = 0.5; b = 0.5");
        assert!(!Claim::all("id", "s", vec![]).holds, "a claim with nothing checked does not hold");
    }

    #[test]
    fn g3_prints_three_significant_digits() {
        assert_eq!(g3(0.0), "0");
        assert_eq!(g3(1.23456), "1.235");
        assert_eq!(g3(1e-5), "1.00e-5");
        // below 1, digits that count, not a fixed 3 decimals (0.00125 is not 0.001)
        assert_eq!(
            (g3(0.00125), g3(-0.0741), g3(0.98), g3(0.5)),
            ("0.00125".into(), "-0.0741".into(), "0.98".into(), "0.5".into())
        );
        assert_eq!(g3(f64::NAN), "—");
        assert_eq!(g3(2.88e-18), "2.88e-18");
        assert_eq!(g3(f64::INFINITY), "∞");
        assert_eq!(
            (short(0.85), short(1e-10), short(2.5e7), short(1000.0)),
            ("0.85".into(), "1e-10".into(), "2.5e7".into(), "1000".into())
        );
    }
}
