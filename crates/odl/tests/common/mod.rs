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
/// temporary directory), removed when the test passes and kept for a look
/// when it fails (dropped while panicking).
pub fn dir(suite: &str, name: &str) -> TestDir {
    let d = std::env::temp_dir().join(format!("odl-{suite}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    TestDir { root: d.clone(), path: d }
}

/// A test's folder: a `Path` that deletes its root folder unless the test
/// failed.
pub struct TestDir {
    root: PathBuf,
    path: PathBuf,
}

impl TestDir {
    /// The same guard, now pointing at `name` inside the folder (a run the
    /// test made there); the whole folder still goes when it drops.
    pub fn into_child(mut self, name: &str) -> TestDir {
        self.path = self.path.join(name);
        self
    }
}

impl std::ops::Deref for TestDir {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.path
    }
}

impl AsRef<std::path::Path> for TestDir {
    fn as_ref(&self) -> &std::path::Path {
        &self.path
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

/// The summary an `odl run` wrote.
pub fn summary(dir: &std::path::Path, id: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join(id).join("summary.json")).unwrap()).unwrap()
}

/// Whether this process ignores SIGINT (inherited by the `odl` it starts):
/// true when the tests were started in the background by a non-interactive
/// shell (`cmd &`), where POSIX shells set SIGINT to ignored. A kill test
/// with SIGINT then cannot interrupt anything.
pub fn sigint_ignored() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << 1) != 0) // SIGINT = 2 → bit 1
}
