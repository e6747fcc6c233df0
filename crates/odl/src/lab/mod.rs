//! The lab: one experiment per lecture, each stating what a paper claims,
//! measuring it, drawing it, and checking the measurement against the claim.
//!
//! * `odl list` — the experiments;
//! * `odl run ID [--set k=v]… [--scale quick|full] [--seed N] [--out DIR]` —
//!   one experiment into `DIR/ID/`: `summary.json`, data (CSV/JSON), figures (SVG);
//! * `odl lab [--only …] [--scale …] [--jobs N] [--out DIR] [--strict]` —
//!   all of them in parallel, then `DIR/index.html` and a table of claims;
//! * `odl report DIR` — rebuilds the page from results on disk.
//!
//! A new experiment is one file in `experiments/` and one line in
//! [`experiments::ALL`].

pub mod data;
pub mod experiments;
pub mod fit;
pub mod params;
pub mod report;
pub mod trainer;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use odl_plot::Figure;
use serde_json::{json, Map, Value as Json};

use crate::output::{save_figures, write_json};
pub use params::{Param, Params};

/// How much compute a run may use.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// seconds per experiment: what the tests run
    Tiny,
    /// the whole lab in about 10 minutes on 2 cores
    Quick,
    /// closer to the papers' sizes (see the README for times)
    Full,
}

impl Scale {
    /// `tiny`, `quick` or `full`.
    pub fn name(self) -> &'static str {
        match self {
            Scale::Tiny => "tiny",
            Scale::Quick => "quick",
            Scale::Full => "full",
        }
    }
    /// Picks the value for this scale.
    pub fn pick<T>(self, tiny: T, quick: T, full: T) -> T {
        match self {
            Scale::Tiny => tiny,
            Scale::Quick => quick,
            Scale::Full => full,
        }
    }
}

/// One check of theory against measurement.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Claim {
    /// short id, unique within the experiment
    pub id: String,
    /// what the paper says
    pub statement: String,
    /// the prediction in numbers
    pub prediction: String,
    /// what was measured
    pub measured: String,
    /// whether the measurement bears the claim out
    pub holds: bool,
}

impl Claim {
    /// A claim; `holds` must be computed from the measurement.
    pub fn new(
        id: &str,
        statement: &str,
        prediction: impl Into<String>,
        measured: impl Into<String>,
        holds: bool,
    ) -> Claim {
        Claim {
            id: id.into(),
            statement: statement.into(),
            prediction: prediction.into(),
            measured: measured.into(),
            holds,
        }
    }
}

/// What an experiment hands back.
#[derive(Default)]
pub struct Outcome {
    /// named numbers or lists (the interface: documented per experiment)
    pub metrics: Map<String, Json>,
    /// the checks
    pub claims: Vec<Claim>,
    /// figures, by file stem
    pub figures: Vec<(String, Figure)>,
    /// remarks for the reader (a substituted data set, a censored run)
    pub notes: Vec<String>,
}

impl Outcome {
    /// Records a metric.
    pub fn metric(&mut self, name: &str, v: Json) {
        self.metrics.insert(name.to_string(), v);
    }
    /// Adds a figure.
    pub fn figure(&mut self, name: &str, f: Figure) {
        self.figures.push((name.to_string(), f));
    }
}

/// What a running experiment can use: its parameters, its folder, and a
/// progress display.
pub struct Run<'a> {
    /// the resolved parameters
    pub params: &'a Params,
    /// the experiment's output folder (data files go here)
    pub dir: &'a Path,
    /// the scale it runs at
    pub scale: Scale,
    progress: &'a (dyn Fn(f64, &str) + Sync),
}

impl Run<'_> {
    /// Reports progress in `[0, 1]` with a short message.
    pub fn progress(&self, frac: f64, msg: &str) {
        (self.progress)(frac.clamp(0.0, 1.0), msg);
    }
    /// The seed of every random draw.
    pub fn seed(&self) -> u64 {
        self.params.int("seed") as u64
    }
    /// Writes a CSV data file `name` (header, then rows).
    pub fn csv(&self, name: &str, header: &[&str], rows: &[Vec<String>]) -> Result<()> {
        let mut s = header.join(",");
        s.push('\n');
        for r in rows {
            s.push_str(&r.join(","));
            s.push('\n');
        }
        std::fs::write(self.dir.join(name), s).with_context(|| format!("writing {name}"))
    }
}

/// An experiment of the lab.
pub struct Experiment {
    /// its id (`odl run ID`)
    pub id: &'static str,
    /// the lecture(s), e.g. `L5`
    pub lecture: &'static str,
    /// its title
    pub title: &'static str,
    /// the paper(s) it reproduces
    pub source: &'static str,
    /// what it sets up and measures, for the report
    pub setup: &'static str,
    /// parameters with their defaults at a scale (`seed` is added by the runner)
    pub params: fn(Scale) -> Vec<Param>,
    /// the experiment
    pub run: fn(&Run) -> Result<Outcome>,
}

