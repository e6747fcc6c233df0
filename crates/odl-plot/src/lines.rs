//! Line and scatter plots.

use serde::{Deserialize, Serialize};

use crate::axis::Axis;
use crate::svg::{color, Entry, Frame, Swatch};
use crate::xml_escape as esc;

/// How a series is drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Style {
    /// a solid line
    #[default]
    Line,
    /// a dashed line (predictions, reference levels)
    Dashed,
    /// markers only
    Points,
    /// a line with markers
    LinePoints,
    /// open rings around points (a prediction that measured points of
    /// other series should sit inside)
    Rings,
}

/// One named series of points.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Series {
    /// legend entry (empty: not in the legend)
    pub label: String,
    /// x coordinates
    #[serde(with = "nan_vec")]
    pub x: Vec<f64>,
    /// y coordinates (NaN/∞ break the line)
    #[serde(with = "nan_vec")]
    pub y: Vec<f64>,
    /// how it is drawn
    #[serde(default)]
    pub style: Style,
    /// series with the same key share a colour across the figures of an
    /// experiment (default: the label); see [`crate::assign_colors`]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// palette index (assigned; default: the series' position)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<usize>,
    /// a band around the series (a confidence interval): lower and upper
    /// values at each x, drawn as a translucent area under the line
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub band: Option<Band>,
}

/// The lower and upper edge of a band, one value per point of its series.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Band {
    /// lower edge
    #[serde(with = "nan_vec")]
    pub lo: Vec<f64>,
    /// upper edge
    #[serde(with = "nan_vec")]
    pub hi: Vec<f64>,
}

impl Series {
    /// A solid line.
    pub fn line(label: impl Into<String>, x: Vec<f64>, y: Vec<f64>) -> Series {
        Series { label: label.into(), x, y, style: Style::Line, key: None, color: None, band: None }
    }
    /// Adds a band from `lo` to `hi` (one value each per point, e.g. a 95 %
    /// confidence interval).
    pub fn with_band(mut self, lo: Vec<f64>, hi: Vec<f64>) -> Series {
        self.band = Some(Band { lo, hi });
        self
    }
    /// Markers only.
    pub fn points(label: impl Into<String>, x: Vec<f64>, y: Vec<f64>) -> Series {
        Series { style: Style::Points, ..Series::line(label, x, y) }
    }
    /// Open rings around the points (a closed form that the measured
    /// points of other series should sit inside).
    pub fn rings(label: impl Into<String>, x: Vec<f64>, y: Vec<f64>) -> Series {
        Series { style: Style::Rings, ..Series::line(label, x, y) }
    }

    /// A dashed line (a prediction, a reference level).
    pub fn dashed(label: impl Into<String>, x: Vec<f64>, y: Vec<f64>) -> Series {
        Series { style: Style::Dashed, ..Series::line(label, x, y) }
    }
    /// A line with markers.
    pub fn line_points(label: impl Into<String>, x: Vec<f64>, y: Vec<f64>) -> Series {
        Series { style: Style::LinePoints, ..Series::line(label, x, y) }
    }
    /// The colour key (series with one key share a colour in every figure of
    /// an experiment: a measured curve and its reference line).
    pub fn keyed(mut self, key: impl Into<String>) -> Series {
        self.key = Some(key.into());
        self
    }
    /// The key colours are assigned by: the explicit key, else the label.
    pub fn color_key(&self) -> &str {
        self.key.as_deref().unwrap_or(&self.label)
    }
    /// `y` against `0, 1, 2, …`.
    pub fn indexed(label: impl Into<String>, y: Vec<f64>) -> Series {
        let x = (0..y.len()).map(|i| i as f64).collect();
        Series::line(label, x, y)
    }
}

/// Series on shared axes.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct LinePlot {
    /// the title
    pub title: String,
    /// x-axis label (with units)
    pub x_label: String,
    /// y-axis label (with units)
    pub y_label: String,
    /// logarithmic x axis
    #[serde(default)]
    pub x_log: bool,
    /// logarithmic y axis
    #[serde(default)]
    pub y_log: bool,
    /// the data
    pub series: Vec<Series>,
}

