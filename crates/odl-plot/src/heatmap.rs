//! A grid of values drawn as colored cells with contour lines and a color bar;
//! optional paths (a training trajectory) on top.

use serde::{Deserialize, Serialize};

use crate::axis::Axis;
use crate::lines::{nan_vec, Series};
use crate::svg::{Entry, Frame, Swatch};
use crate::xml_escape as esc;

/// `z[iy * x.len() + ix]` at `(x[ix], y[iy])`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Heatmap {
    /// the title
    pub title: String,
    /// x-axis label
    pub x_label: String,
    /// y-axis label
    pub y_label: String,
    /// grid x coordinates (increasing)
    #[serde(with = "nan_vec")]
    pub x: Vec<f64>,
    /// grid y coordinates (increasing)
    #[serde(with = "nan_vec")]
    pub y: Vec<f64>,
    /// values, row-major over (y, x)
    #[serde(with = "nan_vec")]
    pub z: Vec<f64>,
    /// color by log10 of the value
    #[serde(default)]
    pub log_z: bool,
    /// label of the color bar
    #[serde(default)]
    pub z_label: String,
    /// number of contour levels (0: none)
    #[serde(default)]
    pub contours: usize,
    /// paths drawn over the grid (a trajectory)
    #[serde(default)]
    pub overlay: Vec<Series>,
}

/// Viridis, sampled at 6 points and interpolated linearly, as `#rrggbb`.
fn colormap(t: f64) -> String {
    const STOPS: [(f64, f64, f64); 6] = [
        (68.0, 1.0, 84.0),
        (65.0, 68.0, 135.0),
        (42.0, 120.0, 142.0),
        (34.0, 168.0, 132.0),
        (122.0, 209.0, 81.0),
        (253.0, 231.0, 37.0),
    ];
    let t = t.clamp(0.0, 1.0) * 5.0;
    let i = (t.floor() as usize).min(4);
    let f = t - i as f64;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let m = |p: f64, q: f64| (p + (q - p) * f).round() as u8;
    format!("#{:02x}{:02x}{:02x}", m(a.0, b.0), m(a.1, b.1), m(a.2, b.2))
}

/// Contour segments of the level `c` by marching squares (cells with a
/// non-finite corner are skipped).
pub(crate) fn contour_segments(x: &[f64], y: &[f64], z: &[f64], c: f64) -> Vec<[(f64, f64); 2]> {
    let nx = x.len();
    let mut out = Vec::new();
    for iy in 0..y.len().saturating_sub(1) {
        for ix in 0..nx.saturating_sub(1) {
            // corners counter-clockwise from bottom-left
            let p = [(ix, iy), (ix + 1, iy), (ix + 1, iy + 1), (ix, iy + 1)];
            let v: Vec<f64> = p.iter().map(|&(i, j)| z[j * nx + i]).collect();
            if v.iter().any(|v| !v.is_finite()) {
                continue;
            }
            let mut cross = Vec::with_capacity(4);
            for e in 0..4 {
                let (a, b) = (e, (e + 1) % 4);
                if (v[a] < c) != (v[b] < c) {
                    let t = (c - v[a]) / (v[b] - v[a]);
                    let (pa, pb) = ((x[p[a].0], y[p[a].1]), (x[p[b].0], y[p[b].1]));
                    cross.push((pa.0 + t * (pb.0 - pa.0), pa.1 + t * (pb.1 - pa.1)));
                }
            }
            // 2 crossings: one segment; 4 (a saddle cell): pair them in order
            for pair in cross.chunks_exact(2) {
                out.push([pair[0], pair[1]]);
            }
        }
    }
    out
}

