//! A rendered figure checked against its data — the report's figures are
//! the lab's main output, so a figure that hides data must fail a test, not
//! wait for a reader to notice. [`check`] reads the SVG [`crate::svg`]
//! writes and lists what is wrong:
//!
//! * a series with data to show has nothing drawn (or no legend entry when
//!   it has a label);
//! * an axis has fewer than two tick labels (a bar chart: not one label per
//!   category);
//! * the legend box holds a drawn point;
//! * a drawn point lies outside the plot area;
//! * a tick label of a linear axis reads a number within rounding error
//!   of 0 but not `0` (`-2.2e-16`).

use crate::{Figure, Series};

/// A start tag (or an empty-element tag) of the SVG, with its attributes
/// and, for `<text>`, its text.
struct Tag {
    name: String,
    attrs: Vec<(String, String)>,
    text: String,
    /// the `series` group it is in (by `data-index`), if any
    series: Option<usize>,
    /// inside the legend group
    in_legend: bool,
}

impl Tag {
    fn attr(&self, k: &str) -> Option<&str> {
        self.attrs.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str())
    }
    fn num(&self, k: &str) -> Option<f64> {
        self.attr(k).and_then(|v| v.parse().ok())
    }
    fn class(&self) -> &str {
        self.attr("class").unwrap_or("")
    }
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&amp;", "&")
}

/// The start tags of `svg` in order, with group membership resolved.
fn parse(svg: &str) -> Vec<Tag> {
    let mut out = Vec::new();
    // the classes of the open <g> elements, and their series index
    let mut groups: Vec<(String, Option<usize>)> = Vec::new();
    let mut rest = svg;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let Some(end) = rest.find('>') else { break };
        let inner = &rest[..end];
        rest = &rest[end + 1..];
        if let Some(name) = inner.strip_prefix('/') {
            if name.trim() == "g" {
                groups.pop();
            }
            continue;
        }
        let self_closing = inner.ends_with('/');
        let inner = inner.trim_end_matches('/');
        let (name, mut a) = inner.split_once(char::is_whitespace).unwrap_or((inner, ""));
        let mut attrs = Vec::new();
        while let Some(eq) = a.find("=\"") {
            let key = a[..eq].trim().to_string();
            let after = &a[eq + 2..];
            let Some(close) = after.find('"') else { break };
            attrs.push((key, unescape(&after[..close])));
            a = &after[close + 1..];
        }
        let mut tag = Tag {
            name: name.to_string(),
            attrs,
            text: String::new(),
            series: groups.iter().rev().find_map(|g| g.1),
            in_legend: groups.iter().any(|g| g.0 == "legend"),
        };
        if tag.name == "text" && !self_closing {
            if let Some(close) = rest.find("</text>") {
                tag.text = unescape(&rest[..close]);
            }
        }
        if tag.name == "g" && !self_closing {
            let class = tag.class().to_string();
            let idx = if class == "series" { tag.num("data-index").map(|v| v as usize) } else { None };
            groups.push((class, idx));
        }
        out.push(tag);
    }
    out
}

/// `x y w h` of a `data-box` attribute.
fn bbox(t: &Tag) -> Option<[f64; 4]> {
    let v: Vec<f64> = t.attr("data-box")?.split_whitespace().filter_map(|s| s.parse().ok()).collect();
    (v.len() == 4).then(|| [v[0], v[1], v[2], v[3]])
}

fn inside(b: &[f64; 4], (x, y): (f64, f64), margin: f64) -> bool {
    x >= b[0] - margin && x <= b[0] + b[2] + margin && y >= b[1] - margin && y <= b[1] + b[3] + margin
}

