//! The sweep file: what runs at each point and over which values.
//!
//! ```toml
//! experiment = "shamir-depth"   # a lab experiment (odl list) …
//! scale = "quick"               # … at a scale (tiny, quick, full; default quick)
//! # spec = "../specs/two-moons-mlp.toml"   # … or a training spec, relative to this file
//! seeds = "0..10"               # or a list: [0, 1, 2]
//!
//! [grid]                        # every combination of these --set values
//! depths = ["2,4,8", "2,3,4,5"]
//!
//! [zip]                         # axes that advance together (equal lengths)
//! # "optim.lr" = [0.1, 0.01]
//! # "train.epochs" = [10, 20]
//!
//! [random]                      # optional: samples drawn from ranges
//! # samples = 8
//! # seed = 0
//! # ranges = { "optim.lr" = { low = 1e-3, high = 0.3, log = true } }
//!
//! [slurm]                       # for --backend slurm (flags on the command line win)
//! # time = "00:20:00"; cpus_per_task = 2; mem = "4G"; partition = "debug"; throttle = 4
//! # extra = ["--qos=normal"]
//! ```
//! Points are grid × zip × random samples × seeds. A value is given as it
//! would be after `--set key=`: a number, a string, or a list (written
//! `"2,4,8"` or `[2, 4, 8]`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

/// A sweep file as written.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepFile {
    /// what the sweep is for (shown in the report)
    #[serde(default)]
    pub description: Option<String>,
    /// a lab experiment id
    #[serde(default)]
    pub experiment: Option<String>,
    /// a training spec, relative to the sweep file
    #[serde(default)]
    pub spec: Option<PathBuf>,
    /// the lab scale (experiments only; default quick)
    #[serde(default)]
    pub scale: Option<String>,
    /// the seeds: a list, or `"a..b"` (b excluded); default `[0]`
    #[serde(default)]
    pub seeds: Option<Seeds>,
    /// every combination of these values
    #[serde(default)]
    pub grid: BTreeMap<String, toml::Value>,
    /// values that advance together
    #[serde(default)]
    pub zip: BTreeMap<String, toml::Value>,
    /// samples drawn from ranges
    #[serde(default)]
    pub random: Option<Random>,
    /// options of the Slurm backend
    #[serde(default)]
    pub slurm: SlurmOptions,
}

/// Seeds as a list or a range.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum Seeds {
    /// `[0, 1, 2]`
    List(Vec<u64>),
    /// `"0..10"`
    Range(String),
}

/// Random samples over ranges.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Random {
    /// how many samples
    pub samples: usize,
    /// the seed of the draws (not of the runs)
    #[serde(default)]
    pub seed: u64,
    /// key → range
    pub ranges: BTreeMap<String, Range>,
}

/// A range to draw a value from.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    /// smallest value
    pub low: f64,
    /// largest value
    pub high: f64,
    /// uniform in log space
    #[serde(default)]
    pub log: bool,
    /// round to an integer
    #[serde(default)]
    pub int: bool,
}

/// Options of the Slurm backend (`#SBATCH` lines).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlurmOptions {
    /// `--time` (e.g. `00:20:00`)
    #[serde(default)]
    pub time: Option<String>,
    /// `--cpus-per-task`
    #[serde(default)]
    pub cpus_per_task: Option<u32>,
    /// `--mem` (e.g. `4G`)
    #[serde(default)]
    pub mem: Option<String>,
    /// `--partition`
    #[serde(default)]
    pub partition: Option<String>,
    /// at most this many tasks at once (`--array=0-N%K`)
    #[serde(default)]
    pub throttle: Option<usize>,
    /// more sbatch flags, as written
    #[serde(default)]
    pub extra: Vec<String>,
}

