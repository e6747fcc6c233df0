//! Helpers every CLI test uses: run the `odl` binary, make a fresh folder.

#![allow(dead_code)] // each test binary uses its own subset

use std::path::PathBuf;
use std::process::Command;

/// Runs `odl args…`: (exit status, stdout, stderr).
pub fn odl(args: &[&str]) -> (i32, String, String) {
    odl_env(args, &[])
}

/// Runs `odl args…` with extra environment variables.
pub fn odl_env(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_odl"));
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run odl");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// A fresh, empty folder for one test (`odl-<suite>-<pid>-<name>` in the
/// temporary directory).
pub fn dir(suite: &str, name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("odl-{suite}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The summary an `odl run` wrote.
pub fn summary(dir: &std::path::Path, id: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join(id).join("summary.json")).unwrap()).unwrap()
}
