//! The `odl` command line.

use std::path::PathBuf;

use odl::{alloc, bench, lab, probe, train};

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

/// odl — a laboratory for the optimization theory of deep learning.
#[derive(Parser, Debug)]
#[command(name = "odl", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run the lab: every lecture's experiment in parallel, then the report (lab-report/index.html).
    Lab(lab::LabArgs),
    /// List the experiments: id, lecture, title.
    List,
    /// Run one experiment into OUT/ID/.
    Run {
        /// the experiment's id (see `odl list`)
        id: String,
        /// override a parameter: --set depths=2,4,8 (repeatable)
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// compute budget
        #[arg(long, value_enum, default_value = "quick")]
        scale: lab::Scale,
        /// seed of every random draw
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// output folder (the experiment writes OUT/ID/)
        #[arg(long, default_value = "lab-report")]
        out: PathBuf,
    },
    /// Rebuild the lab report (DIR/index.html) from results on disk.
    Report {
        /// the lab's output folder
        #[arg(default_value = "lab-report")]
        dir: PathBuf,
    },
    /// Look inside a trained run (or a fresh network from a spec): Hessian, Jacobian, signal, landscape, sharpness, NTK.
    Probe(probe::ProbeArgs),
    /// Run the benchmark workloads (W1–W8, GEMM) and print JSON lines.
    Bench(bench::BenchArgs),
    /// Train a model from a spec file into a run folder.
    Train {
        /// the spec (TOML), e.g. specs/fashion-mnist-mlp.toml
        spec: PathBuf,
        /// override a value: --set optim.lr=0.01 (repeatable)
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// the run folder (default runs/<spec name>)
        #[arg(long)]
        out: Option<PathBuf>,
        /// continue the run in --out from its checkpoint
        #[arg(long)]
        resume: bool,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Cmd::Lab(args) => match lab::lab(&args) {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::from(1),
            Err(e) => Err(e),
        },
        Cmd::List => {
            lab::list();
            Ok(())
        }
        Cmd::Run { id, sets, scale, seed, out } => lab::run_cmd(&id, &sets, scale, seed, &out),
        Cmd::Report { dir } => lab::report_cmd(&dir),
        Cmd::Bench(args) => bench::run(&args),
        Cmd::Probe(args) => probe::run(&args),
        Cmd::Train { spec, sets, out, resume } => (|| {
            let s = train::load(&spec, &sets)?;
            let stem =
                spec.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "run".into());
            let out = out.unwrap_or_else(|| PathBuf::from("runs").join(stem));
            let summary = train::train(&s, &out, resume)?;
            println!("{}", serde_json::to_string(&summary)?);
            eprintln!("run folder: {}", out.display());
            Ok(())
        })(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("odl: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
