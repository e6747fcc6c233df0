//! `odl sweep` end to end: the local backend, resume after the driver or a
//! worker is killed, editing the sweep file, the report's numbers against
//! its rows, bad sweep files, and `odl lab --seeds`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{dir, odl};

/// A sweep file over two-moons training (about a second per point in the
/// test build): 2 learning rates × `seeds` seeds.
fn spec_sweep(d: &Path, seeds: &str, epochs: usize) -> PathBuf {
    let spec = d.join("moons.toml");
    std::fs::write(
        &spec,
        format!(
            "seed = 0\n[data]\nname = \"two-moons\"\n[model]\nkind = \"mlp\"\nhidden = [32, 32]\nactivation = \"tanh\"\n\
             [optim]\nname = \"momentum\"\nlr = 0.1\nmomentum = 0.9\n[train]\nepochs = {epochs}\nbatch_size = 32\neval_every = 200\n"
        ),
    )
    .unwrap();
    let sweep = d.join("moons-sweep.toml");
    std::fs::write(
        &sweep,
        format!("spec = \"moons.toml\"\nseeds = \"{seeds}\"\n[grid]\n\"optim.lr\" = [0.05, 0.1]\n"),
    )
    .unwrap();
    sweep
}

fn csv(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().map(|l| l.split(',').map(String::from).collect()).collect()
}

/// The rows of results.csv as (id → the named columns), for comparisons.
fn columns(path: &Path, names: &[&str]) -> Vec<(String, Vec<String>)> {
    let rows = csv(path);
    let idx: Vec<usize> = names.iter().map(|n| rows[0].iter().position(|h| h == n).expect(n)).collect();
    let mut out: Vec<(String, Vec<String>)> =
        rows[1..].iter().map(|r| (r[0].clone(), idx.iter().map(|&i| r[i].clone()).collect())).collect();
    out.sort();
    out
}

fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_odl"))
        .args(args)
        .env("ODL_THREADS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn finished(out: &Path) -> Vec<String> {
    std::fs::read_dir(out.join("points"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default()
}

fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < Duration::from_secs(secs), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The tests that start worker processes run one at a time: on a 2-core
/// machine several sweeps at once would starve the kill tests' polling.
static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn heavy() -> std::sync::MutexGuard<'static, ()> {
    HEAVY.lock().unwrap_or_else(|e| e.into_inner())
}

const SAME: [&str; 5] = ["seed", "optim.lr", "final_train_loss", "test_loss", "test_accuracy"];

#[test]
fn a_sweep_killed_at_any_moment_resumes_to_the_uninterrupted_result() {
    let _one = heavy();
    let d = dir("sweep", "kill");
    let sweep = spec_sweep(&d, "0..6", 300);
    let s = sweep.to_str().unwrap();
    // the reference: one uninterrupted run
    let reference = d.join("reference");
    let (code, out, err) = odl(&["sweep", s, "--out", reference.to_str().unwrap(), "--jobs", "2"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("12 points: 0 kept, 12 run now (12 done, 0 failed)"), "{out}");
    let want = columns(&reference.join("results.csv"), &SAME);
    assert_eq!(want.len(), 12);

    let signals: &[&str] = if common::sigint_ignored() {
        eprintln!("SIGINT is ignored by this test process (started in the background by a shell): only SIGKILL is tried");
        &["KILL"]
    } else {
        &["KILL", "INT"]
    };
    for &signal in signals {
        let out = d.join(format!("killed-{signal}"));
        let o = out.to_str().unwrap();
        let mut driver = spawn(&["sweep", s, "--out", o, "--jobs", "2"]);
        wait_until("a finished point", 120, || !finished(&out).is_empty());
        Command::new("kill").args([&format!("-{signal}"), &driver.id().to_string()]).status().unwrap();
        driver.wait().unwrap();
        let before: Vec<(String, std::time::SystemTime)> = finished(&out)
            .into_iter()
            .map(|id| {
                let t = std::fs::metadata(out.join("points").join(&id).join("result.json"))
                    .unwrap()
                    .modified()
                    .unwrap();
                (id, t)
            })
            .collect();
        assert!(before.len() < 12, "the driver was killed before the end");
        // started again without --resume: refused, nothing changed
        let (code, _, err) = odl(&["sweep", s, "--out", o]);
        assert_eq!(code, 2);
        assert!(err.contains("give --resume to continue it"), "{err}");
        // resumed: workers the killed driver left running are waited for, not started twice
        let (code, stdout, err) = odl(&["sweep", s, "--out", o, "--resume", "--jobs", "2"]);
        assert_eq!(code, 0, "{stdout}{err}");
        for (id, t) in &before {
            let now = std::fs::metadata(out.join("points").join(id).join("result.json"))
                .unwrap()
                .modified()
                .unwrap();
            assert_eq!(*t, now, "point {id} finished before the kill was not run again");
        }
        assert_eq!(columns(&out.join("results.csv"), &SAME), want, "after SIG{signal}");
        let hidden: Vec<_> = std::fs::read_dir(out.join("points"))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
            .collect();
        assert!(hidden.is_empty(), "no temporary folders are left");
    }
}

#[test]
fn a_killed_worker_is_a_failed_point_that_retry_failed_completes() {
    let _one = heavy();
    let d = dir("sweep", "worker");
    let sweep = spec_sweep(&d, "0..2", 600);
    let s = sweep.to_str().unwrap();
    let out = d.join("out");
    let o = out.to_str().unwrap();
    let mut driver = spawn(&["sweep", s, "--out", o, "--jobs", "1"]);
    // the worker's temporary folder names its process: kill that process
    let mut victim = None;
    wait_until("a running worker", 120, || {
        let entries = std::fs::read_dir(out.join("points")).into_iter().flatten().flatten();
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(stem) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".partial")) {
                victim = stem.rsplit('.').next().map(String::from);
                return true;
            }
        }
        false
    });
    Command::new("kill").args(["-KILL", victim.as_deref().unwrap()]).status().unwrap();
    let status = driver.wait().unwrap();
    assert_eq!(status.code(), Some(1), "a sweep with a failed point exits with 1");
    let rows = csv(&out.join("results.csv"));
    let failed: Vec<&Vec<String>> = rows[1..].iter().filter(|r| r[3] == "failed").collect();
    assert_eq!(failed.len(), 1, "{rows:?}");
    assert_eq!(rows.len() - 1, 4, "the other points ran on");
    let page = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(
        page.contains("Failed points") && page.contains("killed by signal 9"),
        "the report shows the failure"
    );
    // --resume alone keeps the failure; --retry-failed runs it again
    let (code, stdout, _) = odl(&["sweep", s, "--out", o, "--resume"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("0 run now"), "{stdout}");
    let (code, stdout, err) = odl(&["sweep", s, "--out", o, "--resume", "--retry-failed"]);
    assert_eq!(code, 0, "{stdout}{err}");
    assert!(stdout.contains("3 kept, 1 run now (1 done, 0 failed); 0 failed in all"), "{stdout}");
}

