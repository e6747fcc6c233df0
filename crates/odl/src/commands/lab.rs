//! `odl lab`, `odl run`, `odl report`: arguments, and the claims printed as
//! a table.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{bail, Result};
use odl_lab::{claims_table, find, resolve, run_one, LabOptions, Scale};

fn parse_scale(s: &str) -> Result<Scale, String> {
    s.parse()
}

fn parse_seeds(s: &str) -> Result<Vec<u64>, String> {
    let seeds: Vec<u64> = if s.contains("..") {
        odl_sweep::file::parse_seeds(s).map_err(|e| format!("{e:#}"))?
    } else {
        s.split(',')
            .map(|x| x.trim().parse::<u64>().map_err(|_| format!("'{x}' is not a seed")))
            .collect::<Result<_, _>>()?
    };
    let mut seen = Vec::new();
    for x in &seeds {
        if seen.contains(x) {
            return Err(format!("seed {x} given twice"));
        }
        seen.push(*x);
    }
    if seeds.is_empty() {
        return Err("no seeds".into());
    }
    Ok(seeds)
}

/// Arguments of `odl lab`.
#[derive(clap::Args, Debug)]
pub struct LabArgs {
    /// only these experiments (comma-separated ids)
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// compute budget: tiny, quick or full
    #[arg(long, default_value = "quick", value_parser = parse_scale)]
    scale: Scale,
    /// experiments run at once (default: the number of cores)
    #[arg(long)]
    jobs: Option<usize>,
    /// output folder
    #[arg(long, default_value = "lab-report")]
    out: PathBuf,
    /// seed of every experiment
    #[arg(long, default_value_t = 0, conflicts_with = "seeds")]
    seed: u64,
    /// run the lab at several seeds (0..10, or 0,3,7): the report shows each claim's hold rate
    /// (the other seeds run as a sweep in OUT/seeds/)
    #[arg(long, value_name = "SEEDS")]
    seeds: Option<String>,
    /// rerun every experiment (by default an interrupted or repeated lab keeps the results already
    /// finished with the same parameters and code)
    #[arg(long)]
    fresh: bool,
    /// exit with status 1 if any claim does not hold (claims decided by wall-clock times excepted)
    #[arg(long)]
    strict: bool,
}

/// `odl lab`: returns whether every experiment ran and (under `--strict`)
/// every claim held.
pub fn lab(args: &LabArgs) -> Result<bool> {
    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if jobs == 0 {
        bail!("--jobs 0: give at least 1 (experiments run at once)");
    }
    let opts = LabOptions {
        only: args.only.clone(),
        scale: args.scale,
        jobs,
        out: args.out.clone(),
        seed: args.seed,
        fresh: args.fresh,
    };
    let seeds =
        args.seeds.as_deref().map(parse_seeds).transpose().map_err(|e| anyhow::anyhow!("--seeds: {e}"))?;
    let (res, rates) = match &seeds {
        Some(seeds) if seeds.len() > 1 => {
            let exe = std::env::current_exe()?;
            let (res, rates) = odl_sweep::seeds::lab(&opts, seeds, &exe)?;
            (res, Some(rates))
        }
        Some(seeds) => {
            let _ = std::fs::remove_file(args.out.join(odl_lab::HoldRates::FILE));
            (odl_lab::lab(&LabOptions { seed: seeds[0], ..opts })?, None)
        }
        None => {
            // a lab at one seed: hold rates of an earlier --seeds run no longer describe the page
            let _ = std::fs::remove_file(args.out.join(odl_lab::HoldRates::FILE));
            (odl_lab::lab(&opts)?, None)
        }
    };
    println!();
    print!("{}", claims_table(&res.summaries));
    if let Some(r) = &rates {
        println!("\nOver {} seeds:", r.seeds.len());
        for c in &r.claims {
            let mark = if c.held * 10 >= c.runs * 9 { "✓" } else { "✗" };
            println!("{mark} {:<24} {:<28} holds in {}/{} seeds", c.experiment, c.claim, c.held, c.runs);
        }
    }
    let (held, total) = res.held();
    println!(
        "\n{held}/{total} claims hold; {} experiment(s) failed; {:.0} s. Report: {}",
        res.errors(),
        res.wall_s,
        res.page.display()
    );
    let required_fail = res.summaries.iter().flat_map(|s| &s.claims).any(|c| !c.holds && !c.timing);
    Ok(res.errors() == 0 && !(args.strict && required_fail))
}

/// Arguments of `odl run`.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// the experiment's id (see `odl list`)
    id: String,
    /// override a parameter: --set depths=2,4,8 (repeatable)
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// compute budget: tiny, quick or full
    #[arg(long, default_value = "quick", value_parser = parse_scale)]
    scale: Scale,
    /// seed of every random draw
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// output folder (the experiment writes OUT/ID/)
    #[arg(long, default_value = "lab-report")]
    out: PathBuf,
}

/// `odl run`.
pub fn run(args: &RunArgs) -> Result<()> {
    let e = find(&args.id)?;
    let p = resolve(e, args.scale, args.seed, &args.sets)?;
    let tty = std::io::stderr().is_terminal();
    let bar = indicatif::ProgressBar::new(1000);
    if tty {
        bar.set_style(
            indicatif::ProgressStyle::with_template("{prefix} {bar:30} {msg} [{elapsed}]").expect("template"),
        );
        bar.set_prefix(e.id);
    } else {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let progress = |f: f64, m: &str| {
        bar.set_position((f * 1000.0) as u64);
        bar.set_message(m.to_string());
    };
    let s = run_one(e, p, args.scale, &args.out, &progress)?;
    bar.finish_and_clear();
    print!("{}", claims_table(std::slice::from_ref(&s)));
    eprintln!("results: {}", args.out.join(e.id).display());
    Ok(())
}

/// Arguments of `odl report`.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// the lab's output folder
    #[arg(default_value = "lab-report")]
    dir: PathBuf,
    /// also check every figure against its data (each series drawn and in the legend, readable axes,
    /// nothing under the legend); exit 1 on a problem
    #[arg(long)]
    check_figures: bool,
}

/// `odl report`: rebuilds `DIR/index.html` (and checks the figures);
/// returns whether the figures passed.
pub fn report(args: &ReportArgs) -> Result<bool> {
    if !args.dir.exists() {
        bail!("{}: no such folder", args.dir.display());
    }
    if !args.dir.is_dir() {
        bail!(
            "{}: a file, not a folder of lab results (give the folder `odl lab --out` wrote)",
            args.dir.display()
        );
    }
    let page = odl_lab::report::write(&args.dir)?;
    println!("{}", page.display());
    if !args.check_figures {
        return Ok(true);
    }
    let (n, problems) = odl_lab::report::check_figures(&args.dir)?;
    for (file, p) in &problems {
        println!("✗ {file}: {p}");
    }
    println!("{n} figures checked, {} problem(s)", problems.len());
    Ok(problems.is_empty())
}
