//! Fault injection: `odl train` and `odl lab` killed (SIGKILL, SIGINT) at
//! many points, then resumed. After each, the results equal an
//! uninterrupted run's — checkpoint, logs line for line (wall-clock times
//! aside), summaries — and no file is torn. The parsers of user files are
//! fuzzed in their own crates (odl-tensor's npy tests, odl-data's IDX
//! tests); specs and `--set` values here.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::odl;

fn dir(name: &str) -> common::TestDir {
    common::dir("faults", name)
}

/// Momentum with a step schedule: parameters, optimizer state and the step
/// counter must all survive a kill. Long enough to be killed mid-run.
const SPEC: &str = r#"
seed = 3
[data]
name = "two-moons"
[model]
kind = "mlp"
hidden = [32, 32]
activation = "tanh"
[optim]
name = "momentum"
lr = 0.05
[schedule]
kind = "step"
every = 100
gamma = 0.7
[train]
epochs = 150
batch_size = 50
eval_every = 37
"#;

/// Starts `odl args…` and kills it with `signal` (`KILL`, `INT`) after
/// `after`; true if it was still running then.
fn run_and_kill(args: &[&str], after: Duration, signal: &str) -> bool {
    kill_when(args, signal, &|t| t.elapsed() >= after)
}

/// Starts `odl args…` and kills it with `signal` once `now(start)` says
/// so; true if it was still running then.
fn kill_when(args: &[&str], signal: &str, now: &dyn Fn(Instant) -> bool) -> bool {
    let mut child = Command::new(env!("CARGO_BIN_EXE_odl"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start odl");
    let t = Instant::now();
    while !now(t) {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    let alive = child.try_wait().unwrap().is_none();
    let _ = Command::new("kill").args(["-s", signal, &child.id().to_string()]).status();
    let _ = child.wait();
    alive
}

/// The log lines without their wall-clock fields.
fn log_lines(path: &Path, csv: bool) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.is_empty() || text.ends_with('\n'), "{}: a torn last line", path.display());
    text.lines()
        .map(|l| {
            if csv {
                // step,epoch,loss,grad_norm,lr,time_s,…: drop time_s
                let mut cells: Vec<&str> = l.split(',').collect();
                cells.remove(5);
                cells.join(",")
            } else {
                let mut v: serde_json::Value = serde_json::from_str(l).expect("every line is whole JSON");
                v.as_object_mut().unwrap().remove("time_s");
                v.to_string()
            }
        })
        .collect()
}

#[test]
fn a_training_run_killed_anywhere_resumes_to_the_same_result() {
    let d = dir("train");
    let spec = d.join("spec.toml");
    std::fs::write(&spec, SPEC).unwrap();
    let spec = spec.to_str().unwrap();
    let full = d.join("full");
    let (code, _, err) = odl(&["train", spec, "--out", full.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let want_ckpt = odl_tensor::npy::read_npz(full.join("checkpoint.npz")).unwrap();
    let want_jsonl = log_lines(&full.join("metrics.jsonl"), false);
    let want_csv = log_lines(&full.join("metrics.csv"), true);
    let want_summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(full.join("summary.json")).unwrap()).unwrap();
    let mut killed = 0;
    // kill points spread over the run (start-up, training, checkpoint writes), both signals
    // more with ODL_FAULT_POINTS (scripts/fault-soak.sh)
    let points: usize = std::env::var("ODL_FAULT_POINTS").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
    for k in 0..points {
        let out = d.join(format!("killed-{k}"));
        // once the log reaches a step spread over the run (the first point: during start-up),
        // whatever the machine's speed
        let at = (want_jsonl.len() * k / points).max(1);
        let signal = if k % 2 == 0 { "KILL" } else { "INT" };
        let log = out.join("metrics.jsonl");
        let lines = |p: &Path| std::fs::read(p).map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count());
        killed += kill_when(&["train", spec, "--out", out.to_str().unwrap()], signal, &|t| {
            if k == 0 {
                t.elapsed() >= Duration::from_millis(30)
            } else {
                lines(&log) >= at
            }
        }) as usize;
        // resume while there is a checkpoint (a kill before the first one starts afresh)
        let mut args = vec!["train", spec, "--out", out.to_str().unwrap()];
        if out.join("checkpoint.npz").exists() {
            args.push("--resume");
        }
        let (code, _, err) = odl(&args);
        assert_eq!(code, 0, "kill point {k} ({signal} at line {at}): {err}");
        let got = odl_tensor::npy::read_npz(out.join("checkpoint.npz")).unwrap();
        assert_eq!(got, want_ckpt, "kill point {k}: the checkpoint differs");
        for (name, csv, want) in [("metrics.jsonl", false, &want_jsonl), ("metrics.csv", true, &want_csv)] {
            let got = log_lines(&out.join(name), csv);
            let first = got.iter().zip(want.iter()).position(|(a, b)| a != b);
            assert!(
                got.len() == want.len() && first.is_none(),
                "kill point {k} ({signal} at line {at}): {name} has {} lines for {}; first difference at line {first:?}: {:?}",
                got.len(),
                want.len(),
                first.map(|i| (&got[i], &want[i]))
            );
        }
        let s: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
        for key in ["final_train_loss", "test_accuracy", "steps", "diverged"] {
            assert_eq!(s[key], want_summary[key], "kill point {k}: {key}");
        }
        assert!(!out.join("checkpoint.npz.tmp").exists() || got == want_ckpt);
    }
    assert!(killed >= points - 1, "only {killed} of {points} runs were still going when killed");
}

#[test]
fn a_lab_killed_midway_keeps_what_finished_and_completes_the_rest() {
    let d = dir("lab");
    let only = "shamir-depth,momentum-rates,hanin-rolnick,adam-counterexample,saddle-escape";
    let whole = d.join("whole");
    let (code, _, err) =
        odl(&["lab", "--only", only, "--scale", "tiny", "--jobs", "1", "--out", whole.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let mut kept_any = false;
    for (k, (signal, frac)) in [("KILL", 0.3), ("INT", 0.5), ("KILL", 0.7)].into_iter().enumerate() {
        let out = d.join(format!("killed-{k}"));
        let o = out.to_str().unwrap();
        // how long the whole lab takes, roughly: kill it part of the way through
        let t = Instant::now();
        let _ = odl(&[
            "lab",
            "--only",
            only,
            "--scale",
            "tiny",
            "--jobs",
            "1",
            "--out",
            d.join("timing").to_str().unwrap(),
            "--fresh",
        ]);
        let at = t.elapsed().mul_f64(frac);
        run_and_kill(&["lab", "--only", only, "--scale", "tiny", "--jobs", "1", "--out", o], at, signal);
        let (code, _, err) = odl(&["lab", "--only", only, "--scale", "tiny", "--jobs", "1", "--out", o]);
        assert_eq!(code, 0, "{err}");
        kept_any |= err.contains("keeping");
        assert!(out.join("index.html").exists());
        for e in std::fs::read_dir(&out).unwrap().flatten() {
            assert!(!e.file_name().to_string_lossy().ends_with(".partial"), "a partial folder was left");
        }
        // the same numbers as the uninterrupted lab
        for id in only.split(',') {
            let a = common::summary(&whole, id);
            let b = common::summary(&out, id);
            assert_eq!(a["metrics"], b["metrics"], "{id} after kill {k}");
            assert_eq!(a["claims"], b["claims"], "{id} after kill {k}");
        }
    }
    assert!(kept_any, "no rerun kept a finished experiment");
    // --fresh reruns everything
    let (code, _, err) =
        odl(&["lab", "--only", only, "--scale", "tiny", "--out", whole.to_str().unwrap(), "--fresh"]);
    assert_eq!(code, 0);
    assert!(!err.contains("keeping"), "{err}");
    let (_, _, err) = odl(&["lab", "--only", only, "--scale", "tiny", "--out", whole.to_str().unwrap()]);
    assert!(err.contains("keeping 5 finished experiment(s)"), "{err}");
}

#[test]
fn malformed_specs_and_set_values_are_errors_never_panics() {
    let d = dir("fuzz-spec");
    let base = SPEC.as_bytes().to_vec();
    let mut state = 5u64;
    let mut next = || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        state >> 33
    };
    let junk: [&[u8]; 8] = [b"=", b"[", b"]", b"\"", b"-1e309", b"nan", b"[[x]]", b"\n[train]\nepochs = 0\n"];
    for round in 0..60 {
        let mut b = base.clone();
        for _ in 0..1 + next() % 3 {
            let i = next() as usize % b.len();
            match next() % 3 {
                0 => b[i] = b" =[]\"0a.\n"[next() as usize % 9],
                1 => {
                    let j = junk[next() as usize % junk.len()];
                    b.splice(i..i, j.iter().copied());
                }
                _ => b.truncate(i.max(1)),
            }
        }
        let spec = d.join(format!("spec-{round}.toml"));
        std::fs::write(&spec, &b).unwrap();
        let out = d.join(format!("run-{round}"));
        let (code, _, err) = odl(&[
            "train",
            spec.to_str().unwrap(),
            "--set",
            "train.epochs=1",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(code == 0 || code == 2, "round {round}: exit {code}: {err}");
        assert!(!err.contains("panicked"), "round {round}: {err}");
    }
    let spec = d.join("ok.toml");
    std::fs::write(&spec, SPEC).unwrap();
    for bad in [
        "optim.lr=",
        "optim.lr=[1,2]",
        "train.batch_size=-3",
        "model.hidden=[0]",
        "data.name=mnist9",
        "train.epochs=1e400",
        "=",
        "x.y.z=1",
        "train=3",
    ] {
        let (code, _, err) =
            odl(&["train", spec.to_str().unwrap(), "--set", bad, "--out", d.join("set").to_str().unwrap()]);
        assert_eq!(code, 2, "--set {bad}: {err}");
        assert!(!err.contains("panicked") && err.starts_with("odl: error:"), "--set {bad}: {err}");
    }
}
