//! The points of a sweep: every combination of its values and seeds, each
//! checked before anything runs (unknown keys, wrong types and values out
//! of range are errors here, not in a worker an hour later) and named by a
//! stable hash of what it runs, so a point keeps its folder when the sweep
//! file grows.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use odl_lab::Scale;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::file::{set_value, SweepFile};

/// What a point runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Target {
    /// a lab experiment at a scale
    Experiment {
        /// its id
        id: String,
        /// the scale
        scale: Scale,
    },
    /// `odl train` on a spec file
    Spec {
        /// the spec's file name without `.toml`
        name: String,
        /// where it is (absolute, so workers find it from any folder)
        path: PathBuf,
        /// the crc32 of its text: a changed spec is a different sweep
        digest: String,
    },
}

impl Target {
    /// A short name: `shamir-depth (quick)`, `spec two-moons-mlp`.
    pub fn label(&self) -> String {
        match self {
            Target::Experiment { id, scale } => format!("{id} ({})", scale.name()),
            Target::Spec { name, .. } => format!("spec {name}"),
        }
    }

    /// What the id of a point hashes: the path of a spec is left out, so a
    /// sweep folder moved with its repository keeps its points.
    fn identity(&self) -> String {
        match self {
            Target::Experiment { id, scale } => format!("experiment:{id}:{}", scale.name()),
            Target::Spec { name, digest, .. } => format!("spec:{name}:{digest}"),
        }
    }

    /// The target of a spec file.
    pub fn spec(path: &Path) -> Result<Target> {
        let text = std::fs::read(path).with_context(|| format!("reading the spec {}", path.display()))?;
        let path = std::fs::canonicalize(path).with_context(|| format!("{}", path.display()))?;
        let name =
            path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "spec".into());
        Ok(Target::Spec { name, path, digest: format!("{:08x}", crc32fast::hash(&text)) })
    }

    /// Checks that a point's values are accepted (the same resolution the
    /// worker does).
    pub fn check(&self, sets: &[String], seed: u64) -> Result<()> {
        match self {
            Target::Experiment { id, scale } => {
                let e = odl_lab::find(id)?;
                odl_lab::resolve(e, *scale, seed, sets).map(|_| ())
            }
            Target::Spec { path, .. } => {
                let mut all = sets.to_vec();
                all.push(format!("seed={seed}"));
                odl_train::load(path, &all).map(|_| ())
            }
        }
    }
}

/// One point: a target, its `--set` values and a seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// stable id: a hash of target, values and seed (its folder's name)
    pub id: String,
    /// what runs
    pub target: Target,
    /// `--set` values, by key
    pub sets: BTreeMap<String, String>,
    /// the seed
    pub seed: u64,
}

impl Point {
    /// A point with its id computed.
    pub fn new(target: Target, sets: BTreeMap<String, String>, seed: u64) -> Point {
        let mut key = target.identity();
        for (k, v) in &sets {
            key.push_str(&format!("\n{k}={v}"));
        }
        key.push_str(&format!("\nseed={seed}"));
        Point { id: format!("{:016x}", mix(fnv1a(key.as_bytes()))), target, sets, seed }
    }

    /// The values as `--set` arguments.
    pub fn set_args(&self) -> Vec<String> {
        self.sets.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }

    /// The values without the seed, as one line (`depths=2,4 lr=0.1`), the
    /// name of the group this point is a seed of.
    pub fn group(&self) -> String {
        let vals: Vec<String> = self.set_args();
        if vals.is_empty() {
            "(defaults)".into()
        } else {
            vals.join(" ")
        }
    }
}

/// A sweep's points and what it is.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Plan {
    /// what the sweep is (the same in every run of one sweep folder)
    pub name: String,
    /// what it is for
    #[serde(default)]
    pub description: Option<String>,
    /// the swept keys, in the order the report shows them
    pub axes: Vec<String>,
    /// every point
    pub points: Vec<Point>,
    /// options of the Slurm backend from the sweep file
    #[serde(default)]
    pub slurm: crate::file::SlurmOptions,
}

