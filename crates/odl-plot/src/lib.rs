//! # odl-plot
//!
//! Figures as data. An experiment or a probe describes what it wants drawn as
//! a [`Figure`] — series of points, bars over categories, or a grid of
//! values — which serializes to JSON (so a report can be redrawn from results
//! on disk) and renders to a self-contained SVG string.
//!
//! The drawing decides everything from all of the data, in one place
//! ([`axis`]): every series is drawn and in the legend; a value a log axis
//! cannot show (≤ 0, or more than 40 decades below the largest) is drawn
//! clipped on the axis' edge with a note, never dropped; short log ranges
//! get intermediate ticks; values within rounding error of 0 print as 0; the
//! legend sits below the plot area, never on the data. The SVG is semantic
//! ([`svg`]), so [`check`] can verify a figure against its data. Pictures
//! that are pixels (a generator's images) go to PNG grids ([`image`]).
//!
//! ```
//! use odl_plot::{Figure, LinePlot, Series};
//! let fig: Figure = LinePlot::new("GD on a quadratic", "step", "loss")
//!     .log_y()
//!     .with([Series::line("η = 0.1", vec![0.0, 1.0, 2.0], vec![1.0, 0.81, 0.6561])])
//!     .into();
//! let svg = fig.to_svg();
//! assert!(svg.starts_with("<svg") && svg.contains("GD on a quadratic"));
//! assert!(odl_plot::check::check(&fig, &svg).is_empty());
//! ```

pub mod axis;
mod bars;
pub mod check;
mod heatmap;
pub mod image;
mod lines;
pub mod svg;

use serde::{Deserialize, Serialize};

pub use bars::{BarChart, Bars, Reference};
pub use heatmap::Heatmap;
pub use lines::{Band, LinePlot, Series, Style};

/// Something to draw.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Figure {
    /// lines and/or markers on x–y axes
    Lines(LinePlot),
    /// bars over named categories
    Bars(BarChart),
    /// a grid of values as colored cells
    Heatmap(Heatmap),
}

impl Figure {
    /// The figure's title.
    pub fn title(&self) -> &str {
        match self {
            Figure::Lines(p) => &p.title,
            Figure::Bars(b) => &b.title,
            Figure::Heatmap(h) => &h.title,
        }
    }

    /// A self-contained SVG document (a message in the image if the data
    /// cannot be drawn).
    pub fn to_svg(&self) -> String {
        let svg = match self {
            Figure::Lines(p) => lines::render(p),
            Figure::Bars(b) => bars::render(b),
            Figure::Heatmap(h) => heatmap::render(h),
        };
        svg.unwrap_or_else(|e| empty_svg(self.title(), &e))
    }
}

/// One colour per series key across `figures` (an experiment's figures): the
/// keys in order of first appearance get the palette's colours in order, so
/// "η = 0.13" is the same colour in every figure that shows it.
pub fn assign_colors(figures: &mut [Figure]) {
    let mut keys: Vec<String> = Vec::new();
    let mut index = |k: &str| match keys.iter().position(|x| x == k) {
        Some(i) => i,
        None => {
            keys.push(k.to_string());
            keys.len() - 1
        }
    };
    for f in figures {
        match f {
            Figure::Lines(p) => {
                for s in &mut p.series {
                    s.color = Some(index(s.color_key()));
                }
            }
            Figure::Bars(b) => {
                for s in &mut b.series {
                    s.color = Some(index(s.color_key()));
                }
            }
            Figure::Heatmap(_) => {}
        }
    }
}

fn empty_svg(title: &str, why: &str) -> String {
    let (w, h) = (640, 420);
    format!(
        "<svg width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" xmlns=\"http://www.w3.org/2000/svg\">\
         <rect width=\"{w}\" height=\"{h}\" fill=\"#fff\" stroke=\"#999\"/>\
         <text x=\"{}\" y=\"30\" text-anchor=\"middle\" font-family=\"sans-serif\">{}</text>\
         <text class=\"empty\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-family=\"sans-serif\" fill=\"#a00\">{}</text></svg>",
        w / 2,
        xml_escape(title),
        w / 2,
        h / 2,
        xml_escape(why)
    )
}

/// Escapes `&`, `<`, `>` and `"` for XML text and attributes.
pub fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Tableau 10.
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
    fn figures_round_trip_through_json() {
        let fig: Figure = LinePlot::new("t", "x", "y")
            .with([Series::points("a", vec![1.0, 2.0], vec![3.0, f64::NAN])])
            .into();
        let s = serde_json::to_string(&fig).unwrap();
        assert!(s.contains("\"kind\":\"lines\""));
        let back: Figure = serde_json::from_str(&s).unwrap();
        assert_eq!(back.title(), "t");
    }

    #[test]
    fn a_series_keeps_its_colour_across_the_figures_of_an_experiment() {
        let sharp = LinePlot::new("sharpness", "step", "λ").with([
            Series::line("η = 0.1", vec![0.0, 1.0], vec![1.0, 2.0]),
            Series::dashed("2/η = 20", vec![0.0, 1.0], vec![20.0, 20.0]).keyed("η = 0.1"),
            Series::line("η = 0.13", vec![0.0, 1.0], vec![1.0, 3.0]),
        ]);
        let loss = LinePlot::new("loss", "step", "loss").with([
            Series::line("η = 0.13", vec![0.0, 1.0], vec![1.0, 0.5]),
            Series::line("η = 0.1", vec![0.0, 1.0], vec![1.0, 0.4]),
        ]);
        let mut figs = vec![Figure::Lines(sharp), Figure::Lines(loss)];
        assign_colors(&mut figs);
        let colors = |f: &Figure| match f {
            Figure::Lines(p) => {
                p.series.iter().map(|s| (s.label.clone(), s.color.unwrap())).collect::<Vec<_>>()
            }
            _ => unreachable!(),
        };
        let (a, b) = (colors(&figs[0]), colors(&figs[1]));
        assert_eq!(a[0].1, a[1].1, "a reference line shares its curve's colour");
        assert_eq!(a[2].1, b[0].1, "η = 0.13 has one colour in both figures");
        assert_eq!(a[0].1, b[1].1);
        assert_ne!(a[0].1, a[2].1);
    }
}
