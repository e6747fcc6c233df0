//! `odl gan`: spec validation with clear errors, the run folder, divergence
//! as a result, and exact resume from a checkpoint.

mod common;

use std::path::Path;

use common::odl;

fn dir(name: &str) -> common::TestDir {
    common::dir("gan", name)
}

const RING: &str = r#"
seed = 1
[data]
name = "ring"
[generator]
hidden = [32]
latent = 2
[discriminator]
hidden = [32]
[loss]
name = "non-saturating"
[regularizer]
r1 = 0.1
[optim.generator]
name = "adam"
lr = 1e-3
[optim.discriminator]
name = "adam"
lr = 1e-3
[train]
steps = 20
batch_size = 64
eval_every = 10
eval_samples = 300
ema = 0.9
"#;

fn write_spec(d: &Path, text: &str) -> String {
    let p = d.join("spec.toml");
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

fn lines(p: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(p.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn bad_gan_specs_name_the_key_and_exit_2() {
    let d = dir("bad");
    let cases: Vec<(String, &str)> = vec![
        (RING.replace("\"non-saturating\"", "\"wasserstein\""), "unknown variant `wasserstein`"),
        (RING.replace("\"non-saturating\"", "\"f-gan\""), "loss.divergence: f-gan needs"),
        (RING.replace("\"non-saturating\"", "\"f-gan\"\ndivergence = \"tv\""), "loss.divergence = \"tv\""),
        (RING.replace("r1 = 0.1", "r1 = -1.0"), "regularizer.r1 = -1"),
        (RING.replace("r1 = 0.1", "r3 = 1.0"), "unknown field `r3`"),
        (
            RING.replace("hidden = [32]\nlatent = 2", "kind = \"dcgan\"\nchannels = [8, 4]"),
            "convolutions need images",
        ),
        (RING.replace("name = \"ring\"", "name = \"grid\"\nmodes = 24"), "data.modes = 24"),
        (RING.replace("ema = 0.9", "ema = 1.0"), "train.ema = 1"),
        (
            RING.replace("lr = 1e-3\n[optim.discriminator]", "lr = 0.0\n[optim.discriminator]"),
            "optim.generator.lr = 0",
        ),
        (
            RING.replace("[train]", "[algorithm]\nname = \"unrolled\"\nunroll = 0\n[train]"),
            "algorithm.unroll = 0",
        ),
        (
            RING.replace("[train]", "[algorithm]\nname = \"unrolled\"\nunroll_with = \"adam\"\n[train]")
                .replace("[optim.discriminator]\nname = \"adam\"", "[optim.discriminator]\nname = \"sgd\""),
            "algorithm.unroll_with = \"adam\": needs optim.discriminator.name = \"adam\"",
        ),
    ];
    for (text, needle) in cases {
        let spec = write_spec(&d, &text);
        let out = d.join("run");
        let (code, _, err) = odl(&["gan", &spec, "--out", out.to_str().unwrap()]);
        assert_eq!(code, 2, "{needle}: {err}");
        assert!(
            err.contains(needle) && err.contains("spec.toml") && !err.contains("panicked"),
            "{needle}: {err}"
        );
        assert!(!out.exists(), "nothing is written for an invalid spec");
    }
    let spec = write_spec(&d, RING);
    let (code, _, err) =
        odl(&["gan", &spec, "--set", "algorithm.name=gda", "--out", d.join("x").to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("algorithm.name") && err.contains("unknown variant `gda`"), "{err}");
}

#[test]
fn a_gan_run_folder_holds_logs_samples_figures_and_a_checkpoint() {
    let d = dir("folder");
    let spec = write_spec(&d, RING);
    let out = d.join("run");
    let (code, stdout, err) = odl(&["gan", &spec, "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let s: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(s["steps"], 20);
    assert_eq!(s["diverged"], false);
    let modes = s["metrics"]["modes"].as_f64().unwrap();
    assert!((0.0..=8.0).contains(&modes), "{s}");
    let recs = lines(&out);
    assert_eq!(recs.len(), 20);
    // every step logs both losses; evaluation steps add the coverage and σ_max of each generator weight
    assert!(recs
        .iter()
        .all(|r| r["d_loss"].is_f64() && r["g_loss"].is_f64() && r["penalty"].as_f64().unwrap() >= 0.0));
    assert!(recs[9]["modes"].is_number() && recs[9]["sigma_max.0.weight"].as_f64().unwrap() > 0.0);
    assert!(recs[8].get("modes").is_none());
    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    assert!(csv.starts_with("step,d_loss,g_loss,penalty"), "{csv}");
    for f in [
        "samples/step-000010.svg",
        "samples/step-000020.svg",
        "samples.svg",
        "training.svg",
        "modes.svg",
        "checkpoint.npz",
        "spec.toml",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let svg = std::fs::read_to_string(out.join("samples.svg")).unwrap();
    assert!(svg.contains("mixture centers") && svg.contains("of 8 modes"));
    // a finished run is never overwritten
    let (code, _, err) = odl(&["gan", &spec, "--out", out.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("already holds a run"), "{err}");
}

#[test]
fn gan_divergence_is_a_recorded_result() {
    let d = dir("diverge");
    // SGD with an absurd step on a linear critic overflows f32 within a few steps
    let text =
        RING.replace("name = \"adam\"\nlr = 1e-3\n[train]", "name = \"sgd\"\nlr = 1e30\n[train]").replace(
            "[discriminator]\nhidden = [32]",
            "[discriminator]\nhidden = [32]\nactivation = \"identity\"",
        );
    let spec = write_spec(&d, &text);
    let out = d.join("run");
    let (code, _, err) = odl(&["gan", &spec, "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["diverged"], true, "{s}");
    let k = s["diverged_at_step"].as_u64().unwrap();
    assert!(k < 20);
    assert_eq!(s["result"], format!("diverged at step {}", k + 1));
    let last = lines(&out).pop().unwrap();
    assert_eq!(last["diverged"], true);
    assert!(
        last["what"].as_str().unwrap().contains("NaN") || last["what"].as_str().unwrap().contains("inf"),
        "{last}"
    );
}

#[test]
fn a_resumed_gan_run_ends_exactly_where_an_uninterrupted_one_does() {
    let d = dir("resume");
    for algo in ["alternating", "unrolled", "unrolled-adam", "consensus"] {
        let (name, with) = algo.split_once('-').map_or((algo, "sgd"), |(a, w)| (a, w));
        let text = RING.replace(
            "[train]",
            &format!("[algorithm]\nname = \"{name}\"\nunroll = 2\nunroll_with = \"{with}\"\n[train]"),
        );
        let spec = write_spec(&d, &text);
        let (full, half) = (d.join(format!("{algo}-full")), d.join(format!("{algo}-half")));
        let (code, _, err) = odl(&["gan", &spec, "--out", full.to_str().unwrap()]);
        assert_eq!(code, 0, "{algo}: {err}");
        let (code, _, err) = odl(&["gan", &spec, "--set", "train.steps=10", "--out", half.to_str().unwrap()]);
        assert_eq!(code, 0, "{algo}: {err}");
        let (code, _, err) =
            odl(&["gan", &spec, "--set", "train.steps=20", "--resume", "--out", half.to_str().unwrap()]);
        assert_eq!(code, 0, "{algo}: {err}");
        let strip = |mut v: Vec<serde_json::Value>| {
            for r in &mut v {
                r.as_object_mut().unwrap().remove("time_s");
            }
            v
        };
        assert_eq!(strip(lines(&full)), strip(lines(&half)), "{algo}: the logs differ");
        assert_eq!(
            std::fs::read(full.join("checkpoint.npz")).unwrap(),
            std::fs::read(half.join("checkpoint.npz")).unwrap(),
            "{algo}: the final checkpoints differ"
        );
    }
}

#[test]
fn an_image_gan_reports_fid_kid_and_is_on_cached_odl_features() {
    let d = dir("images");
    let text = r#"
seed = 0
[data]
name = "fashion-mnist-subset"
n_train = 1200
[generator]
kind = "dcgan"
channels = [8, 4]
latent = 16
[discriminator]
kind = "dcgan"
channels = [4, 8]
activation = { leaky-relu = 0.2 }
[loss]
name = "hinge"
[regularizer]
orthogonal = 1e-4
[optim.generator]
name = "adam"
lr = 2e-4
[optim.discriminator]
name = "adam"
lr = 2e-4
[train]
steps = 4
batch_size = 16
eval_every = 2
eval_samples = 100
truncation = 1.0
"#;
    let spec = write_spec(&d, text);
    let cache = d.join("cache");
    let out = d.join("run");
    let run = |out: &Path| {
        let (code, stdout, err) = common::odl_env(
            &["gan", &spec, "--out", out.to_str().unwrap()],
            &[("ODL_CACHE_DIR", cache.to_str().unwrap())],
        );
        assert_eq!(code, 0, "{err}");
        serde_json::from_str::<serde_json::Value>(stdout.trim()).unwrap()
    };
    let s = run(&out);
    let m = &s["metrics"];
    for k in ["fid_mlp64", "kid_mlp64", "is_mlp64", "fid_real_floor", "is_real"] {
        assert!(m[k].as_f64().unwrap().is_finite(), "{k}: {s}");
    }
    // four steps of a tiny generator are far from the data; held-out real images are close
    assert!(m["fid_mlp64"].as_f64().unwrap() > 5.0 * m["fid_real_floor"].as_f64().unwrap(), "{s}");
    let is = m["is_mlp64"].as_f64().unwrap();
    assert!((1.0..=10.0).contains(&is) && m["is_real"].as_f64().unwrap() > is, "{s}");
    assert!(cache.join("features-fashion-mlp64-v1.npz").is_file(), "the feature network is cached");
    for f in ["samples/step-000002.png", "samples.png", "fid.svg", "training.svg"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let png = std::fs::read(out.join("samples.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    // a second run reads the cache and measures the same numbers
    let again = run(&d.join("again"));
    assert_eq!(again["metrics"], s["metrics"]);
}
