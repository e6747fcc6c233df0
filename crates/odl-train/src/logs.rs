//! The metrics of a run as they happen: `metrics.jsonl` (one JSON object per
//! step, every field) and `metrics.csv` (the fixed columns below).

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

/// The columns of `metrics.csv`.
pub const CSV_COLUMNS: [&str; 9] =
    ["step", "epoch", "loss", "grad_norm", "lr", "time_s", "test_loss", "test_acc", "sharpness"];

/// The two log files of a run folder, open for appending.
pub struct Logs {
    jsonl: std::fs::File,
    csv: std::fs::File,
    columns: Vec<String>,
}

impl Logs {
    /// Opens the logs in `out`: new (truncated, CSV header written) or, when
    /// resuming from a checkpoint written after `resume_at` steps, cut back
    /// to exactly the records of those steps (an interrupted run may have
    /// logged steps after its last checkpoint, or left a torn last line)
    /// and opened for appending — so a resumed run's logs equal an
    /// uninterrupted run's, line for line.
    pub fn open(out: &Path, resume_at: Option<usize>) -> Result<Logs> {
        Logs::with_columns(out, resume_at, &CSV_COLUMNS)
    }

    /// [`Logs::open`] with other CSV columns (`odl gan`'s, say); every
    /// record still goes whole into `metrics.jsonl`.
    pub fn with_columns(out: &Path, resume_at: Option<usize>, columns: &[&str]) -> Result<Logs> {
        let columns: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
        let resume = resume_at.is_some();
        if let Some(k) = resume_at {
            cut_back(out, k, &columns)?;
        }
        let open = |name: &str| -> Result<std::fs::File> {
            let p = out.join(name);
            std::fs::OpenOptions::new()
                .create(true)
                .append(resume)
                .write(true)
                .truncate(!resume)
                .open(&p)
                .with_context(|| format!("opening {}", p.display()))
        };
        let mut csv = open("metrics.csv")?;
        if !resume {
            writeln!(csv, "{}", columns.join(","))?;
        }
        Ok(Logs { jsonl: open("metrics.jsonl")?, csv, columns })
    }

    /// Appends one record to both files.
    pub fn write(&mut self, rec: &serde_json::Value) -> Result<()> {
        writeln!(self.jsonl, "{rec}")?;
        let cells: Vec<String> = self
            .columns
            .iter()
            .map(|k| rec.get(k.as_str()).and_then(|v| v.as_f64()).map(|v| v.to_string()).unwrap_or_default())
            .collect();
        writeln!(self.csv, "{}", cells.join(","))?;
        Ok(())
    }
}

/// The step a log record is for (`None`: a torn or foreign line).
fn record_step(line: &str) -> Option<usize> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    v.get("step")?.as_u64().map(|s| s as usize)
}

/// Rewrites `metrics.jsonl` and `metrics.csv` in `out` to the records of
/// steps 1..=`k` (whole lines only), each atomically.
fn cut_back(out: &Path, k: usize, columns: &[String]) -> Result<()> {
    let keep = |name: &str, header: bool, step_of: &dyn Fn(&str) -> Option<usize>| -> Result<()> {
        let p = out.join(name);
        let text = match std::fs::read_to_string(&p) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e).with_context(|| format!("reading {}", p.display())),
        };
        let mut kept = String::new();
        let mut lines = text.split_inclusive('\n');
        if header {
            kept.push_str(&format!("{}\n", columns.join(",")));
            lines.next();
        }
        // a complete line (ending in a newline) of a step up to k; the log is
        // in step order, so the first other line ends it
        for l in lines {
            match (l.ends_with('\n'), step_of(l.trim_end())) {
                (true, Some(s)) if s <= k => kept.push_str(l),
                _ => break,
            }
        }
        let tmp = out.join(format!("{name}.tmp"));
        std::fs::write(&tmp, kept).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &p).with_context(|| format!("writing {}", p.display()))?;
        Ok(())
    };
    keep("metrics.jsonl", false, &record_step)?;
    keep("metrics.csv", true, &|l| l.split(',').next()?.parse().ok())
}
