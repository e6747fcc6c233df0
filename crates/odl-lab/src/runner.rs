//! Running experiments: parameters resolved ([`resolve`]), one experiment
//! into its folder ([`run_one`], atomic, a panic caught and recorded), the
//! whole lab in parallel with progress bars ([`lab`]), and the claims as a
//! table.

use std::cell::Cell;
use std::io::IsTerminal;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use odl_train::files::save_figures;

use crate::experiment::{Experiment, Outcome, Run, Scale};
use crate::experiments;
use crate::params::{self, Params};
use crate::report;
use crate::summary::{FigureRef, Summary, CODE_VERSION};

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

/// `odl list`: id, lecture, title.
pub fn list() -> String {
    let mut s = format!("{:<24} {:<9} title\n", "id", "lecture");
    for e in experiments::ALL {
        s.push_str(&format!("{:<24} {:<9} {}\n", e.id, e.lecture, e.title));
    }
    s
}

thread_local! {
    /// Set on a thread while it runs an experiment: a panic there is
    /// recorded by the runner (as a failed experiment with its message)
    /// instead of printed. Other threads print panics as usual.
    static IN_EXPERIMENT: Cell<bool> = const { Cell::new(false) };
}

fn quiet_panics_in_experiments() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_EXPERIMENT.with(Cell::get) {
                previous(info);
            }
        }));
    });
}

/// The message of a caught panic (its `&str` or `String` payload).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// Runs the experiment, turning a panic into an error.
fn run_caught(e: &Experiment, run: &Run) -> Result<Outcome> {
    quiet_panics_in_experiments();
    let was = IN_EXPERIMENT.with(|f| f.replace(true));
    let r = catch_unwind(AssertUnwindSafe(|| (e.run)(run)));
    IN_EXPERIMENT.with(|f| f.set(was));
    match r {
        Ok(outcome) => outcome,
        Err(payload) => {
            Err(anyhow!("the experiment stopped on an internal error: {}", panic_message(&*payload)))
        }
    }
}

/// Runs one experiment into `out/ID/` and returns its summary. The folder is
/// written under a temporary name and renamed at the end, so a failed or
/// interrupted run never replaces earlier results. A panic inside the
/// experiment is an error like any other.
pub fn run_one(
    e: &Experiment,
    params: Params,
    scale: Scale,
    out: &Path,
    progress: &(dyn Fn(f64, &str) + Sync),
) -> Result<Summary> {
    let t0 = Instant::now();
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let tmp = out.join(format!(".{}.partial", e.id));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let run = Run { params: &params, dir: &tmp, scale, progress };
    let outcome = run_caught(e, &run);
    let mut outcome = match outcome {
        Ok(o) => o,
        Err(err) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(err.context(format!("experiment {}", e.id)));
        }
    };
    // one colour per series across the experiment's figures
    let mut figures: Vec<odl_plot::Figure> = outcome.figures.iter().map(|f| f.figure.clone()).collect();
    odl_plot::assign_colors(&mut figures);
    let named: Vec<(String, odl_plot::Figure)> =
        outcome.figures.iter().map(|f| f.name.clone()).zip(figures).collect();
    save_figures(&tmp, &named)?;
    for (f, (_, fig)) in outcome.figures.iter_mut().zip(named) {
        f.figure = fig;
    }
    let summary = Summary {
        id: e.id.into(),
        lecture: e.lecture.into(),
        title: e.title.into(),
        source: e.source.into(),
        setup: e.setup.into(),
        scale: Some(scale),
        params: params.to_map(),
        data: outcome.data,
        metrics: outcome.metrics,
        claims: outcome.claims,
        notes: outcome.notes,
        figures: outcome
            .figures
            .iter()
            .map(|f| FigureRef {
                file: format!("{}.svg", f.name),
                title: f.figure.title().to_string(),
                caption: f.caption.clone(),
            })
            .collect(),
        wall_s: t0.elapsed().as_secs_f64(),
        code_version: CODE_VERSION.into(),
        files: odl_train::files::manifest(&tmp, &["summary.json"])?,
        error: None,
    };
    summary.save(&tmp.join("summary.json"))?;
    let dest = out.join(e.id);
    let _ = std::fs::remove_dir_all(&dest);
    std::fs::rename(&tmp, &dest).with_context(|| format!("moving results to {}", dest.display()))?;
    Ok(summary)
}

