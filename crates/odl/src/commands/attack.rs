//! `odl attack RUN`: adversarial examples against a trained run's model.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use odl_plot::{Figure, LinePlot, Series};
use odl_robust::attacks::Outcome;
use odl_robust::{Attack, AttackName, Net, Norm, Threat};
use odl_tensor::DType;
use odl_train::files::{num, progress_bar, save_figures, write_json};
use odl_train::restore::{restore, Restored};
use serde_json::json;

/// Arguments of `odl attack`.
#[derive(clap::Args, Debug)]
pub struct AttackArgs {
    /// a run folder from `odl train` (its spec.toml and checkpoint.npz)
    pub run: PathBuf,
    /// fgsm, pgd, cw (PGD on the Carlini–Wagner margin), apgd-ce, apgd-dlr, apgd-t, square, or auto (the ensemble)
    #[arg(long, default_value = "pgd")]
    pub attack: String,
    /// radius of the threat model, in the data's own units (pixels in [0, 1] for Fashion-MNIST)
    #[arg(long, default_value_t = 0.1, allow_negative_numbers = true)]
    pub eps: f64,
    /// linf or l2
    #[arg(long, default_value = "linf")]
    pub norm: String,
    /// gradient steps (default: 20 for FGSM/PGD/CW, 100 for APGD and auto)
    #[arg(long)]
    pub steps: Option<usize>,
    /// random restarts
    #[arg(long, default_value_t = 1)]
    pub restarts: usize,
    /// test examples attacked (the first N of the test set)
    #[arg(long, default_value_t = 1000)]
    pub examples: usize,
    /// target classes of APGD-T
    #[arg(long, default_value_t = 3)]
    pub targets: usize,
    /// forward passes of the Square attack
    #[arg(long, default_value_t = 1000)]
    pub queries: usize,
    /// seed of every random draw
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// points of the robust-accuracy-vs-ε curve, evenly spaced up to ε (1: only ε itself)
    #[arg(long, default_value_t = 4)]
    pub curve_points: usize,
    /// output folder (default: RUN/attack-ATTACK-NORM-EPS)
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Examples attacked per batch.
const CHUNK: usize = 250;

/// A run's model and its first test examples in the data's own units.
pub(crate) struct TestPoints {
    /// the restored run (f32)
    pub r: Restored,
    /// inputs `[n, d]`, clipped to the data's box
    pub x: Vec<f32>,
    /// labels
    pub y: Vec<usize>,
    /// values per example
    pub d: usize,
    /// the threat model (the data's box)
    pub threat: Threat,
    /// one example as an image, when it is one
    pub image: Option<[usize; 3]>,
}

impl TestPoints {
    /// The first `examples` test points of the run folder `run`.
    pub fn load(run: &std::path::Path, examples: usize, norm: Norm, eps: f64) -> Result<TestPoints> {
        if !run.is_dir() {
            bail!("{}: not a run folder (give the folder `odl train` wrote)", run.display());
        }
        let mut r = restore(run, &[], false)?;
        r.cast(DType::F32);
        let n = examples.min(r.test.len());
        let d: usize = r.test.x.shape()[1..].iter().product();
        let ((lo, hi), image) = odl_train::adversarial::geometry(&r.spec, d);
        let threat = Threat::new(norm, eps, lo, hi).map_err(anyhow::Error::msg)?;
        let mut x = r.scaling.to_data(&r.test.x.to_vec_f32()[..n * d]);
        threat.clip(&mut x);
        let y = r.test.labels()[..n].to_vec();
        Ok(TestPoints { r, x, y, d, threat, image })
    }
}

/// Runs `odl attack`.
pub fn run(args: &AttackArgs) -> Result<()> {
    let t0 = Instant::now();
    let name: AttackName = args.attack.parse().map_err(anyhow::Error::msg).context("--attack")?;
    let norm: Norm = args.norm.parse().map_err(anyhow::Error::msg).context("--norm")?;
    if !(args.eps.is_finite() && args.eps >= 0.0) {
        bail!("--eps {}: must be a finite number ≥ 0", args.eps);
    }
    if args.curve_points == 0 {
        bail!("--curve-points 0: give at least 1 (only ε itself)");
    }
    let fractions: Vec<f64> = (1..=args.curve_points).map(|k| k as f64 / args.curve_points as f64).collect();
    if args.examples == 0 {
        bail!("--examples 0: attack at least one example");
    }
    for (flag, v) in [
        ("--steps", args.steps.unwrap_or(1)),
        ("--restarts", args.restarts),
        ("--targets", args.targets),
        ("--queries", args.queries),
    ] {
        if v == 0 {
            bail!("{flag} 0: give at least 1");
        }
    }
    let TestPoints { mut r, x: x_all, y: y_all, d, threat, image } =
        TestPoints::load(&args.run, args.examples, norm, args.eps)?;
    let n = y_all.len();
    let (lo, hi) = (threat.lo, threat.hi);
    let mut attack = Attack::new(name);
    if let Some(s) = args.steps {
        attack.steps = s;
    }
    attack.restarts = args.restarts;
    attack.targets = args.targets;
    attack.queries = args.queries;
    attack.seed = args.seed;
    attack.image = image;
    let out_dir =
        args.out.clone().unwrap_or_else(|| args.run.join(format!("attack-{name}-{norm}-{}", args.eps)));
    if out_dir.exists() && !out_dir.is_dir() {
        bail!("--out {}: a file is there; give a folder", out_dir.display());
    }
    let budget = match name {
        AttackName::Fgsm => "one gradient step".to_string(),
        AttackName::Square => format!("{} queries", attack.queries),
        _ => format!("{} steps × {} restart(s)", attack.steps, attack.restarts),
    };
    eprintln!(
        "odl attack {name}: {n} test examples, {norm} ε = {} in data units (box [{lo}, {hi}]), {budget}",
        args.eps
    );
    let in_shape = r.in_shape.clone();
    let sc = r.scaling;
    let net = Net { model: &mut r.model, in_shape, mean: sc.mean, std: sc.std };
    // the curve: FGSM (a reference) and the chosen attack at fractions of ε
    let mut curve_attacks = vec![name];
    if name != AttackName::Fgsm {
        curve_attacks.push(AttackName::Fgsm);
    }
    let chunks = n.div_ceil(CHUNK);
    let bar = progress_bar(chunks * fractions.len() * curve_attacks.len(), 0);
    let mut curves: Vec<(AttackName, Vec<f64>)> = Vec::new();
    let mut main: Option<Outcome> = None;
    let mut clean_acc = 0.0;
    let mut attack_s = 0.0;
    for &a_name in &curve_attacks {
        let mut accs = Vec::new();
        for &f in &fractions {
            let t = threat.with_eps(args.eps * f);
            let a = Attack {
                name: a_name,
                steps: if a_name == AttackName::Fgsm { 1 } else { attack.steps },
                ..attack.clone()
            };
            let ta = Instant::now();
            if let Some(b) = &bar {
                b.set_message(format!("{a_name} at ε = {:.4}", t.eps));
            }
            let o = run_batches(&a, &t, &net, &x_all, &y_all, d, bar.as_ref())?;
            clean_acc = o.clean_accuracy();
            accs.push(o.robust_accuracy());
            if a_name == name && f == 1.0 {
                attack_s = ta.elapsed().as_secs_f64();
                main = Some(o);
            }
        }
        curves.push((a_name, accs));
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let o = main.expect("the chosen attack ran at ε");
    let norms = threat.distances(&o.x_adv, &x_all, d);
    let broken: Vec<usize> = (0..n).filter(|&i| o.clean_correct[i] && o.success[i]).collect();
    let mean_norm = broken.iter().map(|&i| norms[i]).sum::<f64>() / broken.len().max(1) as f64;
    let max_norm = norms.iter().copied().fold(0.0, f64::max);
    let mut xs = vec![0.0];
    xs.extend(fractions.iter().map(|f| f * args.eps));
    let fig = LinePlot::new(
        format!("Robust accuracy vs ε ({norm}, {n} test examples)"),
        format!("ε ({norm}, data units)"),
        "accuracy under attack",
    )
    .with(curves.iter().map(|(a, accs)| {
        let mut ys = vec![clean_acc];
        ys.extend(accs);
        Series::line_points(a.as_str(), xs.clone(), ys)
    }));
    let doc = json!({
        "attack": name.as_str(),
        "run": args.run.display().to_string(),
        "norm": norm.to_string(),
        "eps": args.eps,
        "box": [num(lo), num(hi)],
        "examples": n,
        "steps": attack.steps,
        "restarts": attack.restarts,
        "targets": attack.targets,
        "queries": attack.queries,
        "seed": args.seed,
        "clean_accuracy": clean_acc,
        "robust_accuracy": o.robust_accuracy(),
        "stages": o.stages.iter().map(|(s, k)| json!({"attack": s, "robust_accuracy": *k as f64 / n as f64})).collect::<Vec<_>>(),
        "mean_perturbation_norm": mean_norm,
        "max_perturbation_norm": max_norm,
        "curve": {
            "eps": xs,
            "robust_accuracy": curves.iter().map(|(a, accs)| (a.as_str().to_string(), json!([clean_acc].iter().chain(accs).collect::<Vec<_>>()))).collect::<serde_json::Map<_, _>>(),
        },
        "per_example": (0..n).map(|i| json!({
            "label": y_all[i],
            "clean_correct": o.clean_correct[i],
            "broken": o.success[i],
            "broken_by": o.broken_by[i].map(|s| o.stages[s].0.clone()),
            "perturbation_norm": norms[i],
        })).collect::<Vec<_>>(),
        "attack_s": attack_s,
        "wall_s": t0.elapsed().as_secs_f64(),
    });
    // everything is computed: only now is anything written
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    save_figures(&out_dir, &[("robust_vs_eps".to_string(), Figure::Lines(fig))])?;
    if let Some([_, h, w]) = image {
        examples_png(&out_dir, &x_all, &o.x_adv, &broken, d, h, w, norm, args.eps)?;
    }
    write_json(&out_dir.join("attack.json"), &doc)?;
    println!(
        "odl attack {name}: clean {:.2} %, robust {:.2} % at {norm} ε = {} ({} examples, {:.1} s)",
        100.0 * clean_acc,
        100.0 * o.robust_accuracy(),
        args.eps,
        n,
        t0.elapsed().as_secs_f64()
    );
    for (s, k) in &o.stages {
        if o.stages.len() > 1 {
            println!("  after {s:<9} {:.2} %", 100.0 * *k as f64 / n as f64);
        }
    }
    eprintln!("written: {}", out_dir.join("attack.json").display());
    Ok(())
}

/// `a.run` on the examples `x` (`[n, d]`, labels `y`) in batches of
/// [`CHUNK`] side by side on replicas ([`Attack::run_batched`]); one tick of
/// `bar` per batch.
pub(crate) fn run_batches(
    a: &Attack,
    t: &Threat,
    net: &Net,
    x: &[f32],
    y: &[usize],
    d: usize,
    bar: Option<&indicatif::ProgressBar>,
) -> Result<Outcome> {
    let tick = || {
        if let Some(b) = bar {
            b.inc(1);
        }
    };
    a.run_batched(net, t, x, d, y, CHUNK, &tick).map_err(anyhow::Error::msg)
}

/// `examples.png`: rows of clean / adversarial / amplified difference for
/// up to eight broken examples. The difference is mapped from [−ε, ε] to
/// [0, 1] for ℓ∞; an ℓ2 perturbation spreads ε over many pixels (each far
/// below ε), so each of its images is mapped from ± its own largest change.
#[allow(clippy::too_many_arguments)]
fn examples_png(
    dir: &std::path::Path,
    x: &[f32],
    adv: &[f32],
    broken: &[usize],
    d: usize,
    h: usize,
    w: usize,
    norm: Norm,
    eps: f64,
) -> Result<()> {
    let k = broken.len().min(8);
    if k == 0 {
        return Ok(());
    }
    let mut pix = Vec::with_capacity(3 * k * d);
    for row in 0..3 {
        for &i in &broken[..k] {
            let (c, a) = (&x[i * d..(i + 1) * d], &adv[i * d..(i + 1) * d]);
            match row {
                0 => pix.extend(c.iter().map(|&v| v as f64)),
                1 => pix.extend(a.iter().map(|&v| v as f64)),
                _ => {
                    let scale = match norm {
                        Norm::Linf => eps,
                        Norm::L2 => {
                            a.iter().zip(c).fold(0.0f64, |m, (&u, &v)| m.max((u as f64 - v as f64).abs()))
                        }
                    };
                    pix.extend(a.iter().zip(c).map(|(&u, &v)| 0.5 + 0.5 * (u - v) as f64 / scale.max(1e-12)))
                }
            }
        }
    }
    let grid = odl_plot::image::GrayGrid { pixels: &pix, h, w, cols: k, range: (0.0, 1.0), scale: 3 };
    grid.write_png(&dir.join("examples.png"))
        .with_context(|| format!("writing {}/examples.png", dir.display()))
}