impl Plan {
    /// The points of a sweep file (paths in it are relative to `base`, its
    /// folder), each checked.
    pub fn from_file(f: &SweepFile, base: &Path) -> Result<Plan> {
        let target = match (&f.experiment, &f.spec) {
            (Some(id), None) => {
                odl_lab::find(id).context("experiment")?;
                let scale = match &f.scale {
                    Some(s) => s.parse::<Scale>().map_err(|e| anyhow::anyhow!("scale: {e}"))?,
                    None => Scale::Quick,
                };
                Target::Experiment { id: id.clone(), scale }
            }
            (None, Some(p)) => Target::spec(&base.join(p)).context("spec")?,
            _ => bail!("name what each point runs: experiment = \"ID\" or spec = \"FILE.toml\""),
        };
        let rows = value_rows(f)?;
        let seeds = f.seed_list()?;
        let mut points = Vec::with_capacity(rows.len() * seeds.len());
        for row in &rows {
            for &seed in &seeds {
                points.push(Point::new(target.clone(), row.clone(), seed));
            }
        }
        // every point resolves before anything runs; the error names the values
        for p in &points {
            target
                .check(&p.set_args(), p.seed)
                .with_context(|| format!("the point {} seed={}", p.group(), p.seed))?;
        }
        let axes: Vec<String> = f
            .grid
            .keys()
            .chain(f.zip.keys())
            .chain(f.random.iter().flat_map(|r| r.ranges.keys()))
            .cloned()
            .collect();
        Ok(Plan {
            name: format!("sweep of {}", target.label()),
            description: f.description.clone(),
            axes,
            points,
            slurm: f.slurm.clone(),
        })
    }
}

/// Every row of values: grid × zip × random samples.
fn value_rows(f: &SweepFile) -> Result<Vec<BTreeMap<String, String>>> {
    let mut rows: Vec<BTreeMap<String, String>> = vec![BTreeMap::new()];
    for (k, v) in &f.grid {
        let vals: Vec<String> =
            v.as_array().expect("checked").iter().map(set_value).collect::<Result<_>>()?;
        let mut seen = Vec::new();
        for x in &vals {
            if seen.contains(&x) {
                bail!("grid.{k}: the value {x} is given twice");
            }
            seen.push(x);
        }
        rows = rows
            .into_iter()
            .flat_map(|r| {
                vals.iter().map(move |x| {
                    let mut r = r.clone();
                    r.insert(k.clone(), x.clone());
                    r
                })
            })
            .collect();
    }
    if let Some(n) = f.zip.values().next().and_then(|v| v.as_array()).map(Vec::len) {
        let cols: Vec<(String, Vec<String>)> = f
            .zip
            .iter()
            .map(|(k, v)| {
                Ok((k.clone(), v.as_array().expect("checked").iter().map(set_value).collect::<Result<_>>()?))
            })
            .collect::<Result<_>>()?;
        rows = rows
            .into_iter()
            .flat_map(|r| {
                let cols = &cols;
                (0..n).map(move |i| {
                    let mut r = r.clone();
                    for (k, vals) in cols {
                        r.insert(k.clone(), vals[i].clone());
                    }
                    r
                })
            })
            .collect();
    }
    if let Some(rand) = &f.random {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(rand.seed);
        // draws rounded to 4 digits can repeat: draw until `samples` differ
        let mut samples: Vec<BTreeMap<String, String>> = Vec::with_capacity(rand.samples);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..rand.samples.saturating_mul(50) {
            if samples.len() == rand.samples {
                break;
            }
            let s: BTreeMap<String, String> = rand
                .ranges
                .iter()
                .map(|(k, g)| {
                    let u: f64 = rng.random();
                    let v = if g.log {
                        (g.low.ln() + u * (g.high.ln() - g.low.ln())).exp()
                    } else {
                        g.low + u * (g.high - g.low)
                    };
                    let text =
                        if g.int { format!("{}", v.round() as i64) } else { format!("{}", round_sig(v, 4)) };
                    (k.clone(), text)
                })
                .collect();
            if seen.insert(s.clone()) {
                samples.push(s);
            }
        }
        if samples.len() < rand.samples {
            bail!(
                "random: only {} different samples among the ranges' values, not {}; widen the ranges or draw fewer",
                samples.len(),
                rand.samples
            );
        }
        rows = rows
            .into_iter()
            .flat_map(|r| {
                samples.iter().map(move |s| {
                    let mut r = r.clone();
                    r.extend(s.clone());
                    r
                })
            })
            .collect();
    }
    let mut seen = std::collections::BTreeSet::new();
    Ok(rows.into_iter().filter(|r| seen.insert(r.clone())).collect())
}

