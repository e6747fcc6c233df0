//! The typed result of one experiment, as written to `OUT/ID/summary.json`
//! (or `error.json` for an experiment that failed) and read back by the
//! report and by sweeps: measurement → typed summary on disk → report.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::claim::Claim;
use crate::experiment::Scale;
use crate::params::Value;

/// The version of the code results are made with: odl's version and the
/// git commit it was built from. `odl lab` reuses a finished experiment
/// only when this matches (edits not committed are not seen: give `--fresh`).
pub const CODE_VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "+", env!("ODL_COMMIT"));

/// A measured value: a number (NaN/∞ are written as JSON `null`), an
/// integer, a yes/no, a text, a list or a table of them.
#[derive(Clone, Debug, PartialEq)]
pub enum Metric {
    /// a real number
    Num(f64),
    /// an integer (a count, a depth)
    Int(i64),
    /// a yes/no outcome
    Bool(bool),
    /// a name or a sentence
    Text(String),
    /// a list
    List(Vec<Metric>),
    /// named values
    Map(BTreeMap<String, Metric>),
}

impl Metric {
    /// A table from `(name, value)` pairs.
    pub fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Metric)>) -> Metric {
        Metric::Map(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// The number, if this is one (integers included).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Metric::Num(v) => Some(*v),
            Metric::Int(v) => Some(*v as f64),
            _ => None,
        }
    }
}

impl From<f64> for Metric {
    fn from(v: f64) -> Metric {
        Metric::Num(v)
    }
}
impl From<usize> for Metric {
    fn from(v: usize) -> Metric {
        Metric::Int(v as i64)
    }
}
impl From<i64> for Metric {
    fn from(v: i64) -> Metric {
        Metric::Int(v)
    }
}
impl From<bool> for Metric {
    fn from(v: bool) -> Metric {
        Metric::Bool(v)
    }
}
impl From<&str> for Metric {
    fn from(v: &str) -> Metric {
        Metric::Text(v.into())
    }
}
impl From<String> for Metric {
    fn from(v: String) -> Metric {
        Metric::Text(v)
    }
}
impl<T: Into<Metric> + Clone> From<&[T]> for Metric {
    fn from(v: &[T]) -> Metric {
        Metric::List(v.iter().cloned().map(Into::into).collect())
    }
}
impl<T: Into<Metric>> From<Vec<T>> for Metric {
    fn from(v: Vec<T>) -> Metric {
        Metric::List(v.into_iter().map(Into::into).collect())
    }
}
impl<T: Into<Metric>, const N: usize> From<[T; N]> for Metric {
    fn from(v: [T; N]) -> Metric {
        Metric::List(v.into_iter().map(Into::into).collect())
    }
}
/// `None` (a run that never got there) is written as `null`.
impl<T: Into<Metric>> From<Option<T>> for Metric {
    fn from(v: Option<T>) -> Metric {
        v.map_or(Metric::Num(f64::NAN), Into::into)
    }
}
impl<T: Into<Metric>> From<BTreeMap<String, T>> for Metric {
    fn from(v: BTreeMap<String, T>) -> Metric {
        Metric::Map(v.into_iter().map(|(k, v)| (k, v.into())).collect())
    }
}

impl Serialize for Metric {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Metric::Num(v) if v.is_finite() => s.serialize_f64(*v),
            Metric::Num(_) => s.serialize_none(),
            Metric::Int(v) => s.serialize_i64(*v),
            Metric::Bool(b) => s.serialize_bool(*b),
            Metric::Text(t) => s.serialize_str(t),
            Metric::List(l) => l.serialize(s),
            Metric::Map(m) => m.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Metric {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Metric, D::Error> {
        fn from(v: serde_json::Value) -> Metric {
            use serde_json::Value as J;
            match v {
                J::Null => Metric::Num(f64::NAN),
                J::Bool(b) => Metric::Bool(b),
                J::Number(n) => match n.as_i64() {
                    Some(i) => Metric::Int(i),
                    None => Metric::Num(n.as_f64().unwrap_or(f64::NAN)),
                },
                J::String(s) => Metric::Text(s),
                J::Array(a) => Metric::List(a.into_iter().map(from).collect()),
                J::Object(o) => Metric::Map(o.into_iter().map(|(k, v)| (k, from(v))).collect()),
            }
        }
        Ok(from(serde_json::Value::deserialize(d)?))
    }
}

/// A figure an experiment drew: its SVG file (next to `<stem>.fig.json`,
/// the data it was drawn from), its title and its caption.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FigureRef {
    /// file name of the SVG, in the experiment's folder
    pub file: String,
    /// the figure's title
    pub title: String,
    /// what to look at in it
    #[serde(default)]
    pub caption: String,
}

