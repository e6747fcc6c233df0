//! The `odl` binary: the README's main command runs, and bad arguments give a
//! clear message and exit status 2, never a panic.

mod common;

use common::odl;

#[test]
fn help_lists_the_commands() {
    let (code, out, _) = odl(&["--help"]);
    assert_eq!(code, 0);
    for c in ["lab", "list", "run", "report", "train", "probe", "bench"] {
        assert!(out.contains(c), "{c} missing from --help");
    }
}

#[test]
fn bench_prints_one_json_line_per_workload() {
    let (code, out, err) = odl(&["bench", "--workload", "W1,W8", "--repeat", "2", "--target", "0.01"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    for (rec, wl) in lines.iter().zip(["W1", "W8"]) {
        assert_eq!(rec["workload"], wl);
        assert_eq!(rec["framework"], "odl");
        assert_eq!(rec["iters"], 2);
        assert!(rec["median_s"].as_f64().unwrap() > 0.0);
        assert!(rec["check"].as_f64().unwrap().is_finite());
    }
}

#[test]
fn bad_arguments_are_clear_errors() {
    for (args, needle) in [
        (vec!["bench", "--workload", "W99"], "unknown workload 'W99'"),
        (vec!["bench", "--target", "0"], "--target must be a positive number"),
        (vec!["bench", "--repeat", "0"], "--repeat must be at least 1"),
        (vec!["bench", "--threads", "0"], "--threads must be at least 1"),
        (vec!["bench", "--init", "/nonexistent/dir"], "not a directory"),
        (vec!["bench", "--repeat", "many"], "invalid value 'many'"),
        (vec!["frobnicate"], "unrecognized subcommand"),
    ] {
        let (code, _, err) = odl(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn a_bad_dump_file_names_the_file_and_key() {
    let dir = common::dir("cli", "dump");
    std::fs::write(dir.join("W1.npz"), b"not a zip").unwrap();
    let (code, _, err) =
        odl(&["bench", "--workload", "W1", "--init", dir.to_str().unwrap(), "--repeat", "1"]);
    assert_eq!(code, 2);
    assert!(err.contains("W1.npz") && !err.contains("panicked"), "{err}");
    // a dump whose array has the wrong shape
    let w = odl_tensor::Array::from_f64(&[1.0; 3], &[3], odl_tensor::DType::F64);
    odl_tensor::npy::write_npz(
        dir.join("W1.npz"),
        [
            ("w", odl_tensor::npy::NpyValue::from(&w)),
            ("x", odl_tensor::npy::NpyValue::from(&odl_tensor::Array::scalar(1.0, odl_tensor::DType::F64))),
            ("y", odl_tensor::npy::NpyValue::from(&odl_tensor::Array::scalar(2.0, odl_tensor::DType::F64))),
        ],
    )
    .unwrap();
    let (code, _, err) =
        odl(&["bench", "--workload", "W1", "--init", dir.to_str().unwrap(), "--repeat", "1"]);
    assert_eq!(code, 2);
    assert!(err.contains("W1.npz[w]") && err.contains("[50]"), "{err}");
}
