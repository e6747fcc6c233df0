//! The SVG that line and bar charts are written as, and the layout they
//! share: a title, a plot area with a faint grid, tick labels and axis
//! titles, the legend *below* the plot area (never on the data), and notes.
//!
//! The markup is semantic, so that a figure can be checked against its data
//! ([`crate::check`]): every series is a `<g class="series"
//! data-index="i">`, tick labels are `<text class="tick x">` / `<text
//! class="tick y">`, the plot area and the legend carry their boxes as
//! `data-box="x y w h"`.

use std::fmt::Write as _;

use crate::axis::Axis;
use crate::xml_escape as esc;

/// Width of every figure, in pixels.
pub const WIDTH: f64 = 640.0;
/// Height of the plot area.
const PLOT_H: f64 = 300.0;
const LEFT: f64 = 74.0;
const RIGHT: f64 = 18.0;
const TOP: f64 = 38.0;
/// Below the plot area: x tick labels and the axis title.
const BELOW: f64 = 46.0;
/// A legend row.
const ROW: f64 = 18.0;
/// Approximate width of a character of 12 px sans-serif (for laying out the
/// legend; generous, so entries never overlap).
const CHAR_W: f64 = 6.8;
/// about the width of one character of an 11-px tick label
const TICK_CHAR_W: f64 = 6.2;
/// the second line of a tick label, below the first
const LINE_2: f64 = 13.0;

/// A colour of the palette (Tableau 10), as `#rrggbb`.
pub fn color(i: usize) -> String {
    let (r, g, b) = crate::PALETTE[i % crate::PALETTE.len()];
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// How a legend entry's sample is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Swatch {
    /// a solid line
    Line,
    /// a dashed line
    Dashed,
    /// a dot
    Dot,
    /// a line with a dot
    LineDot,
    /// a filled square (bars)
    Square,
    /// an open ring
    Ring,
}

/// One legend entry: the label, its colour and how its sample looks.
pub struct Entry {
    /// the label
    pub label: String,
    /// palette index
    pub color: usize,
    /// the sample
    pub swatch: Swatch,
}

/// The frame of a chart being written: the SVG so far and the plot area.
pub struct Frame {
    body: String,
    /// plot area: left, top, width, height
    pub x0: f64,
    /// top of the plot area
    pub y0: f64,
    /// width of the plot area
    pub w: f64,
    /// height of the plot area
    pub h: f64,
    /// the x axis is logarithmic (its tick labels say so, for the check)
    pub x_log: bool,
    /// the x axis' title, written when the frame closes (below the tick labels)
    x_label: String,
    /// extra height under the plot area taken by tick labels on two lines
    below_extra: f64,
}

impl Frame {
    /// A frame with the title, the grid at the y ticks, the y tick labels
    /// and the axis titles; the caller adds the x ticks (numeric or
    /// categorical, [`Frame::x_tick`]) and then the data.
    pub fn new(title: &str, x_label: &str, y_label: &str, y: &Axis) -> Frame {
        Frame::with_right(title, x_label, y_label, y, RIGHT)
    }

