//! `odl sweep --backend slurm` on a real Slurm cluster: a sweep submitted as
//! a job array, one task cancelled on purpose, the report showing it failed,
//! and `--retry-failed` completing it.
//!
//! Needs a running cluster (`scripts/slurm-local.sh up` starts a one-node
//! one as root; `.ci/run` does). Without one the test says so and passes,
//! unless `ODL_REQUIRE_SLURM=1` (set by CI), where a missing cluster fails.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{dir, odl_env};

fn slurm_up() -> bool {
    Command::new("sinfo")
        .args(["-h", "-o", "%T"])
        .output()
        .map(|o| {
            let s = String::from_utf8_lossy(&o.stdout);
            o.status.success() && s.lines().any(|l| ["idle", "mixed", "allocated"].contains(&l.trim()))
        })
        .unwrap_or(false)
}

fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < Duration::from_secs(secs), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn job_id(out: &Path) -> Option<String> {
    let text = std::fs::read_to_string(out.join("slurm").join("jobs.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.as_array()?.last()?["job"].as_str().map(String::from)
}

#[test]
fn a_sweep_runs_as_a_job_array_and_a_cancelled_task_is_retried() {
    if !slurm_up() {
        let msg = "no Slurm cluster answers here (sinfo): start one with `scripts/slurm-local.sh up` (root)";
        if std::env::var("ODL_REQUIRE_SLURM").is_ok_and(|v| v == "1") {
            panic!("ODL_REQUIRE_SLURM=1 but {msg}");
        }
        eprintln!("SKIPPED a_sweep_runs_as_a_job_array_and_a_cancelled_task_is_retried: {msg}");
        return;
    }
    let d = dir("slurm", "array");
    std::fs::write(
        d.join("moons.toml"),
        "seed = 0\n[data]\nname = \"two-moons\"\n[model]\nkind = \"mlp\"\nhidden = [32, 32]\nactivation = \"tanh\"\n\
         [optim]\nname = \"momentum\"\nlr = 0.1\nmomentum = 0.9\n[train]\nepochs = 800\nbatch_size = 32\neval_every = 200\n",
    )
    .unwrap();
    let sweep = d.join("sweep.toml");
    std::fs::write(
        &sweep,
        "spec = \"moons.toml\"\nseeds = [0, 1]\n[grid]\n\"optim.lr\" = [0.05, 0.1]\n[slurm]\nthrottle = 2\ntime = \"00:10:00\"\n",
    )
    .unwrap();
    let out = d.join("out");
    let (s, o) = (sweep.to_str().unwrap(), out.to_str().unwrap());
    let env = [("ODL_SLURM_POLL_MS", "300")];

    // the script, without submitting anything
    let (code, script, err) = odl_env(&["sweep", s, "--out", o, "--backend", "slurm", "--dry-run"], &env);
    assert_eq!(code, 0, "{err}");
    assert!(
        script.contains("#SBATCH --array=0-3%2") && script.contains("#SBATCH --time=00:10:00"),
        "{script}"
    );
    assert!(!out.exists(), "a dry run writes nothing");

    let driver = Command::new(env!("CARGO_BIN_EXE_odl"))
        .args(["sweep", s, "--out", o, "--backend", "slurm"])
        .env("ODL_SLURM_POLL_MS", "300")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the job array's id", 60, || job_id(&out).is_some());
    let job = job_id(&out).unwrap();
    // cancel the first task once it runs
    let mut task = String::new();
    wait_until("a running task", 120, || {
        let q = Command::new("squeue")
            .args(["-h", "-r", "-j", &job, "-t", "RUNNING", "-o", "%i"])
            .output()
            .unwrap();
        task = String::from_utf8_lossy(&q.stdout).lines().next().unwrap_or("").trim().to_string();
        !task.is_empty()
    });
    assert!(Command::new("scancel").arg(&task).status().unwrap().success());
    let done = driver.wait_with_output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&done.stdout), String::from_utf8_lossy(&done.stderr));
    assert_eq!(done.status.code(), Some(1), "one point failed: exit 1\n{stdout}{stderr}");
    assert!(stdout.contains("4 points: 0 kept, 4 run now (3 done, 1 failed)"), "{stdout}{stderr}");
    let page = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(
        page.contains("Failed points") && page.contains(&format!("Slurm task {task} ended CANCELLED")),
        "{page}"
    );

    // the cancelled point runs again, the three others are kept
    let (code, stdout, err) =
        odl_env(&["sweep", s, "--out", o, "--backend", "slurm", "--resume", "--retry-failed"], &env);
    assert_eq!(code, 0, "{stdout}{err}");
    assert!(
        stdout.contains("4 points: 3 kept, 1 run now (1 done, 0 failed); 0 failed in all"),
        "{stdout}{err}"
    );
    let rows = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert_eq!(rows.lines().filter(|l| l.contains(",ok,")).count(), 4, "{rows}");
}
