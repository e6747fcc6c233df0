//! `odl attack`: bad arguments exit 2 with nothing written; a real attack on
//! a trained Fashion-MNIST MLP writes attack.json (inside the threat model,
//! robust ≤ clean), the ε curve and the adversarial-image grid.

mod common;

use common::odl;

const SPEC: &str = r#"
seed = 0
[data]
name = "fashion-mnist-subset"
normalize = true
n_train = 1000
n_test = 200
[model]
kind = "mlp"
hidden = [32]
activation = "relu"
[optim]
name = "adam"
lr = 1e-3
[train]
epochs = 2
batch_size = 50
eval_every = 20
"#;

#[test]
fn attack_a_trained_run_and_refuse_bad_arguments() {
    let d = common::dir("attack", "run");
    let spec = d.join("spec.toml");
    std::fs::write(&spec, SPEC).unwrap();
    let run = d.join("mlp");
    let (code, _, err) = odl(&["train", spec.to_str().unwrap(), "--out", run.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let r = run.to_str().unwrap();
    // bad input: a clear message, exit 2, no folder written
    for (args, needle) in [
        (vec!["--eps", "-0.1"], "--eps -0.1"),
        (vec!["--attack", "deepfool"], "unknown attack 'deepfool'"),
        (vec!["--norm", "l3"], "unknown norm 'l3'"),
        (vec!["--attack", "square", "--queries", "0"], "--queries 0"),
        (vec!["--restarts", "0"], "--restarts 0"),
        (vec!["--examples", "0"], "--examples 0"),
    ] {
        let out = d.join("bad");
        let mut a = vec!["attack", r, "--out", out.to_str().unwrap()];
        a.extend(&args);
        let (code, _, err) = odl(&a);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(needle) && !err.contains("panicked"), "{args:?}: {err}");
        assert!(!out.exists(), "{args:?}: something was written");
    }
    let (code, _, err) = odl(&["attack", spec.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("not a run folder"), "{err}");
    // a real attack: PGD at ε = 0.1 on 100 test images
    let (code, stdout, err) =
        odl(&["attack", r, "--attack", "pgd", "--eps", "0.1", "--examples", "100", "--steps", "10"]);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("robust"), "{stdout}");
    let folder = run.join("attack-pgd-linf-0.1");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("attack.json")).unwrap()).unwrap();
    let (clean, robust) = (doc["clean_accuracy"].as_f64().unwrap(), doc["robust_accuracy"].as_f64().unwrap());
    assert!(clean > 0.5, "the trained MLP classifies: {clean}");
    assert!(robust < clean, "PGD at ε = 0.1 breaks some examples: {robust} vs {clean}");
    assert!(doc["max_perturbation_norm"].as_f64().unwrap() <= 0.1, "{}", doc["max_perturbation_norm"]);
    let per = doc["per_example"].as_array().unwrap();
    assert_eq!(per.len(), 100);
    let broken = per.iter().filter(|e| e["broken"].as_bool().unwrap()).count();
    assert_eq!(broken, 100 - (robust * 100.0).round() as usize);
    // the curve starts at the clean accuracy and FGSM is the reference
    let curve = &doc["curve"]["robust_accuracy"];
    assert_eq!(curve["pgd"][0].as_f64().unwrap(), clean);
    assert_eq!(curve["fgsm"].as_array().unwrap().len(), 5);
    let (code, _, err) = odl(&["attack", r, "--curve-points", "0"]);
    assert!(code == 2 && err.contains("--curve-points 0"), "{err}");
    assert!(folder.join("robust_vs_eps.svg").exists() && folder.join("examples.png").exists());
    // the ensemble reports its stages in AutoAttack's order, never rising
    let (code, stdout, err) = odl(&[
        "attack",
        r,
        "--attack",
        "auto",
        "--eps",
        "0.05",
        "--examples",
        "40",
        "--steps",
        "10",
        "--queries",
        "50",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("after apgd-ce") && stdout.contains("after square"), "{stdout}");
    let doc: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run.join("attack-auto-linf-0.05").join("attack.json")).unwrap(),
    )
    .unwrap();
    let stages: Vec<f64> =
        doc["stages"].as_array().unwrap().iter().map(|s| s["robust_accuracy"].as_f64().unwrap()).collect();
    assert_eq!(stages.len(), 3);
    assert!(stages.windows(2).all(|w| w[1] <= w[0]), "{stages:?}");
    assert_eq!(*stages.last().unwrap(), doc["robust_accuracy"].as_f64().unwrap());
    // certificates on the same model: at ε = 0 the certified accuracy is the
    // clean one; above it never exceeds what PGD leaves (checked per point inside)
    for method in ["ibp", "crown", "lipschitz"] {
        let (code, stdout, err) =
            odl(&["certify", r, "--method", method, "--eps", "0.005", "--examples", "100"]);
        assert_eq!(code, 0, "{method}: {err}");
        assert!(stdout.contains("certified"), "{stdout}");
        let doc: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(run.join(format!("certify-{method}-linf-0.005")).join("certify.json"))
                .unwrap(),
        )
        .unwrap();
        let cert: Vec<f64> = doc["curve"]["certified_accuracy"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let pgd: Vec<f64> =
            doc["curve"]["pgd_accuracy"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert_eq!(cert[0], doc["clean_accuracy"].as_f64().unwrap(), "{method}");
        assert!(cert.iter().zip(&pgd).all(|(c, p)| c <= p), "{method}: {cert:?} vs {pgd:?}");
        assert!(cert.windows(2).all(|w| w[1] <= w[0]), "{method}: certified accuracy rises with ε: {cert:?}");
    }
    // randomized smoothing: radii per example, abstentions counted, the curve falls with the radius
    let (code, _, err) =
        odl(&["certify", r, "--method", "smoothing", "--eps", "0.5", "--examples", "30", "--n", "200"]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run.join("certify-smoothing-l2-0.5").join("certify.json")).unwrap(),
    )
    .unwrap();
    let cert: Vec<f64> =
        doc["curve"]["certified_accuracy"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert!(cert.windows(2).all(|w| w[1] <= w[0]) && cert[0] > 0.3, "{cert:?}");
    let per = doc["per_example"].as_array().unwrap();
    let abstained = per.iter().filter(|p| p["class"].is_null()).count();
    assert_eq!(doc["smoothing"]["abstentions"].as_u64().unwrap() as usize, abstained);
    // σΦ⁻¹(p̲) with p̲ ≤ 1 − … : every radius is below σ·Φ⁻¹((α)^(1/n)) = 0.25·Φ⁻¹(0.001^(1/200)) < 0.25·2.6
    assert!(per.iter().all(|p| p["certified_radius"].as_f64().unwrap() < 0.65));
    for (args, needle) in [
        (vec!["--method", "zonotope"], "--method zonotope"),
        (vec!["--method", "smoothing", "--norm", "linf"], "ℓ2"),
        (vec!["--method", "smoothing", "--sigma", "-1"], "sigma = -1"),
        (vec!["--method", "ibp", "--norm", "l2"], "ℓ∞"),
        (vec!["--eps", "-1"], "--eps -1"),
    ] {
        let out = d.join("badcert");
        let mut a = vec!["certify", r, "--out", out.to_str().unwrap()];
        a.extend(&args);
        let (code, _, err) = odl(&a);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(needle) && !err.contains("panicked"), "{args:?}: {err}");
        assert!(!out.exists());
    }
}

