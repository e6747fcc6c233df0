//! The sweep report, built from the point folders alone (`odl sweep report
//! DIR`, also written at the end of every sweep):
//! * `results.csv` — one row per finished point (its values, seed, status,
//!   every scalar metric, claims held), which pandas reads directly;
//! * `aggregate.csv` — one row per group of seeds (the same values): for
//!   every metric its mean, standard deviation, 95 % confidence half-width
//!   and count;
//! * `index.html` — one self-contained page: the groups, each claim's hold
//!   rate, the statistics, figures of each metric against each swept value
//!   with 95 % confidence bands (bars with whiskers for values that are not
//!   numbers), and the points that failed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use odl_plot::{xml_escape as esc, BarChart, Bars, Figure, LinePlot, Series};

use crate::plan::Plan;
use crate::stats::Stats;
use crate::store::{PointResult, Status, Store};

/// Points of one group (same target and values, different seeds).
pub struct Group<'a> {
    /// the target's label
    pub target: String,
    /// the values
    pub sets: BTreeMap<String, String>,
    /// its finished points
    pub runs: Vec<&'a PointResult>,
    /// how many points of the plan it has in all (finished or not)
    pub planned: usize,
}

impl Group<'_> {
    /// `depths=2,4 lr=0.1` (or the target's name in a sweep of several).
    pub fn name(&self, several_targets: bool) -> String {
        let vals: Vec<String> = self.sets.iter().map(|(k, v)| format!("{k}={v}")).collect();
        match (several_targets, vals.is_empty()) {
            (true, true) => self.target.clone(),
            (true, false) => format!("{} {}", self.target, vals.join(" ")),
            (false, true) => "(defaults)".into(),
            (false, false) => vals.join(" "),
        }
    }

    /// Statistics of a metric over the group's successful runs.
    pub fn stats(&self, metric: &str) -> Option<Stats> {
        Stats::of(self.runs.iter().filter(|r| r.ok).filter_map(|r| r.metrics.get(metric).copied().flatten()))
    }

    /// For each claim id (in first-seen order): statement, runs where it
    /// held, runs that decided it.
    pub fn hold_rates(&self) -> Vec<(String, String, usize, usize, bool)> {
        let mut out: Vec<(String, String, usize, usize, bool)> = Vec::new();
        for r in self.runs.iter().filter(|r| r.ok) {
            for c in &r.claims {
                match out.iter_mut().find(|e| e.0 == c.id) {
                    Some(e) => {
                        e.2 += c.holds as usize;
                        e.3 += 1;
                    }
                    None => out.push((c.id.clone(), c.statement.clone(), c.holds as usize, 1, c.timing)),
                }
            }
        }
        out
    }
}

