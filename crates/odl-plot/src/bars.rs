//! Bar charts for categorical data: one group of bars per category (a
//! method, a measure), one bar per series in each group, and optional
//! horizontal reference lines (a threshold a claim uses).

use serde::{Deserialize, Serialize};

use crate::axis::Axis;
use crate::lines::nan_vec;
use crate::svg::{color, Entry, Frame, Swatch};
use crate::xml_escape as esc;

/// One series of bars: a value per category.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Bars {
    /// legend entry
    pub label: String,
    /// one value per category (NaN: no bar)
    #[serde(with = "nan_vec")]
    pub values: Vec<f64>,
    /// colour key (see [`crate::Series::keyed`])
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// palette index (assigned)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<usize>,
    /// error bars: lower and upper end per category (a confidence
    /// interval), drawn as whiskers
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<crate::Band>,
}

impl Bars {
    /// A series of bars.
    pub fn new(label: impl Into<String>, values: Vec<f64>) -> Bars {
        Bars { label: label.into(), values, key: None, color: None, errors: None }
    }

    /// Adds whiskers from `lo` to `hi` (one value each per category).
    pub fn with_errors(mut self, lo: Vec<f64>, hi: Vec<f64>) -> Bars {
        self.errors = Some(crate::Band { lo, hi });
        self
    }

    /// The key colours are assigned by.
    pub fn color_key(&self) -> &str {
        self.key.as_deref().unwrap_or(&self.label)
    }
}

/// A horizontal reference line across the chart.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Reference {
    /// legend entry
    pub label: String,
    /// its height
    pub value: f64,
}

/// Grouped bars over named categories.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct BarChart {
    /// the title
    pub title: String,
    /// what the categories are
    pub x_label: String,
    /// what the bars measure (with units)
    pub y_label: String,
    /// logarithmic y axis
    #[serde(default)]
    pub y_log: bool,
    /// the category names, left to right
    pub categories: Vec<String>,
    /// the series, one bar each per category
    pub series: Vec<Bars>,
    /// dashed horizontal lines
    #[serde(default)]
    pub references: Vec<Reference>,
}

impl BarChart {
    /// A chart over `categories` with a title and axis labels.
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
        categories: &[&str],
    ) -> BarChart {
        BarChart {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            categories: categories.iter().map(|c| c.to_string()).collect(),
            ..Default::default()
        }
    }

    /// A logarithmic y axis.
    pub fn log_y(mut self) -> BarChart {
        self.y_log = true;
        self
    }

    /// Adds a series of bars (one value per category).
    pub fn bars(mut self, label: impl Into<String>, values: Vec<f64>) -> BarChart {
        self.series.push(Bars::new(label, values));
        self
    }

    /// Adds a dashed reference line.
    pub fn reference(mut self, label: impl Into<String>, value: f64) -> BarChart {
        self.references.push(Reference { label: label.into(), value });
        self
    }
}

impl From<BarChart> for crate::Figure {
    fn from(b: BarChart) -> crate::Figure {
        crate::Figure::Bars(b)
    }
}