/// The experiment called `id`, or an error listing the ids.
pub fn find(id: &str) -> Result<&'static Experiment> {
    experiments::ALL.iter().find(|e| e.id == id).copied().with_context(|| {
        format!(
            "unknown experiment '{id}'; the experiments are: {}",
            experiments::ALL.iter().map(|e| e.id).collect::<Vec<_>>().join(", ")
        )
    })
}

/// Resolved parameters: the defaults at `scale`, the seed, then `--set`.
pub fn resolve(e: &Experiment, scale: Scale, seed: u64, sets: &[String]) -> Result<Params> {
    let mut ps = (e.params)(scale);
    ps.push(params::int("seed", seed as i64, 0, i64::MAX, "seed of every random draw"));
    let mut p = Params(ps);
    p.apply(e.id, sets)?;
    Ok(p)
}

/// `odl list`.
pub fn list() {
    println!("{:<22} {:<8} title", "id", "lecture");
    for e in experiments::ALL {
        println!("{:<22} {:<8} {}", e.id, e.lecture, e.title);
    }
}

/// Runs one experiment into `out/ID/` and returns its summary. The folder is
/// written under a temporary name and renamed at the end, so a failed or
/// interrupted run never replaces earlier results.
pub fn run_one(
    e: &Experiment,
    params: Params,
    scale: Scale,
    out: &Path,
    progress: &(dyn Fn(f64, &str) + Sync),
) -> Result<Json> {
    let t0 = Instant::now();
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let tmp = out.join(format!(".{}.partial", e.id));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let run = Run { params: &params, dir: &tmp, scale, progress };
    let outcome = (e.run)(&run).with_context(|| format!("experiment {}", e.id))?;
    save_figures(&tmp, &outcome.figures)?;
    let summary = json!({
        "id": e.id,
        "lecture": e.lecture,
        "title": e.title,
        "source": e.source,
        "setup": e.setup,
        "scale": scale.name(),
        "params": params.to_json(),
        "metrics": Json::Object(outcome.metrics),
        "claims": outcome.claims,
        "notes": outcome.notes,
        "figures": outcome.figures.iter().map(|(n, f)| json!({"file": format!("{n}.svg"), "title": f.title()})).collect::<Vec<_>>(),
        "wall_s": t0.elapsed().as_secs_f64(),
    });
    write_json(&tmp.join("summary.json"), &summary)?;
    let dest = out.join(e.id);
    let _ = std::fs::remove_dir_all(&dest);
    std::fs::rename(&tmp, &dest).with_context(|| format!("moving results to {}", dest.display()))?;
    Ok(summary)
}

/// Prints the claims of summaries as a table.
pub fn print_claims(summaries: &[Json]) {
    for s in summaries {
        let claims = s["claims"].as_array().cloned().unwrap_or_default();
        if let Some(err) = s["error"].as_str() {
            println!("✗ {:<22} error: {err}", s["id"].as_str().unwrap_or("?"));
        }
        for c in claims {
            let mark = if c["holds"].as_bool() == Some(true) { "✓" } else { "✗" };
            println!(
                "{mark} {:<22} {:<28} predicted {} · measured {}",
                s["id"].as_str().unwrap_or("?"),
                c["id"].as_str().unwrap_or("?"),
                c["prediction"].as_str().unwrap_or(""),
                c["measured"].as_str().unwrap_or("")
            );
        }
    }
}

/// Arguments of `odl lab`.
#[derive(clap::Args, Debug)]
pub struct LabArgs {
    /// only these experiments (comma-separated ids)
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// compute budget
    #[arg(long, value_enum, default_value = "quick")]
    pub scale: Scale,
    /// experiments run at once (default: the number of cores)
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub jobs: Option<u64>,
    /// output folder
    #[arg(long, default_value = "lab-report")]
    pub out: PathBuf,
    /// seed of every experiment
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// exit with status 1 if any claim does not hold
    #[arg(long)]
    pub strict: bool,
}

