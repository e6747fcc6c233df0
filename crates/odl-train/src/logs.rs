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
}

impl Logs {
    /// Opens the logs in `out`: new (truncated, CSV header written) or, when
    /// resuming, for appending.
    pub fn open(out: &Path, resume: bool) -> Result<Logs> {
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
            writeln!(csv, "{}", CSV_COLUMNS.join(","))?;
        }
        Ok(Logs { jsonl: open("metrics.jsonl")?, csv })
    }

    /// Appends one record to both files.
    pub fn write(&mut self, rec: &serde_json::Value) -> Result<()> {
        writeln!(self.jsonl, "{rec}")?;
        let cells: Vec<String> = CSV_COLUMNS
            .iter()
            .map(|k| rec.get(*k).and_then(|v| v.as_f64()).map(|v| v.to_string()).unwrap_or_default())
            .collect();
        writeln!(self.csv, "{}", cells.join(","))?;
        Ok(())
    }
}