/// One experiment's result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// the experiment's id
    pub id: String,
    /// its lecture
    pub lecture: String,
    /// its title
    pub title: String,
    /// the paper(s)
    #[serde(default)]
    pub source: String,
    /// what it sets up and measures
    #[serde(default)]
    pub setup: String,
    /// the scale it ran at (absent when it failed before running)
    #[serde(default)]
    pub scale: Option<Scale>,
    /// the resolved parameters, `seed` included
    #[serde(default)]
    pub params: BTreeMap<String, Value>,
    /// which data set it used (`None`: data it generated itself)
    #[serde(default)]
    pub data: Option<String>,
    /// named measurements
    #[serde(default)]
    pub metrics: BTreeMap<String, Metric>,
    /// the checks
    #[serde(default)]
    pub claims: Vec<Claim>,
    /// remarks for the reader
    #[serde(default)]
    pub notes: Vec<String>,
    /// the figures, in order
    #[serde(default)]
    pub figures: Vec<FigureRef>,
    /// seconds it took
    #[serde(default)]
    pub wall_s: f64,
    /// the code that made it ([`CODE_VERSION`])
    #[serde(default)]
    pub code_version: String,
    /// checksums of the files the experiment wrote next to this summary
    /// (figures, data), verified whenever the results are read back
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// why it failed, for an experiment that did not finish
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Summary {
    /// How many claims hold.
    pub fn held(&self) -> usize {
        self.claims.iter().filter(|c| c.holds).count()
    }

    /// Reads a `summary.json` or `error.json`.
    pub fn load(path: &Path) -> Result<Summary> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let s: Summary = serde_json::from_str(&text)
            .with_context(|| format!("{}: not an odl lab summary", path.display()))?;
        if s.id.is_empty() {
            bail!("{}: no \"id\"", path.display());
        }
        Ok(s)
    }

    /// Writes it as pretty JSON to `path`, atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        odl_train::files::write_json(path, &serde_json::to_value(self)?)
    }
}

/// How often each claim held over several seeds (`odl lab --seeds`),
/// written as `hold-rates.json` next to the lab's results and shown by the
/// report.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HoldRates {
    /// the seeds
    pub seeds: Vec<u64>,
    /// one entry per claim of each experiment
    pub claims: Vec<HoldRate>,
}

/// One claim's record over seeds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HoldRate {
    /// the experiment
    pub experiment: String,
    /// the claim's id
    pub claim: String,
    /// seeds where it held
    pub held: usize,
    /// seeds that decided it (the experiment ran)
    pub runs: usize,
    /// the seeds where it did not hold
    #[serde(default)]
    pub failed_seeds: Vec<u64>,
}

impl HoldRates {
    /// The file's name in a lab folder.
    pub const FILE: &'static str = "hold-rates.json";

    /// Reads `dir/hold-rates.json` if there is one.
    pub fn load(dir: &Path) -> Result<Option<HoldRates>> {
        let path = dir.join(HoldRates::FILE);
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        Ok(Some(
            serde_json::from_str(&text).with_context(|| format!("{}: not odl hold rates", path.display()))?,
        ))
    }

    /// The record of one claim.
    pub fn get(&self, experiment: &str, claim: &str) -> Option<&HoldRate> {
        self.claims.iter().find(|c| c.experiment == experiment && c.claim == claim)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_round_trip_with_non_finite_numbers_as_null() {
        let m = Metric::map([
            ("slope", Metric::from(0.5)),
            ("depths", Metric::from(vec![2usize, 4])),
            ("curve", Metric::from(vec![1.0, f64::NAN])),
            ("name", Metric::from("he")),
        ]);
        let s = serde_json::to_string(&m).unwrap();
        assert_eq!(s, r#"{"curve":[1.0,null],"depths":[2,4],"name":"he","slope":0.5}"#);
        let back: Metric = serde_json::from_str(&s).unwrap();
        let Metric::Map(b) = back else { panic!("a map") };
        assert!(matches!(&b["curve"], Metric::List(l) if l[1].as_f64().unwrap().is_nan()));
        assert_eq!(b["depths"], Metric::from(vec![2usize, 4]));
        assert_eq!(b["slope"].as_f64(), Some(0.5));
    }
}
