//! `odl probe`: every instrument on a trained run writes `probe.json` and
//! readable figures; the Hessian numbers agree with the exact spectrum; bad
//! targets and options are clear errors with exit status 2.

mod common;

use common::odl;

/// A small two-moons MLP trained for a few epochs (the run folder).
fn trained_run(name: &str) -> common::TestDir {
    let d = common::dir("probe", name);
    let spec = d.join("spec.toml");
    std::fs::write(
        &spec,
        "seed = 1\n[data]\nname = \"two-moons\"\n[model]\nkind = \"mlp\"\nhidden = [12, 12]\nactivation = \"tanh\"\n\
         [optim]\nname = \"adam\"\nlr = 0.01\n[train]\nepochs = 3\nbatch_size = 50\neval_every = 50\n",
    )
    .unwrap();
    let run = d.join("run");
    let (code, _, err) = odl(&["train", spec.to_str().unwrap(), "--out", run.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    d.into_child("run")
}

fn probe_json(dir: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("probe.json")).unwrap()).unwrap()
}

#[test]
fn hessian_probe_agrees_with_the_exact_spectrum() {
    let run = trained_run("hessian");
    let r = run.to_str().unwrap();
    let (code, _, err) = odl(&["probe", "hessian", r, "--exact", "--ggn", "--k", "3", "--samples", "200"]);
    assert_eq!(code, 0, "{err}");
    let p = probe_json(&run.join("probe-hessian"));
    assert_eq!(p["trained"], true);
    let res = &p["result"];
    let n = res["dim"].as_u64().unwrap() as usize;
    assert_eq!(n, 2 * 12 + 12 + 12 * 12 + 12 + 12 * 2 + 2);
    let exact: Vec<f64> = serde_json::from_value(res["exact_eigenvalues"].clone()).unwrap();
    let top: Vec<f64> = serde_json::from_value(res["top_eigenvalues"].clone()).unwrap();
    for i in 0..3 {
        let e = exact[n - 1 - i];
        assert!((top[i] - e).abs() < 1e-6 * e.abs().max(1e-3), "rank {i}: {} vs {e}", top[i]);
    }
    let power = res["power_iteration_top"].as_f64().unwrap();
    assert!(power <= exact[n - 1] * (1.0 + 1e-9) && power > 0.5 * exact[n - 1]);
    // Hutchinson with 200 samples: within a few percent of the exact trace
    let (tr, ex) = (res["trace_hutchinson"].as_f64().unwrap(), res["exact_trace"].as_f64().unwrap());
    assert!((tr - ex).abs() < 0.1 * ex.abs(), "{tr} vs {ex}");
    // the GGN is PSD and its top eigenvalue is of the Hessian's order
    let ggn: Vec<f64> = serde_json::from_value(res["ggn_top_eigenvalues"].clone()).unwrap();
    assert!(ggn.iter().all(|g| *g >= -1e-9) && ggn[0] > 0.3 * top[0] && ggn[0] < 3.0 * top[0]);
    for f in ["hessian-top", "hessian-density", "hessian-trace"] {
        let svg = std::fs::read_to_string(run.join("probe-hessian").join(format!("{f}.svg"))).unwrap();
        assert!(svg.contains("<polyline") || svg.contains("<circle"), "{f} has no data drawn");
    }
}

