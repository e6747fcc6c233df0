//! Line and scatter plots.

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{axis_range, fmt_num, PALETTE, SIZE};

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
}

impl Series {
    /// A solid line.
    pub fn line(label: impl Into<String>, x: Vec<f64>, y: Vec<f64>) -> Series {
        Series { label: label.into(), x, y, style: Style::Line }
    }
    /// Markers only.
    pub fn points(label: impl Into<String>, x: Vec<f64>, y: Vec<f64>) -> Series {
        Series { label: label.into(), x, y, style: Style::Points }
    }
    /// A dashed line.
    pub fn dashed(label: impl Into<String>, x: Vec<f64>, y: Vec<f64>) -> Series {
        Series { label: label.into(), x, y, style: Style::Dashed }
    }
    /// A line with markers.
    pub fn line_points(label: impl Into<String>, x: Vec<f64>, y: Vec<f64>) -> Series {
        Series { label: label.into(), x, y, style: Style::LinePoints }
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

fn color(i: usize) -> RGBColor {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    RGBColor(r, g, b)
}

/// Runs of consecutive drawable points (finite, and positive on log axes).
/// On log axes, values below the axis' lower end (`x_min`, `y_min`) are gaps too.
fn segments(s: &Series, x_log: bool, y_log: bool, x_min: f64, y_min: f64) -> Vec<Vec<(f64, f64)>> {
    let mut out = vec![Vec::new()];
    for (&x, &y) in s.x.iter().zip(&s.y) {
        let ok = x.is_finite() && y.is_finite() && (!x_log || x >= x_min) && (!y_log || y >= y_min);
        if ok {
            out.last_mut().unwrap().push((x, y));
        } else if !out.last().unwrap().is_empty() {
            out.push(Vec::new());
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

pub(crate) fn render(p: &LinePlot) -> Result<String, String> {
    let xs = || p.series.iter().flat_map(|s| s.x.iter().copied());
    let ys = || p.series.iter().flat_map(|s| s.y.iter().copied());
    let (x0, x1) = axis_range(xs(), p.x_log).ok_or("no finite data to draw")?;
    let (y0, y1) = axis_range(ys(), p.y_log).ok_or("no finite data to draw")?;
    match (p.x_log, p.y_log) {
        (false, false) => draw(p, x0..x1, y0..y1, x0, y0),
        (true, false) => draw(p, (x0..x1).log_scale(), y0..y1, x0, y0),
        (false, true) => draw(p, x0..x1, (y0..y1).log_scale(), x0, y0),
        (true, true) => draw(p, (x0..x1).log_scale(), (y0..y1).log_scale(), x0, y0),
    }
}

fn draw<X, Y>(p: &LinePlot, xr: X, yr: Y, x_min: f64, y_min: f64) -> Result<String, String>
where
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&root)
            .caption(&p.title, ("sans-serif", 17))
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(64)
            .build_cartesian_2d(xr, yr)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc(&p.x_label)
            .y_desc(&p.y_label)
            .x_label_formatter(&|v| fmt_num(*v))
            .y_label_formatter(&|v| fmt_num(*v))
            .light_line_style(RGBColor(235, 235, 235))
            .label_style(("sans-serif", 12))
            .axis_desc_style(("sans-serif", 14))
            .draw()
            .map_err(|e| e.to_string())?;
        let mut any_label = false;
        for (i, s) in p.series.iter().enumerate() {
            let c = color(i);
            let segs = segments(s, p.x_log, p.y_log, x_min, y_min);
            let line_style = c.stroke_width(2);
            let mut first = true;
            for seg in segs {
                if matches!(s.style, Style::LinePoints) {
                    chart
                        .draw_series(seg.iter().map(|&q| Circle::new(q, 3, c.filled())))
                        .map_err(|e| e.to_string())?;
                }
                let anno = match s.style {
                    Style::Line | Style::LinePoints => chart
                        .draw_series(LineSeries::new(seg.iter().copied(), line_style))
                        .map_err(|e| e.to_string())?,
                    Style::Dashed => chart
                        .draw_series(DashedLineSeries::new(seg.iter().copied(), 6, 4, line_style))
                        .map_err(|e| e.to_string())?,
                    Style::Points => chart
                        .draw_series(seg.iter().map(|&q| Circle::new(q, 3, c.filled())))
                        .map_err(|e| e.to_string())?,
                };
                if first && !s.label.is_empty() {
                    any_label = true;
                    anno.label(&s.label)
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(3)));
                }
                first = false;
            }
        }
        if any_label {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(180, 180, 180))
                .label_font(("sans-serif", 12))
                .draw()
                .map_err(|e| e.to_string())?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Figure;

    #[test]
    fn lines_break_at_non_finite_values() {
        let s = Series::line("a", vec![0.0, 1.0, 2.0, 3.0, 4.0], vec![1.0, 2.0, f64::NAN, 4.0, 5.0]);
        let segs = segments(&s, false, false, 0.0, 0.0);
        assert_eq!(segs.len(), 2);
        assert_eq!(segs[1], vec![(3.0, 4.0), (4.0, 5.0)]);
        // on a log axis zeros and negatives are gaps too
        let s = Series::line("b", vec![1.0, 2.0, 3.0], vec![1.0, 0.0, 3.0]);
        assert_eq!(segments(&s, false, true, 1e-12, 1e-12).len(), 2);
    }

    #[test]
    fn every_series_and_label_reaches_the_svg() {
        for (xl, yl) in [(false, false), (true, true), (false, true), (true, false)] {
            let p = LinePlot {
                title: "spectrum".into(),
                x_label: "eigenvalue".into(),
                y_label: "density".into(),
                x_log: xl,
                y_log: yl,
                series: vec![
                    Series::line("first", vec![1.0, 10.0, 100.0], vec![1.0, 0.1, 0.01]),
                    Series::points("second", vec![2.0, 20.0], vec![0.5, 0.05]),
                    Series::dashed("2/η", vec![1.0, 100.0], vec![0.2, 0.2]),
                ],
            };
            let svg = Figure::Lines(p).to_svg();
            for needle in
                ["spectrum", "eigenvalue", "density", "first", "second", "2/η", "<circle", "<polyline"]
            {
                assert!(svg.contains(needle), "{needle} missing for log axes {xl} {yl}");
            }
        }
    }

    #[test]
    fn a_plot_without_finite_data_says_so() {
        let p = LinePlot {
            title: "diverged".into(),
            series: vec![Series::indexed("x", vec![f64::NAN])],
            ..Default::default()
        };
        let svg = Figure::Lines(p).to_svg();
        assert!(svg.contains("no finite data"), "{svg}");
    }
}