/// `v` to `n` significant digits (random draws as readable `--set` values).
fn round_sig(v: f64, n: i32) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let p = 10f64.powi(n - 1 - v.abs().log10().floor() as i32);
    (v * p).round() / p
}

/// FNV-1a, 64 bits: a hash that is the same on every machine and version
/// (point ids must not change when odl is rebuilt).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// SplitMix64's finalizer: spreads FNV's output so that points differing in
/// one character get ids that look different at a glance.
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(text: &str) -> Result<Plan> {
        Plan::from_file(&SweepFile::parse(text)?, Path::new("."))
    }

    #[test]
    fn grid_zip_and_seeds_multiply_and_ids_are_stable() {
        let p = plan(
            "experiment = \"shamir-depth\"\nscale = \"tiny\"\nseeds = [0, 1]\n[grid]\ndepths = [\"2,4\", \"2,3,4\"]\n[zip]\ntarget = [2.0, 3.0]\ntol = [0.001, 0.01]\n",
        )
        .unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(p.points.len(), 2 * 2 * 2);
        let ids: Vec<&str> = p.points.iter().map(|q| q.id.as_str()).collect();
        for (i, a) in ids.iter().enumerate() {
            assert!(!ids[i + 1..].contains(a), "ids are distinct");
        }
        // zipped axes advance together
        assert!(p.points.iter().all(|q| (q.sets["target"] == "2") == (q.sets["tol"] == "0.001")));
        // the id depends on what runs, not on where the point sits in the file
        let q = Point::new(p.points[3].target.clone(), p.points[3].sets.clone(), p.points[3].seed);
        assert_eq!(q.id, p.points[3].id);
        // FNV-1a's published test vectors: the ids cannot drift between builds
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(crc32fast::hash(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn a_point_that_does_not_resolve_stops_the_plan_with_its_values() {
        let e = format!(
            "{:#}",
            plan("experiment = \"shamir-depth\"\nscale = \"tiny\"\n[grid]\nbogus = [1]\n").unwrap_err()
        );
        assert!(e.contains("bogus=1") && e.contains("bogus"), "{e}");
        let e = format!("{:#}", plan("experiment = \"no-such\"\n").unwrap_err());
        assert!(e.contains("unknown experiment 'no-such'"), "{e}");
    }

    #[test]
    fn random_samples_are_seeded_and_inside_their_ranges() {
        let text = "experiment = \"shamir-depth\"\nscale = \"tiny\"\n[random]\nsamples = 5\nseed = 3\nranges = { lr = { low = 0.001, high = 0.1, log = true } }\n";
        let f = SweepFile::parse(text).unwrap();
        let a = value_rows(&f).unwrap();
        let b = value_rows(&f).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 5);
        for r in &a {
            let v: f64 = r["lr"].parse().unwrap();
            assert!((0.001..=0.1).contains(&v), "{v}");
        }
    }
}