impl LinePlot {
    /// A plot with a title and axis labels, linear axes and no series yet:
    /// `LinePlot::new("Loss", "step", "loss").log_y().with(series)`.
    pub fn new(title: impl Into<String>, x_label: impl Into<String>, y_label: impl Into<String>) -> LinePlot {
        LinePlot {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            ..Default::default()
        }
    }

    /// A logarithmic x axis.
    pub fn log_x(mut self) -> LinePlot {
        self.x_log = true;
        self
    }

    /// A logarithmic y axis.
    pub fn log_y(mut self) -> LinePlot {
        self.y_log = true;
        self
    }

    /// Adds series.
    pub fn with(mut self, series: impl IntoIterator<Item = Series>) -> LinePlot {
        self.series.extend(series);
        self
    }
}

impl From<LinePlot> for crate::Figure {
    fn from(p: LinePlot) -> crate::Figure {
        crate::Figure::Lines(p)
    }
}

impl From<crate::Heatmap> for crate::Figure {
    fn from(h: crate::Heatmap) -> crate::Figure {
        crate::Figure::Heatmap(h)
    }
}

/// Serializes non-finite numbers as `null` (JSON has no NaN) and reads them back as NaN.
pub(crate) mod nan_vec {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|x| if x.is_finite() { Some(*x) } else { None }))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        let v: Vec<Option<f64>> = Vec::deserialize(d)?;
        Ok(v.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
    }
}

/// A point of a series as drawn: on the plot, clipped to an axis' lower
/// end (a value ≤ 0 or below the range of a log axis), or not at all.
enum Place {
    At(f64, f64),
    /// pixel column, on the x axis' lower edge: (column, row)
    Clipped(f64, f64),
    Gap,
}

