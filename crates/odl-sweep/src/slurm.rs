//! The Slurm backend: the points to run as one job array (one task per
//! point, listed in `slurm/array-<n>.txt`; the script `slurm/array-<n>.sh`
//! runs `odl sweep point DIR ID` for its task), submitted with `sbatch
//! --parsable` and tracked with `sacct` (or `squeue -t all` where there is no
//! accounting) until every task has ended. A task that ends without a
//! result (failed, cancelled, out of time or memory) is recorded as a failed
//! point with Slurm's state; `--retry-failed` submits it again. Submitted
//! jobs are listed in `slurm/jobs.json`, so a driver started again with
//! `--resume` tracks tasks still queued or running instead of submitting
//! them twice.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::file::SlurmOptions;
use crate::local::{log_tail, Counts, Progress};
use crate::plan::Point;
use crate::store::{Status, Store};

/// A submitted job array: its id and the point of each task.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Job {
    /// Slurm's job id
    pub job: String,
    /// point id of task i
    pub points: Vec<String>,
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The sbatch script of a job array over the points listed in `list`.
pub fn script(dir: &Path, list: &Path, n: usize, opts: &SlurmOptions, exe: &Path) -> String {
    let mut s = String::from("#!/bin/bash\n#SBATCH --job-name=odl-sweep\n");
    let throttle = opts.throttle.map(|k| format!("%{k}")).unwrap_or_default();
    s.push_str(&format!("#SBATCH --array=0-{}{throttle}\n", n.saturating_sub(1)));
    s.push_str(&format!("#SBATCH --output={}/logs/slurm-%A_%a.out\n", dir.display()));
    if let Some(t) = &opts.time {
        s.push_str(&format!("#SBATCH --time={t}\n"));
    }
    if let Some(c) = opts.cpus_per_task {
        s.push_str(&format!("#SBATCH --cpus-per-task={c}\n"));
    }
    if let Some(m) = &opts.mem {
        s.push_str(&format!("#SBATCH --mem={m}\n"));
    }
    if let Some(p) = &opts.partition {
        s.push_str(&format!("#SBATCH --partition={p}\n"));
    }
    for e in &opts.extra {
        s.push_str(&format!("#SBATCH {e}\n"));
    }
    s.push_str(&format!(
        "# odl sweep: task i runs the point on line i+1 of {list}\nset -eu\nid=$(sed -n \"$((SLURM_ARRAY_TASK_ID + 1))p\" {})\nexport ODL_THREADS=\"${{SLURM_CPUS_PER_TASK:-1}}\"\nexport RAYON_NUM_THREADS=\"$ODL_THREADS\"\nexec {} sweep point {} \"$id\"\n",
        quote(&list.display().to_string()),
        quote(&exe.display().to_string()),
        quote(&dir.display().to_string()),
        list = list.display(),
    ));
    s
}

fn jobs_file(store: &Store) -> std::path::PathBuf {
    store.dir.join("slurm").join("jobs.json")
}