#[test]
fn the_report_aggregates_its_rows_and_an_edited_sweep_adds_points() {
    let _one = heavy();
    let d = dir("sweep", "report");
    let sweep = d.join("shamir.toml");
    let text = "experiment = \"shamir-depth\"\nscale = \"tiny\"\nseeds = \"0..3\"\n[grid]\ndepths = [\"2,4\", \"2,3,4\"]\n";
    std::fs::write(&sweep, text).unwrap();
    let out = d.join("out");
    let (s, o) = (sweep.to_str().unwrap(), out.to_str().unwrap());
    let (code, stdout, err) = odl(&["sweep", s, "--out", o]);
    assert_eq!(code, 0, "{stdout}{err}");
    // the aggregate's mean and interval are those of the rows it summarizes
    let rows = csv(&out.join("results.csv"));
    let h = &rows[0];
    let (di, si) = (
        h.iter().position(|c| c == "depths").unwrap(),
        h.iter().position(|c| c == "slope_ln_iters_vs_depth").unwrap(),
    );
    assert_eq!(rows.len() - 1, 6);
    let agg = std::fs::read_to_string(out.join("aggregate.csv")).unwrap();
    let agg_rows: Vec<&str> = agg.lines().collect();
    let ah: Vec<&str> = agg_rows[0].split(',').collect();
    let (mi, ci) = (
        ah.iter().position(|c| *c == "slope_ln_iters_vs_depth.mean").unwrap(),
        ah.iter().position(|c| *c == "slope_ln_iters_vs_depth.ci95").unwrap(),
    );
    // depths contain commas, so they are quoted: compare the group "2,3,4"
    let vals: Vec<f64> = rows[1..]
        .iter()
        .filter(|r| r[di..].join(",").starts_with("\"2,3,4\""))
        .map(|r| r[si + 2].parse::<f64>().unwrap())
        .collect();
    assert_eq!(vals.len(), 3, "{rows:?}");
    let mean = vals.iter().sum::<f64>() / 3.0;
    let sd = (vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 2.0).sqrt();
    let line = agg_rows.iter().find(|l| l.contains("\"2,3,4\"")).unwrap().replace("\"2,3,4\"", "D");
    let cells: Vec<&str> = line.split(',').collect();
    let (got_mean, got_ci): (f64, f64) = (cells[mi].parse().unwrap(), cells[ci].parse().unwrap());
    assert!((got_mean - mean).abs() < 1e-12 * mean.abs(), "{got_mean} vs {mean}");
    assert!((got_ci - 4.303 * sd / 3f64.sqrt()).abs() < 1e-9, "t(0.975, 2) = 4.303");
    let (code, stdout, _) = odl(&["sweep", "report", o, "--check-figures"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("0 problem(s)"), "{stdout}");
    let page = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(page.contains("Claims: how often each holds") && page.contains("/3 seeds"));
    // the file grows by a depth list and a seed: the 6 finished points are kept, 6 new ones run
    std::fs::write(&sweep, text.replace("0..3", "0..4").replace("\"2,3,4\"]", "\"2,3,4\", \"3,6\"]"))
        .unwrap();
    let (code, stdout, err) = odl(&["sweep", s, "--out", o, "--resume"]);
    assert_eq!(code, 0, "{stdout}{err}");
    assert!(stdout.contains("12 points: 6 kept, 6 run now"), "{stdout}");
}

#[test]
fn bad_sweeps_are_refused_with_the_key_and_nothing_is_written() {
    let d = dir("sweep", "bad");
    let out = d.join("out");
    let o = out.to_str().unwrap();
    for (text, needle) in [
        ("experiment = \"no-such\"\n", "unknown experiment 'no-such'"),
        ("experiment = \"shamir-depth\"\nbogus = 1\n", "unknown field `bogus`"),
        ("experiment = \"shamir-depth\"\n[grid]\ndepths = []\n", "grid.depths: an empty list"),
        ("experiment = \"shamir-depth\"\n[grid]\ntol = [\"abc\"]\n", "tol=abc"),
        ("experiment = \"shamir-depth\"\n[grid]\nwidth = [3]\n", "width"),
        ("experiment = \"shamir-depth\"\nscale = \"huge\"\n", "unknown scale 'huge'"),
        ("spec = \"missing.toml\"\n", "missing.toml"),
        ("experiment = \"shamir-depth\"\nseeds = \"3..1\"\n", "empty range"),
    ] {
        let f = d.join("bad.toml");
        std::fs::write(&f, text).unwrap();
        let (code, _, err) = odl(&["sweep", f.to_str().unwrap(), "--out", o]);
        assert_eq!(code, 2, "{text}: {err}");
        assert!(err.contains(needle) && err.contains("bad.toml"), "{text}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(!out.exists(), "{text}: nothing written");
    }
    // a folder of another sweep, and a folder that is not a sweep's
    let a = d.join("a.toml");
    std::fs::write(&a, "experiment = \"shamir-depth\"\nscale = \"tiny\"\n").unwrap();
    let (code, _, err) = odl(&["sweep", a.to_str().unwrap(), "--out", o]);
    assert_eq!(code, 0, "{err}");
    let b = d.join("b.toml");
    std::fs::write(&b, "experiment = \"momentum-rates\"\nscale = \"tiny\"\n").unwrap();
    let manifest = std::fs::read(out.join("sweep.json")).unwrap();
    let (code, _, err) = odl(&["sweep", b.to_str().unwrap(), "--out", o, "--resume"]);
    assert_eq!(code, 2);
    assert!(err.contains("made by another sweep"), "{err}");
    assert_eq!(std::fs::read(out.join("sweep.json")).unwrap(), manifest, "nothing changed");
    let (code, _, err) = odl(&["sweep", a.to_str().unwrap(), "--out", d.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("not a sweep folder"), "{err}");
    let (code, _, err) = odl(&["sweep", a.to_str().unwrap(), "--out", o, "--resume", "--jobs", "0"]);
    assert_eq!(code, 2);
    assert!(err.contains("--jobs 0"), "{err}");
}

#[test]
fn the_lab_over_seeds_reports_each_claims_hold_rate() {
    let _one = heavy();
    let d = dir("sweep", "lab-seeds");
    let o = d.to_str().unwrap();
    let (code, stdout, err) = odl(&[
        "lab",
        "--scale",
        "tiny",
        "--only",
        "shamir-depth,momentum-rates",
        "--seeds",
        "0..3",
        "--out",
        o,
    ]);
    assert_eq!(code, 0, "{stdout}{err}");
    assert!(stdout.contains("Over 3 seeds:") && stdout.contains("holds in 3/3 seeds"), "{stdout}");
    let rates: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("hold-rates.json")).unwrap()).unwrap();
    assert_eq!(rates["seeds"], serde_json::json!([0, 1, 2]));
    let claims = rates["claims"].as_array().unwrap();
    assert!(claims.len() >= 4 && claims.iter().all(|c| c["runs"] == 3), "{rates}");
    // the seeds after the first ran as a sweep, resumable like any other
    assert_eq!(finished(&d.join("seeds")).len(), 4);
    let page = std::fs::read_to_string(d.join("index.html")).unwrap();
    assert!(page.contains("Over 3 seeds") && page.contains("/3 seeds"), "the report shows hold rates");
    // a lab at one seed no longer shows them
    let (code, _, _) = odl(&["lab", "--scale", "tiny", "--only", "shamir-depth,momentum-rates", "--out", o]);
    assert_eq!(code, 0);
    assert!(!d.join("hold-rates.json").exists());
    assert!(!std::fs::read_to_string(d.join("index.html")).unwrap().contains("Over 3 seeds"));
}

#[test]
fn the_shipped_sweep_files_plan_without_errors() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sweeps");
    let mut n = 0;
    for e in std::fs::read_dir(&root).unwrap().flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "toml") {
            let (code, stdout, err) =
                odl(&["sweep", p.to_str().unwrap(), "--dry-run", "--out", "/nonexistent/odl"]);
            assert_eq!(code, 0, "{}: {err}", p.display());
            assert!(stdout.contains("points would run"), "{stdout}");
            n += 1;
        }
    }
    assert!(n >= 3, "the examples are there");
}
