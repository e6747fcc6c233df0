//! The lab report: one self-contained HTML page (inline SVG, inline CSS, no
//! scripts, no network) built from the result folders on disk — an overview
//! table, then per lecture the claim and its source, the setup, the figures,
//! predicted vs measured, ✓/✗.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use odl_plot::xml_escape as esc;

use crate::claim::{g3, Claim};
use crate::experiment::Scale;
use crate::experiments;
use crate::params::Value;
use crate::summary::{Metric, Summary};

/// The report pages' style sheet (the sweep report uses it too).
pub const CSS: &str = "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}\
h1{margin-bottom:.2em}h2{margin-top:2.2em;border-bottom:2px solid #ddd;padding-bottom:.2em}\
table{border-collapse:collapse;margin:.8em 0}td,th{border:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top;font-size:.93em}\
th{background:#f4f4f4}.ok{color:#1a7f37;font-weight:bold}.bad{color:#c62828;font-weight:bold}\
.figs{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0;border:1px solid #eee;flex:1 1 480px;max-width:660px}figure svg{width:100%;height:auto;display:block}figcaption{font-size:.85em;color:#555;padding:.2em .5em}\
.src{color:#555;font-style:italic}.note{background:#fff8e1;border-left:4px solid #f9a825;padding:.4em .8em;margin:.5em 0}\
.err{background:#ffebee;border-left:4px solid #c62828;padding:.4em .8em}code{background:#f4f4f4;padding:0 .2em}\
.data,.params{color:#333;font-size:.93em}.params span{white-space:nowrap}.timing{color:#777;font-size:.85em}";

/// Reads every `*/summary.json` (or, for an experiment that failed,
/// `*/error.json`) under `dir`, in the registry's order.
pub fn load(dir: &Path) -> Result<Vec<Summary>> {
    let mut found: Vec<Summary> = Vec::new();
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for e in entries.flatten() {
        let p = e.path();
        if !p.is_dir() || p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
            continue;
        }
        for f in ["summary.json", "error.json"] {
            let file = p.join(f);
            if file.exists() {
                let s = Summary::load(&file)?;
                odl_train::files::verify(&p, &s.files)
                    .with_context(|| format!("{}: rerun `odl run {}` to rebuild it", file.display(), s.id))?;
                found.push(s);
                break;
            }
        }
    }
    let rank = |id: &str| experiments::ALL.iter().position(|e| e.id == id).unwrap_or(usize::MAX);
    found.sort_by(|a, b| rank(&a.id).cmp(&rank(&b.id)).then(a.id.cmp(&b.id)));
    Ok(found)
}

fn fmt_num(f: f64) -> String {
    odl_plot::axis::fmt_num(f)
}

/// Text written for the report (a setup, a note, a caption) as HTML:
/// escaped, with `code` spans and **bold** rendered.
pub fn prose(s: &str) -> String {
    let mut out = String::new();
    for (i, part) in esc(s).split('`').enumerate() {
        if i % 2 == 1 {
            out.push_str("<code>");
            out.push_str(part);
            out.push_str("</code>");
        } else {
            for (j, p) in part.split("**").enumerate() {
                if j % 2 == 1 {
                    out.push_str("<b>");
                    out.push_str(p);
                    out.push_str("</b>");
                } else {
                    out.push_str(p);
                }
            }
        }
    }
    out
}

fn fmt_metric(v: &Metric) -> String {
    match v {
        Metric::Num(f) => fmt_num(*f),
        Metric::Int(i) => i.to_string(),
        Metric::Bool(b) => if *b { "yes" } else { "no" }.into(),
        Metric::Text(t) => t.clone(),
        Metric::List(a) if a.len() > 12 => format!("[{} values]", a.len()),
        Metric::List(a) => format!("[{}]", a.iter().map(fmt_metric).collect::<Vec<_>>().join(", ")),
        Metric::Map(m) => {
            m.iter().map(|(k, v)| format!("{k}: {}", fmt_metric(v))).collect::<Vec<_>>().join("; ")
        }
    }
}

fn fmt_param(v: &Value) -> String {
    let list = |v: Vec<String>| v.join(", ");
    match v {
        Value::Int(i) => i.to_string(),
        Value::Float(f) => g3(*f),
        Value::Ints(v) => list(v.iter().map(i64::to_string).collect()),
        Value::Floats(v) => list(v.iter().map(|f| g3(*f)).collect()),
        Value::Str(s) => s.clone(),
        Value::Strs(v) => list(v.clone()),
    }
}

