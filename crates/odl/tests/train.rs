//! `odl train`: spec validation with clear errors, divergence as a result,
//! and exact resume from a checkpoint.

mod common;

use std::path::Path;

use common::odl;

fn dir(name: &str) -> common::TestDir {
    common::dir("train", name)
}

const MOONS: &str = r#"
seed = 3
[data]
name = "two-moons"
[model]
kind = "mlp"
hidden = [16]
activation = "tanh"
[optim]
name = "adam"
lr = 0.01
[train]
epochs = 4
batch_size = 50
eval_every = 20
"#;

fn write_spec(d: &Path, text: &str) -> String {
    let p = d.join("spec.toml");
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

#[test]
fn bad_specs_are_reported_with_file_key_and_exit_2() {
    let d = dir("bad");
    let cases: Vec<(String, &str)> = vec![
        (MOONS.replace("lr = 0.01", "lr = 0.01\nlrr = 2"), "unknown field `lrr`"),
        (MOONS.replace("lr = 0.01", "lr = \"fast\""), "invalid type"),
        (MOONS.replace("lr = 0.01", "lr = -1.0"), "optim.lr = -1"),
        (MOONS.replace("name = \"adam\"", "name = \"adamx\""), "unknown variant `adamx`"),
        (
            MOONS.replace("name = \"two-moons\"", "name = \"npz\"\npath = \"/no/such/file.npz\""),
            "data.path = /no/such/file.npz",
        ),
        (MOONS.replace("epochs = 4", "epochs = 4\nsteps = 10"), "not both"),
        (MOONS.replace("batch_size = 50", "batch_size = 0"), "train.batch_size = 0"),
    ];
    for (text, needle) in cases {
        let spec = write_spec(&d, &text);
        let out = d.join("run");
        let (code, _, err) = odl(&["train", &spec, "--out", out.to_str().unwrap()]);
        assert_eq!(code, 2, "{needle}: {err}");
        assert!(
            err.contains(needle) && err.contains("spec.toml") && !err.contains("panicked"),
            "{needle}: {err}"
        );
        assert!(!out.exists(), "nothing is written for an invalid spec");
    }
    // --set is validated the same way
    let spec = write_spec(&d, MOONS);
    let (code, _, err) =
        odl(&["train", &spec, "--set", "optim.momentum=1.5", "--out", d.join("x").to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("optim.momentum = 1.5"), "{err}");
}

#[test]
fn a_finished_run_is_never_overwritten() {
    let d = dir("keep");
    let spec = write_spec(&d, MOONS);
    let out = d.join("run");
    let (code, _, err) = odl(&["train", &spec, "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let before = std::fs::read(out.join("summary.json")).unwrap();
    let (code, _, err) = odl(&["train", &spec, "--out", out.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("already holds a run"), "{err}");
    assert_eq!(std::fs::read(out.join("summary.json")).unwrap(), before);
    let s: serde_json::Value = serde_json::from_slice(&before).unwrap();
    assert!(s["test_accuracy"].as_f64().unwrap() > 0.85, "{s}");
    assert_eq!(s["steps"], 64); // 4 epochs × ⌈800/50⌉
    let lines = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 64);
    assert!(lines.lines().nth(19).unwrap().contains("test_acc"));
    // a validation split is carved from the training set and evaluated too
    let (code, _, err) =
        odl(&["train", &spec, "--set", "data.val_fraction=0.25", "--out", d.join("val").to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let lines = std::fs::read_to_string(d.join("val").join("metrics.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 4 * 12); // 600 training examples, batches of 50
    assert!(lines.lines().nth(19).unwrap().contains("val_acc"));
    // --set with an empty value removes a key: switch from epochs to steps
    let (code, _, err) = odl(&[
        "train",
        &spec,
        "--set",
        "train.epochs=",
        "--set",
        "train.steps=7",
        "--out",
        d.join("steps").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read_to_string(d.join("steps").join("metrics.jsonl")).unwrap().lines().count(), 7);
    let (code, _, err) =
        odl(&["train", &spec, "--set", "train.nothing=", "--out", d.join("bad").to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("no key 'train.nothing'"), "{err}");
}

#[test]
fn divergence_is_a_recorded_result() {
    let d = dir("diverge");
    // a linear network with an absurd step overflows f32 within a few steps
    let text = MOONS
        .replace("name = \"adam\"\nlr = 0.01", "name = \"sgd\"\nlr = 1e30")
        .replace("\"tanh\"", "\"identity\"");
    let spec = write_spec(&d, &text);
    let out = d.join("run");
    let (code, _, err) = odl(&["train", &spec, "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["diverged"], true);
    let k = s["diverged_at_step"].as_u64().unwrap();
    assert_eq!(s["result"], format!("diverged at step {k}"));
}

#[test]
fn a_resumed_run_ends_exactly_where_an_uninterrupted_one_does() {
    let d = dir("resume");
    // momentum + a step schedule: optimizer state and the step counter must both survive
    let text = MOONS.replace("name = \"adam\"\nlr = 0.01", "name = \"momentum\"\nlr = 0.05")
        + "[schedule]\nkind = \"step\"\nevery = 20\ngamma = 0.5\n";
    let spec = write_spec(&d, &text);
    let full = d.join("full");
    assert_eq!(odl(&["train", &spec, "--out", full.to_str().unwrap()]).0, 0);
    // "killed" after 23 steps (mid-epoch: 16 steps per epoch), then resumed to the end
    let part = d.join("part");
    let spec23 = write_spec(&d, &text.replace("epochs = 4", "steps = 23"));
    assert_eq!(odl(&["train", &spec23, "--out", part.to_str().unwrap()]).0, 0);
    std::fs::remove_file(part.join("summary.json")).unwrap();
    let spec_full = write_spec(&d, &text);
    let (c, _, e) = odl(&["train", &spec_full, "--out", part.to_str().unwrap(), "--resume"]);
    assert_eq!(c, 0, "{e}");
    let a = odl_tensor::npy::read_npz(full.join("checkpoint.npz")).unwrap();
    let b = odl_tensor::npy::read_npz(part.join("checkpoint.npz")).unwrap();
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (k, v) in &a {
        assert_eq!(v, &b[k], "{k} differs after resume");
    }
}

#[test]
fn a_loss_that_blows_up_is_divergence_not_a_finished_run() {
    // lr = 1e6: the loss grows past 1000× its first value (it stays finite for a while)
    let d = dir("blowup");
    let spec = write_spec(&d, &MOONS.replace("name = \"adam\"\nlr = 0.01", "name = \"sgd\"\nlr = 1e6"));
    let out = d.join("run");
    let (code, _, err) = odl(&["train", &spec, "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["diverged"], true, "{s}");
    assert!(s["result"].as_str().unwrap().starts_with("diverged at step"), "{s}");
    // with the test turned off the same run ends with a loss far above its start
    let out = d.join("off");
    let (code, _, _) =
        odl(&["train", &spec, "--set", "train.diverge_factor=0", "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0);
    let (code, _, err) =
        odl(&["train", &spec, "--set", "train.diverge_factor=0.5", "--out", d.join("bad").to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("train.diverge_factor = 0.5"), "{err}");
}

#[test]
fn resume_without_a_checkpoint_says_so_once() {
    let d = dir("no-ckpt");
    let spec = write_spec(&d, MOONS);
    let (code, _, err) = odl(&["train", &spec, "--out", d.join("none").to_str().unwrap(), "--resume"]);
    assert_eq!(code, 2);
    assert!(err.contains("holds no checkpoint.npz"), "{err}");
    assert_eq!(err.matches("No such file").count(), 0, "{err}");
}

#[test]
fn a_checkpoint_without_a_step_is_a_clear_error() {
    let d = dir("empty-step");
    let spec = write_spec(&d, &MOONS.replace("epochs = 4", "steps = 5"));
    let run = d.join("run");
    assert_eq!(odl(&["train", &spec, "--out", run.to_str().unwrap()]).0, 0);
    std::fs::remove_file(run.join("summary.json")).unwrap();
    // the same checkpoint with meta.step an empty array
    let ckpt = run.join("checkpoint.npz");
    let entries = odl_tensor::npy::read_npz(&ckpt).unwrap();
    let rewritten: Vec<(String, odl_tensor::npy::NpyValue)> = entries
        .into_iter()
        .map(
            |(k, v)| {
                if k == "meta.step" {
                    (k, odl_tensor::npy::NpyValue::ints(vec![], &[0]))
                } else {
                    (k, v)
                }
            },
        )
        .collect();
    odl_tensor::npy::write_npz(&ckpt, rewritten.iter().map(|(k, v)| (k.as_str(), v.clone()))).unwrap();
    let (code, _, err) = odl(&["train", &spec, "--out", run.to_str().unwrap(), "--resume"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("checkpoint.npz") && err.contains("meta.step") && !err.contains("panicked"),
        "{err}"
    );
}

#[test]
fn on_mnist1d_a_cnn_clearly_beats_an_mlp() {
    // Greydanus (2020): the data set is built so that translation-equivariant
    // models win (the paper: CNN ≈ 94 %, MLP ≈ 68 %)
    let d = dir("mnist1d");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../specs");
    let mut acc = Vec::new();
    for name in ["mnist1d-mlp", "mnist1d-cnn"] {
        let out = d.join(name);
        let spec = root.join(format!("{name}.toml"));
        let (code, _, err) = odl(&[
            "train",
            spec.to_str().unwrap(),
            "--set",
            "train.steps=2000",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{err}");
        let s: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
        acc.push(s["test_accuracy"].as_f64().unwrap());
    }
    assert!(acc[0] > 0.6, "MLP {}", acc[0]);
    assert!(acc[1] > acc[0] + 0.08, "CNN {} vs MLP {}", acc[1], acc[0]);
}

#[test]
fn sharpness_is_tracked_and_gd_ends_below_two_over_eta() {
    // full-batch GD: a run that stays stable must end with λ_max ≤ 2/η
    // (edge of stability: it climbs towards 2/η and stays there)
    let d = dir("sharpness");
    let spec = write_spec(
        &d,
        "seed = 2\n[data]\nname = \"two-moons\"\n[model]\nkind = \"mlp\"\nhidden = [16]\nactivation = \"tanh\"\n\
         [optim]\nname = \"sgd\"\nlr = 0.5\n[train]\nsteps = 300\nbatch_size = 800\neval_every = 100\n\
         sharpness_every = 25\nsharpness_batch = 800\n",
    );
    let out = d.join("run");
    let (code, _, err) = odl(&["train", &spec, "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let sharp: Vec<f64> = std::fs::read_to_string(out.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["sharpness"].as_f64())
        .collect();
    assert!(sharp.len() >= 12, "{} sharpness records", sharp.len());
    assert!(sharp.iter().all(|s| *s > 0.0));
    let last = *sharp.last().unwrap();
    assert!(last <= 2.0 / 0.5 * 1.1, "final sharpness {last} above 2/η = 4");
    // and the CSV carries the column
    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    assert!(csv.lines().next().unwrap().ends_with(",sharpness"));
}

fn summary(run: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap()
}

#[test]
fn the_compiled_step_trains_exactly_as_the_eager_one() {
    let d = dir("compiled");
    // ReLU (masks), label smoothing, and 800 examples in batches of 60: the
    // last batch of each epoch (20 rows) is traced once more
    let text = MOONS
        .replace("activation = \"tanh\"", "activation = \"relu\"")
        .replace("batch_size = 50", "batch_size = 60\nlabel_smoothing = 0.1");
    let spec = write_spec(&d, &text);
    let (compiled, eager) = (d.join("compiled"), d.join("eager"));
    assert_eq!(odl(&["train", &spec, "--out", compiled.to_str().unwrap()]).0, 0);
    let (code, _, err) =
        odl(&["train", &spec, "--set", "train.compile=false", "--out", eager.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let (c, e) = (summary(&compiled), summary(&eager));
    assert_eq!(c["compiled"], true, "{c}");
    assert!(c.get("eager_because").is_none(), "{c}");
    assert_eq!(e["compiled"], false);
    assert_eq!(e["eager_because"], "train.compile = false");
    // the same parameters, bit for bit, and the same losses at every step
    assert_eq!(c["checkpoint"], e["checkpoint"]);
    let losses = |run: &Path| -> Vec<String> {
        std::fs::read_to_string(run.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["loss"].to_string())
            .collect()
    };
    assert_eq!(losses(&compiled), losses(&eager));
    assert_eq!(losses(&compiled).len(), 4 * 14);
}

#[test]
fn a_cnn_with_max_pooling_replays_exactly_and_batchnorm_trains_eagerly() {
    // max pooling finds its window maxima afresh in forward and backward:
    // the 1-d CNN's step (three convolutions, ReLU, max pooling) replays
    let d = dir("cnn-compiled");
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../specs/mnist1d-cnn.toml");
    let (compiled, eager) = (d.join("compiled"), d.join("eager"));
    let run = |out: &Path, extra: &[&str]| {
        let mut args =
            vec!["train", spec.to_str().unwrap(), "--set", "train.steps=6", "--set", "train.eval_every=2"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--out", out.to_str().unwrap()]);
        let (code, _, err) = odl(&args);
        assert_eq!(code, 0, "{err}");
        summary(out)
    };
    let c = run(&compiled, &[]);
    let e = run(&eager, &["--set", "train.compile=false"]);
    assert_eq!(c["compiled"], true, "{c}");
    assert_eq!(e["compiled"], false);
    assert_eq!(c["checkpoint"], e["checkpoint"], "the same parameters, bit for bit");
    let metrics = |run: &Path| std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let losses = |run: &Path| -> Vec<String> {
        metrics(run)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["loss"].to_string())
            .collect()
    };
    assert_eq!(losses(&compiled), losses(&eager));
    // BatchNorm keeps running statistics: the step runs eagerly and says why
    let bn = d.join("bn");
    let text = MOONS.replace("activation = \"tanh\"", "activation = \"relu\"\nnorm = \"batch\"");
    let (code, _, err) = odl(&["train", &write_spec(&d, &text), "--out", bn.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let s = summary(&bn);
    assert_eq!(s["compiled"], false);
    assert!(s["eager_because"].as_str().unwrap().contains("BatchNorm"), "{s}");
}