pub(crate) fn render(b: &BarChart) -> Result<String, String> {
    let n = b.categories.len();
    if n == 0 || b.series.iter().any(|s| s.values.len() != n) {
        return Err(format!("a bar chart needs one value per category ({n} categories)"));
    }
    let errors =
        b.series.iter().filter_map(|s| s.errors.as_ref()).flat_map(|e| e.lo.iter().chain(&e.hi).copied());
    let values = b
        .series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .chain(b.references.iter().map(|r| r.value))
        .chain(errors);
    // bars grow from 0 on a linear axis
    let y =
        if b.y_log { Axis::fit(values, true) } else { Axis::fit(values.chain(std::iter::once(0.0)), false) }
            .ok_or("no finite data to draw")?;
    let mut f = Frame::new(&b.title, &b.x_label, &b.y_label, &y);
    let slot = f.w / n as f64;
    for (i, c) in b.categories.iter().enumerate() {
        let px = f.x0 + slot * (i as f64 + 0.5);
        f.x_category(px, c, slot);
    }
    let base = if b.y_log { f.y0 + f.h } else { f.py(&y, 0.0) };
    let k = b.series.len().max(1) as f64;
    let width = slot * 0.7 / k;
    let mut legend = Vec::new();
    let mut missing = 0;
    for (si, s) in b.series.iter().enumerate() {
        let c = s.color.unwrap_or(si);
        let mut g = format!(r##"<g class="series" data-index="{si}" data-label="{}">"##, esc(&s.label));
        for (i, &v) in s.values.iter().enumerate() {
            if !y.shows(v) {
                missing += 1;
                continue;
            }
            let left = f.x0 + slot * (i as f64 + 0.15) + width * si as f64;
            let top = f.py(&y, v);
            let (ya, yb) = (top.min(base), top.max(base));
            g.push_str(&format!(
                r##"<rect x="{left:.1}" y="{ya:.1}" width="{width:.1}" height="{:.1}" fill="{}"/>"##,
                (yb - ya).max(1.0),
                color(c)
            ));
            let ends = s.errors.as_ref().map(|e| (e.lo.get(i).copied(), e.hi.get(i).copied()));
            if let Some((Some(lo), Some(hi))) = ends {
                if y.shows(lo) && y.shows(hi) {
                    let (mid, a, bb) = (left + width / 2.0, f.py(&y, lo), f.py(&y, hi));
                    let cap = (width / 4.0).min(6.0);
                    g.push_str(&format!(
                        r##"<path class="whisker" d="M{mid:.1},{a:.1}V{bb:.1}M{:.1},{a:.1}H{:.1}M{:.1},{bb:.1}H{:.1}" stroke="#222" stroke-width="1.2" fill="none"/>"##,
                        mid - cap,
                        mid + cap,
                        mid - cap,
                        mid + cap
                    ));
                }
            }
        }
        g.push_str("</g>");
        f.push(&g);
        if !s.label.is_empty() {
            legend.push(Entry { label: s.label.clone(), color: c, swatch: Swatch::Square });
        }
    }
    for (ri, r) in b.references.iter().enumerate() {
        if !y.shows(r.value) {
            continue;
        }
        let py = f.py(&y, r.value);
        let c = b.series.len() + ri;
        f.push(&format!(
            r##"<g class="reference" data-label="{}"><line x1="{:.1}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="{}" stroke-width="2" stroke-dasharray="6 4"/></g>"##,
            esc(&r.label),
            f.x0,
            f.x0 + f.w,
            color(c)
        ));
        legend.push(Entry { label: r.label.clone(), color: c, swatch: Swatch::Dashed });
    }
    let notes = if missing > 0 {
        vec![format!(
            "{missing} bar{} without a value that can be drawn",
            if missing == 1 { "" } else { "s" }
        )]
    } else {
        Vec::new()
    };
    Ok(f.finish(&legend, &notes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Figure;

    #[test]
    fn categories_are_named_and_every_bar_is_drawn() {
        let b = BarChart::new("Test error by method", "method", "test error", &["GD", "AdaGrad", "Adam"])
            .bars("test error", vec![0.0, 0.4, 0.38])
            .reference("majority class (0.357)", 0.357);
        let svg = Figure::Bars(b).to_svg();
        for needle in [">GD<", ">AdaGrad<", ">Adam<", "majority class (0.357)", "stroke-dasharray"] {
            assert!(svg.contains(needle), "{needle} missing");
        }
        let group = &svg[svg.find(r#"class="series""#).unwrap()..];
        let group = &group[..group.find("</g>").unwrap()];
        assert_eq!(group.matches("<rect").count(), 3, "a bar at 0 is drawn as a 1-pixel line");
        let bad = BarChart::new("t", "x", "y", &["a", "b"]).bars("s", vec![1.0]);
        assert!(Figure::Bars(bad).to_svg().contains("one value per category"));
    }

    /// Names too long for their slot go on two lines, split at a space, and
    /// the axis title moves below them; short names stay on one line.
    #[test]
    fn long_category_names_wrap_instead_of_overlapping() {
        let names =
            ["standard", "PGD-AT", "TRADES β = 0.1", "TRADES β = 0.3", "TRADES β = 1", "TRADES β = 3", "x"];
        let b = BarChart::new("t", "training", "accuracy", &names).bars("clean", vec![0.8; 7]);
        let fig = Figure::Bars(b);
        let svg = fig.to_svg();
        assert!(
            svg.contains(r#"<tspan x="#) && svg.contains(">TRADES<") && svg.contains(">β = 0.1<"),
            "{svg}"
        );
        assert!(svg.contains(">standard<") && svg.contains(">x<"), "short names stay whole");
        let title_y = |svg: &str| {
            let at = svg.find(r#"class="axis-title x""#).unwrap();
            let rest = &svg[at..];
            let y = &rest[rest.find(" y=\"").unwrap() + 4..];
            y[..y.find('"').unwrap()].parse::<f64>().unwrap()
        };
        let short =
            Figure::Bars(BarChart::new("t", "training", "accuracy", &["a", "b"]).bars("clean", vec![0.8; 2]));
        assert!(title_y(&svg) > title_y(&short.to_svg()) + 10.0);
        assert!(crate::check::check(&fig, &svg).is_empty(), "{:?}", crate::check::check(&fig, &svg));
    }
}
