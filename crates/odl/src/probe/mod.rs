//! `odl probe KIND TARGET`: the instruments of `odl-probe` on a trained run
//! (a run folder from `odl train`) or on a fresh network from a spec file.
//! Each probe writes `probe.json` (its numbers) and figures (SVG, plus the
//! JSON they are drawn from) into the output folder.

mod hessian;
mod jacobian;
mod landscape;
mod ntk;
mod sharpness;
mod signal;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use odl_autodiff::{no_grad, Tensor};
use odl_nn::{Ctx, Module};
use odl_plot::Figure;
use odl_tensor::{Array, DType, Rng};
use serde_json::{json, Value};

use odl_train::files::{save_figures, write_json};
use odl_train::{restore, Restored};

/// Which instrument.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Hessian spectrum: top/bottom eigenvalues (Lanczos, power iteration), trace (Hutchinson), density (SLQ), exact and Gauss–Newton on request
    Hessian,
    /// input–output Jacobian singular values, per-layer Jacobian norms, Lipschitz bounds
    Jacobian,
    /// per-layer forward/backward statistics: variances, saturation, dead units
    Signal,
    /// 1-D and 2-D filter-normalized slices of the loss surface
    Landscape,
    /// ε-sharpness, top Hessian eigenvalue, loss and gradient along the gradient
    Sharpness,
    /// the empirical neural tangent kernel on a batch and its spectrum
    Ntk,
}

/// Arguments of `odl probe`.
#[derive(clap::Args, Debug, Clone)]
pub struct ProbeArgs {
    /// the instrument
    #[arg(value_enum)]
    pub kind: Kind,
    /// a run folder from `odl train` (trained parameters) or a spec file (fresh initialization)
    pub target: PathBuf,
    /// override a spec value: --set data.n_train=1000 (repeatable)
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// output folder (default: TARGET/probe-KIND for a run folder, runs/probe-KIND-<spec> for a spec)
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// training examples the loss is measured on (at least the training-set
    /// size: the whole training set; the Hessian takes it in chunks of ≤ 2048
    /// rows, spread over the compute threads)
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch: u64,
    /// eigenpairs to report
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    pub k: u64,
    /// hessian: only these parameters (names or prefixes, comma-separated: --params 0.weight,2.)
    #[arg(long, value_delimiter = ',')]
    pub params: Vec<String>,
    /// Lanczos steps (operator applications)
    #[arg(long, default_value_t = 40, value_parser = clap::value_parser!(u64).range(2..))]
    pub steps: u64,
    /// Hutchinson samples / SLQ start vectors are derived from this
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub samples: u64,
    /// also the exact spectrum by dense eigendecomposition (models up to 6000 parameters)
    #[arg(long)]
    pub exact: bool,
    /// also the Gauss–Newton (GGN) top eigenvalues
    #[arg(long)]
    pub ggn: bool,
    /// landscape: points per axis of the 1-D slice (the 2-D grid uses half as many + 1)
    #[arg(long, default_value_t = 41, value_parser = clap::value_parser!(u64).range(3..2001))]
    pub grid: u64,
    /// landscape: the slice spans [−range, range] along each direction
    #[arg(long, default_value_t = 1.0)]
    pub range: f64,
    /// landscape directions: random (filter-normalized) or hessian (top two eigenvectors)
    #[arg(long, default_value = "random", value_parser = ["random", "hessian"])]
    pub directions: String,
    /// sharpness: ε of the box |yᵢ| ≤ ε(|θᵢ| + 1)
    #[arg(long, default_value_t = 1e-3)]
    pub eps: f64,
    /// jacobian: test examples whose Jacobian spectra are computed
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..))]
    pub examples: u64,
    /// seed of every random draw (batch choice, start vectors, directions)
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// arithmetic of the probe
    #[arg(long, default_value = "f64", value_parser = ["f64", "f32"])]
    pub precision: String,
    /// probe the spec's initialization even when TARGET is a run folder (or one without a checkpoint)
    #[arg(long)]
    pub fresh: bool,
    /// print the whole result as JSON on stdout (for scripts) instead of the headline numbers
    #[arg(long)]
    pub json: bool,
}

/// What every probe gets: the restored run, the batch, and the arguments.
pub(crate) struct Setup {
    pub run: Restored,
    pub x: Tensor,
    pub labels: Vec<usize>,
    pub dtype: DType,
    pub args: ProbeArgs,
}

