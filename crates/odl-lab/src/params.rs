//! Experiment parameters: typed defaults per scale, `--set key=value`
//! overrides checked against the type and range of the default, and the
//! resolved values written to `summary.json`.

use std::collections::BTreeMap;

use anyhow::{bail, Result};

/// A parameter's value (in `summary.json`: a number, a list, a name).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// an integer
    Int(i64),
    /// a real number
    Float(f64),
    /// a list of integers (`--set depths=2,4,8`)
    Ints(Vec<i64>),
    /// a list of reals
    Floats(Vec<f64>),
    /// one of a set of names
    Str(String),
    /// several of a set of names
    Strs(Vec<String>),
}

/// What values are allowed.
#[derive(Clone, Debug)]
pub enum Check {
    /// every number in `[lo, hi]`
    Range(f64, f64),
    /// one of these names
    OneOf(&'static [&'static str]),
}

/// One named parameter.
#[derive(Clone, Debug)]
pub struct Param {
    /// its key
    pub name: &'static str,
    /// the value (the default until `--set`)
    pub value: Value,
    /// what it means
    pub help: &'static str,
    /// allowed values
    pub check: Check,
    /// a list needs at least this many different values (a fit over them)
    pub distinct: usize,
}

impl Param {
    /// A list parameter that a slope or exponent is fitted over: at least
    /// `n` different values (`--set depths=2,2,2` is rejected up front).
    pub fn distinct(mut self, n: usize) -> Param {
        self.distinct = n;
        self
    }
}

/// `Param` constructors, short enough for tables of defaults.
pub fn int(name: &'static str, v: i64, lo: i64, hi: i64, help: &'static str) -> Param {
    Param { name, value: Value::Int(v), help, check: Check::Range(lo as f64, hi as f64), distinct: 0 }
}
/// A real parameter in `[lo, hi]`.
pub fn float(name: &'static str, v: f64, lo: f64, hi: f64, help: &'static str) -> Param {
    Param { name, value: Value::Float(v), help, check: Check::Range(lo, hi), distinct: 0 }
}
/// A list of integers in `[lo, hi]`.
pub fn ints(name: &'static str, v: &[i64], lo: i64, hi: i64, help: &'static str) -> Param {
    Param {
        name,
        value: Value::Ints(v.to_vec()),
        help,
        check: Check::Range(lo as f64, hi as f64),
        distinct: 0,
    }
}
/// A list of reals in `[lo, hi]`.
pub fn floats(name: &'static str, v: &[f64], lo: f64, hi: f64, help: &'static str) -> Param {
    Param { name, value: Value::Floats(v.to_vec()), help, check: Check::Range(lo, hi), distinct: 0 }
}
/// One name of `allowed`.
pub fn choice(name: &'static str, v: &str, allowed: &'static [&'static str], help: &'static str) -> Param {
    Param { name, value: Value::Str(v.into()), help, check: Check::OneOf(allowed), distinct: 0 }
}
/// Several names of `allowed`.
pub fn choices(
    name: &'static str,
    v: &[&str],
    allowed: &'static [&'static str],
    help: &'static str,
) -> Param {
    Param {
        name,
        value: Value::Strs(v.iter().map(|s| s.to_string()).collect()),
        help,
        check: Check::OneOf(allowed),
        distinct: 0,
    }
}

/// The resolved parameters of one run.
#[derive(Clone, Debug)]
pub struct Params(pub Vec<Param>);

impl Params {
    fn get(&self, name: &str) -> &Value {
        &self
            .0
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("experiment reads undeclared parameter '{name}'"))
            .value
    }
    /// An integer parameter.
    pub fn int(&self, name: &str) -> i64 {
        match self.get(name) {
            Value::Int(v) => *v,
            v => panic!("parameter '{name}' is {v:?}, not an integer"),
        }
    }
    /// An integer parameter as `usize` (declared with a non-negative range).
    pub fn usize(&self, name: &str) -> usize {
        self.int(name).max(0) as usize
    }
    /// A real parameter.
    pub fn float(&self, name: &str) -> f64 {
        match self.get(name) {
            Value::Float(v) => *v,
            v => panic!("parameter '{name}' is {v:?}, not a real"),
        }
    }
    /// A list of integers as `usize`.
    pub fn usizes(&self, name: &str) -> Vec<usize> {
        match self.get(name) {
            Value::Ints(v) => v.iter().map(|x| (*x).max(0) as usize).collect(),
            v => panic!("parameter '{name}' is {v:?}, not a list of integers"),
        }
    }
    /// A list of reals.
    pub fn floats(&self, name: &str) -> Vec<f64> {
        match self.get(name) {
            Value::Floats(v) => v.clone(),
            v => panic!("parameter '{name}' is {v:?}, not a list of reals"),
        }
    }
    /// A name.
    pub fn str(&self, name: &str) -> &str {
        match self.get(name) {
            Value::Str(v) => v,
            v => panic!("parameter '{name}' is {v:?}, not a name"),
        }
    }
    /// A list of names.
    pub fn strs(&self, name: &str) -> Vec<String> {
        match self.get(name) {
            Value::Strs(v) => v.clone(),
            v => panic!("parameter '{name}' is {v:?}, not a list of names"),
        }
    }

    /// Applies `key=value` overrides; an unknown key, a value of the wrong
    /// type or out of range is an error naming the key and what is allowed.
    pub fn apply(&mut self, id: &str, sets: &[String]) -> Result<()> {
        let mut seen: Vec<&str> = Vec::new();
        for s in sets {
            let Some((k, v)) = s.split_once('=') else { bail!("--set {s}: expected key=value") };
            let (k, v) = (k.trim(), v.trim());
            if seen.contains(&k) {
                bail!("--set {k}: given twice; give each parameter once");
            }
            seen.push(k);
            let known: Vec<&str> = self.0.iter().map(|p| p.name).collect();
            let Some(p) = self.0.iter_mut().find(|p| p.name == k) else {
                bail!("--set {k}: experiment '{id}' has no parameter '{k}'; it has: {}", known.join(", "))
            };
            p.value = parse(p, v).map_err(|e| anyhow::anyhow!("--set {k}={v}: {e} ({})", p.help))?;
            let distinct = match &p.value {
                Value::Ints(l) => {
                    let mut l = l.clone();
                    l.sort_unstable();
                    l.dedup();
                    l.len()
                }
                Value::Floats(l) => {
                    let mut l = l.clone();
                    l.sort_by(f64::total_cmp);
                    l.dedup();
                    l.len()
                }
                _ => usize::MAX,
            };
            if distinct < p.distinct {
                bail!(
                    "--set {k}={v}: {distinct} different value(s); the experiment fits a line over {k}, which needs at least {}",
                    p.distinct
                );
            }
        }
        Ok(())
    }

    /// `{name: value}` for `summary.json`.
    pub fn to_map(&self) -> BTreeMap<String, Value> {
        self.0.iter().map(|p| (p.name.to_string(), p.value.clone())).collect()
    }
}