    /// A frame that leaves `right` pixels right of the plot area (a colour bar).
    pub fn with_right(title: &str, x_label: &str, y_label: &str, y: &Axis, right: f64) -> Frame {
        let mut f = Frame {
            body: String::new(),
            x0: LEFT,
            y0: TOP,
            w: WIDTH - LEFT - right,
            h: PLOT_H,
            x_log: false,
            x_label: x_label.to_string(),
            below_extra: 0.0,
        };
        let _ = write!(
            f.body,
            r##"<text class="title" x="{:.1}" y="22" text-anchor="middle" font-size="15">{}</text>"##,
            WIDTH / 2.0,
            esc(title)
        );
        let _ = write!(
            f.body,
            r##"<g class="plot" data-box="{:.1} {:.1} {:.1} {:.1}"><rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="#fff" stroke="#bbb"/>"##,
            f.x0, f.y0, f.w, f.h, f.x0, f.y0, f.w, f.h
        );
        // a faint grid at the ticks only
        for &t in &y.ticks {
            let py = f.py(y, t);
            let _ = write!(
                f.body,
                r##"<line class="grid" x1="{:.1}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#ececec"/>"##,
                f.x0,
                f.x0 + f.w
            );
        }
        f.body.push_str("</g>");
        for (t, l) in y.ticks.iter().zip(&y.labels) {
            let py = f.py(y, *t);
            let _ = write!(
                f.body,
                r##"<line x1="{:.1}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#666"/><text class="tick y" data-scale="{}" x="{:.1}" y="{:.1}" text-anchor="end" font-size="11">{}</text>"##,
                f.x0 - 4.0,
                f.x0,
                if y.log { "log" } else { "linear" },
                f.x0 - 7.0,
                py + 4.0,
                esc(l)
            );
        }
        let cy = f.y0 + f.h / 2.0;
        let _ = write!(
            f.body,
            r##"<text class="axis-title y" x="16" y="{cy:.1}" text-anchor="middle" font-size="13" transform="rotate(-90 16 {cy:.1})">{}</text>"##,
            esc(y_label)
        );
        f
    }

    /// The pixel row of `v` on the y axis.
    pub fn py(&self, y: &Axis, v: f64) -> f64 {
        self.y0 + self.h * (1.0 - y.frac(v))
    }

    /// The pixel column of `v` on the x axis.
    pub fn px(&self, x: &Axis, v: f64) -> f64 {
        self.x0 + self.w * x.frac(v)
    }

    /// A tick label under the plot area at pixel column `px`, with a faint
    /// grid line when `grid`.
    pub fn x_tick(&mut self, px: f64, label: &str, grid: bool) {
        if grid {
            let _ = write!(
                self.body,
                r##"<line class="grid" x1="{px:.1}" y1="{:.1}" x2="{px:.1}" y2="{:.1}" stroke="#ececec"/>"##,
                self.y0,
                self.y0 + self.h
            );
        }
        self.x_tick_text(px, &esc(label));
    }

    /// A category's name under the plot area at pixel column `px`, in a slot
    /// `slot` pixels wide: on two lines (split at the space nearest its
    /// middle) when one line would run into its neighbours' names.
    pub fn x_category(&mut self, px: f64, label: &str, slot: f64) {
        let width = |t: &str| TICK_CHAR_W * t.chars().count() as f64;
        let half = label.chars().count() / 2;
        let split = (width(label) > slot - 6.0)
            .then(|| {
                let spaces = label.char_indices().filter(|(_, c)| *c == ' ').map(|(i, _)| i);
                spaces.min_by_key(|&i| label[..i].chars().count().abs_diff(half))
            })
            .flatten();
        match split {
            None => self.x_tick_text(px, &esc(label)),
            Some(i) => {
                self.below_extra = self.below_extra.max(LINE_2);
                let two = format!(
                    r##"<tspan x="{px:.1}">{}</tspan><tspan x="{px:.1}" dy="{LINE_2}">{}</tspan>"##,
                    esc(&label[..i]),
                    esc(&label[i + 1..])
                );
                self.x_tick_text(px, &two);
            }
        }
    }

    /// The tick mark at `px` and its label (`markup`: escaped text or tspans).
    fn x_tick_text(&mut self, px: f64, markup: &str) {
        let yb = self.y0 + self.h;
        let _ = write!(
            self.body,
            r##"<line x1="{px:.1}" y1="{yb:.1}" x2="{px:.1}" y2="{:.1}" stroke="#666"/><text class="tick x" data-scale="{}" x="{px:.1}" y="{:.1}" text-anchor="middle" font-size="11">{markup}</text>"##,
            yb + 4.0,
            if self.x_log { "log" } else { "linear" },
            yb + 17.0,
        );
    }

    /// Raw markup (a series group).
    pub fn push(&mut self, s: &str) {
        self.body.push_str(s);
    }