pub(crate) fn render(h: &Heatmap) -> Result<String, String> {
    let (nx, ny) = (h.x.len(), h.y.len());
    if nx < 2 || ny < 2 || h.z.len() != nx * ny {
        return Err(format!(
            "heatmap needs a grid of at least 2×2 with x·y values (x {nx}, y {ny}, z {})",
            h.z.len()
        ));
    }
    // colours by log10 of the value on a log scale; values a log scale
    // cannot show are grey cells, counted in a note
    let tz = |v: f64| if h.log_z { v.log10() } else { v };
    let zs: Vec<f64> = h.z.iter().map(|&v| if h.log_z && v <= 0.0 { f64::NAN } else { tz(v) }).collect();
    let (mut z0, mut z1) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in zs.iter().filter(|v| v.is_finite()) {
        z0 = z0.min(*v);
        z1 = z1.max(*v);
    }
    if z0 > z1 {
        return Err("no finite data to draw".into());
    }
    if z1 - z0 < 1e-12 * z1.abs().max(1.0) {
        (z0, z1) = (z0 - 0.5, z1 + 0.5);
    }
    // the grid fills the plot area exactly
    let span = |v: &[f64]| -> Result<Axis, String> {
        let (a, b) = (v[0], v[v.len() - 1]);
        if a.is_finite() && b.is_finite() && b > a {
            Ok(Axis::new(a, b, false))
        } else {
            Err(format!("heatmap grid coordinates must increase ({a} … {b})"))
        }
    };
    let (x, y) = (span(&h.x)?, span(&h.y)?);
    let mut f = Frame::with_right(&h.title, &h.x_label, &h.y_label, &y, 110.0);
    for (t, l) in x.ticks.iter().zip(&x.labels) {
        let px = f.px(&x, *t);
        f.x_tick(px, l, false);
    }
    // cell (ix, iy) spans halfway to its neighbours
    let edge = |v: &[f64], i: usize| -> (f64, f64) {
        let lo = if i == 0 { v[0] } else { (v[i - 1] + v[i]) / 2.0 };
        let hi = if i + 1 == v.len() { v[i] } else { (v[i] + v[i + 1]) / 2.0 };
        (lo, hi)
    };
    let mut g = String::from(r#"<g class="cells">"#);
    let mut missing = 0;
    for iy in 0..ny {
        for ix in 0..nx {
            let v = zs[iy * nx + ix];
            missing += !v.is_finite() as usize;
            let col = if v.is_finite() { colormap((v - z0) / (z1 - z0)) } else { "#c8c8c8".into() };
            let ((xa, xb), (ya, yb)) = (edge(&h.x, ix), edge(&h.y, iy));
            let (pa, pb) = (f.px(&x, xa), f.px(&x, xb));
            let (qa, qb) = (f.py(&y, yb), f.py(&y, ya));
            g.push_str(&format!(
                r#"<rect x="{pa:.2}" y="{qa:.2}" width="{:.2}" height="{:.2}" fill="{col}"/>"#,
                (pb - pa) + 0.3,
                (qb - qa) + 0.3
            ));
        }
    }
    g.push_str("</g><g class=\"contours\">");
    for k in 1..=h.contours {
        let c = z0 + (z1 - z0) * k as f64 / (h.contours + 1) as f64;
        for [a, b] in contour_segments(&h.x, &h.y, &zs, c) {
            g.push_str(&format!(
                r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#fff" stroke-opacity="0.7"/>"##,
                f.px(&x, a.0),
                f.py(&y, a.1),
                f.px(&x, b.0),
                f.py(&y, b.1)
            ));
        }
    }
    g.push_str("</g>");
    f.push(&g);
    let mut legend = Vec::new();
    for (i, s) in h.overlay.iter().enumerate() {
        let pts: Vec<(f64, f64)> =
            s.x.iter()
                .zip(&s.y)
                .filter(|(a, b)| a.is_finite() && b.is_finite())
                .map(|(a, b)| (f.px(&x, *a), f.py(&y, *b)))
                .collect();
        let mut o = format!(r##"<g class="series" data-index="{i}" data-label="{}">"##, esc(&s.label));
        if pts.len() >= 2 {
            let p: Vec<String> = pts.iter().map(|(a, b)| format!("{a:.1},{b:.1}")).collect();
            o.push_str(&format!(
                r##"<polyline points="{}" fill="none" stroke="#d62728" stroke-width="2"/>"##,
                p.join(" ")
            ));
        }
        for (a, b) in &pts {
            o.push_str(&format!(r##"<circle cx="{a:.1}" cy="{b:.1}" r="2.5" fill="#d62728"/>"##));
        }
        o.push_str("</g>");
        f.push(&o);
        if !s.label.is_empty() {
            legend.push(Entry { label: s.label.clone(), color: 3, swatch: Swatch::LineDot });
        }
    }
    // the colour bar, in the data's units (a log scale for log colours)
    let bar =
        if h.log_z { Axis::new(10f64.powf(z0), 10f64.powf(z1), true) } else { Axis::new(z0, z1, false) };
    let (bx, bw) = (f.x0 + f.w + 18.0, 16.0);
    let steps = 48;
    let mut cb = String::from(r#"<g class="colorbar">"#);
    for i in 0..steps {
        let (a, b) = (i as f64 / steps as f64, (i + 1) as f64 / steps as f64);
        cb.push_str(&format!(
            r#"<rect x="{bx:.1}" y="{:.2}" width="{bw}" height="{:.2}" fill="{}"/>"#,
            f.y0 + f.h * (1.0 - b),
            f.h / steps as f64 + 0.3,
            colormap((a + b) / 2.0)
        ));
    }
    for (t, l) in bar.ticks.iter().zip(&bar.labels) {
        let py = f.y0 + f.h * (1.0 - bar.frac(*t));
        cb.push_str(&format!(
            r##"<line x1="{:.1}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#333"/><text class="tick z" data-scale="{}" x="{:.1}" y="{:.1}" font-size="11">{}</text>"##,
            bx + bw,
            bx + bw + 4.0,
            if bar.log { "log" } else { "linear" },
            bx + bw + 6.0,
            py + 4.0,
            esc(l)
        ));
    }
    let cy = f.y0 + f.h / 2.0;
    let tx = bx + bw + 62.0;
    cb.push_str(&format!(
        r##"<text class="axis-title z" x="{tx:.1}" y="{cy:.1}" text-anchor="middle" font-size="12" transform="rotate(-90 {tx:.1} {cy:.1})">{}{}</text></g>"##,
        esc(&h.z_label),
        if h.log_z { " (log scale)" } else { "" }
    ));
    f.push(&cb);
    let mut notes = Vec::new();
    if missing > 0 {
        notes.push(format!(
            "{missing} grey cell{} without a value that can be coloured",
            if missing == 1 { "" } else { "s" }
        ));
    }
    Ok(f.finish(&legend, &notes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Figure;

    #[test]
    fn contours_of_a_cone_lie_on_the_circle() {
        let g: Vec<f64> = (0..41).map(|i| -1.0 + i as f64 * 0.05).collect();
        let z: Vec<f64> = g.iter().flat_map(|y| g.iter().map(move |x| (x * x + y * y).sqrt())).collect();
        let segs = contour_segments(&g, &g, &z, 0.5);
        assert!(segs.len() > 20);
        for s in segs {
            for (x, y) in s {
                let r = (x * x + y * y).sqrt();
                assert!((r - 0.5).abs() < 0.01, "point at radius {r}");
            }
        }
    }

    #[test]
    fn a_heatmap_has_cells_contours_bar_and_overlay() {
        let g: Vec<f64> = (0..11).map(|i| i as f64 / 10.0).collect();
        let z: Vec<f64> = g.iter().flat_map(|y| g.iter().map(move |x| 1.0 + x * x + y)).collect();
        let h = Heatmap {
            title: "loss surface".into(),
            x_label: "α".into(),
            y_label: "β".into(),
            x: g.clone(),
            y: g.clone(),
            z,
            log_z: true,
            z_label: "loss".into(),
            contours: 5,
            overlay: vec![Series::line("path", vec![0.1, 0.5], vec![0.1, 0.6])],
        };
        let svg = Figure::Heatmap(h).to_svg();
        assert!(svg.matches("<rect").count() > 121, "cells and color bar");
        for needle in
            ["loss surface", "loss (log scale)", "α", "β", "<polyline", "<circle", r#"class="tick z""#]
        {
            assert!(svg.contains(needle), "{needle} missing");
        }
        let bad = Heatmap { x: vec![0.0], y: vec![0.0, 1.0], z: vec![1.0], ..Default::default() };
        assert!(Figure::Heatmap(bad).to_svg().contains("at least 2×2"));
    }
}
