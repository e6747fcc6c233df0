//! Running one point: what a worker process (`odl sweep point DIR ID`) does,
//! locally or as a Slurm task. The point's files are written into a
//! temporary folder that is renamed into place at the end, with
//! `params.json` and `result.json` (the numbers the report aggregates).

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::Instant;

use anyhow::{anyhow, Context, Result};
use odl_lab::Metric;

use crate::plan::{Point, Target};
use crate::store::{ClaimResult, PointResult, Status, Store};

/// Runs point `id` of the sweep in `dir` unless it is finished already.
/// Returns its status afterwards. An error inside the point is recorded as
/// its result (the sweep goes on); an error here means the point could not
/// even be recorded.
pub fn run(dir: &Path, id: &str) -> Result<Status> {
    let store = Store::at(dir);
    let plan = store.plan()?;
    let p = plan
        .points
        .iter()
        .find(|p| p.id == id)
        .with_context(|| format!("{}: no point {id} in this sweep", dir.display()))?;
    let now = store.status(id);
    if now != Status::Pending {
        return Ok(now);
    }
    let tmp = store.partial(id);
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let t0 = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(|| measure(p, &tmp))).unwrap_or_else(|payload| {
        Err(anyhow!("internal error: {}", odl_lab::runner::panic_message(&*payload)))
    });
    let wall_s = t0.elapsed().as_secs_f64();
    let result = match outcome {
        Ok((metrics, claims)) => PointResult {
            id: p.id.clone(),
            ok: true,
            error: None,
            target: p.target.label(),
            sets: p.sets.clone(),
            seed: p.seed,
            metrics,
            claims,
            wall_s,
            code_version: odl_lab::summary::CODE_VERSION.into(),
        },
        Err(e) => PointResult::failure(p, format!("{e:#}"), wall_s),
    };
    store.commit(p, &tmp, &result)?;
    Ok(store.status(id))
}

type Measured = (BTreeMap<String, Option<f64>>, Vec<ClaimResult>);

/// Runs the target into `tmp` and reads its numbers.
fn measure(p: &Point, tmp: &Path) -> Result<Measured> {
    match &p.target {
        Target::Experiment { id, scale } => {
            let e = odl_lab::find(id)?;
            let params = odl_lab::resolve(e, *scale, p.seed, &p.set_args())?;
            let s = odl_lab::run_one(e, params, *scale, tmp, &|_, _| {})?;
            let mut metrics = BTreeMap::new();
            for (k, m) in &s.metrics {
                flatten(k, m, &mut metrics);
            }
            let claims = s
                .claims
                .iter()
                .map(|c| ClaimResult {
                    id: c.id.clone(),
                    statement: c.statement.clone(),
                    holds: c.holds,
                    timing: c.timing,
                })
                .collect();
            Ok((metrics, claims))
        }
        Target::Spec { path, .. } => {
            let mut sets = p.set_args();
            sets.push(format!("seed={}", p.seed));
            let spec = odl_train::load(path, &sets)?;
            let s = odl_train::train(&spec, &tmp.join("run"), false)?;
            let mut metrics = BTreeMap::new();
            let json = serde_json::to_value(&s)?;
            let m: Metric = serde_json::from_value(json)?;
            flatten("", &m, &mut metrics);
            Ok((metrics, Vec::new()))
        }
    }
}

/// The scalar measurements in `m`, named `prefix.key…` (lists are left out:
/// curves are in the point's own files; yes/no counts as 1/0).
pub fn flatten(prefix: &str, m: &Metric, out: &mut BTreeMap<String, Option<f64>>) {
    let num = |v: f64| if v.is_finite() { Some(v) } else { None };
    match m {
        Metric::Num(v) => {
            out.insert(prefix.to_string(), num(*v));
        }
        Metric::Int(v) => {
            out.insert(prefix.to_string(), Some(*v as f64));
        }
        Metric::Bool(b) => {
            out.insert(prefix.to_string(), Some(if *b { 1.0 } else { 0.0 }));
        }
        Metric::Map(map) => {
            for (k, v) in map {
                let name = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&name, v, out);
            }
        }
        Metric::Text(_) | Metric::List(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_metrics_flatten_to_dotted_scalars() {
        let m = Metric::map([
            ("slope", Metric::from(0.5)),
            ("curve", Metric::from(vec![1.0, 2.0])),
            ("by", Metric::map([("he", Metric::from(3usize)), ("nan", Metric::from(f64::NAN))])),
            ("diverged", Metric::from(true)),
            ("name", Metric::from("x")),
        ]);
        let mut out = BTreeMap::new();
        flatten("", &m, &mut out);
        let keys: Vec<&str> = out.keys().map(String::as_str).collect();
        assert_eq!(keys, ["by.he", "by.nan", "diverged", "slope"]);
        assert_eq!(out["by.he"], Some(3.0));
        assert_eq!(out["by.nan"], None);
        assert_eq!(out["diverged"], Some(1.0));
    }
}