impl SlurmOptions {
    /// These options with those of `over` where it sets them.
    pub fn merged(&self, over: &SlurmOptions) -> SlurmOptions {
        SlurmOptions {
            time: over.time.clone().or_else(|| self.time.clone()),
            cpus_per_task: over.cpus_per_task.or(self.cpus_per_task),
            mem: over.mem.clone().or_else(|| self.mem.clone()),
            partition: over.partition.clone().or_else(|| self.partition.clone()),
            throttle: over.throttle.or(self.throttle),
            extra: self.extra.iter().chain(&over.extra).cloned().collect(),
        }
    }
}

impl SweepFile {
    /// Reads and checks a sweep file; errors name the file and the key.
    pub fn load(path: &Path) -> Result<SweepFile> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        SweepFile::parse(&text).with_context(|| format!("{}", path.display()))
    }

    /// Parses the text of a sweep file.
    pub fn parse(text: &str) -> Result<SweepFile> {
        let de = toml::Deserializer::parse(text).context("not valid TOML")?;
        let f: SweepFile = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            anyhow::anyhow!(
                "{}{}",
                if path == "." { String::new() } else { format!("{path}: ") },
                e.into_inner()
            )
        })?;
        match (&f.experiment, &f.spec) {
            (None, None) => bail!("name what each point runs: experiment = \"ID\" or spec = \"FILE.toml\""),
            (Some(_), Some(_)) => bail!("give experiment or spec, not both"),
            (None, Some(_)) if f.scale.is_some() => {
                bail!("scale: only for lab experiments (a spec sets its own sizes)")
            }
            _ => {}
        }
        for (table, axes) in [("grid", &f.grid), ("zip", &f.zip)] {
            for (k, v) in axes {
                check_key(k).with_context(|| format!("{table}.{k}"))?;
                let toml::Value::Array(vals) = v else {
                    bail!("{table}.{k}: give a list of values, e.g. {k} = [1, 2]");
                };
                if vals.is_empty() {
                    bail!("{table}.{k}: an empty list (the sweep would have no points)");
                }
                for val in vals {
                    set_value(val).with_context(|| format!("{table}.{k}"))?;
                }
            }
        }
        if let Some(n) = f.zip.values().map(|v| v.as_array().map_or(0, Vec::len)).next() {
            if let Some((k, v)) = f.zip.iter().find(|(_, v)| v.as_array().map_or(0, Vec::len) != n) {
                bail!(
                    "zip.{k}: {} values, but the other zipped axes have {n} (zipped axes advance together)",
                    v.as_array().map_or(0, Vec::len)
                );
            }
        }
        let mut seen: Vec<&String> = Vec::new();
        let random_keys = f.random.iter().flat_map(|r| r.ranges.keys());
        for k in f.grid.keys().chain(f.zip.keys()).chain(random_keys) {
            if seen.contains(&k) {
                bail!("{k}: swept twice (in more than one of grid, zip and random)");
            }
            seen.push(k);
        }
        if let Some(r) = &f.random {
            if r.samples == 0 {
                bail!("random.samples: 0 (the sweep would have no points)");
            }
            if r.ranges.is_empty() {
                bail!("random.ranges: give at least one range");
            }
            for (k, g) in &r.ranges {
                check_key(k).with_context(|| format!("random.ranges.{k}"))?;
                if !(g.low.is_finite() && g.high.is_finite() && g.low <= g.high) {
                    bail!("random.ranges.{k}: low = {} and high = {} are not a range", g.low, g.high);
                }
                if g.log && g.low <= 0.0 {
                    bail!("random.ranges.{k}: a log range needs low > 0 (got {})", g.low);
                }
            }
        }
        f.seed_list()?;
        Ok(f)
    }

    /// The seeds, in order, without repeats.
    pub fn seed_list(&self) -> Result<Vec<u64>> {
        let seeds = match &self.seeds {
            None => vec![0],
            Some(Seeds::List(l)) => l.clone(),
            Some(Seeds::Range(r)) => parse_seeds(r).context("seeds")?,
        };
        if seeds.is_empty() {
            bail!("seeds: no seeds (the sweep would have no points)");
        }
        let mut seen = Vec::new();
        for s in &seeds {
            if seen.contains(s) {
                bail!("seeds: {s} given twice");
            }
            seen.push(*s);
        }
        Ok(seeds)
    }
}

