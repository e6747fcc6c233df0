//! `odl certify RUN`: certified robustness of a trained run's model, next to
//! the robust accuracy that PGD reaches on the same points.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use odl_plot::{Figure, LinePlot, Series};
use odl_robust::certify::smoothing::Smoothing;
use odl_robust::certify::{crown, ibp, lipschitz, Certified};
use odl_robust::{Attack, AttackName, Net, Norm, Threat};
use odl_tensor::Rng;
use odl_train::files::{num, save_figures, write_json};
use serde_json::json;

use super::attack::TestPoints;

/// Arguments of `odl certify`.
#[derive(clap::Args, Debug)]
pub struct CertifyArgs {
    /// a run folder from `odl train`
    pub run: PathBuf,
    /// ibp (interval bounds, ℓ∞), crown (linear bounds, ℓ∞), lipschitz (the Lipschitz-margin radius, ℓ2 or ℓ∞)
    /// or smoothing (randomized smoothing's ℓ2 radius, which holds with probability 1 − alpha)
    #[arg(long, default_value = "ibp")]
    pub method: String,
    /// the largest radius certified, in the data's own units (the curve runs from 0 to it)
    #[arg(long, default_value_t = 0.1, allow_negative_numbers = true)]
    pub eps: f64,
    /// linf or l2 (smoothing: l2)
    #[arg(long)]
    pub norm: Option<String>,
    /// test examples (the first N of the test set)
    #[arg(long, default_value_t = 1000)]
    pub examples: usize,
    /// radii of the curve, evenly spaced up to --eps
    #[arg(long, default_value_t = 5)]
    pub curve_points: usize,
    /// PGD steps of the attacked robust accuracy shown next to the certificate
    #[arg(long, default_value_t = 20)]
    pub pgd_steps: usize,
    /// smoothing: noise standard deviation, data units
    #[arg(long, default_value_t = 0.25, allow_negative_numbers = true)]
    pub sigma: f64,
    /// smoothing: noisy samples that bound the top class's probability
    #[arg(long, default_value_t = 1000)]
    pub n: usize,
    /// smoothing: noisy samples that choose the top class
    #[arg(long, default_value_t = 100)]
    pub n0: usize,
    /// smoothing: failure probability of each radius
    #[arg(long, default_value_t = 0.001, allow_negative_numbers = true)]
    pub alpha: f64,
    /// smoothing: seed of the noise
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// output folder (default: RUN/certify-METHOD-NORM-EPS)
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Which certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    Ibp,
    Crown,
    Lipschitz,
    Smoothing,
}

/// Examples per batch.
const CHUNK: usize = 250;

/// The process's peak resident memory (MiB), where the system says it.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// One radius's certificate on a chunk.
fn certify_chunk(
    method: Method,
    net: &mut Net,
    t: &Threat,
    xs: &[f32],
    d: usize,
    ys: &[usize],
) -> Result<(Certified, Option<f64>), String> {
    match method {
        Method::Ibp => ibp::certify(net, t, xs, d, ys).map(|c| (c, None)),
        Method::Crown => crown::certify(net, t, xs, d, ys).map(|c| (c, None)),
        Method::Lipschitz => lipschitz::certify(net, t, xs, d, ys).map(|(c, l)| (c, Some(l))),
        Method::Smoothing => unreachable!("smoothing certifies radii, not a ball"),
    }
}