/// The groups of a sweep's results, in the plan's order.
pub fn groups<'a>(plan: &Plan, results: &'a [PointResult]) -> Vec<Group<'a>> {
    let mut out: Vec<Group<'a>> = Vec::new();
    let label = |p: &crate::plan::Point| p.target.label();
    for p in &plan.points {
        let t = label(p);
        match out.iter_mut().find(|g| g.target == t && g.sets == p.sets) {
            Some(g) => g.planned += 1,
            None => out.push(Group { target: t, sets: p.sets.clone(), runs: Vec::new(), planned: 1 }),
        }
    }
    for r in results {
        match out.iter_mut().find(|g| g.target == r.target && g.sets == r.sets) {
            Some(g) => g.runs.push(r),
            None => {
                out.push(Group { target: r.target.clone(), sets: r.sets.clone(), runs: vec![r], planned: 0 })
            }
        }
    }
    for g in &mut out {
        g.runs.sort_by_key(|r| r.seed);
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn csv_num(v: Option<f64>) -> String {
    v.filter(|x| x.is_finite()).map(|x| format!("{x}")).unwrap_or_default()
}

/// Every metric name in the results, sorted.
fn metric_names(results: &[PointResult]) -> Vec<String> {
    let mut names: Vec<String> = results.iter().flat_map(|r| r.metrics.keys().cloned()).collect();
    names.sort();
    names.dedup();
    names
}

/// `results.csv`: one row per finished point.
pub fn results_csv(axes: &[String], results: &[PointResult]) -> String {
    let metrics = metric_names(results);
    let mut head: Vec<String> = ["id", "target", "seed", "status"].iter().map(|s| s.to_string()).collect();
    head.extend(axes.iter().cloned());
    head.extend(["wall_s", "claims_held", "claims_total"].iter().map(|s| s.to_string()));
    head.extend(metrics.iter().cloned());
    head.push("error".into());
    let mut s = head.iter().map(|h| csv_field(h)).collect::<Vec<_>>().join(",") + "\n";
    for r in results {
        let mut row = vec![
            r.id.clone(),
            csv_field(&r.target),
            r.seed.to_string(),
            if r.ok { "ok".into() } else { "failed".into() },
        ];
        row.extend(axes.iter().map(|a| csv_field(r.sets.get(a).map_or("", String::as_str))));
        row.push(format!("{:.3}", r.wall_s));
        row.push(r.claims.iter().filter(|c| c.holds).count().to_string());
        row.push(r.claims.len().to_string());
        row.extend(metrics.iter().map(|m| csv_num(r.metrics.get(m).copied().flatten())));
        row.push(csv_field(r.error.as_deref().unwrap_or("")));
        s.push_str(&row.join(","));
        s.push('\n');
    }
    s
}

/// `aggregate.csv`: one row per group.
pub fn aggregate_csv(axes: &[String], groups: &[Group], metrics: &[String]) -> String {
    let mut head: Vec<String> = vec!["target".into()];
    head.extend(axes.iter().cloned());
    head.extend(["runs".into(), "ok".into()]);
    for m in metrics {
        for s in ["mean", "sd", "ci95", "n"] {
            head.push(format!("{m}.{s}"));
        }
    }
    let mut s = head.iter().map(|h| csv_field(h)).collect::<Vec<_>>().join(",") + "\n";
    for g in groups {
        let mut row = vec![csv_field(&g.target)];
        row.extend(axes.iter().map(|a| csv_field(g.sets.get(a).map_or("", String::as_str))));
        row.push(g.runs.len().to_string());
        row.push(g.runs.iter().filter(|r| r.ok).count().to_string());
        for m in metrics {
            match g.stats(m) {
                Some(st) => row.extend([
                    csv_num(Some(st.mean)),
                    csv_num(Some(st.sd)),
                    csv_num(Some(st.ci95)),
                    st.n.to_string(),
                ]),
                None => row.extend([String::new(), String::new(), String::new(), "0".into()]),
            }
        }
        s.push_str(&row.join(","));
        s.push('\n');
    }
    s
}

fn fmt(v: f64) -> String {
    if v.is_finite() {
        odl_lab::g3(v)
    } else {
        "—".into()
    }
}

/// Metrics worth a figure: measured in at least two groups and not the same
/// everywhere (at most `cap`, in name order, bookkeeping such as wall time
/// last).
fn varying_metrics(groups: &[Group], metrics: &[String], cap: usize) -> Vec<String> {
    let mut out: Vec<String> = metrics
        .iter()
        .filter(|m| {
            let means: Vec<f64> = groups.iter().filter_map(|g| g.stats(m)).map(|s| s.mean).collect();
            means.len() >= 2
                && means.iter().any(|v| (v - means[0]).abs() > 1e-12 * means[0].abs().max(1e-300))
        })
        .cloned()
        .collect();
    out.sort_by_key(|m| (m.contains("wall") || m.contains("s_per_epoch") || m.contains("steps"), m.clone()));
    out.truncate(cap);
    out
}

/// The figures: each varying metric against each swept value.
pub fn figures(plan: &Plan, groups: &[Group], metrics: &[String]) -> Vec<(String, Figure, String)> {
    let mut figs = Vec::new();
    let shown = varying_metrics(groups, metrics, 12);
    for axis in &plan.axes {
        let values: Vec<String> = {
            let mut u: Vec<String> = Vec::new();
            for x in groups.iter().filter_map(|g| g.sets.get(axis)) {
                if !u.contains(x) {
                    u.push(x.clone());
                }
            }
            u
        };
        if values.len() < 2 {
            continue;
        }
        let numeric: Option<Vec<f64>> =
            values.iter().map(|v| v.parse::<f64>().ok().filter(|x| x.is_finite())).collect();
        // one series per combination of the other swept values
        let others = |g: &Group| -> String {
            let v: Vec<String> =
                g.sets.iter().filter(|(k, _)| *k != axis).map(|(k, v)| format!("{k}={v}")).collect();
            if v.is_empty() {
                "mean over seeds".into()
            } else {
                v.join(" ")
            }
        };
        let mut series_keys: Vec<String> = Vec::new();
        for g in groups {
            let k = others(g);
            if !series_keys.contains(&k) {
                series_keys.push(k);
            }
        }
        series_keys.truncate(8);
        for m in &shown {
            let title = format!("{m} against {axis}");
            let file = format!("{}--{}", slug(m), slug(axis));
            let cap = format!(
                "Mean over seeds of `{m}` at each `{axis}`, with its 95 % confidence interval (Student's t); {}.",
                if series_keys.len() > 1 { "one colour per combination of the other swept values" } else { "every other value fixed" }
            );
            match &numeric {
                Some(xs) => {
                    let mut order: Vec<usize> = (0..xs.len()).collect();
                    order.sort_by(|&a, &b| xs[a].total_cmp(&xs[b]));
                    let mut series = Vec::new();
                    for key in &series_keys {
                        let (mut x, mut y, mut lo, mut hi) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
                        for &i in &order {
                            let st = groups
                                .iter()
                                .find(|g| others(g) == *key && g.sets.get(axis) == Some(&values[i]))
                                .and_then(|g| g.stats(m));
                            if let Some(st) = st {
                                x.push(xs[i]);
                                y.push(st.mean);
                                let h = if st.ci95.is_finite() { st.ci95 } else { 0.0 };
                                lo.push(st.mean - h);
                                hi.push(st.mean + h);
                            }
                        }
                        if !x.is_empty() {
                            series.push(Series::line_points(key.clone(), x, y).with_band(lo, hi));
                        }
                    }
                    if series.is_empty() {
                        continue;
                    }
                    let pos = xs.iter().all(|v| *v > 0.0);
                    let (lo, hi) = xs.iter().fold((f64::INFINITY, 0f64), |(a, b), v| (a.min(*v), b.max(*v)));
                    let mut p = LinePlot::new(title, axis.clone(), m.clone()).with(series);
                    if pos && hi / lo >= 20.0 {
                        p = p.log_x();
                    }
                    figs.push((file, p.into(), cap));
                }
                None => {
                    let cats: Vec<&str> = values.iter().map(String::as_str).collect();
                    let mut chart = BarChart::new(title, axis.clone(), m.clone(), &cats);
                    for key in &series_keys {
                        let (mut v, mut lo, mut hi) = (Vec::new(), Vec::new(), Vec::new());
                        for val in &values {
                            let st = groups
                                .iter()
                                .find(|g| others(g) == *key && g.sets.get(axis) == Some(val))
                                .and_then(|g| g.stats(m));
                            let (mean, h) = st.map_or((f64::NAN, f64::NAN), |s| (s.mean, s.ci95));
                            v.push(mean);
                            lo.push(mean - h);
                            hi.push(mean + h);
                        }
                        chart.series.push(Bars::new(key.clone(), v).with_errors(lo, hi));
                    }
                    figs.push((file, chart.into(), cap + " Whiskers: the interval."));
                }
            }
        }
    }
    // claims: the hold rate of each, per group (lab experiments)
    let claim_groups: Vec<&Group> = groups.iter().filter(|g| !g.hold_rates().is_empty()).take(8).collect();
    let mut claim_ids: Vec<String> = Vec::new();
    for g in &claim_groups {
        for (id, ..) in g.hold_rates() {
            if !claim_ids.contains(&id) {
                claim_ids.push(id);
            }
        }
    }
    if !claim_ids.is_empty() && claim_ids.len() <= 40 {
        let cats: Vec<&str> = claim_ids.iter().map(String::as_str).collect();
        let several =
            claim_groups.iter().map(|g| &g.target).collect::<std::collections::BTreeSet<_>>().len() > 1;
        let mut chart = BarChart::new("How often each claim holds", "claim", "fraction of seeds", &cats)
            .reference("9 in 10 seeds", 0.9);
        for g in &claim_groups {
            let rates = g.hold_rates();
            let v = claim_ids
                .iter()
                .map(|id| rates.iter().find(|r| &r.0 == id).map_or(f64::NAN, |r| r.2 as f64 / r.3 as f64))
                .collect();
            chart.series.push(Bars::new(g.name(several), v));
        }
        figs.push((
            "claims-hold-rate".into(),
            chart.into(),
            "The fraction of seeds in which each claim holds; below the dashed line (9 in 10) a claim is not robust at this setting.".into(),
        ));
    }
    figs
}

fn slug(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect()
}

/// Writes `results.csv`, `aggregate.csv`, the figures and `index.html` for
/// the sweep in `dir`; returns the page's path.
pub fn write(dir: &Path) -> Result<PathBuf> {
    if !dir.is_dir() {
        bail!("{}: no such folder", dir.display());
    }
    let store = Store::at(dir);
    let plan = store.plan()?;
    let mut results = store.results()?;
    // in the plan's order (points no longer in the plan last)
    let rank = |id: &str| plan.points.iter().position(|p| p.id == id).unwrap_or(usize::MAX);
    results.sort_by_key(|r| rank(&r.id));
    let gs = groups(&plan, &results);
    let metrics = metric_names(&results);
    odl_train::files::write_atomic(&dir.join("results.csv"), &results_csv(&plan.axes, &results))?;
    odl_train::files::write_atomic(&dir.join("aggregate.csv"), &aggregate_csv(&plan.axes, &gs, &metrics))?;
    let figs = figures(&plan, &gs, &metrics);
    let fig_dir = dir.join("figures");
    std::fs::create_dir_all(&fig_dir).with_context(|| format!("creating {}", fig_dir.display()))?;
    let named: Vec<(String, Figure)> = figs.iter().map(|(n, f, _)| (n.clone(), f.clone())).collect();
    odl_train::files::save_figures(&fig_dir, &named)?;

    let pending = plan.points.iter().filter(|p| store.status(&p.id) == Status::Pending).count();
    let ok = results.iter().filter(|r| r.ok).count();
    let failed = results.len() - ok;
    let several = gs.iter().map(|g| &g.target).collect::<std::collections::BTreeSet<_>>().len() > 1;
    let mut versions: Vec<&str> = results.iter().map(|r| r.code_version.as_str()).collect();
    versions.sort();
    versions.dedup();
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>odl sweep: {}</title><style>{}</style></head><body><h1>odl sweep</h1><p><b>{}</b>{}</p>\
         <p>{} points planned: <span class=\"ok\">{ok} done</span>, <span class=\"{}\">{failed} failed</span>, {pending} not run yet. \
         Values swept: {}. Files: <code>results.csv</code> (one row per run), <code>aggregate.csv</code> (one row per group of seeds), <code>points/ID/</code>.</p>",
        esc(&plan.name),
        odl_lab::report::CSS,
        esc(&plan.name),
        plan.description.as_deref().map(|d| format!(" — {}", odl_lab::report::prose(d))).unwrap_or_default(),
        plan.points.len(),
        if failed > 0 { "bad" } else { "ok" },
        if plan.axes.is_empty() { "seeds only".into() } else { plan.axes.iter().map(|a| format!("<code>{}</code>", esc(a))).collect::<Vec<_>>().join(", ") },
    );
    if versions.len() > 1 {
        let _ = write!(
            h,
            "<div class=\"note\">These results come from {} versions of odl ({}): compare with care, or rerun with a fresh --out.</div>",
            versions.len(),
            esc(&versions.join(", "))
        );
    }
    // groups
    h.push_str("<h2>Groups</h2><table><tr><th>values</th><th>runs</th><th>seeds</th><th>claims</th></tr>");
    for g in &gs {
        let okn = g.runs.iter().filter(|r| r.ok).count();
        let seeds: Vec<String> = g.runs.iter().map(|r| r.seed.to_string()).collect();
        let rates = g.hold_rates();
        let robust = rates.iter().filter(|r| r.2 * 10 >= r.3 * 9).count();
        let claims = if rates.is_empty() {
            "—".into()
        } else {
            format!("{robust}/{} hold in ≥ 9 of 10 seeds", rates.len())
        };
        let fails = g.runs.len() - okn;
        let _ = write!(
            h,
            "<tr><td><code>{}</code></td><td>{okn} ok{}{}</td><td>{}</td><td>{claims}</td></tr>",
            esc(&g.name(several)),
            if fails > 0 { format!(", <span class=\"bad\">{fails} failed</span>") } else { String::new() },
            if g.planned > g.runs.len() {
                format!(", {} not run", g.planned - g.runs.len())
            } else {
                String::new()
            },
            esc(&seeds.join(" "))
        );
    }
    h.push_str("</table>");
    // claims
    if gs.iter().any(|g| !g.hold_rates().is_empty()) {
        h.push_str("<h2>Claims: how often each holds</h2><p>Over the seeds of each group. A claim that holds in fewer than 9 of 10 seeds is marked: the setting is not robust, or the paper's claim needs a condition.</p><table><tr><th>group</th><th>claim</th><th>holds in</th></tr>");
        for g in &gs {
            for (id, statement, held, n, timing) in g.hold_rates() {
                let cls = if held * 10 >= n * 9 { "ok" } else { "bad" };
                let _ = write!(
                    h,
                    "<tr><td><code>{}</code></td><td><code>{}</code> {}{}</td><td class=\"{cls}\">{held}/{n} seeds</td></tr>",
                    esc(&g.name(several)),
                    esc(&id),
                    odl_lab::report::prose(&statement),
                    if timing { " <span class=\"timing\">(timing)</span>" } else { "" }
                );
            }
        }
        h.push_str("</table>");
    }
    // figures
    if !figs.is_empty() {
        h.push_str("<h2>Figures</h2><div class=\"figs\">");
        for (_, fig, caption) in &figs {
            let _ = write!(
                h,
                "<figure>{}<figcaption>{}</figcaption></figure>",
                fig.to_svg(),
                odl_lab::report::prose(caption)
            );
        }
        h.push_str("</div>");
    }
    // statistics
    h.push_str("<h2>Statistics over seeds</h2><p>Mean ± 95 % confidence half-width (Student's t), standard deviation, and the number of seeds with a finite value.</p>");
    let shown: Vec<&String> = metrics.iter().take(60).collect();
    for g in &gs {
        let _ = write!(h, "<details><summary><code>{}</code></summary><table><tr><th>metric</th><th>mean ± 95 %</th><th>sd</th><th>n</th></tr>", esc(&g.name(several)));
        for m in &shown {
            if let Some(st) = g.stats(m) {
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td>{} ± {}</td><td>{}</td><td>{}</td></tr>",
                    esc(m),
                    fmt(st.mean),
                    fmt(st.ci95),
                    fmt(st.sd),
                    st.n
                );
            }
        }
        h.push_str("</table></details>");
    }
    if metrics.len() > shown.len() {
        let _ =
            write!(h, "<p>{} more metrics in <code>aggregate.csv</code>.</p>", metrics.len() - shown.len());
    }
    // failures
    let failures: Vec<&PointResult> = results.iter().filter(|r| !r.ok).collect();
    if !failures.is_empty() {
        h.push_str("<h2>Failed points</h2><p>Rerun them with <code>odl sweep SWEEP.toml --out DIR --resume --retry-failed</code>.</p><table><tr><th>point</th><th>values</th><th>seed</th><th>error</th></tr>");
        for r in failures {
            let vals: Vec<String> = r.sets.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let _ = write!(
                h,
                "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td class=\"err\">{}</td></tr>",
                esc(&r.id),
                esc(&vals.join(" ")),
                r.seed,
                esc(r.error.as_deref().unwrap_or(""))
            );
        }
        h.push_str("</table>");
    }
    h.push_str("<p class=\"src\">Generated by <code>odl sweep report DIR</code>.</p></body></html>");
    let page = dir.join("index.html");
    odl_train::files::write_atomic(&page, &h)?;
    Ok(page)
}

/// Every figure of the report in `dir` checked against its data.
pub fn check_figures(dir: &Path) -> Result<(usize, Vec<(String, String)>)> {
    let mut problems = Vec::new();
    let mut n = 0;
    let fig_dir = dir.join("figures");
    for e in std::fs::read_dir(&fig_dir).with_context(|| format!("reading {}", fig_dir.display()))?.flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".fig.json") else { continue };
        n += 1;
        let fig: Figure = serde_json::from_str(&std::fs::read_to_string(e.path())?)
            .with_context(|| format!("{}: not a figure", e.path().display()))?;
        let svg = std::fs::read_to_string(fig_dir.join(format!("{stem}.svg")))?;
        for p in odl_plot::check::check(&fig, &svg) {
            problems.push((format!("figures/{stem}.svg"), p));
        }
    }
    Ok((n, problems))
}