/// Jobs submitted for this sweep folder so far.
pub fn jobs(store: &Store) -> Vec<Job> {
    std::fs::read_to_string(jobs_file(store))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// The script for `points` (for `--dry-run`, nothing written).
pub fn dry_run(store: &Store, points: &[Point], opts: &SlurmOptions, exe: &Path) -> String {
    let dir = std::path::absolute(&store.dir).unwrap_or_else(|_| store.dir.clone());
    let list = dir.join("slurm").join("array-N.txt");
    script(&dir, &list, points.len(), opts, exe)
}

/// Submits `points` as one job array; returns the job.
pub fn submit(store: &Store, points: &[Point], opts: &SlurmOptions, exe: &Path) -> Result<Job> {
    let dir = std::fs::canonicalize(&store.dir).with_context(|| format!("{}", store.dir.display()))?;
    let sl = dir.join("slurm");
    std::fs::create_dir_all(&sl).with_context(|| format!("creating {}", sl.display()))?;
    let n = (0..).find(|i| !sl.join(format!("array-{i}.sh")).exists()).expect("a free name");
    let list = sl.join(format!("array-{n}.txt"));
    let ids: Vec<String> = points.iter().map(|p| p.id.clone()).collect();
    std::fs::write(&list, ids.join("\n") + "\n").with_context(|| format!("writing {}", list.display()))?;
    let sh = sl.join(format!("array-{n}.sh"));
    std::fs::write(&sh, script(&dir, &list, ids.len(), opts, exe))
        .with_context(|| format!("writing {}", sh.display()))?;
    let out = Command::new("sbatch").arg("--parsable").arg(&sh).output().context(
        "running sbatch (is Slurm installed here? scripts/slurm-local.sh up starts a one-node cluster)",
    )?;
    if !out.status.success() {
        bail!("sbatch {} failed: {}", sh.display(), String::from_utf8_lossy(&out.stderr).trim());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let job = text.trim().split(';').next().unwrap_or("").to_string();
    if job.is_empty() || !job.chars().all(|c| c.is_ascii_digit()) {
        bail!("sbatch {}: expected a job id, got '{}'", sh.display(), text.trim());
    }
    let job = Job { job, points: ids };
    let mut all = jobs(store);
    all.push(job.clone());
    odl_train::files::write_json(&jobs_file(store), &serde_json::to_value(&all)?)?;
    Ok(job)
}

/// A task's state as Slurm reports it: `COMPLETED`, `RUNNING`, … and the
/// exit code where known.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskState {
    /// the state's name
    pub state: String,
    /// `3:0` (sacct only)
    pub exit: Option<String>,
}

impl TaskState {
    /// Whether the task has ended (any way).
    pub fn ended(&self) -> bool {
        !matches!(
            self.state.as_str(),
            "PENDING"
                | "RUNNING"
                | "CONFIGURING"
                | "COMPLETING"
                | "SUSPENDED"
                | "REQUEUED"
                | "RESIZING"
                | "REQUEUE_HOLD"
                | "REQUEUE_FED"
                | "STAGE_OUT"
                | "SIGNALING"
        )
    }
}

/// Parses `sacct -X -n -P -o JobID,State,ExitCode` or `squeue -h -r -o
/// '%i|%T'` lines into task → state. Lines of tasks not yet split off a
/// pending array (`123_[4-9%2]`) give each listed task as PENDING.
pub fn parse_states(job: &str, text: &str) -> BTreeMap<usize, TaskState> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.trim().split('|').collect();
        if f.len() < 2 {
            continue;
        }
        let Some(task) = f[0].strip_prefix(job).and_then(|t| t.strip_prefix('_')) else { continue };
        // "CANCELLED by 0" → CANCELLED
        let state = f[1].split_whitespace().next().unwrap_or("").to_string();
        let exit = f.get(2).map(|s| s.to_string());
        if let Some(list) = task.strip_prefix('[') {
            let list = list.trim_end_matches(']').split('%').next().unwrap_or("");
            for part in list.split(',') {
                let (a, b) = part.split_once('-').unwrap_or((part, part));
                if let (Ok(a), Ok(b)) = (a.parse::<usize>(), b.parse::<usize>()) {
                    for t in a..=b.min(a + 1_000_000) {
                        out.insert(t, TaskState { state: state.clone(), exit: exit.clone() });
                    }
                }
            }
        } else if let Ok(t) = task.parse::<usize>() {
            out.insert(t, TaskState { state, exit });
        }
    }
    out
}

/// The states of a job's tasks: sacct where accounting exists, else squeue.
pub fn states(job: &str) -> BTreeMap<usize, TaskState> {
    let sacct =
        Command::new("sacct").args(["-j", job, "-X", "-n", "-P", "-o", "JobID,State,ExitCode"]).output();
    if let Ok(o) = sacct {
        let text = String::from_utf8_lossy(&o.stdout);
        if o.status.success() && !text.trim().is_empty() {
            return parse_states(job, &text);
        }
    }
    let squeue = Command::new("squeue").args(["-h", "-r", "-t", "all", "-j", job, "-o", "%i|%T"]).output();
    match squeue {
        Ok(o) if o.status.success() => parse_states(job, &String::from_utf8_lossy(&o.stdout)),
        _ => BTreeMap::new(),
    }
}

/// Tasks of earlier jobs still queued or running whose points have no
/// result: `(job, task, point id)`.
pub fn active(store: &Store) -> Vec<(String, usize, String)> {
    let mut out = Vec::new();
    for j in jobs(store) {
        let st = states(&j.job);
        for (t, id) in j.points.iter().enumerate() {
            if st.get(&t).is_some_and(|s| !s.ended()) && store.status(id) == Status::Pending {
                out.push((j.job.clone(), t, id.clone()));
            }
        }
    }
    out
}