fn list(v: &str) -> Vec<&str> {
    let v = v.trim_start_matches('[').trim_end_matches(']');
    v.split(',').map(str::trim).filter(|s| !s.is_empty()).collect()
}

fn in_range(check: &Check, x: f64) -> Result<(), String> {
    match check {
        Check::Range(lo, hi) if !(x >= *lo && x <= *hi) => Err(format!("{x} is outside [{lo}, {hi}]")),
        _ => Ok(()),
    }
}

fn nonempty(l: Vec<&str>) -> Result<Vec<&str>, String> {
    if l.is_empty() {
        Err("an empty list".to_string())
    } else {
        Ok(l)
    }
}

fn parse(p: &Param, v: &str) -> Result<Value, String> {
    let int = |s: &str| -> Result<i64, String> {
        let x: i64 = s.parse().map_err(|_| format!("'{s}' is not an integer"))?;
        in_range(&p.check, x as f64)?;
        Ok(x)
    };
    let real = |s: &str| -> Result<f64, String> {
        let x: f64 = s.parse().map_err(|_| format!("'{s}' is not a number"))?;
        if !x.is_finite() {
            return Err(format!("'{s}' is not a finite number"));
        }
        in_range(&p.check, x)?;
        Ok(x)
    };
    let name = |s: &str| -> Result<String, String> {
        match &p.check {
            Check::OneOf(allowed) if !allowed.contains(&s) => {
                Err(format!("'{s}' is not one of {}", allowed.join(", ")))
            }
            _ => Ok(s.to_string()),
        }
    };
    Ok(match &p.value {
        Value::Int(_) => Value::Int(int(v)?),
        Value::Float(_) => Value::Float(real(v)?),
        Value::Ints(_) => Value::Ints(nonempty(list(v))?.into_iter().map(int).collect::<Result<_, _>>()?),
        Value::Floats(_) => {
            Value::Floats(nonempty(list(v))?.into_iter().map(real).collect::<Result<_, _>>()?)
        }
        Value::Str(_) => Value::Str(name(v)?),
        Value::Strs(_) => Value::Strs(nonempty(list(v))?.into_iter().map(name).collect::<Result<_, _>>()?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ps() -> Params {
        Params(vec![
            int("steps", 100, 1, 1000, "steps"),
            floats("lrs", &[0.1], 0.0, 10.0, "step sizes").distinct(2),
            choices("inits", &["he"], &["he", "lecun"], "inits"),
        ])
    }

    #[test]
    fn overrides_are_typed_and_checked() {
        let mut p = ps();
        p.apply("x", &["steps=7".into(), "lrs=[0.5, 1]".into(), "inits=he,lecun".into()]).unwrap();
        assert_eq!(p.int("steps"), 7);
        assert_eq!(p.floats("lrs"), vec![0.5, 1.0]);
        assert_eq!(p.strs("inits"), vec!["he", "lecun"]);
        for (bad, needle) in [
            ("steps=0", "outside [1, 1000]"),
            ("steps=1.5", "not an integer"),
            ("lrs=a", "'a' is not a number"),
            ("lrs=", "empty list"),
            ("lrs=nan", "not a finite number"),
            ("inits=xavier", "not one of he, lecun"),
            ("depth=3", "has no parameter 'depth'; it has: steps, lrs, inits"),
            ("steps", "expected key=value"),
            ("steps=3,steps=4", "given twice"),
            ("lrs=0.5,0.5", "needs at least 2"),
        ] {
            let sets: Vec<String> = if bad.contains(",steps") {
                bad.split(',').map(String::from).collect()
            } else {
                vec![bad.into()]
            };
            let e = ps().apply("x", &sets).unwrap_err().to_string();
            assert!(e.contains(needle), "{bad}: {e}");
        }
    }
}