    /// Closes the figure: the legend rows and notes under the plot area, and
    /// the `<svg>` element sized to hold them.
    pub fn finish(mut self, legend: &[Entry], notes: &[String]) -> String {
        let _ = write!(
            self.body,
            r##"<text class="axis-title x" x="{:.1}" y="{:.1}" text-anchor="middle" font-size="13">{}</text>"##,
            self.x0 + self.w / 2.0,
            self.y0 + self.h + 38.0 + self.below_extra,
            esc(&self.x_label)
        );
        let mut y = self.y0 + self.h + BELOW + self.below_extra + 4.0;
        if !legend.is_empty() {
            let (x_start, x_end) = (self.x0 - 40.0, WIDTH - RIGHT);
            // lay the entries out in rows
            let mut rows: Vec<Vec<(f64, &Entry)>> = vec![Vec::new()];
            let mut x = x_start;
            for e in legend {
                let w = 30.0 + CHAR_W * e.label.chars().count() as f64 + 16.0;
                if x + w > x_end && !rows.last().expect("a row").is_empty() {
                    rows.push(Vec::new());
                    x = x_start;
                }
                rows.last_mut().expect("a row").push((x, e));
                x += w;
            }
            let h = rows.len() as f64 * ROW + 6.0;
            let _ = write!(
                self.body,
                r##"<g class="legend" data-box="{:.1} {:.1} {:.1} {:.1}">"##,
                x_start,
                y,
                x_end - x_start,
                h
            );
            for (r, row) in rows.iter().enumerate() {
                let cy = y + 3.0 + ROW * (r as f64 + 0.5);
                for (x, e) in row {
                    let c = color(e.color);
                    let sample = match e.swatch {
                        Swatch::Line => format!(
                            r##"<line x1="{x:.1}" y1="{cy:.1}" x2="{:.1}" y2="{cy:.1}" stroke="{c}" stroke-width="2.5"/>"##,
                            x + 22.0
                        ),
                        Swatch::Dashed => format!(
                            r##"<line x1="{x:.1}" y1="{cy:.1}" x2="{:.1}" y2="{cy:.1}" stroke="{c}" stroke-width="2.5" stroke-dasharray="6 4"/>"##,
                            x + 22.0
                        ),
                        Swatch::Dot => {
                            format!(r##"<circle cx="{:.1}" cy="{cy:.1}" r="3.5" fill="{c}"/>"##, x + 11.0)
                        }
                        Swatch::LineDot => format!(
                            r##"<line x1="{x:.1}" y1="{cy:.1}" x2="{:.1}" y2="{cy:.1}" stroke="{c}" stroke-width="2.5"/><circle cx="{:.1}" cy="{cy:.1}" r="3.5" fill="{c}"/>"##,
                            x + 22.0,
                            x + 11.0
                        ),
                        Swatch::Ring => format!(
                            r##"<circle cx="{:.1}" cy="{cy:.1}" r="6" fill="none" stroke="{c}" stroke-width="1.5"/>"##,
                            x + 11.0
                        ),
                        Swatch::Square => format!(
                            r##"<rect x="{:.1}" y="{:.1}" width="12" height="12" fill="{c}"/>"##,
                            x + 5.0,
                            cy - 6.0
                        ),
                    };
                    let _ = write!(
                        self.body,
                        r##"{sample}<text x="{:.1}" y="{:.1}" font-size="12">{}</text>"##,
                        x + 28.0,
                        cy + 4.0,
                        esc(&e.label)
                    );
                }
            }
            self.body.push_str("</g>");
            y += h + 4.0;
        }
        for n in notes {
            let _ = write!(
                self.body,
                r##"<text class="note" x="{:.1}" y="{:.1}" font-size="11" font-style="italic" fill="#555">{}</text>"##,
                self.x0 - 40.0,
                y + 12.0,
                esc(n)
            );
            y += 16.0;
        }
        let height = (y + 8.0).ceil();
        format!(
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif"><rect width="{WIDTH}" height="{height}" fill="#fff"/>{}</svg>"##,
            self.body
        )
    }
}