/// Writes `dir/index.html` from the results in `dir`; returns its path.
pub fn write(dir: &Path) -> Result<PathBuf> {
    let results = load(dir)?;
    if results.is_empty() {
        bail!(
            "{}: no experiment results (no */summary.json); run `odl lab` or `odl run ID` first",
            dir.display()
        );
    }
    let rates = crate::summary::HoldRates::load(dir)?;
    let mut h = String::new();
    let all: Vec<&Claim> = results.iter().flat_map(|r| &r.claims).collect();
    let held = all.iter().filter(|c| c.holds).count();
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>odl lab report</title><style>{CSS}</style></head><body>\
         <h1>odl lab report</h1><p>Optimization theory for deep learning, as experiments: each states a paper's claim, \
         measures it and checks the measurement. <b>{held} of {} claims hold</b> across {} experiments.</p>",
        all.len(),
        results.len()
    );
    if let Some(r) = &rates {
        let robust = r.claims.iter().filter(|c| c.held * 10 >= c.runs * 9).count();
        let _ = write!(
            h,
            "<p><b>Over {} seeds</b> ({}): {robust} of {} claims hold in at least 9 of 10 seeds. The figures below are from seed {}; each claim shows its hold rate.</p>",
            r.seeds.len(),
            r.seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(", "),
            r.claims.len(),
            r.seeds.first().copied().unwrap_or(0)
        );
    }
    let seeds_head = if rates.is_some() { "<th>over seeds (worst claim)</th>" } else { "" };
    let _ = write!(
        h,
        "<h2>Overview</h2><table><tr><th>lecture</th><th>experiment</th><th>claims</th>{seeds_head}<th>scale</th><th>time</th></tr>"
    );
    for r in &results {
        let id = &r.id;
        let marks: String = if r.error.is_some() {
            "<span class=\"bad\">error</span>".into()
        } else {
            r.claims
                .iter()
                .map(|c| {
                    let (cls, m) = if c.holds { ("ok", "✓") } else { ("bad", "✗") };
                    format!("<span class=\"{cls}\" title=\"{}\">{m}</span>", esc(&c.id))
                })
                .collect::<Vec<_>>()
                .join(" ")
                + &format!(" {}/{}", r.held(), r.claims.len())
        };
        let seeds_cell = match &rates {
            None => String::new(),
            Some(t) => {
                let worst = r
                    .claims
                    .iter()
                    .filter_map(|c| t.get(id, &c.id))
                    .min_by(|a, b| (a.held * b.runs).cmp(&(b.held * a.runs)));
                match worst {
                    Some(w) => format!(
                        "<td class=\"{}\">{}/{} seeds</td>",
                        if w.held * 10 >= w.runs * 9 { "ok" } else { "bad" },
                        w.held,
                        w.runs
                    ),
                    None => "<td>—</td>".into(),
                }
            }
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td><a href=\"#{id}\">{}</a> <code>{id}</code></td><td>{marks}</td>{seeds_cell}<td>{}</td><td>{}</td></tr>",
            esc(&r.lecture),
            esc(&r.title),
            r.scale.map_or("", Scale::name),
            if r.error.is_some() { "—".into() } else { format!("{:.1} s", r.wall_s) }
        );
    }
    h.push_str("</table>");
    for r in &results {
        section(&mut h, dir, r, rates.as_ref())?;
    }
    h.push_str("<p class=\"src\">Generated by <code>odl report</code>; rebuild with <code>odl report DIR</code>.</p></body></html>");
    let page = dir.join("index.html");
    odl_train::files::write_atomic(&page, &h)?;
    Ok(page)
}

/// Every figure of the results in `dir` checked against its data
/// ([`odl_plot::check`]): `(figure file, problem)` for each problem found.
pub fn check_figures(dir: &Path) -> Result<(usize, Vec<(String, String)>)> {
    let mut problems = Vec::new();
    let mut n = 0;
    for r in load(dir)? {
        for f in &r.figures {
            n += 1;
            let svg_path = dir.join(&r.id).join(&f.file);
            let json_path = dir.join(&r.id).join(f.file.replace(".svg", ".fig.json"));
            let svg = std::fs::read_to_string(&svg_path)
                .with_context(|| format!("reading {}", svg_path.display()))?;
            let json = std::fs::read_to_string(&json_path)
                .with_context(|| format!("reading {}", json_path.display()))?;
            let fig: odl_plot::Figure = serde_json::from_str(&json)
                .with_context(|| format!("{}: not a figure", json_path.display()))?;
            for p in odl_plot::check::check(&fig, &svg) {
                problems.push((format!("{}/{}", r.id, f.file), p));
            }
        }
    }
    Ok((n, problems))
}