impl Setup {
    /// Loss and accuracy of the network with parameters `theta` on the batch.
    pub fn eval(&mut self, theta: &[Array]) -> (f64, f64) {
        self.run.model.set_param_values(theta.to_vec());
        let logits = no_grad(|| self.run.model.forward(&self.x, &mut Ctx::eval()));
        let loss = logits.cross_entropy(&self.labels).item();
        let correct = odl_train::accuracy_count(&logits, &self.labels);
        (loss, correct as f64 / self.labels.len() as f64)
    }
}

/// A line on stderr about what is being computed (the long steps of a probe).
pub(crate) fn stage(msg: &str) {
    if std::io::stderr().is_terminal() {
        eprintln!("  … {msg}");
    }
}

/// Runs `odl probe`.
pub fn run(args: &ProbeArgs) -> Result<()> {
    let t0 = Instant::now();
    if !(args.range > 0.0 && args.range.is_finite()) {
        bail!("--range {}: must be a positive number", args.range);
    }
    if !(args.eps > 0.0 && args.eps < 1.0) {
        bail!("--eps {}: must be in (0, 1)", args.eps);
    }
    let name = format!("{:?}", args.kind).to_lowercase();
    let mut run = restore(&args.target, &args.sets, args.fresh)?;
    let out = args.out.clone().unwrap_or_else(|| {
        if args.target.is_dir() {
            args.target.join(format!("probe-{name}"))
        } else {
            let stem = args.target.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            PathBuf::from("runs").join(format!("probe-{name}-{stem}"))
        }
    });
    if out.exists() && !out.is_dir() {
        bail!("--out {}: a file is there; give a folder for probe.json and the figures", out.display());
    }
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let dtype = if args.precision == "f32" { DType::F32 } else { DType::F64 };
    run.cast(dtype);
    let n = (args.batch as usize).min(run.train.len());
    let idx: Vec<usize> = Rng::seed(args.seed).permutation(run.train.len()).into_iter().take(n).collect();
    let (x, labels) = run.inputs(&run.train, &idx, dtype);
    eprintln!(
        "odl probe {name}: {} parameters ({}), {n} training examples, {}",
        run.model.num_params(),
        if run.trained { "trained" } else { "fresh initialization" },
        args.precision
    );
    let mut s = Setup { run, x, labels, dtype, args: args.clone() };
    let (result, figures): (Value, Vec<(String, Figure)>) = match args.kind {
        Kind::Hessian => hessian::probe(&mut s)?,
        Kind::Jacobian => jacobian::probe(&mut s)?,
        Kind::Signal => signal::probe(&mut s)?,
        Kind::Landscape => landscape::probe(&mut s)?,
        Kind::Sharpness => sharpness::probe(&mut s)?,
        Kind::Ntk => ntk::probe(&mut s)?,
    };
    let doc = json!({
        "probe": name,
        "target": args.target.display().to_string(),
        "trained": s.run.trained,
        "parameters": s.run.model.num_params(),
        "batch": n,
        "precision": args.precision,
        "seed": args.seed,
        "result": result,
        "figures": figures.iter().map(|(f, _)| format!("{f}.svg")).collect::<Vec<_>>(),
        "wall_s": t0.elapsed().as_secs_f64(),
    });
    save_figures(&out, &figures)?;
    write_json(&out.join("probe.json"), &doc)?;
    if args.json {
        println!("{}", serde_json::to_string(&doc["result"])?);
    } else {
        println!("odl probe {name}: {:.1} s", t0.elapsed().as_secs_f64());
        for line in headline(&doc["result"]) {
            println!("  {line}");
        }
        println!("all numbers: {}", out.join("probe.json").display());
    }
    eprintln!("probe folder: {}", out.display());
    Ok(())
}

/// The headline numbers of a result: every top-level number, and every
/// short list of numbers (up to 6), one line each. Longer lists, tables and
/// curves stay in `probe.json`.
fn headline(result: &Value) -> Vec<String> {
    let num = |v: &Value| v.as_f64().map(odl_plot::axis::fmt_num);
    let mut out = Vec::new();
    for (k, v) in result.as_object().into_iter().flatten() {
        let name = k.replace('_', " ");
        match v {
            Value::Number(_) => out.push(format!("{name}: {}", num(v).unwrap_or_default())),
            Value::Array(a)
                if !a.is_empty() && a.len() <= 6 && a.iter().all(|x| x.is_number() || x.is_null()) =>
            {
                let items: Vec<String> = a.iter().map(|x| num(x).unwrap_or_else(|| "—".into())).collect();
                out.push(format!("{name}: {}", items.join(", ")));
            }
            _ => {}
        }
    }
    out
}
