//! # odl-plot
//!
//! Figures as data. An experiment or a probe describes what it wants drawn as
//! a [`Figure`] — series of points, axis labels, log scales, or a grid of
//! values — which serializes to JSON (so a report can be redrawn from results
//! on disk) and renders to a self-contained SVG string through `plotters`.
//!
//! Non-finite values are data too (a diverged run): lines break at them and
//! log axes skip values ≤ 0 instead of failing.
//!
//! ```
//! use odl_plot::{Figure, LinePlot, Series};
//! let fig = Figure::Lines(LinePlot {
//!     title: "GD on a quadratic".into(),
//!     x_label: "step".into(),
//!     y_label: "loss".into(),
//!     y_log: true,
//!     series: vec![Series::line("η = 0.1", vec![0.0, 1.0, 2.0], vec![1.0, 0.81, 0.6561])],
//!     ..Default::default()
//! });
//! let svg = fig.to_svg();
//! assert!(svg.starts_with("<svg") && svg.contains("GD on a quadratic"));
//! ```

mod heatmap;
mod lines;

use serde::{Deserialize, Serialize};

pub use heatmap::Heatmap;
pub use lines::{LinePlot, Series, Style};

/// Width and height of a rendered figure, in SVG pixels.
pub const SIZE: (u32, u32) = (640, 420);

/// Something to draw.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Figure {
    /// lines and/or markers on x–y axes
    Lines(LinePlot),
    /// a grid of values as colors, with contour lines
    Heatmap(Heatmap),
}

impl Figure {
    /// The figure's title.
    pub fn title(&self) -> &str {
        match self {
            Figure::Lines(p) => &p.title,
            Figure::Heatmap(h) => &h.title,
        }
    }

    /// Renders to a standalone `<svg>` element.
    pub fn to_svg(&self) -> String {
        let svg = match self {
            Figure::Lines(p) => lines::render(p),
            Figure::Heatmap(h) => heatmap::render(h),
        };
        // plotters cannot fail when drawing into a String; a figure with no
        // drawable data still gets its frame and a note
        svg.unwrap_or_else(|e| empty_svg(self.title(), &e))
    }
}

/// The range `[lo, hi]` of the finite values (positive ones on a log axis),
/// widened so that it is never empty and a little margin shows.
pub(crate) fn axis_range(values: impl Iterator<Item = f64>, log: bool) -> Option<(f64, f64)> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite() && (!log || *v > 0.0)) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        return None;
    }
    Some(if log {
        // at most 12 decades: a density that underflows to 1e-300 would
        // otherwise squeeze everything worth seeing into the top of the plot
        lo = lo.max(hi * 1e-12);
        if hi / lo < 1.0 + 1e-9 {
            (lo / 2.0, hi * 2.0)
        } else {
            let pad = (hi / lo).powf(0.03);
            (lo / pad, hi * pad)
        }
    } else if hi - lo <= 1e-12 * hi.abs().max(1.0) {
        let d = if hi == 0.0 { 1.0 } else { hi.abs() * 0.1 };
        (lo - d, hi + d)
    } else {
        let pad = (hi - lo) * 0.03;
        (lo - pad, hi + pad)
    })
}

/// A short number for tick labels: no float noise, scientific when large or tiny.
pub(crate) fn fmt_num(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) {
        let s = format!("{v:.1e}");
        return s.replace(".0e", "e");
    }
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

fn empty_svg(title: &str, why: &str) -> String {
    let (w, h) = SIZE;
    format!(
        "<svg width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" xmlns=\"http://www.w3.org/2000/svg\">\
         <rect width=\"{w}\" height=\"{h}\" fill=\"#fff\" stroke=\"#999\"/>\
         <text x=\"{}\" y=\"30\" text-anchor=\"middle\" font-family=\"sans-serif\">{}</text>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-family=\"sans-serif\" fill=\"#a00\">{}</text></svg>",
        w / 2,
        xml_escape(title),
        w / 2,
        h / 2,
        xml_escape(why)
    )
}

/// Escapes `&`, `<`, `>` and quotes for XML text and attributes.
pub fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Ten colors that stay distinct (Tableau's palette).
pub(crate) const PALETTE: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_ignore_non_finite_and_non_positive_on_log_axes() {
        let v = [f64::NAN, -1.0, 0.0, 1.0, 100.0, f64::INFINITY];
        let (lo, hi) = axis_range(v.iter().copied(), true).unwrap();
        assert!(lo < 1.0 && lo > 0.5 && hi > 100.0 && hi < 200.0, "{lo} {hi}");
        let (lo, hi) = axis_range([1e-300, 1.0].into_iter(), true).unwrap();
        assert!(lo > 1e-13 && hi < 3.0, "log axes span at most 12 decades: {lo} {hi}");
        let (lo, hi) = axis_range(v.iter().copied(), false).unwrap();
        assert!(lo < -1.0 && hi > 100.0 && hi < 110.0);
        assert!(axis_range([f64::NAN].into_iter(), false).is_none());
        // a constant series still gets a non-empty range
        let (lo, hi) = axis_range([3.0, 3.0].into_iter(), false).unwrap();
        assert!(lo < 3.0 && hi > 3.0);
    }

    #[test]
    fn numbers_print_short() {
        assert_eq!(fmt_num(0.5), "0.5");
        assert_eq!(fmt_num(100.0), "100");
        assert_eq!(fmt_num(1e-6), "1e-6");
        assert_eq!(fmt_num(2.5e7), "2.5e7");
    }

    #[test]
    fn figures_round_trip_through_json() {
        let fig = Figure::Lines(LinePlot {
            title: "t".into(),
            series: vec![Series::points("a", vec![1.0, 2.0], vec![3.0, f64::NAN])],
            ..Default::default()
        });
        let s = serde_json::to_string(&fig).unwrap();
        assert!(s.contains("\"kind\":\"lines\""));
        let back: Figure = serde_json::from_str(&s).unwrap();
        assert_eq!(back.title(), "t");
    }
}