fn section(h: &mut String, dir: &Path, r: &Summary, rates: Option<&crate::summary::HoldRates>) -> Result<()> {
    let id = &r.id;
    let _ = write!(
        h,
        "<h2 id=\"{id}\">{} · {}</h2><p class=\"src\">{}</p>",
        esc(&r.lecture),
        esc(&r.title),
        esc(&r.source)
    );
    if let Some(e) = &r.error {
        let _ = write!(h, "<div class=\"err\">This experiment failed: {}</div>", esc(e));
        return Ok(());
    }
    let _ = write!(h, "<p>{}</p>", prose(&r.setup));
    let data = r.data.as_deref().unwrap_or("generated by the experiment (no data set)");
    let _ = write!(h, "<p class=\"data\"><b>Data:</b> {}</p>", esc(data));
    if !r.params.is_empty() {
        h.push_str("<p class=\"params\"><b>Parameters:</b> ");
        let items: Vec<String> = r
            .params
            .iter()
            .map(|(k, v)| format!("<span><code>{}</code> = {}</span>", esc(k), esc(&fmt_param(v))))
            .collect();
        h.push_str(&items.join(" · "));
        h.push_str("</p>");
    }
    for n in &r.notes {
        let _ = write!(h, "<div class=\"note\">{}</div>", prose(n));
    }
    let over_seeds = if rates.is_some() { "<th>over seeds</th>" } else { "" };
    let _ =
        write!(h, "<table><tr><th></th><th>claim</th><th>predicted</th><th>measured</th>{over_seeds}</tr>");
    for c in &r.claims {
        let rate = match rates.and_then(|t| t.get(id, &c.id)) {
            Some(hr) => {
                let cls = if hr.held * 10 >= hr.runs * 9 { "ok" } else { "bad" };
                let which = if hr.failed_seeds.is_empty() {
                    String::new()
                } else {
                    format!(
                        " (not at seed {})",
                        hr.failed_seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
                    )
                };
                format!("<td class=\"{cls}\">holds in {}/{} seeds{which}</td>", hr.held, hr.runs)
            }
            None if rates.is_some() => "<td>—</td>".into(),
            None => String::new(),
        };
        let (cls, m) = match (c.holds, c.timing) {
            (true, _) => ("ok", "✓"),
            (false, false) => ("bad", "✗"),
            (false, true) => ("bad", "✗ (timing)"),
        };
        let timing = if c.timing {
            " <span class=\"timing\">(decided by wall-clock times: depends on the machine's load)</span>"
        } else {
            ""
        };
        let _ = write!(
            h,
            "<tr><td class=\"{cls}\">{m}</td><td>{}{timing}</td><td>{}</td><td>{}</td>{rate}</tr>",
            prose(&c.statement),
            esc(&c.prediction),
            esc(&c.measured)
        );
    }
    h.push_str("</table><div class=\"figs\">");
    for f in &r.figures {
        let path = dir.join(id).join(&f.file);
        let svg = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let caption = if f.caption.is_empty() {
            String::new()
        } else {
            format!("<figcaption>{}</figcaption>", prose(&f.caption))
        };
        let _ = write!(h, "<figure>{svg}{caption}</figure>");
    }
    h.push_str("</div><details><summary>all measured values</summary><table>");
    for (k, v) in &r.metrics {
        let _ = write!(h, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(&fmt_metric(v)));
    }
    let _ = write!(
        h,
        "</table><p>Data: <code>{id}/</code> (summary.json, CSV, figures as SVG and JSON). Reproduce: <code>odl run {id} --scale {}</code>.</p></details>",
        r.scale.map_or("quick", Scale::name)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::prose;

    #[test]
    fn prose_renders_code_spans_and_bold_and_escapes_the_rest() {
        assert_eq!(prose("depth `L` of **all** <nets>"), "depth <code>L</code> of <b>all</b> &lt;nets&gt;");
        assert_eq!(prose("M* = U*U*ᵀ"), "M* = U*U*ᵀ");
    }
}