#[test]
fn every_probe_writes_its_numbers_and_figures() {
    let run = trained_run("all");
    let r = run.to_str().unwrap();
    for (kind, keys, figs) in [
        (
            "jacobian",
            vec!["singular_values", "lipschitz_lower_bound", "lipschitz_upper_bound"],
            vec!["jacobian-spectrum", "jacobian-layers"],
        ),
        ("signal", vec!["layers"], vec!["signal-forward", "signal-backward"]),
        ("landscape", vec!["loss_1d", "loss_2d"], vec!["landscape-1d", "landscape-2d"]),
        (
            "sharpness",
            vec!["epsilon_sharpness", "top_eigenvalue", "along_gradient"],
            vec!["sharpness-along-gradient"],
        ),
        ("ntk", vec!["lambda_min", "eigenvalues"], vec!["ntk-spectrum"]),
    ] {
        let (code, stdout, err) = odl(&["probe", kind, r, "--grid", "9", "--batch", "64"]);
        assert_eq!(code, 0, "{kind}: {err}");
        // a person reads a few lines; the numbers are in probe.json
        assert!(
            stdout.lines().count() <= 16 && stdout.len() < 2000,
            "{kind}: {} bytes on stdout",
            stdout.len()
        );
        assert!(stdout.contains("probe.json"), "{kind}: {stdout}");
        let p = probe_json(&run.join(format!("probe-{kind}")));
        for k in keys {
            assert!(!p["result"][k].is_null(), "{kind}: {k} missing");
        }
        for f in figs {
            let svg =
                std::fs::read_to_string(run.join(format!("probe-{kind}")).join(format!("{f}.svg"))).unwrap();
            assert!(svg.len() > 2000 && !svg.contains("no finite data"), "{kind}: {f} is empty");
            let json =
                std::fs::read_to_string(run.join(format!("probe-{kind}")).join(format!("{f}.fig.json")))
                    .unwrap();
            let fig: odl_plot::Figure = serde_json::from_str(&json).unwrap();
            let problems = odl_plot::check::check(&fig, &svg);
            assert!(problems.is_empty(), "{kind}: {f}: {problems:?}");
        }
    }
    // --json keeps the whole result on stdout for scripts
    let (code, stdout, _) = odl(&["probe", "sharpness", r, "--batch", "64", "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(v["top_eigenvalue"].as_f64().unwrap() > 0.0);
    // properties of the numbers, not only their presence
    let j = probe_json(&run.join("probe-jacobian"));
    let (lo, hi) = (
        j["result"]["lipschitz_lower_bound"].as_f64().unwrap(),
        j["result"]["lipschitz_upper_bound"].as_f64().unwrap(),
    );
    assert!(lo > 0.0 && lo <= hi, "{lo} {hi}");
    let l = probe_json(&run.join("probe-landscape"));
    let loss: Vec<f64> = serde_json::from_value(l["result"]["loss_1d"].clone()).unwrap();
    // the center of the slice is the trained point: lower than both ends
    assert!(loss[4] < loss[0] && loss[4] < loss[8], "{loss:?}");
    let k = probe_json(&run.join("probe-ntk"));
    assert!(k["result"]["lambda_min"].as_f64().unwrap() > -1e-8);
    // training moved the kernel and the weights away from the seeded initialization
    let mv = &k["result"]["movement_from_init"];
    assert!(
        mv["kernel_distance"].as_f64().unwrap() > 0.0 && mv["relative_weight_change"].as_f64().unwrap() > 0.0
    );
}

#[test]
fn a_spec_file_is_probed_at_initialization() {
    let run = trained_run("spec");
    let spec = run.join("spec.toml");
    let out = run.parent().unwrap().join("fresh");
    let (code, _, err) = odl(&[
        "probe",
        "signal",
        spec.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--precision",
        "f32",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(probe_json(&out)["trained"], false);
}

#[test]
fn bad_targets_and_options_are_clear_errors() {
    let missing = std::env::temp_dir().join("odl-no-such-run-dir");
    let m = missing.to_str().unwrap();
    for (args, needle) in [
        (vec!["probe", "hessian", m], "no such run folder or spec file"),
        (vec!["probe", "hessian", "/tmp"], "not a run folder"),
        (vec!["probe", "eigen", m], "invalid value 'eigen'"),
        (vec!["probe", "landscape", m, "--range", "0"], "--range 0"),
        (vec!["probe", "hessian", m, "--k", "0"], "--k"),
    ] {
        let (code, _, err) = odl(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"));
    }
}

#[test]
fn a_checkpoint_changed_after_the_run_is_refused() {
    let run = trained_run("changed");
    let ckpt = run.join("checkpoint.npz");
    // a valid archive with other values: its own CRCs pass, the run's record does not
    let mut entries = odl_tensor::npy::read_npz(&ckpt).unwrap();
    let w = entries.get_mut("param.0.weight").unwrap();
    let a = w.to_array();
    *w = odl_tensor::npy::NpyValue::from(
        &a.binary(odl_tensor::BinaryOp::Mul, &odl_tensor::Array::scalar(2.0, a.dtype())),
    );
    odl_tensor::npy::write_npz(&ckpt, entries.iter().map(|(k, v)| (k.as_str(), v.clone()))).unwrap();
    let (code, _, err) = odl(&["probe", "sharpness", run.to_str().unwrap(), "--batch", "32"]);
    assert_eq!(code, 2);
    assert!(err.contains("checkpoint.npz: changed since the run finished"), "{err}");
    // a flipped byte: the archive's own checksum
    let mut bytes = std::fs::read(&ckpt).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 1;
    std::fs::write(&ckpt, bytes).unwrap();
    let (code, _, err) = odl(&["probe", "sharpness", run.to_str().unwrap(), "--batch", "32"]);
    assert_eq!(code, 2);
    assert!(err.contains("checkpoint.npz") && !err.contains("panicked"), "{err}");
}

#[test]
fn a_run_folder_without_a_checkpoint_needs_fresh() {
    let run = trained_run("no-ckpt");
    std::fs::remove_file(run.join("checkpoint.npz")).unwrap();
    let r = run.to_str().unwrap();
    let (code, _, err) = odl(&["probe", "sharpness", r, "--batch", "32"]);
    assert_eq!(code, 2);
    assert!(err.contains("holds no checkpoint.npz") && err.contains("--fresh"), "{err}");
    let (code, _, err) = odl(&["probe", "sharpness", r, "--batch", "32", "--fresh"]);
    assert_eq!(code, 0, "{err}");
    // an --out that is a file is named as such
    let file = run.join("spec.toml");
    let (code, _, err) = odl(&["probe", "sharpness", r, "--fresh", "--out", file.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("a file is there"), "{err}");
}

#[test]
fn hessian_of_selected_parameters() {
    let run = trained_run("params");
    let r = run.to_str().unwrap();
    let out = run.parent().unwrap().join("last-layer");
    let o = out.to_str().unwrap();
    // the network is linear in its last layer: there the Hessian is the Gauss–Newton matrix
    let (code, _, err) =
        odl(&["probe", "hessian", r, "--params", "4.", "--exact", "--ggn", "--k", "3", "--out", o]);
    assert_eq!(code, 0, "{err}");
    let res = probe_json(&out)["result"].clone();
    assert_eq!(res["dim"], 12 * 2 + 2);
    assert_eq!(res["parameters"], serde_json::json!(["4.weight", "4.bias"]));
    let top: Vec<f64> = serde_json::from_value(res["top_eigenvalues"].clone()).unwrap();
    let ggn: Vec<f64> = serde_json::from_value(res["ggn_top_eigenvalues"].clone()).unwrap();
    for (h, g) in top.iter().zip(&ggn) {
        assert!((h - g).abs() < 1e-8 * h.abs().max(1e-6), "Hessian {h} vs GGN {g}");
    }
    let (code, _, err) = odl(&["probe", "hessian", r, "--params", "9.weight", "--out", o]);
    assert_eq!(code, 2);
    assert!(err.contains("matches no parameter; the parameters are: 0.weight, 0.bias"), "{err}");
}
