//! The sweep folder on disk. A point is finished when `points/<id>/` exists:
//! a worker builds it under a temporary name (`points/.<id>.<pid>.partial`)
//! and renames it at the end, so a point killed at any moment leaves no
//! result and is run again by `--resume`, and a finished one is never run
//! twice.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::plan::{Plan, Point};

/// What a point left: its numbers and claims, or why it failed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PointResult {
    /// the point's id
    pub id: String,
    /// whether it ran to the end
    pub ok: bool,
    /// why it failed
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// what ran (`shamir-depth (quick)`)
    pub target: String,
    /// its `--set` values
    pub sets: BTreeMap<String, String>,
    /// its seed
    pub seed: u64,
    /// every scalar measurement (NaN/∞ as `null`), nested names joined by `.`
    #[serde(default)]
    pub metrics: BTreeMap<String, Option<f64>>,
    /// the claims of a lab experiment
    #[serde(default)]
    pub claims: Vec<ClaimResult>,
    /// seconds it took
    #[serde(default)]
    pub wall_s: f64,
    /// the code that made it
    #[serde(default)]
    pub code_version: String,
}

/// One claim's verdict at one point.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClaimResult {
    /// the claim's id within its experiment
    pub id: String,
    /// what the paper says
    pub statement: String,
    /// whether it held
    pub holds: bool,
    /// decided by wall-clock times
    #[serde(default)]
    pub timing: bool,
}

impl PointResult {
    /// The result of a point that failed before it produced anything.
    pub fn failure(p: &Point, error: String, wall_s: f64) -> PointResult {
        PointResult {
            id: p.id.clone(),
            ok: false,
            error: Some(error),
            target: p.target.label(),
            sets: p.sets.clone(),
            seed: p.seed,
            metrics: BTreeMap::new(),
            claims: Vec::new(),
            wall_s,
            code_version: odl_lab::summary::CODE_VERSION.into(),
        }
    }
}

/// Where a point stands.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    /// finished, with a result
    Done,
    /// finished, with an error
    Failed(String),
    /// not run yet (or interrupted)
    Pending,
}

/// A sweep folder.
pub struct Store {
    /// the folder
    pub dir: PathBuf,
}

impl Store {
    /// The store in `dir` without checks (for workers and reports).
    pub fn at(dir: &Path) -> Store {
        Store { dir: dir.to_path_buf() }
    }

    /// Opens `dir` for `plan`: a new or empty folder is set up; a folder of
    /// the same sweep is continued with `resume` (points of an edited sweep
    /// file are added, finished ones kept); a folder of another sweep, or a
    /// folder that is not a sweep's, is an error and nothing is written.
    pub fn open(dir: &Path, plan: &Plan, resume: bool) -> Result<Store> {
        let store = Store::at(dir);
        let manifest = dir.join("sweep.json");
        let merged = if manifest.exists() {
            let old = store.plan()?;
            if old.name != plan.name {
                bail!(
                    "{}: made by another sweep ({}), not this one ({}); give another --out (nothing was changed)",
                    dir.display(),
                    old.name,
                    plan.name
                );
            }
            if !resume {
                let done = plan.points.iter().filter(|p| store.status(&p.id) != Status::Pending).count();
                bail!(
                    "{}: holds this sweep already ({done} of its {} points finished); give --resume to continue it, or another --out",
                    dir.display(),
                    plan.points.len()
                );
            }
            let mut m = plan.clone();
            for p in old.points {
                if !m.points.iter().any(|q| q.id == p.id) {
                    m.points.push(p);
                }
            }
            for a in old.axes {
                if !m.axes.contains(&a) {
                    m.axes.push(a);
                }
            }
            m
        } else {
            if dir.is_file() {
                bail!("{}: a file, not a folder", dir.display());
            }
            let busy = std::fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(false);
            if busy {
                bail!(
                    "{}: not empty and not a sweep folder (no sweep.json); give another --out (nothing was changed)",
                    dir.display()
                );
            }
            plan.clone()
        };
        for sub in ["points", "logs"] {
            let d = dir.join(sub);
            std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
        }
        odl_train::files::write_json(&manifest, &serde_json::to_value(&merged)?)?;
        store.clean_partials();
        Ok(store)
    }

    /// The plan in `sweep.json` (every point the folder has planned).
    pub fn plan(&self) -> Result<Plan> {
        let path = self.dir.join("sweep.json");
        if !path.exists() {
            bail!("{}: not a sweep folder (no sweep.json)", self.dir.display());
        }
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{}: not an odl sweep manifest", path.display()))
    }

    /// The folder of a finished point.
    pub fn point_dir(&self, id: &str) -> PathBuf {
        self.dir.join("points").join(id)
    }