/// The summary of an experiment that failed: what the report shows.
fn failed(e: &Experiment, err: &anyhow::Error) -> Summary {
    Summary {
        id: e.id.into(),
        lecture: e.lecture.into(),
        title: e.title.into(),
        source: e.source.into(),
        setup: e.setup.into(),
        scale: None,
        params: Default::default(),
        data: None,
        metrics: Default::default(),
        claims: Vec::new(),
        notes: Vec::new(),
        figures: Vec::new(),
        wall_s: 0.0,
        code_version: CODE_VERSION.into(),
        files: Default::default(),
        error: Some(format!("{err:#}")),
    }
}

/// The claims of summaries as a table (one line per claim, ✓/✗).
pub fn claims_table(summaries: &[Summary]) -> String {
    let mut s = String::new();
    for r in summaries {
        if let Some(err) = &r.error {
            s.push_str(&format!("✗ {:<24} error: {err}\n", r.id));
        }
        for c in &r.claims {
            let mark = if c.holds { "✓" } else { "✗" };
            s.push_str(&format!(
                "{mark} {:<24} {:<28} predicted {} · measured {}\n",
                r.id, c.id, c.prediction, c.measured
            ));
        }
    }
    s
}

/// What `odl lab` runs.
#[derive(Clone, Debug)]
pub struct LabOptions {
    /// only these experiments (empty: all)
    pub only: Vec<String>,
    /// compute budget
    pub scale: Scale,
    /// experiments run at once
    pub jobs: usize,
    /// output folder
    pub out: PathBuf,
    /// seed of every experiment
    pub seed: u64,
    /// rerun every experiment, even those with a finished result of the
    /// same parameters and code in `out`
    pub fresh: bool,
}

/// A finished result in `out/ID/` that `odl lab` can keep: it ran to the
/// end (no error) with these parameters, at this scale, with this code.
fn finished(out: &Path, e: &Experiment, scale: Scale, params: &Params) -> Option<Summary> {
    let s = Summary::load(&out.join(e.id).join("summary.json")).ok()?;
    let same = s.error.is_none()
        && s.scale == Some(scale)
        && s.params == params.to_map()
        && s.code_version == CODE_VERSION
        && odl_train::files::verify(&out.join(e.id), &s.files).is_ok();
    same.then_some(s)
}