/// Parses `"a..b"` (b excluded) or `"a..=b"`.
pub fn parse_seeds(r: &str) -> Result<Vec<u64>> {
    let bad = || anyhow::anyhow!("'{r}': write a range as \"0..10\" (10 excluded) or a list [0, 1, 2]");
    let (a, b, inclusive) = if let Some((a, b)) = r.split_once("..=") {
        (a, b, true)
    } else if let Some((a, b)) = r.split_once("..") {
        (a, b, false)
    } else {
        return Err(bad());
    };
    let a: u64 = a.trim().parse().map_err(|_| bad())?;
    let b: u64 = b.trim().parse().map_err(|_| bad())?;
    let end = if inclusive { b.checked_add(1).ok_or_else(bad)? } else { b };
    if end <= a {
        bail!("'{r}': an empty range of seeds");
    }
    if end - a > 100_000 {
        bail!("'{r}': {} seeds; at most 100 000", end - a);
    }
    Ok((a..end).collect())
}

fn check_key(k: &str) -> Result<()> {
    if k.is_empty() || k.contains(char::is_whitespace) || k.contains('=') {
        bail!("'{k}' is not a parameter name");
    }
    if k == "seed" {
        bail!("sweep seeds with `seeds = …`, not as a parameter");
    }
    Ok(())
}

/// A TOML value as the text after `--set key=`.
pub fn set_value(v: &toml::Value) -> Result<String> {
    Ok(match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => format!("{f}"),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Array(a) => a
            .iter()
            .map(|x| if x.is_array() { bail!("a list inside a list") } else { set_value(x) })
            .collect::<Result<Vec<_>>>()?
            .join(","),
        other => bail!("{other}: give a number, a string or a list"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sweep_file_parses_and_bad_ones_name_the_key() {
        let f = SweepFile::parse(
            "experiment = \"shamir-depth\"\nscale = \"tiny\"\nseeds = \"0..3\"\n[grid]\ndepths = [\"2,4\", [3, 6]]\n",
        )
        .unwrap();
        assert_eq!(f.seed_list().unwrap(), vec![0, 1, 2]);
        assert_eq!(set_value(&f.grid["depths"].as_array().unwrap()[1]).unwrap(), "3,6");
        for (text, needle) in [
            ("scale = \"tiny\"", "name what each point runs"),
            ("experiment = \"a\"\nspec = \"b\"", "not both"),
            ("experiment = \"a\"\nbogus = 1", "unknown field `bogus`"),
            ("experiment = \"a\"\n[grid]\nlr = 0.1", "grid.lr: give a list"),
            ("experiment = \"a\"\n[grid]\nlr = []", "grid.lr: an empty list"),
            ("experiment = \"a\"\nseeds = \"5..5\"", "empty range"),
            ("experiment = \"a\"\nseeds = \"x\"", "seeds"),
            ("experiment = \"a\"\nseeds = [1, 1]", "1 given twice"),
            ("experiment = \"a\"\n[zip]\na = [1, 2]\nb = [1]", "zip.b: 1 values"),
            ("experiment = \"a\"\n[grid]\nseed = [1]", "seeds = …"),
            ("experiment = \"a\"\n[grid]\nx = [1]\n[zip]\nx = [2]", "swept twice"),
            ("experiment = \"a\"\n[slurm]\ntime = 5", "slurm.time"),
            ("spec = \"a.toml\"\nscale = \"tiny\"", "only for lab experiments"),
            (
                "experiment = \"a\"\n[random]\nsamples = 2\nranges = { lr = { low = 0.0, high = 1.0, log = true } }",
                "log range needs low > 0",
            ),
        ] {
            let e = format!("{:#}", SweepFile::parse(text).expect_err(text));
            assert!(e.contains(needle), "{text}: {e}");
        }
    }
}
