//! The lab: every experiment reproduces its theory signature at tiny scale
//! (all its claims hold), writes the documented `summary.json` interface, and
//! the runner's commands give clear errors on bad input.

use std::path::PathBuf;
use std::process::Command;

use odl::lab::{find, resolve, run_one, Scale};

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("odl-lab-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn odl(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_odl")).args(args).output().expect("run odl");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// Runs `id` at tiny scale and checks the interface and that every claim holds.
fn signature(id: &str, metrics: &[&str]) {
    let out = dir(id);
    let e = find(id).unwrap();
    let p = resolve(e, Scale::Tiny, 0, &[]).unwrap();
    let s = run_one(e, p, Scale::Tiny, &out, &|_, _| {}).unwrap();
    for k in ["id", "lecture", "title", "params", "metrics", "claims", "wall_s"] {
        assert!(!s[k].is_null(), "{id}: summary.json lacks {k}");
    }
    assert_eq!(s["params"]["seed"], 0);
    for m in metrics {
        assert!(!s["metrics"][m].is_null(), "{id}: metric {m} missing");
    }
    let claims = s["claims"].as_array().unwrap();
    assert!(!claims.is_empty(), "{id}: no claims");
    for c in claims {
        for k in ["id", "statement", "prediction", "measured", "holds"] {
            assert!(!c[k].is_null(), "{id}: a claim lacks {k}");
        }
        assert_eq!(
            c["holds"], true,
            "{id}: claim {} does not hold: predicted {}, measured {}",
            c["id"], c["prediction"], c["measured"]
        );
    }
    // the files it names exist, and the summary on disk is the one returned
    let folder = out.join(id);
    for f in s["figures"].as_array().unwrap() {
        let svg = std::fs::read_to_string(folder.join(f["file"].as_str().unwrap())).unwrap();
        assert!(
            svg.starts_with("<svg") && !svg.contains("no finite data"),
            "{id}: empty figure {}",
            f["file"]
        );
    }
    let disk: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("summary.json")).unwrap()).unwrap();
    assert_eq!(disk["claims"], s["claims"]);
}

#[test]
fn alchemy_signature() {
    signature("alchemy", &["floor", "lm_final_loss", "gd_best_final_loss", "adam_best_final_loss"]);
}

#[test]
fn random_labels_signature() {
    signature("random-labels", &["train_acc", "test_acc", "epochs_to_fit", "error_decomposition"]);
}

#[test]
fn backprop_forms_signature() {
    signature("backprop-forms", &["max_rel_err", "fwd_bwd_over_fwd"]);
}

#[test]
fn shamir_depth_signature() {
    signature("shamir-depth", &["slope_ln_iters_vs_depth", "r2", "identity_init_iters", "grad_norm_at_init"]);
}

#[test]
fn explode_vanish_signature() {
    signature("explode-vanish", &["var_ratio_last_first", "trains"]);
}

#[test]
fn hanin_rolnick_signature() {
    signature("hanin-rolnick", &["fm2_slope", "fm2_r2", "fm1_slope"]);
}

#[test]
fn dynamical_isometry_signature() {
    signature("dynamical-isometry", &["var_eig_jjt", "cond", "iters_orthogonal", "iters_gaussian"]);
}

#[test]
fn list_names_every_experiment() {
    let (code, out, _) = odl(&["list"]);
    assert_eq!(code, 0);
    for e in odl::lab::experiments::ALL {
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
fn batchnorm_signature() {
    signature(
        "batchnorm",
        &["loss_range_ratio", "grad_pred_ratio", "beta_smooth_ratio", "noisy_bn_final_loss_ratio"],
    );
}

#[test]
fn resnet_depth_signature() {
    signature("resnet-depth", &["final_train_loss", "slices_1d"]);
}

#[test]
fn momentum_rates_signature() {
    signature("momentum-rates", &["exponent_gd", "exponent_heavy_ball", "exponent_nesterov"]);
}

#[test]
fn adam_counterexample_signature() {
    signature(
        "adam-counterexample",
        &["adam_final_x", "amsgrad_final_x", "adam_avg_regret", "amsgrad_avg_regret"],
    );
}

#[test]
fn adaptive_generalization_signature() {
    signature("adaptive-generalization", &["test_err_adaptive", "test_err_gd"]);
}

#[test]
fn lr_schedules_signature() {
    signature("lr-schedules", &["final_loss", "peak_batch_loss_over_initial"]);
}

#[test]
fn matrix_sensing_signature() {
    signature("matrix-sensing", &["frac_global"]);
}

#[test]
fn saddle_escape_signature() {
    signature(
        "saddle-escape",
        &["escape_iters_gd", "escape_iters_pgd", "single_saddle", "degenerate_saddle"],
    );
}

#[test]
fn spurious_minima_signature() {
    signature("spurious-minima", &["bad_fraction"]);
}

#[test]
fn overparam_ntk_signature() {
    signature("overparam-ntk", &["weight_move_slope", "lambda_min", "rate"]);
}

#[test]
fn sharp_minima_signature() {
    signature("sharp-minima", &["sharpness_ratio", "dinh"]);
}

#[test]
fn loss_landscape_signature() {
    signature("loss-landscape", &["nonconvex_fraction", "trajectory_pca"]);
}

#[test]
fn deep_faster_signature() {
    signature("deep-faster", &["speedup_l4", "speedup_l2", "end_to_end_max_rel_deviation"]);
}

#[test]
fn edge_of_stability_signature() {
    signature("edge-of-stability", &["sharpness_over_2_by_eta"]);
}