/// Tracks tasks until each has ended, recording a failure for a task that
/// ended without a result. `tasks` are `(job, task, point)`.
pub fn track(store: &Store, tasks: &[(String, usize, &Point)], poll: Duration) -> Result<Counts> {
    let progress = Progress::new(tasks.len());
    let mut open: Vec<&(String, usize, &Point)> = tasks.iter().collect();
    let mut unknown: BTreeMap<(String, usize), usize> = BTreeMap::new();
    while !open.is_empty() {
        let mut by_job: BTreeMap<&str, BTreeMap<usize, TaskState>> = BTreeMap::new();
        for (job, _, _) in &open {
            if !by_job.contains_key(job.as_str()) {
                by_job.insert(job, states(job));
            }
        }
        let mut running = 0;
        let mut still = Vec::new();
        for task in open {
            let (job, t, p) = task;
            let st = by_job.get(job.as_str()).and_then(|m| m.get(t)).cloned();
            match store.status(&p.id) {
                Status::Done if st.as_ref().is_none_or(TaskState::ended) => {
                    progress.finished(p, None, false);
                    continue;
                }
                Status::Failed(why) if st.as_ref().is_none_or(TaskState::ended) => {
                    progress.finished(p, Some(&why), false);
                    continue;
                }
                _ => {}
            }
            match st {
                Some(s) if s.ended() => {
                    if store.status(&p.id) == Status::Pending {
                        let log = store.dir.join("logs").join(format!("slurm-{job}_{t}.out"));
                        let exit = s.exit.as_deref().map(|e| format!(", exit code {e}")).unwrap_or_default();
                        store.record_failure(
                            p,
                            format!(
                                "Slurm task {job}_{t} ended {}{exit} without a result{}",
                                s.state,
                                log_tail(&log)
                            ),
                        )?;
                    }
                    still.push(task); // counted on the next pass, from its result
                }
                Some(s) => {
                    if s.state == "RUNNING" || s.state == "COMPLETING" {
                        running += 1;
                    }
                    still.push(task);
                }
                None => {
                    // not (or no longer) known to Slurm: give it a few polls
                    let n = unknown.entry((job.clone(), *t)).or_insert(0);
                    *n += 1;
                    if *n > 30 && store.status(&p.id) == Status::Pending {
                        store.record_failure(
                            p,
                            format!("Slurm no longer knows task {job}_{t}, and it left no result"),
                        )?;
                    }
                    still.push(task);
                }
            }
        }
        open = still;
        progress.running(running);
        if !open.is_empty() {
            std::thread::sleep(poll);
        }
    }
    progress.finish();
    Ok(progress.counts())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_of_array_tasks_parse_from_sacct_and_squeue() {
        let sacct = "41_0|COMPLETED|0:0\n41_1|FAILED|3:0\n41_2|CANCELLED by 0|0:15\n41_[3-5%2]|PENDING|0:0\n";
        let s = parse_states("41", sacct);
        assert_eq!(s.len(), 6);
        assert_eq!(s[&1], TaskState { state: "FAILED".into(), exit: Some("3:0".into()) });
        assert_eq!(s[&2].state, "CANCELLED");
        assert!(s[&0].ended() && s[&2].ended() && !s[&4].ended());
        let squeue = "7_3|RUNNING\n7_2|COMPLETED\n71_0|RUNNING\n";
        let q = parse_states("7", squeue);
        assert_eq!(q.len(), 2, "job 71 is another job");
        assert!(!q[&3].ended() && q[&2].ended());
    }

    #[test]
    fn the_script_runs_the_listed_point_of_each_task() {
        let opts = SlurmOptions {
            time: Some("00:05:00".into()),
            cpus_per_task: Some(2),
            mem: Some("1G".into()),
            partition: Some("debug".into()),
            throttle: Some(3),
            extra: vec!["--qos=low".into()],
        };
        let s = script(
            Path::new("/s/it's"),
            Path::new("/s/it's/slurm/array-0.txt"),
            10,
            &opts,
            Path::new("/bin/odl"),
        );
        for needle in [
            "#SBATCH --array=0-9%3",
            "#SBATCH --time=00:05:00",
            "#SBATCH --cpus-per-task=2",
            "#SBATCH --mem=1G",
            "#SBATCH --partition=debug",
            "#SBATCH --qos=low",
            "#SBATCH --output=/s/it's/logs/slurm-%A_%a.out",
            r"exec '/bin/odl' sweep point '/s/it'\''s' ",
        ] {
            assert!(s.contains(needle), "{needle} missing in\n{s}");
        }
    }
}
