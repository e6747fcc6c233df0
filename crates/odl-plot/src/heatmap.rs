//! A grid of values drawn as colored cells with contour lines and a color bar;
//! optional paths (a training trajectory) on top.

use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use crate::lines::{nan_vec, Series};
use crate::{axis_range, fmt_num, SIZE};

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

/// Viridis, sampled at 6 points and interpolated linearly.
fn colormap(t: f64) -> RGBColor {
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
    RGBColor(m(a.0, b.0), m(a.1, b.1), m(a.2, b.2))
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
    let tz = |v: f64| if h.log_z { v.log10() } else { v };
    let zs: Vec<f64> = h.z.iter().map(|&v| if h.log_z && v <= 0.0 { f64::NAN } else { tz(v) }).collect();
    let (z0, z1) = axis_range(zs.iter().copied(), false).ok_or("no finite data to draw")?;
    let (x0, x1) = (h.x[0], h.x[nx - 1]);
    let (y0, y1) = (h.y[0], h.y[ny - 1]);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (main, bar) = root.split_horizontally(SIZE.0 - 96);
        let mut chart = ChartBuilder::on(&main)
            .caption(&h.title, ("sans-serif", 17))
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(56)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(&h.x_label)
            .y_desc(&h.y_label)
            .x_label_formatter(&|v| fmt_num(*v))
            .y_label_formatter(&|v| fmt_num(*v))
            .label_style(("sans-serif", 12))
            .axis_desc_style(("sans-serif", 14))
            .draw()
            .map_err(|e| e.to_string())?;
        // cell (ix, iy) spans halfway to its neighbours
        let edge = |v: &[f64], i: usize| -> (f64, f64) {
            let lo = if i == 0 { v[0] } else { (v[i - 1] + v[i]) / 2.0 };
            let hi = if i + 1 == v.len() { v[i] } else { (v[i] + v[i + 1]) / 2.0 };
            (lo, hi)
        };
        let cells = (0..ny).flat_map(|iy| (0..nx).map(move |ix| (ix, iy)));
        chart
            .draw_series(cells.map(|(ix, iy)| {
                let v = zs[iy * nx + ix];
                let col =
                    if v.is_finite() { colormap((v - z0) / (z1 - z0)) } else { RGBColor(200, 200, 200) };
                let (xa, xb) = edge(&h.x, ix);
                let (ya, yb) = edge(&h.y, iy);
                Rectangle::new([(xa, ya), (xb, yb)], col.filled())
            }))
            .map_err(|e| e.to_string())?;
        for k in 1..=h.contours {
            let c = z0 + (z1 - z0) * k as f64 / (h.contours + 1) as f64;
            let segs = contour_segments(&h.x, &h.y, &zs, c);
            chart
                .draw_series(
                    segs.into_iter().map(|s| PathElement::new(s.to_vec(), WHITE.mix(0.7).stroke_width(1))),
                )
                .map_err(|e| e.to_string())?;
        }
        for s in &h.overlay {
            let pts: Vec<(f64, f64)> =
                s.x.iter()
                    .zip(&s.y)
                    .filter(|(a, b)| a.is_finite() && b.is_finite())
                    .map(|(a, b)| (*a, *b))
                    .collect();
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), RED.stroke_width(2)))
                .map_err(|e| e.to_string())?;
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 2, RED.filled())))
                .map_err(|e| e.to_string())?;
        }
        // the color bar
        let mut cb = ChartBuilder::on(&bar)
            .margin_top(40)
            .margin_bottom(54)
            .margin_right(8)
            .y_label_area_size(50)
            .build_cartesian_2d(0.0..1.0, z0..z1)
            .map_err(|e| e.to_string())?;
        let zl = if h.log_z { format!("log10 {}", h.z_label) } else { h.z_label.clone() };
        cb.configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_desc(zl)
            .y_label_formatter(&|v| fmt_num(*v))
            .label_style(("sans-serif", 11))
            .axis_desc_style(("sans-serif", 12))
            .draw()
            .map_err(|e| e.to_string())?;
        let steps = 48;
        cb.draw_series((0..steps).map(|i| {
            let a = z0 + (z1 - z0) * i as f64 / steps as f64;
            let b = z0 + (z1 - z0) * (i + 1) as f64 / steps as f64;
            Rectangle::new([(0.0, a), (1.0, b)], colormap((i as f64 + 0.5) / steps as f64).filled())
        }))
        .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
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
        for needle in ["loss surface", "log10 loss", "α", "β", "<polyline", "<circle"] {
            assert!(svg.contains(needle), "{needle} missing");
        }
        let bad = Heatmap { x: vec![0.0], y: vec![0.0, 1.0], z: vec![1.0], ..Default::default() };
        assert!(Figure::Heatmap(bad).to_svg().contains("at least 2×2"));
    }
}
