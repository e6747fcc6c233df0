//! The `odl` command line: a thin layer over the libraries. Each command
//! parses its arguments here and calls one library entry point:
//! `lab`/`run`/`list`/`report` → odl-lab, `train` → odl-train, `gan` → odl-gan, `probe` →
//! odl-probe (through [`probe`]), `bench` → odl-bench, `sweep` → odl-sweep. Errors print as one
//! clear message and exit with status 2; a lab whose claims fail under
//! `--strict` exits with 1.

mod commands;
mod probe;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[global_allocator]
static GLOBAL: odl_bench::alloc::Counting = odl_bench::alloc::Counting;

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
    Lab(commands::lab::LabArgs),
    /// List the experiments: id, lecture, title.
    List,
    /// Run one experiment into OUT/ID/.
    Run(commands::lab::RunArgs),
    /// Rebuild the lab report (DIR/index.html) from results on disk.
    Report(commands::lab::ReportArgs),
    /// Look inside a trained run (or a fresh network from a spec): Hessian, Jacobian, signal, landscape, sharpness, NTK.
    Probe(probe::ProbeArgs),
    /// Run the benchmark workloads (W1–W10, GEMM) and print JSON lines.
    Bench(commands::bench::BenchArgs),
    /// Train a model from a spec file into a run folder.
    Train(commands::train::TrainArgs),
    /// Train a GAN from a spec file into a run folder (samples, modes or FID, checkpoints).
    Gan(commands::gan::GanArgs),
    /// Attack a trained run's model: FGSM, PGD, APGD, Square or the AutoAttack-style ensemble (robust accuracy, adversarial images).
    Attack(commands::attack::AttackArgs),
    /// Certify a trained run's model: interval bounds or CROWN (ℓ∞), the Lipschitz-margin radius, or randomized smoothing (ℓ2), next to PGD on the same points.
    Certify(commands::certify::CertifyArgs),
    /// Run a lab experiment or a training spec over a grid of values × seeds (locally or on Slurm), then aggregate.
    Sweep(commands::sweep::SweepArgs),
}

fn main() -> ExitCode {
    // training steps free and reallocate the same buffers every step
    odl_bench::alloc::keep_freed_memory();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Cmd::Lab(args) => match commands::lab::lab(&args) {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::from(1),
            Err(e) => Err(e),
        },
        Cmd::List => {
            print!("{}", odl_lab::list());
            Ok(())
        }
        Cmd::Run(args) => commands::lab::run(&args),
        Cmd::Report(args) => match commands::lab::report(&args) {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::from(1),
            Err(e) => Err(e),
        },
        Cmd::Bench(args) => commands::bench::run(&args),
        Cmd::Probe(args) => probe::run(&args),
        Cmd::Train(args) => commands::train::run(&args),
        Cmd::Gan(args) => commands::gan::run(&args),
        Cmd::Attack(args) => commands::attack::run(&args),
        Cmd::Certify(args) => commands::certify::run(&args),
        Cmd::Sweep(args) => match commands::sweep::run(&args) {
            Ok(0) => Ok(()),
            Ok(code) => return ExitCode::from(code),
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("odl: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