#[test]
fn adversarial_training_from_a_spec_logs_robust_accuracy_and_bad_sections_exit_2() {
    let d = common::dir("attack", "advtrain");
    let spec = d.join("spec.toml");
    for (section, needle) in [
        ("method = \"mart\"\neps = 0.1", "unknown variant `mart`"),
        ("method = \"pgd\"\neps = -0.1", "adversarial.eps = -0.1"),
        ("method = \"fgsm-rs\"\neps = 0.1\nsteps = 3", "fgsm-rs takes one step"),
        ("method = \"pgd\"\neps = 0.1\nnorm = \"l3\"", "adversarial.norm"),
        ("method = \"trades\"\neps = 0.1\nbeta = -1.0", "adversarial.beta = -1"),
        ("method = \"pgd\"\neps = 0.1\nradius = 2", "unknown field `radius`"),
        ("method = \"ibp\"\neps = 0.1\nsteps = 3", "no inner attack"),
        ("method = \"pgd\"\neps = 0.1\nkappa = 0.5", "only method = \"ibp\""),
        ("method = \"ibp\"\neps = 0.1\nwarmup = 0.6\nramp = 0.6", "warmup + adversarial.ramp = 1.2"),
        ("method = \"ibp\"\neps = 0.1\nnorm = \"l2\"", "bounds ℓ∞ balls"),
    ] {
        std::fs::write(&spec, SPEC.replace("[train]", &format!("[adversarial]\n{section}\n[train]")))
            .unwrap();
        let out = d.join("bad");
        let (code, _, err) = odl(&["train", spec.to_str().unwrap(), "--out", out.to_str().unwrap()]);
        assert_eq!(code, 2, "{section}: {err}");
        assert!(err.contains(needle) && !err.contains("panicked"), "{section}: {err}");
        assert!(!out.exists());
    }
    // each method trains, logs robust_acc at evaluations and reports it at the end;
    // at ε = 0.1 the robust accuracy is below the clean one
    for method in ["pgd", "fgsm-rs", "trades", "ibp"] {
        let section =
            format!("[adversarial]\nmethod = \"{method}\"\neps = 0.1\neval_examples = 100\n[train]");
        std::fs::write(&spec, SPEC.replace("[train]", &section)).unwrap();
        let out = d.join(method);
        let (code, stdout, err) = odl(&["train", spec.to_str().unwrap(), "--out", out.to_str().unwrap()]);
        assert_eq!(code, 0, "{method}: {err}");
        let s: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
        let (clean, robust) = (s["test_accuracy"].as_f64().unwrap(), s["robust_accuracy"].as_f64().unwrap());
        // two short epochs of adversarial training: well above chance (0.1), robust below clean
        assert!(robust < clean && clean > 0.25, "{method}: clean {clean}, robust {robust}");
        let log = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
        assert!(log.lines().any(|l| l.contains("\"robust_acc\"")), "{method}: no robust_acc in the log");
    }
}
