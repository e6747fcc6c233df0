//! The lab's commands: `odl list`, `odl lab` (report written and rebuilt),
//! `odl run` (atomic results, clear errors on bad input), and the same lab on
//! a machine without Debian's Fashion-MNIST package. The experiments' theory
//! signatures are tested in odl-lab (`crates/odl-lab/tests/signatures.rs`).

mod common;

use common::{odl, odl_env, summary};

fn dir(name: &str) -> common::TestDir {
    common::dir("lab", name)
}

#[test]
fn list_names_every_experiment() {
    let (code, out, _) = odl(&["list"]);
    assert_eq!(code, 0);
    for e in odl_lab::experiments::ALL {
        assert!(out.contains(e.id) && out.contains(e.lecture), "{} missing from odl list", e.id);
    }
}

#[test]
fn lab_writes_a_report_and_rebuilds_it() {
    let out = dir("lab");
    let o = out.to_str().unwrap();
    let (code, stdout, err) = odl(&[
        "lab",
        "--only",
        "alchemy,backprop-forms",
        "--scale",
        "tiny",
        "--out",
        o,
        "--jobs",
        "2",
        "--strict",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("✓ alchemy") && stdout.contains("claims hold"), "{stdout}");
    let page = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(
        page.contains("id=\"alchemy\"") && page.contains("id=\"backprop-forms\"") && page.contains("<svg")
    );
    // self-contained: no scripts, no external resources (the SVG namespace URI is not a load)
    for bad in ["<script", " src=", "href=\"http", "@import", "url(http"] {
        assert!(!page.contains(bad), "the page must be self-contained: found {bad}");
    }
    std::fs::remove_file(out.join("index.html")).unwrap();
    let (code, _, err) = odl(&["report", o]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read_to_string(out.join("index.html")).unwrap(), page);
    // the figures pass their check; a figure that lost a series does not
    let (code, stdout, _) = odl(&["report", o, "--check-figures"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("0 problem(s)"), "{stdout}");
    let svg_path = out.join("alchemy").join("loss-width-10.svg");
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    let start = svg.find(r#"<g class="series" data-index="0""#).unwrap();
    let end = start + svg[start..].find("</g>").unwrap() + 4;
    std::fs::write(&svg_path, format!("{}{}", &svg[..start], &svg[end..])).unwrap();
    // the summary's checksums notice first: the file changed after the experiment wrote it
    let (code, _, err) = odl(&["report", o, "--check-figures"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("loss-width-10.svg: changed since it was written") && err.contains("odl run alchemy"),
        "{err}"
    );
}

#[test]
fn bad_ids_keys_and_values_are_clear_errors() {
    let out = dir("bad");
    let o = out.to_str().unwrap();
    for (args, needle) in [
        (vec!["run", "alchemi", "--out", o], "unknown experiment 'alchemi'; the experiments are: alchemy"),
        (vec!["run", "alchemy", "--set", "depth=3", "--out", o], "has no parameter 'depth'; it has: widths"),
        (
            vec!["run", "alchemy", "--set", "steps=abc", "--out", o],
            "--set steps=abc: 'abc' is not an integer",
        ),
        (vec!["run", "alchemy", "--set", "cond=10", "--out", o], "outside [100000"),
        (vec!["run", "alchemy", "--set", "widths=0,3", "--out", o], "0 is outside [1, 10]"),
        (vec!["run", "alchemy", "--scale", "huge", "--out", o], "invalid value 'huge'"),
        (vec!["lab", "--only", "nope", "--out", o], "unknown experiment 'nope'"),
        (vec!["report", "/nonexistent-odl-dir"], "no such folder"),
        (vec!["report", o], "no experiment results"),
    ] {
        let (code, _, err) = odl(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn parameters_an_experiment_cannot_use_are_an_error_not_a_panic() {
    // every step size diverges: no method has a result to report
    let out = dir("diverging");
    let (code, _, err) = odl(&[
        "run",
        "adaptive-generalization",
        "--scale",
        "tiny",
        "--set",
        "lrs=10",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("diverged at every step size") && !err.contains("panicked"), "{err}");
    assert!(!out.join("adaptive-generalization").exists(), "nothing half-written");
}

#[test]
fn a_rerun_replaces_results_only_when_it_succeeds() {
    let out = dir("rerun");
    let o = out.to_str().unwrap();
    let (code, _, err) = odl(&["run", "backprop-forms", "--scale", "tiny", "--out", o]);
    assert_eq!(code, 0, "{err}");
    let before = std::fs::read_to_string(out.join("backprop-forms/summary.json")).unwrap();
    // a bad override fails before anything is touched
    let (code, _, _) = odl(&["run", "backprop-forms", "--set", "depth=0", "--out", o]);
    assert_eq!(code, 2);
    assert_eq!(std::fs::read_to_string(out.join("backprop-forms/summary.json")).unwrap(), before);
    // a good one replaces the folder with the new parameters
    let (code, _, err) = odl(&["run", "backprop-forms", "--scale", "tiny", "--set", "depth=3", "--out", o]);
    assert_eq!(code, 0, "{err}");
    let after: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("backprop-forms/summary.json")).unwrap())
            .unwrap();
    assert_eq!(after["params"]["depth"], 3);
    assert!(!out.join(".backprop-forms.partial").exists());
}

#[test]
fn without_debians_fashion_mnist_the_lab_runs_on_the_shipped_subset() {
    // a fresh machine: the package's folder is hidden
    let out = dir("no-debian");
    let o = out.to_str().unwrap();
    let hidden = [("ODL_FASHION_MNIST", "/nonexistent-odl-fashion-mnist")];
    let (code, stdout, err) = odl_env(&["run", "resnet-depth", "--scale", "tiny", "--out", o], &hidden);
    assert_eq!(code, 0, "{err}");
    assert!(!stdout.contains("✗"), "every claim holds on the shipped subset: {stdout}");
    let s = summary(&out, "resnet-depth");
    let data = s["data"].as_str().unwrap();
    assert!(data.contains("Fashion-MNIST") && data.contains("subset odl ships"), "{data}");
    // the same numbers as with the package installed (or not): tiny and quick never read it
    let again = dir("with-default-path");
    let (code, _, err) = odl(&["run", "resnet-depth", "--scale", "tiny", "--out", again.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(summary(&again, "resnet-depth")["metrics"], s["metrics"]);
    // full scale without the package and more examples than the subset holds: a clear error
    let (code, _, err) =
        odl_env(&["run", "random-labels", "--scale", "full", "--set", "n_train=20000", "--out", o], &hidden);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("dataset-fashion-mnist") && err.contains("n_train"), "{err}");
}