    /// The log of a point run by the local backend.
    pub fn log(&self, id: &str) -> PathBuf {
        self.dir.join("logs").join(format!("{id}.log"))
    }

    /// The result of a finished point.
    pub fn result(&self, id: &str) -> Option<PointResult> {
        let text = std::fs::read_to_string(self.point_dir(id).join("result.json")).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Where a point stands.
    pub fn status(&self, id: &str) -> Status {
        match self.result(id) {
            Some(r) if r.ok => Status::Done,
            Some(r) => Status::Failed(r.error.unwrap_or_default()),
            None => Status::Pending,
        }
    }

    /// A temporary folder for a point (this process's, on this host).
    pub fn partial(&self, id: &str) -> PathBuf {
        self.dir.join("points").join(format!(".{id}.{}.{}.partial", host(), std::process::id()))
    }

    /// Finishes a point: writes `params.json` and `result.json` into its
    /// temporary folder (made if missing) and renames it into place. If
    /// another process finished the point first, its result stays and this
    /// one is dropped (returns `false`).
    pub fn commit(&self, p: &Point, tmp: &Path, r: &PointResult) -> Result<bool> {
        std::fs::create_dir_all(tmp).with_context(|| format!("creating {}", tmp.display()))?;
        odl_train::files::write_json(&tmp.join("params.json"), &serde_json::to_value(p)?)?;
        odl_train::files::write_json(&tmp.join("result.json"), &serde_json::to_value(r)?)?;
        let dest = self.point_dir(&p.id);
        if dest.exists() || std::fs::rename(tmp, &dest).is_err() {
            let _ = std::fs::remove_dir_all(tmp);
            return Ok(false);
        }
        Ok(true)
    }

    /// Records a failure for a point that has no result (a worker that died).
    pub fn record_failure(&self, p: &Point, error: String) -> Result<()> {
        if self.status(&p.id) == Status::Pending {
            let tmp = self.partial(&p.id);
            self.commit(p, &tmp, &PointResult::failure(p, error, 0.0))?;
        }
        Ok(())
    }

    /// Removes a point's result so it runs again (`--retry-failed`): moved
    /// aside first, so an interruption leaves either the old result or none.
    pub fn forget(&self, id: &str) -> Result<()> {
        let dest = self.point_dir(id);
        if dest.exists() {
            let aside =
                self.dir.join("points").join(format!(".{id}-old.{}.{}.partial", host(), std::process::id()));
            std::fs::rename(&dest, &aside).with_context(|| format!("moving {} aside", dest.display()))?;
            let _ = std::fs::remove_dir_all(aside);
        }
        Ok(())
    }

    /// Removes temporary folders left by workers that are no longer
    /// running: on this host, those whose process is gone; from other hosts
    /// (a cluster's nodes), those untouched for a day.
    pub fn clean_partials(&self) {
        for e in std::fs::read_dir(self.dir.join("points")).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(stem) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".partial")) else {
                continue;
            };
            let mut parts = stem.rsplitn(3, '.');
            let (pid, h) = (parts.next().and_then(|s| s.parse::<u32>().ok()), parts.next());
            let gone = match (pid, h) {
                (Some(pid), Some(h)) if h == host() => pid != std::process::id() && !process_alive(pid),
                _ => e
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age.as_secs() > 86_400),
            };
            if gone {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }

    /// Points being worked on now by live processes on this host (another
    /// driver's workers): `(id, pid)` of each temporary folder.
    pub fn running(&self) -> Vec<(String, u32)> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(self.dir.join("points")).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(stem) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".partial")) else {
                continue;
            };
            let mut parts = stem.rsplitn(3, '.');
            let (pid, h, id) = (parts.next().and_then(|s| s.parse::<u32>().ok()), parts.next(), parts.next());
            if let (Some(pid), Some(h), Some(id)) = (pid, h, id) {
                if h == host() && !id.ends_with("-old") && pid != std::process::id() && process_alive(pid) {
                    out.push((id.to_string(), pid));
                }
            }
        }
        out
    }

    /// Every finished point's result (in the order of the plan, then any
    /// others found).
    pub fn results(&self) -> Result<Vec<PointResult>> {
        let mut out = Vec::new();
        let dir = self.dir.join("points");
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        for n in names {
            let path = dir.join(&n).join("result.json");
            let text =
                std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            let r: PointResult = serde_json::from_str(&text)
                .with_context(|| format!("{}: not a sweep result", path.display()))?;
            out.push(r);
        }
        Ok(out)
    }
}

/// This machine's name, without dots (it is part of temporary folder names).
fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().replace('.', "-"))
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into())
}

/// Whether a process with this id exists (Linux: `/proc/<pid>`; elsewhere
/// assumed gone, so its leftovers are cleaned).
fn process_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}