/// `odl lab`: runs the experiments in parallel with a progress display,
/// writes the report, prints the claims. Returns whether every experiment
/// ran and (under `--strict`) every claim held.
pub fn lab(args: &LabArgs) -> Result<bool> {
    let chosen: Vec<&Experiment> = if args.only.is_empty() {
        experiments::ALL.to_vec()
    } else {
        args.only.iter().map(|id| find(id.trim())).collect::<Result<_>>()?
    };
    let jobs = args
        .jobs
        .map(|j| j as usize)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let resolved: Vec<(&Experiment, Params)> =
        chosen.iter().map(|e| Ok((*e, resolve(e, args.scale, args.seed, &[])?))).collect::<Result<_>>()?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let t0 = Instant::now();
    let tty = std::io::stderr().is_terminal();
    let multi = indicatif::MultiProgress::new();
    if !tty {
        multi.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let overall = multi.add(indicatif::ProgressBar::new(resolved.len() as u64));
    overall.set_style(
        indicatif::ProgressStyle::with_template("lab {bar:30} {pos}/{len} experiments [{elapsed}]")
            .expect("template"),
    );
    eprintln!(
        "odl lab: {} experiments at scale {}, {jobs} at a time → {}",
        resolved.len(),
        args.scale.name(),
        args.out.display()
    );
    // popped from the back: reversed so experiments start in lecture order
    let queue = Mutex::new(resolved.into_iter().enumerate().rev().collect::<Vec<_>>());
    let results: Mutex<Vec<(usize, Json)>> = Mutex::new(Vec::new());
    std::thread::scope(|sc| {
        for _ in 0..jobs {
            sc.spawn(|| loop {
                let Some((i, (e, p))) = queue.lock().unwrap().pop() else { break };
                let bar = multi.insert_before(&overall, indicatif::ProgressBar::new(1000));
                bar.set_style(
                    indicatif::ProgressStyle::with_template("  {prefix:<22} {bar:20} {msg}").expect("template"),
                );
                bar.set_prefix(e.id);
                let progress = |f: f64, m: &str| {
                    bar.set_position((f * 1000.0) as u64);
                    bar.set_message(m.to_string());
                };
                let t = Instant::now();
                let s = match run_one(e, p, args.scale, &args.out, &progress) {
                    Ok(s) => s,
                    Err(err) => json!({"id": e.id, "lecture": e.lecture, "title": e.title, "error": format!("{err:#}"), "claims": []}),
                };
                bar.finish_and_clear();
                overall.inc(1);
                let n_ok = s["claims"].as_array().map_or(0, |c| c.iter().filter(|c| c["holds"] == true).count());
                let n = s["claims"].as_array().map_or(0, Vec::len);
                let line = match s["error"].as_str() {
                    Some(err) => format!("✗ {:<22} failed: {err}", e.id),
                    None => format!("  {:<22} {n_ok}/{n} claims hold  ({:.1} s)", e.id, t.elapsed().as_secs_f64()),
                };
                let _ = multi.println(&line);
                if !tty {
                    eprintln!("{line}");
                }
                results.lock().unwrap().push((i, s));
            });
        }
    });
    overall.finish_and_clear();
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|r| r.0);
    let summaries: Vec<Json> = results.into_iter().map(|r| r.1).collect();
    // failures are written next to the results so the report shows them
    for s in summaries.iter().filter(|s| s.get("error").is_some()) {
        let d = args.out.join(s["id"].as_str().unwrap_or("unknown"));
        let _ = std::fs::create_dir_all(&d);
        write_json(&d.join("error.json"), s)?;
    }
    let page = report::write(&args.out)?;
    println!();
    print_claims(&summaries);
    let claims: Vec<&Json> =
        summaries.iter().flat_map(|s| s["claims"].as_array().into_iter().flatten()).collect();
    let held = claims.iter().filter(|c| c["holds"] == true).count();
    let errors = summaries.iter().filter(|s| s.get("error").is_some()).count();
    println!(
        "\n{held}/{} claims hold; {errors} experiment(s) failed; {:.0} s. Report: {}",
        claims.len(),
        t0.elapsed().as_secs_f64(),
        page.display()
    );
    Ok(errors == 0 && (!args.strict || held == claims.len()))
}

/// `odl run`.
pub fn run_cmd(id: &str, sets: &[String], scale: Scale, seed: u64, out: &Path) -> Result<()> {
    let e = find(id)?;
    let p = resolve(e, scale, seed, sets)?;
    let tty = std::io::stderr().is_terminal();
    let bar = indicatif::ProgressBar::new(1000);
    if tty {
        bar.set_style(
            indicatif::ProgressStyle::with_template("{prefix} {bar:30} {msg} [{elapsed}]").expect("template"),
        );
        bar.set_prefix(e.id);
    } else {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let progress = |f: f64, m: &str| {
        bar.set_position((f * 1000.0) as u64);
        bar.set_message(m.to_string());
    };
    let s = run_one(e, p, scale, out, &progress)?;
    bar.finish_and_clear();
    print_claims(std::slice::from_ref(&s));
    eprintln!("results: {}", out.join(e.id).display());
    Ok(())
}

/// Checks that `dir` holds lab results (for `odl report`).
pub fn report_cmd(dir: &Path) -> Result<()> {
    if !dir.is_dir() {
        bail!("{}: no such folder", dir.display());
    }
    let page = report::write(dir)?;
    println!("{}", page.display());
    Ok(())
}