/// Runs `odl certify`.
pub fn run(args: &CertifyArgs) -> Result<()> {
    let t0 = Instant::now();
    let method = match args.method.as_str() {
        "ibp" => Method::Ibp,
        "crown" => Method::Crown,
        "lipschitz" => Method::Lipschitz,
        "smoothing" => Method::Smoothing,
        m => bail!("--method {m}: unknown certificate (expected ibp, crown, lipschitz or smoothing)"),
    };
    let default_norm = if method == Method::Smoothing { "l2" } else { "linf" };
    let norm_arg = args.norm.as_deref().unwrap_or(default_norm);
    let norm: Norm = norm_arg.parse().map_err(anyhow::Error::msg).context("--norm")?;
    if method == Method::Smoothing && norm != Norm::L2 {
        bail!("--norm {norm_arg}: randomized smoothing certifies ℓ2 radii (use --norm l2)");
    }
    if !(args.eps.is_finite() && args.eps >= 0.0) {
        bail!("--eps {}: must be a finite number ≥ 0", args.eps);
    }
    if args.examples == 0 || args.curve_points == 0 || args.pgd_steps == 0 {
        bail!("--examples, --curve-points and --pgd-steps must be at least 1");
    }
    let smoothing = Smoothing { sigma: args.sigma, n0: args.n0, n: args.n, alpha: args.alpha, batch: 500 };
    if method == Method::Smoothing {
        smoothing.validate().map_err(|e| anyhow::anyhow!("--{e}"))?;
    }
    let TestPoints { mut r, x, y, d, threat, image } =
        TestPoints::load(&args.run, args.examples, norm, args.eps)?;
    let n = y.len();
    let classes = r.test.classes();
    let (mean, std) = (r.scaling.mean, r.scaling.std);
    let in_shape = r.in_shape.clone();
    let mut net = Net { model: &mut r.model, in_shape, mean, std };
    // a model the method cannot bound is an error before anything runs
    if method != Method::Smoothing {
        certify_chunk(method, &mut net, &threat.with_eps(0.0), &x[..d], d, &y[..1])
            .map_err(|e| anyhow::anyhow!("{}: {e}", args.method))?;
    }
    let radii: Vec<f64> =
        (0..=args.curve_points).map(|k| args.eps * k as f64 / args.curve_points as f64).collect();
    // smoothing: one CERTIFY per example, then the radii are read off
    let smoothed = if method == Method::Smoothing {
        let bar = odl_train::files::progress_bar(n, 0);
        let mut rng = Rng::seed(args.seed);
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            out.push(smoothing.certify(&mut net, &x[i * d..(i + 1) * d], d, classes, &mut rng));
            if let Some(b) = &bar {
                b.inc(1);
            }
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        Some(out)
    } else {
        None
    };
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
            let c = match &smoothed {
                Some(sm) => {
                    let sm = &sm[s..end];
                    let correct: Vec<bool> = (0..ys.len()).map(|i| sm[i].class == Some(ys[i])).collect();
                    Certified {
                        certified: (0..ys.len()).map(|i| correct[i] && sm[i].radius > e).collect(),
                        bound: sm.iter().map(|v| v.radius).collect(),
                        correct,
                    }
                }
                None => {
                    let (c, l) =
                        certify_chunk(method, &mut net, &t, xs, d, ys).map_err(anyhow::Error::msg)?;
                    lipschitz_l = l.or(lipschitz_l);
                    c
                }
            };
            let mut a = Attack::new(AttackName::Pgd);
            a.steps = args.pgd_steps;
            a.image = image;
            let o = a.run(&mut net, &t, xs, d, ys).map_err(anyhow::Error::msg)?;
            // a certified point that an attack breaks would be a bug: counted and reported (the smoothed
            // classifier is another classifier than the one attacked, so it is not checked this way)
            if smoothed.is_none() {
                violations += (0..ys.len()).filter(|&i| c.certified[i] && o.success[i]).count();
            }
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
    let attacked = if smoothed.is_some() {
        "robust under PGD, base classifier (no bound on the smoothed one)"
    } else {
        "robust under PGD (an upper bound)"
    };
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
        Series::line_points(attacked, radii.clone(), pgd_acc.clone()),
    ]);
    let per_example: Vec<serde_json::Value> = (0..n)
        .map(|i| match &smoothed {
            Some(sm) => json!({
                "label": y[i], "class": sm[i].class, "correct": c.correct[i],
                "p_lower": num(sm[i].p_lower), "certified_radius": num(sm[i].radius),
            }),
            None => json!({
                "label": y[i], "correct": c.correct[i], "certified": c.certified[i],
                (if method == Method::Lipschitz { "certified_radius" } else { "margin_lower_bound" }): num(c.bound[i]),
            }),
        })
        .collect();
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
        "smoothing": smoothed.as_ref().map(|sm| json!({
            "sigma": args.sigma, "n0": args.n0, "n": args.n, "alpha": args.alpha, "seed": args.seed,
            "abstentions": sm.iter().filter(|v| v.class.is_none()).count(),
        })),
        "curve": {"eps": radii, "certified_accuracy": cert_acc, "pgd_accuracy": pgd_acc},
        "per_example": per_example,
        "wall_s": t0.elapsed().as_secs_f64(),
        "peak_rss_mib": peak_rss_mib(),
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
