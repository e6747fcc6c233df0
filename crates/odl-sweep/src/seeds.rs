//! The lab over several seeds (`odl lab --seeds 0..10`): the lab runs at the
//! first seed as usual (its figures are the report's), the other seeds run
//! as a sweep of every experiment in `OUT/seeds/` (resumable like any
//! sweep), and each claim's hold rate over all seeds goes into
//! `OUT/hold-rates.json`, which the lab report shows next to the claim.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use odl_lab::{HoldRate, HoldRates, LabOptions, LabResult};

use crate::driver::{self, Options};
use crate::plan::{Plan, Point, Target};
use crate::store::Store;
use crate::Backend;

/// The lab at `seeds[0]` plus a sweep over the other seeds; returns the
/// lab's result (seed `seeds[0]`) and the hold rates.
pub fn lab(opts: &LabOptions, seeds: &[u64], exe: &Path) -> Result<(LabResult, HoldRates)> {
    let Some((&first, rest)) = seeds.split_first() else { bail!("--seeds: no seeds") };
    let _ = std::fs::remove_file(opts.out.join(HoldRates::FILE));
    let res = odl_lab::lab(&LabOptions { seed: first, ..opts.clone() })?;
    let ids: Vec<String> = res.summaries.iter().map(|s| s.id.clone()).collect();
    let sweep_dir: PathBuf = opts.out.join("seeds");
    let mut points = Vec::new();
    for id in &ids {
        for &s in rest {
            points.push(Point::new(
                Target::Experiment { id: id.clone(), scale: opts.scale },
                BTreeMap::new(),
                s,
            ));
        }
    }
    let mut results = Vec::new();
    if !points.is_empty() {
        if opts.fresh {
            let _ = std::fs::remove_dir_all(&sweep_dir);
        }
        let plan = Plan {
            name: format!("lab at scale {} over seeds", opts.scale.name()),
            description: Some("Every experiment of the lab at the seeds after the first.".into()),
            axes: Vec::new(),
            points: points.clone(),
            slurm: Default::default(),
        };
        // results of another build are not kept: the lab compares like with like
        let store = Store::open(&sweep_dir, &plan, true)?;
        for p in &points {
            if store.result(&p.id).is_some_and(|r| r.code_version != odl_lab::summary::CODE_VERSION) {
                store.forget(&p.id)?;
            }
        }
        let o = Options {
            out: sweep_dir.clone(),
            jobs: opts.jobs,
            backend: Backend::Local,
            resume: true,
            retry_failed: true,
            dry_run: false,
            slurm: Default::default(),
            exe: exe.to_path_buf(),
            poll: std::time::Duration::from_secs(1),
        };
        driver::run(&plan, &o)?;
        results = store.results()?;
    }
    let mut rates = HoldRates { seeds: seeds.to_vec(), claims: Vec::new() };
    for s in &res.summaries {
        for c in &s.claims {
            let mut r = HoldRate {
                experiment: s.id.clone(),
                claim: c.id.clone(),
                held: c.holds as usize,
                runs: 1,
                failed_seeds: if c.holds { Vec::new() } else { vec![first] },
            };
            for &seed in rest {
                let found = results.iter().find(|x| {
                    x.ok && x.seed == seed
                        && x.target == Target::Experiment { id: s.id.clone(), scale: opts.scale }.label()
                });
                if let Some(c2) = found.and_then(|x| x.claims.iter().find(|k| k.id == c.id)) {
                    r.runs += 1;
                    r.held += c2.holds as usize;
                    if !c2.holds {
                        r.failed_seeds.push(seed);
                    }
                }
            }
            rates.claims.push(r);
        }
    }
    odl_train::files::write_json(&opts.out.join(HoldRates::FILE), &serde_json::to_value(&rates)?)?;
    odl_lab::report::write(&opts.out)?;
    Ok((res, rates))
}
