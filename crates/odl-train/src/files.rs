//! Writing results: JSON written whole (to a temporary name, then renamed, so
//! a crash never leaves half a file) and figures as SVG plus the JSON they
//! were drawn from (so a report can redraw them).

use std::path::Path;

use anyhow::{Context, Result};
use odl_plot::Figure;

/// Opens the run folder `out` of a training loop: refuses to overwrite a
/// finished run (`summary.json`) unless resuming, requires the checkpoint
/// `checkpoint` when resuming, creates the folder and writes the resolved
/// spec as `spec.toml`.
pub fn open_run_folder<S: serde::Serialize>(
    out: &Path,
    resume: bool,
    checkpoint: &str,
    spec: &S,
) -> Result<()> {
    if !resume && out.join("summary.json").exists() {
        anyhow::bail!("{} already holds a run; choose another --out, or --resume it", out.display());
    }
    if resume && !out.join(checkpoint).exists() {
        anyhow::bail!(
            "--resume: {} holds no {checkpoint} to continue from (run without --resume to start afresh)",
            out.display()
        );
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    std::fs::write(out.join("spec.toml"), toml::to_string_pretty(spec)?)
        .with_context(|| format!("writing {}", out.join("spec.toml").display()))?;
    Ok(())
}

/// The progress bar of a training loop of `total` steps at `pos` (`None`
/// when stderr is not a terminal: loops print a line per evaluation then).
pub fn progress_bar(total: usize, pos: usize) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal().then(|| {
        let b = indicatif::ProgressBar::new(total as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {msg}  [{elapsed} < {eta}]")
                .expect("template"),
        );
        b.set_position(pos as u64);
        b
    })
}

/// Writes `text` to `path` atomically: to `<path>.tmp`, then renamed.
pub fn write_atomic(path: &Path, text: &str) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Writes `value` as pretty JSON to `path`, atomically.
pub fn write_json(path: &Path, value: &serde_json::Value) -> Result<()> {
    write_atomic(path, &serde_json::to_string_pretty(value)?)
}

/// Writes `dir/<name>.svg` and `dir/<name>.fig.json` for each figure.
pub fn save_figures(dir: &Path, figures: &[(String, Figure)]) -> Result<()> {
    for (name, fig) in figures {
        std::fs::write(dir.join(format!("{name}.svg")), fig.to_svg())
            .with_context(|| format!("writing {}/{name}.svg", dir.display()))?;
        write_json(&dir.join(format!("{name}.fig.json")), &serde_json::to_value(fig)?)?;
    }
    Ok(())
}

/// A JSON number, or `null` for NaN/∞ (JSON has neither).
pub fn num(v: f64) -> serde_json::Value {
    if v.is_finite() {
        serde_json::json!(v)
    } else {
        serde_json::Value::Null
    }
}

/// A JSON list of numbers with `null` for non-finite entries.
pub fn nums(v: &[f64]) -> serde_json::Value {
    serde_json::Value::Array(v.iter().map(|x| num(*x)).collect())
}

/// The checksum of a file's bytes, as written in manifests (`crc32:1a2b3c4d`).
pub fn checksum(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(format!("crc32:{:08x}", crc32fast::hash(&bytes)))
}

/// The checksums of the files directly in `dir` (sorted by name), except
/// `skip`: what a result folder holds when it is complete.
pub fn manifest(dir: &Path, skip: &[&str]) -> Result<std::collections::BTreeMap<String, String>> {
    let mut out = std::collections::BTreeMap::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if e.path().is_file() && !skip.contains(&name.as_str()) && !name.ends_with(".tmp") {
            out.insert(name.clone(), checksum(&e.path())?);
        }
    }
    Ok(out)
}

/// Checks the files of `dir` against a manifest: a file missing or changed
/// since it was written is an error naming it.
pub fn verify(dir: &Path, manifest: &std::collections::BTreeMap<String, String>) -> Result<()> {
    for (name, sum) in manifest {
        let p = dir.join(name);
        if !p.exists() {
            anyhow::bail!("{}: missing (the results that listed it are incomplete)", p.display());
        }
        let now = checksum(&p)?;
        if &now != sum {
            anyhow::bail!("{}: changed since it was written ({now}, recorded {sum})", p.display());
        }
    }
    Ok(())
}
