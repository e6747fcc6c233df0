//! `odl certify RUN`: certified robustness of a trained run's model, next to
//! the robust accuracy that PGD reaches on the same points.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use odl_plot::{Figure, LinePlot, Series};
use odl_robust::certify::{ibp, lipschitz, Certified};
use odl_robust::{Attack, AttackName, Net, Norm};
use odl_train::files::{num, save_figures, write_json};
use serde_json::json;

use super::attack::TestPoints;

/// Arguments of `odl certify`.
#[derive(clap::Args, Debug)]
pub struct CertifyArgs {
    /// a run folder from `odl train`
    pub run: PathBuf,
    /// ibp (interval bound propagation, ℓ∞) or lipschitz (the Lipschitz-margin radius, ℓ2 or ℓ∞)
    #[arg(long, default_value = "ibp")]
    pub method: String,
    /// the largest radius certified, in the data's own units (the curve runs from 0 to it)
    #[arg(long, default_value_t = 0.1, allow_negative_numbers = true)]
    pub eps: f64,
    /// linf or l2
    #[arg(long, default_value = "linf")]
    pub norm: String,
    /// test examples (the first N of the test set)
    #[arg(long, default_value_t = 1000)]
    pub examples: usize,
    /// radii of the curve, evenly spaced up to --eps
    #[arg(long, default_value_t = 5)]
    pub curve_points: usize,
    /// PGD steps of the attacked robust accuracy shown next to the certificate
    #[arg(long, default_value_t = 20)]
    pub pgd_steps: usize,
    /// output folder (default: RUN/certify-METHOD-NORM-EPS)
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Examples per batch.
const CHUNK: usize = 250;

/// Runs `odl certify`.
pub fn run(args: &CertifyArgs) -> Result<()> {
    let t0 = Instant::now();
    let norm: Norm = args.norm.parse().map_err(anyhow::Error::msg).context("--norm")?;
    let lip = match args.method.as_str() {
        "ibp" => false,
        "lipschitz" => true,
        m => bail!("--method {m}: unknown certificate (expected ibp or lipschitz)"),
    };
    if !(args.eps.is_finite() && args.eps >= 0.0) {
        bail!("--eps {}: must be a finite number ≥ 0", args.eps);
    }
    if args.examples == 0 || args.curve_points == 0 || args.pgd_steps == 0 {
        bail!("--examples, --curve-points and --pgd-steps must be at least 1");
    }
    let TestPoints { mut r, x, y, d, threat, image } =
        TestPoints::load(&args.run, args.examples, norm, args.eps)?;
    let n = y.len();
    let (mean, std) = (r.scaling.mean, r.scaling.std);
    let in_shape = r.in_shape.clone();
    // a model the method cannot bound is an error before anything runs
    let probe = threat.with_eps(0.0);
    let mut net = Net { model: &mut r.model, in_shape, mean, std };
    let first = if lip {
        lipschitz::certify(&mut net, &probe, &x[..d], d, &y[..1]).map(|c| c.0)
    } else {
        ibp::certify(&mut net, &probe, &x[..d], d, &y[..1])
    };
    first.map_err(|e| anyhow::anyhow!("{}: {e}", args.method))?;
    let radii: Vec<f64> =
        (0..=args.curve_points).map(|k| args.eps * k as f64 / args.curve_points as f64).collect();
    let bar = odl_train::files::progress_bar(radii.len() * n.div_ceil(CHUNK), 0);
    let (mut cert_acc, mut pgd_acc) = (Vec::new(), Vec::new());
    let mut at_eps: Option<Certified> = None;
    let mut lipschitz_l = None;
    let mut violations = 0usize;
    for &e in &radii {
        let t = threat.with_eps(e);
        let (mut certified, mut robust) = (0usize, 0usize);
        let mut all = Certified { correct: Vec::new(), certified: Vec::new(), bound: Vec::new() };
        for s in (0..n).step_by(CHUNK) {
            let end = (s + CHUNK).min(n);
            let (xs, ys) = (&x[s * d..end * d], &y[s..end]);
            let c = if lip {
                let (c, l) = lipschitz::certify(&mut net, &t, xs, d, ys).map_err(anyhow::Error::msg)?;
                lipschitz_l = Some(l);
                c
            } else {
                ibp::certify(&mut net, &t, xs, d, ys).map_err(anyhow::Error::msg)?
            };
            let mut a = Attack::new(AttackName::Pgd);
            a.steps = args.pgd_steps;
            a.image = image;
            let o = a.run(&mut net, &t, xs, d, ys).map_err(anyhow::Error::msg)?;
            // a certified point that an attack breaks would be a bug: counted and reported
            violations += (0..ys.len()).filter(|&i| c.certified[i] && o.success[i]).count();
            certified += c.certified.iter().filter(|&&v| v).count();
            robust += o.robust_count();
            all.correct.extend(c.correct);
            all.certified.extend(c.certified);
            all.bound.extend(c.bound);
            if let Some(b) = &bar {
                b.inc(1);
                b.set_message(format!("ε = {e:.4}"));
            }
        }
        cert_acc.push(certified as f64 / n as f64);
        pgd_acc.push(robust as f64 / n as f64);
        at_eps = Some(all);
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if violations > 0 {
        bail!("{violations} certified point(s) were broken by PGD: the certificate is unsound here — please report this");
    }
    let c = at_eps.expect("at least one radius");
    let fig = LinePlot::new(
        format!(
            "Certified ({}) and attacked (PGD-{}) accuracy, {norm}, {n} test examples",
            args.method, args.pgd_steps
        ),
        format!("ε ({norm}, data units)"),
        "accuracy",
    )
    .with([
        Series::line_points(format!("certified ({})", args.method), radii.clone(), cert_acc.clone()),
        Series::line_points("robust under PGD (an upper bound)", radii.clone(), pgd_acc.clone()),
    ]);
    let doc = json!({
        "method": args.method,
        "run": args.run.display().to_string(),
        "norm": norm.to_string(),
        "eps": args.eps,
        "box": [num(threat.lo), num(threat.hi)],
        "examples": n,
        "clean_accuracy": c.correct.iter().filter(|&&v| v).count() as f64 / n as f64,
        "certified_accuracy": cert_acc.last(),
        "pgd_accuracy": pgd_acc.last(),
        "lipschitz_bound": lipschitz_l,
        "curve": {"eps": radii, "certified_accuracy": cert_acc, "pgd_accuracy": pgd_acc},
        "per_example": (0..n).map(|i| json!({
            "label": y[i], "correct": c.correct[i], "certified": c.certified[i],
            (if lip { "certified_radius" } else { "margin_lower_bound" }): num(c.bound[i]),
        })).collect::<Vec<_>>(),
        "wall_s": t0.elapsed().as_secs_f64(),
    });
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.run.join(format!("certify-{}-{norm}-{}", args.method, args.eps)));
    if out.exists() && !out.is_dir() {
        bail!("--out {}: a file is there; give a folder", out.display());
    }
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    save_figures(&out, &[("certified_vs_eps".to_string(), Figure::Lines(fig))])?;
    write_json(&out.join("certify.json"), &doc)?;
    println!(
        "odl certify {}: clean {:.2} %, certified {:.2} %, PGD-{} {:.2} % at {norm} ε = {} ({n} examples, {:.1} s)",
        args.method,
        100.0 * doc["clean_accuracy"].as_f64().unwrap_or(f64::NAN),
        100.0 * cert_acc.last().copied().unwrap_or(f64::NAN),
        args.pgd_steps,
        100.0 * pgd_acc.last().copied().unwrap_or(f64::NAN),
        args.eps,
        t0.elapsed().as_secs_f64()
    );
    eprintln!("written: {}", out.join("certify.json").display());
    Ok(())
}