pub(crate) fn render(p: &LinePlot) -> Result<String, String> {
    let xs = p.series.iter().flat_map(|s| s.x.iter().copied());
    let bands =
        p.series.iter().filter_map(|s| s.band.as_ref()).flat_map(|b| b.lo.iter().chain(&b.hi).copied());
    let ys = p.series.iter().flat_map(|s| s.y.iter().copied()).chain(bands);
    let x = Axis::fit(xs, p.x_log).ok_or("no finite data to draw")?;
    let y = Axis::fit(ys, p.y_log).ok_or("no finite data to draw")?;
    let mut f = Frame::new(&p.title, &p.x_label, &p.y_label, &y);
    f.x_log = x.log;
    for (t, l) in x.ticks.iter().zip(&x.labels) {
        let px = f.px(&x, *t);
        f.x_tick(px, l, true);
    }
    let mut clipped = 0usize;
    let mut legend: Vec<Entry> = Vec::new();
    for (i, s) in p.series.iter().enumerate() {
        let c = s.color.unwrap_or(i);
        let col = color(c);
        let place = |xv: f64, yv: f64| -> Place {
            if !(xv.is_finite() && yv.is_finite()) {
                return Place::Gap;
            }
            let (xin, yin) = (x.shows(xv), y.shows(yv));
            // a log axis cannot show values ≤ 0 or far below the rest: they sit on its lower edge
            let xlow = x.log && xv < x.lo;
            let ylow = y.log && yv < y.lo;
            match (xin || xlow, yin || ylow) {
                (true, true) if xin && yin => Place::At(f.px(&x, xv), f.py(&y, yv)),
                (true, true) => Place::Clipped(
                    if xin { f.px(&x, xv) } else { f.x0 },
                    if yin { f.py(&y, yv) } else { f.y0 + f.h },
                ),
                _ => Place::Gap,
            }
        };
        let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
        // consecutive clipped points form one run along the edge
        let mut clips: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
        for (&xv, &yv) in s.x.iter().zip(&s.y) {
            let p = place(xv, yv);
            if !matches!(p, Place::Clipped(..)) && !clips.last().expect("a run").is_empty() {
                clips.push(Vec::new());
            }
            match p {
                Place::At(a, b) => runs.last_mut().expect("a run").push((a, b)),
                other => {
                    if let Place::Clipped(a, b) = other {
                        clips.last_mut().expect("a run").push((a, b));
                    }
                    if !runs.last().expect("a run").is_empty() {
                        runs.push(Vec::new());
                    }
                }
            }
        }
        runs.retain(|r| !r.is_empty());
        clips.retain(|r| !r.is_empty());
        clipped += clips.iter().map(Vec::len).sum::<usize>();
        let mut g = format!(r##"<g class="series" data-index="{i}" data-label="{}">"##, esc(&s.label));
        if let Some(b) = &s.band {
            g.push_str(&band_polygons(&f, &x, &y, &s.x, b, &col));
        }
        let dots = matches!(s.style, Style::Points | Style::LinePoints);
        for run in &runs {
            if s.style == Style::Rings {
                for (a, b) in run {
                    g.push_str(&format!(
                        r##"<circle cx="{a:.1}" cy="{b:.1}" r="7" fill="none" stroke="{col}" stroke-width="1.5"/>"##
                    ));
                }
                continue;
            }
            if run.len() >= 2 && !matches!(s.style, Style::Points) {
                let pts: Vec<String> = run.iter().map(|(a, b)| format!("{a:.1},{b:.1}")).collect();
                let dash = if s.style == Style::Dashed { r#" stroke-dasharray="6 4""# } else { "" };
                g.push_str(&format!(
                    r##"<polyline points="{}" fill="none" stroke="{col}" stroke-width="2"{dash}/>"##,
                    pts.join(" ")
                ));
            }
            // markers where asked for, and for a lone point a line cannot show
            if dots || run.len() == 1 {
                for (a, b) in run {
                    g.push_str(&format!(r##"<circle cx="{a:.1}" cy="{b:.1}" r="3" fill="{col}"/>"##));
                }
            }
        }
        for run in &clips {
            // ▼ on the lower edge (◀ on the left edge) where a run starts,
            // and a thick stroke along the edge while it lasts
            let (a, b) = run[0];
            let tri = if (b - (f.y0 + f.h)).abs() < 0.01 {
                format!("{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}", a - 5.0, b - 9.0, a + 5.0, b - 9.0, a, b)
            } else {
                format!("{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}", a + 9.0, b - 5.0, a + 9.0, b + 5.0, a, b)
            };
            g.push_str(&format!(
                r##"<polygon class="clipped" points="{tri}" fill="{col}" stroke="#333" stroke-width="0.6"/>"##
            ));
            if run.len() >= 2 {
                let (c, d) = run[run.len() - 1];
                g.push_str(&format!(
                    r##"<polyline class="clipped" points="{a:.1},{b:.1} {c:.1},{d:.1}" fill="none" stroke="{col}" stroke-width="4" stroke-opacity="0.6"/>"##
                ));
            }
        }
        g.push_str("</g>");
        f.push(&g);
        if !s.label.is_empty() && !legend.iter().any(|e| e.label == s.label && e.color == c) {
            let swatch = match s.style {
                Style::Line => Swatch::Line,
                Style::Dashed => Swatch::Dashed,
                Style::Points => Swatch::Dot,
                Style::LinePoints => Swatch::LineDot,
                Style::Rings => Swatch::Ring,
            };
            legend.push(Entry { label: s.label.clone(), color: c, swatch });
        }
    }
    let mut notes = Vec::new();
    if clipped > 0 {
        notes.push(format!(
            "{clipped} value{} ≤ 0 or more than {} decades below the largest cannot be shown on a log axis: drawn as ▼ (◀) on its lower end",
            if clipped == 1 { "" } else { "s" },
            crate::axis::MAX_DECADES
        ));
    }
    Ok(f.finish(&legend, &notes))
}

/// The band as translucent polygons, one per run of points where x and both
/// edges can be drawn (a log axis' clipped values end a run).
fn band_polygons(f: &Frame, x: &Axis, y: &Axis, xs: &[f64], b: &Band, col: &str) -> String {
    let mut out = String::new();
    let mut run: Vec<(f64, f64, f64)> = Vec::new();
    let flush = |run: &mut Vec<(f64, f64, f64)>, out: &mut String| {
        if run.len() >= 2 {
            let upper = run.iter().map(|(a, _, h)| format!("{a:.1},{h:.1}"));
            let lower = run.iter().rev().map(|(a, l, _)| format!("{a:.1},{l:.1}"));
            let pts: Vec<String> = upper.chain(lower).collect();
            out.push_str(&format!(
                r##"<polygon class="band" points="{}" fill="{col}" fill-opacity="0.18" stroke="none"/>"##,
                pts.join(" ")
            ));
        }
        run.clear();
    };
    for (i, &xv) in xs.iter().enumerate() {
        let (lo, hi) = (b.lo.get(i).copied().unwrap_or(f64::NAN), b.hi.get(i).copied().unwrap_or(f64::NAN));
        if x.shows(xv) && y.shows(lo) && y.shows(hi) {
            run.push((f.px(x, xv), f.py(y, lo), f.py(y, hi)));
        } else {
            flush(&mut run, &mut out);
        }
    }
    flush(&mut run, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Figure;

    #[test]
    fn a_band_is_drawn_under_its_line_and_widens_the_axis() {
        let s = svg(LinePlot::new("loss vs lr", "lr", "loss").with([Series::line_points(
            "mean over 5 seeds",
            vec![1.0, 2.0, 3.0],
            vec![1.0, 2.0, 3.0],
        )
        .with_band(vec![0.5, 1.5, 2.5], vec![1.5, 2.5, 9.0])]));
        assert_eq!(s.matches(r#"<polygon class="band""#).count(), 1);
        let band = s.find("class=\"band\"").unwrap();
        assert!(band < s.find("<polyline").unwrap(), "the band is drawn first, under the line");
        // the axis reaches the band's top (9), not only the line's (3)
        assert!(s.contains(">8<") || s.contains(">9<") || s.contains(">10<"), "{s}");
    }

    fn svg(p: LinePlot) -> String {
        Figure::Lines(p).to_svg()
    }

    #[test]
    fn every_series_and_label_reaches_the_svg() {
        for (xl, yl) in [(false, false), (true, true), (false, true), (true, false)] {
            let mut p = LinePlot::new("spectrum", "eigenvalue", "density").with([
                Series::line("first", vec![1.0, 10.0, 100.0], vec![1.0, 0.1, 0.01]),
                Series::points("second", vec![2.0, 20.0], vec![0.5, 0.05]),
                Series::dashed("2/η", vec![1.0, 100.0], vec![0.2, 0.2]),
            ]);
            (p.x_log, p.y_log) = (xl, yl);
            let s = svg(p);
            for needle in [
                "spectrum",
                "eigenvalue",
                "density",
                "first",
                "second",
                "2/η",
                "<circle",
                "<polyline",
                "stroke-dasharray",
            ] {
                assert!(s.contains(needle), "{needle} missing for log axes {xl} {yl}");
            }
            assert_eq!(s.matches(r#"class="series""#).count(), 3);
        }
    }

    #[test]
    fn lines_break_at_non_finite_values_and_lone_points_are_dots() {
        let s = svg(LinePlot::new("t", "x", "y").with([Series::line(
            "a",
            vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            vec![1.0, 2.0, f64::NAN, 4.0, 5.0, f64::INFINITY, 3.0],
        )]));
        assert_eq!(s.matches("<polyline").count(), 2);
        assert_eq!(s.matches("<circle").count(), 1, "the last point stands alone");
    }

    #[test]
    fn values_a_log_axis_cannot_show_are_clipped_and_said_so() {
        // the He curve at 1, the "small" one down to 1e-60 and 0: nothing is dropped
        let s = svg(LinePlot::new("variance", "layer", "Var").log_y().with([
            Series::line("he", vec![1.0, 2.0, 3.0], vec![1.0, 1.1, 0.9]),
            Series::line("small", vec![1.0, 2.0, 3.0], vec![0.1, 1e-60, 0.0]),
        ]));
        // one run of two clipped values: a ▼ where it starts and a stroke along the edge
        assert_eq!(s.matches(r#"<polygon class="clipped""#).count(), 1);
        assert_eq!(s.matches(r#"<polyline class="clipped""#).count(), 1);
        assert!(s.contains("2 values ≤ 0 or more than 40 decades"), "{s}");
        assert!(s.contains("▼"));
        assert!(s.contains(">small<") && s.contains(">he<"));
    }

    #[test]
    fn a_plot_without_finite_data_says_so() {
        let p = LinePlot {
            title: "diverged".into(),
            series: vec![Series::indexed("x", vec![f64::NAN])],
            ..Default::default()
        };
        assert!(svg(p).contains("no finite data"));
    }
}