/// Removes what interrupted runs left (`out/.ID.partial`).
fn clean_partials(out: &Path) {
    for entry in std::fs::read_dir(out).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') && name.ends_with(".partial") {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// What `odl lab` found.
pub struct LabResult {
    /// one summary per experiment, in lecture order
    pub summaries: Vec<Summary>,
    /// the report page
    pub page: PathBuf,
    /// seconds in all
    pub wall_s: f64,
}

impl LabResult {
    /// Claims that hold, and claims in all.
    pub fn held(&self) -> (usize, usize) {
        (self.summaries.iter().map(Summary::held).sum(), self.summaries.iter().map(|s| s.claims.len()).sum())
    }

    /// Experiments that failed.
    pub fn errors(&self) -> usize {
        self.summaries.iter().filter(|s| s.error.is_some()).count()
    }
}

/// `odl lab`: runs the experiments in parallel with a progress display
/// (on a terminal; one line per finished experiment otherwise), writes the
/// report. An experiment that fails is recorded (`ID/error.json`) and shown
/// in the report; the others go on.
pub fn lab(opts: &LabOptions) -> Result<LabResult> {
    let chosen: Vec<&Experiment> = if opts.only.is_empty() {
        experiments::ALL.to_vec()
    } else {
        opts.only.iter().map(|id| find(id.trim())).collect::<Result<_>>()?
    };
    if opts.jobs == 0 {
        bail!("--jobs 0: run at least one experiment at a time");
    }
    let resolved: Vec<(&Experiment, Params)> =
        chosen.iter().map(|e| Ok((*e, resolve(e, opts.scale, opts.seed, &[])?))).collect::<Result<_>>()?;
    std::fs::create_dir_all(&opts.out).with_context(|| format!("creating {}", opts.out.display()))?;
    clean_partials(&opts.out);
    // an interrupted lab resumes: results finished with the same parameters and code are kept
    let mut kept: Vec<(usize, Summary)> = Vec::new();
    let resolved: Vec<(usize, (&Experiment, Params))> = resolved
        .into_iter()
        .enumerate()
        .filter(|(i, (e, p))| match (opts.fresh, finished(&opts.out, e, opts.scale, p)) {
            (false, Some(s)) => {
                kept.push((*i, s));
                false
            }
            _ => true,
        })
        .collect();
    if !kept.is_empty() {
        eprintln!(
            "odl lab: keeping {} finished experiment(s) from an earlier run ({}); --fresh reruns them",
            kept.len(),
            kept.iter().map(|k| k.1.id.as_str()).collect::<Vec<_>>().join(", ")
        );
    }
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
        "odl lab: {} experiments at scale {}, {} at a time → {}",
        resolved.len(),
        opts.scale.name(),
        opts.jobs,
        opts.out.display()
    );
    // the longest start first (they would otherwise end the lab alone), the
    // rest in lecture order; popped from the back, hence reversed
    let mut resolved = resolved;
    resolved.sort_by_key(|(i, (e, _))| {
        (experiments::LONGEST_FIRST.iter().position(|id| *id == e.id).unwrap_or(usize::MAX), *i)
    });
    let queue = Mutex::new(resolved.into_iter().rev().collect::<Vec<_>>());
    let results: Mutex<Vec<(usize, Summary)>> = Mutex::new(kept);
    // experiments side by side share the compute threads instead of each
    // fanning out over all of them
    let budget = (odl_tensor::cpu::num_threads() / opts.jobs).max(1);
    std::thread::scope(|sc| {
        for _ in 0..opts.jobs {
            sc.spawn(|| loop {
                let Some((i, (e, p))) = queue.lock().unwrap().pop() else { break };
                let bar = multi.insert_before(&overall, indicatif::ProgressBar::new(1000));
                bar.set_style(
                    indicatif::ProgressStyle::with_template("  {prefix:<24} {bar:20} {msg}")
                        .expect("template"),
                );
                bar.set_prefix(e.id);
                let progress = |f: f64, m: &str| {
                    bar.set_position((f * 1000.0) as u64);
                    bar.set_message(m.to_string());
                };
                let t = Instant::now();
                let s = odl_tensor::cpu::with_thread_budget(budget, || {
                    run_one(e, p, opts.scale, &opts.out, &progress)
                })
                .unwrap_or_else(|err| failed(e, &err));
                bar.finish_and_clear();
                overall.inc(1);
                let line = match &s.error {
                    Some(err) => format!("✗ {:<24} failed: {err}", e.id),
                    None => format!(
                        "  {:<24} {}/{} claims hold  ({:.1} s)",
                        e.id,
                        s.held(),
                        s.claims.len(),
                        t.elapsed().as_secs_f64()
                    ),
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
    let summaries: Vec<Summary> = results.into_iter().map(|r| r.1).collect();
    // failures are written next to the results so the report shows them
    for s in summaries.iter().filter(|s| s.error.is_some()) {
        let d = opts.out.join(&s.id);
        std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
        s.save(&d.join("error.json"))?;
    }
    let page = report::write(&opts.out)?;
    Ok(LabResult { summaries, page, wall_s: t0.elapsed().as_secs_f64() })
}

#[cfg(test)]
mod tests {
    use super::*;

    static PANICS: Experiment = Experiment {
        id: "panics",
        lecture: "test",
        title: "an experiment with a bug",
        source: "",
        setup: "",
        params: |_| Vec::new(),
        run: |_| panic!("index 3 out of range"),
    };

    #[test]
    fn a_panicking_experiment_is_an_error_with_its_message() {
        let out = std::env::temp_dir().join(format!("odl-runner-panic-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        let p = resolve(&PANICS, Scale::Tiny, 0, &[]).unwrap();
        let err = run_one(&PANICS, p, Scale::Tiny, &out, &|_, _| {}).expect_err("an error");
        let msg = format!("{err:#}");
        assert!(msg.contains("experiment panics") && msg.contains("index 3 out of range"), "{msg}");
        // nothing half-written, and the runner goes on
        assert!(!out.join("panics").exists() && !out.join(".panics.partial").exists());
        let s = failed(&PANICS, &err);
        assert!(
            s.error.as_deref().is_some_and(|e| e.contains("index 3 out of range")) && s.claims.is_empty()
        );
    }

    /// The start-first list names experiments that exist, each once (a
    /// renamed experiment would otherwise silently lose its place).
    #[test]
    fn the_longest_first_list_names_real_experiments() {
        let ids = experiments::LONGEST_FIRST;
        for (k, id) in ids.iter().enumerate() {
            assert!(find(id).is_ok(), "{id} is not an experiment");
            assert!(!ids[..k].contains(id), "{id} is listed twice");
        }
    }
}
