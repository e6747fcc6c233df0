//! Records the code version the lab's results are made with (the git
//! commit, when built from a clone), so that `odl lab` reuses a finished
//! experiment only when the same code made it.

fn main() {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "no-git".into());
    println!("cargo:rustc-env=ODL_COMMIT={commit}");
    // a new commit (or checkout) rebuilds this
    println!("cargo:rerun-if-changed=../../.git/HEAD");
    println!("cargo:rerun-if-changed=../../.git/refs/heads");
}
