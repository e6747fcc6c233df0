//! `odl gan SPEC`.

use std::path::PathBuf;

use anyhow::Result;

/// Arguments of `odl gan`.
#[derive(clap::Args, Debug)]
pub struct GanArgs {
    /// the spec (TOML), e.g. specs/gan/ring8-nonsaturating.toml
    spec: PathBuf,
    /// override a value: --set loss.name=hinge (repeatable)
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// the run folder (default runs/<spec name>)
    #[arg(long)]
    out: Option<PathBuf>,
    /// continue the run in --out from its checkpoint
    #[arg(long)]
    resume: bool,
}

/// `odl gan`: trains a GAN into the run folder and prints the summary.
pub fn run(args: &GanArgs) -> Result<()> {
    let spec = odl_gan::train::load(&args.spec, &args.sets)?;
    let stem =
        args.spec.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "gan".into());
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("runs").join(stem));
    let summary = odl_gan::train::train(&spec, &out, args.resume)?;
    println!("{}", serde_json::to_string(&summary)?);
    eprintln!("run folder: {}", out.display());
    Ok(())
}