/// The points an element draws at (polyline vertices, circle centres,
/// polygon vertices, a rectangle's corners).
fn points(t: &Tag) -> Vec<(f64, f64)> {
    match t.name.as_str() {
        "polyline" | "polygon" => t
            .attr("points")
            .unwrap_or("")
            .split_whitespace()
            .filter_map(|p| p.split_once(','))
            .filter_map(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
            .collect(),
        "circle" => t.num("cx").zip(t.num("cy")).into_iter().collect(),
        "rect" => match (t.num("x"), t.num("y"), t.num("width"), t.num("height")) {
            (Some(x), Some(y), Some(w), Some(h)) => vec![(x, y), (x + w, y + h)],
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// Whether a series has a value a figure must show.
fn has_data(s: &Series) -> bool {
    s.x.iter().zip(&s.y).any(|(a, b)| a.is_finite() && b.is_finite())
}

/// What is wrong with `svg` as the drawing of `fig` (empty: nothing).
pub fn check(fig: &Figure, svg: &str) -> Vec<String> {
    let tags = parse(svg);
    let mut problems = Vec::new();
    if tags.iter().any(|t| t.class() == "empty") {
        // a figure that says it has nothing to draw: fine only if that is true
        let any = match fig {
            Figure::Lines(p) => p.series.iter().any(has_data),
            Figure::Bars(b) => b.series.iter().any(|s| s.values.iter().any(|v| v.is_finite())),
            Figure::Heatmap(h) => h.z.iter().any(|v| v.is_finite()),
        };
        if any {
            problems.push("the figure draws nothing, though its data has finite values".into());
        }
        return problems;
    }
    // series: something drawn for each one with data, and its legend entry
    let drawn = |i: usize| tags.iter().filter(|t| t.series == Some(i) && !points(t).is_empty()).count();
    let legend_texts: Vec<&str> =
        tags.iter().filter(|t| t.in_legend && t.name == "text").map(|t| t.text.as_str()).collect();
    let mut series_check = |label: &str, i: usize, with_data: bool| {
        if with_data && drawn(i) == 0 {
            problems.push(format!("series {i} ('{label}') has data but nothing is drawn"));
        }
        if with_data && !label.is_empty() && !legend_texts.contains(&label) {
            problems.push(format!("series {i} ('{label}') is not in the legend"));
        }
    };
    match fig {
        Figure::Lines(p) => {
            p.series.iter().enumerate().for_each(|(i, s)| series_check(&s.label, i, has_data(s)))
        }
        Figure::Bars(b) => b
            .series
            .iter()
            .enumerate()
            .for_each(|(i, s)| series_check(&s.label, i, s.values.iter().any(|v| v.is_finite()))),
        Figure::Heatmap(h) => {
            h.overlay.iter().enumerate().for_each(|(i, s)| series_check(&s.label, i, has_data(s)))
        }
    }
    // ticks: at least two per axis, categories named, no "-2.2e-16"
    let ticks =
        |axis: &str| tags.iter().filter(|t| t.name == "text" && t.class() == format!("tick {axis}")).count();
    let mut axes = vec!["x", "y"];
    if matches!(fig, Figure::Heatmap(_)) {
        axes.push("z");
    }
    for axis in axes {
        let n = ticks(axis);
        match fig {
            Figure::Bars(b) if axis == "x" && n != b.categories.len() => {
                problems.push(format!("{n} category labels for {} categories", b.categories.len()))
            }
            Figure::Bars(_) if axis == "x" => {}
            _ if n < 2 => {
                problems.push(format!("the {axis} axis has {n} tick label(s); a reader needs at least two"))
            }
            _ => {}
        }
    }
    // on a linear axis (a log axis' 1e-18 is a real tick)
    for t in tags.iter().filter(|t| t.class().starts_with("tick") && t.attr("data-scale") != Some("log")) {
        if let Ok(v) = t.text.replace('−', "-").parse::<f64>() {
            if v != 0.0 && v.abs() < 1e-10 {
                problems.push(format!(
                    "a tick reads '{}': a value within rounding error of 0 should read 0",
                    t.text
                ));
            }
        }
    }
    // geometry: drawn points inside the plot area and none under the legend
    let plot = tags.iter().find(|t| t.class() == "plot").and_then(bbox);
    let legend = tags.iter().find(|t| t.class() == "legend").and_then(bbox);
    for t in tags.iter().filter(|t| t.series.is_some() && !t.in_legend) {
        for p in points(t) {
            if let Some(b) = &plot {
                if !inside(b, p, 1.0) {
                    problems.push(format!(
                        "a point of series {} lies outside the plot area at {p:?}",
                        t.series.unwrap_or(0)
                    ));
                }
            }
            if let Some(l) = &legend {
                if inside(l, p, 0.0) {
                    problems.push(format!(
                        "the legend covers a point of series {} at {p:?}",
                        t.series.unwrap_or(0)
                    ));
                }
            }
        }
    }
    problems.dedup();
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BarChart, Heatmap, LinePlot, Series};

    fn lines() -> Figure {
        LinePlot::new("variance by layer", "layer", "Var")
            .log_y()
            .with([
                Series::line("he", vec![1.0, 2.0, 3.0], vec![1.0, 1.1, 0.9]),
                Series::line("small", vec![1.0, 2.0, 3.0], vec![1e-3, 1e-9, 0.0]),
                Series::dashed("2/η", vec![1.0, 3.0], vec![2.0, 2.0]),
            ])
            .into()
    }

    #[test]
    fn good_figures_pass() {
        let heat = Heatmap {
            title: "surface".into(),
            x: vec![-0.2, 0.0, 0.2],
            y: vec![-0.2, 0.0, 0.2],
            z: (0..9).map(|i| 1.0 + i as f64).collect(),
            contours: 3,
            overlay: vec![Series::line("path", vec![-0.1, 0.1], vec![0.0, 0.1])],
            ..Default::default()
        };
        let bars = BarChart::new("b", "method", "error", &["GD", "Adam"]).bars("error", vec![0.0, 0.4]);
        for fig in [lines(), Figure::Heatmap(heat), bars.into()] {
            let svg = fig.to_svg();
            assert_eq!(check(&fig, &svg), Vec::<String>::new(), "{}", fig.title());
        }
    }

    #[test]
    fn a_deliberately_broken_figure_fails() {
        let fig = lines();
        let svg = fig.to_svg();
        // a series dropped from the drawing
        let start = svg.find(r#"<g class="series" data-index="1""#).unwrap();
        let end = start + svg[start..].find("</g>").unwrap() + 4;
        let dropped = format!("{}{}", &svg[..start], &svg[end..]);
        let p = check(&fig, &dropped);
        assert!(p.iter().any(|m| m.contains("series 1 ('small') has data but nothing is drawn")), "{p:?}");
        // an axis left with one label
        let mut one_tick = svg.clone();
        while one_tick.matches(r#"class="tick y""#).count() > 1 {
            one_tick = one_tick.replacen(r#"class="tick y""#, r#"class="gone""#, 1);
        }
        assert!(check(&fig, &one_tick).iter().any(|m| m.contains("the y axis has 1 tick label")));
        // a legend moved onto the data
        let i =
            svg.find(r#"<g class="legend" data-box=""#).unwrap() + r#"<g class="legend" data-box=""#.len();
        let j = i + svg[i..].find('"').unwrap();
        let on_data = format!("{}{}{}", &svg[..i], "74 38 566 300", &svg[j..]);
        assert!(check(&fig, &on_data).iter().any(|m| m.contains("the legend covers a point")));
        // a tick that prints rounding error
        let at = svg.find(r#"class="tick x" data-scale="linear""#).unwrap();
        let open = at + svg[at..].find('>').unwrap() + 1;
        let close = open + svg[open..].find('<').unwrap();
        let tiny = format!("{}-2.2e-16{}", &svg[..open], &svg[close..]);
        assert!(check(&fig, &tiny).iter().any(|m| m.contains("-2.2e-16")), "{:?}", check(&fig, &tiny));
        // the legend entry of a series missing
        let unlisted = svg.replace(">small</text>", "></text>");
        assert!(check(&fig, &unlisted).iter().any(|m| m.contains("not in the legend")));
    }
}
