//! `odl gan SPEC`.

use anyhow::Result;

use super::train::SpecRunArgs;

/// Arguments of `odl gan`.
#[derive(clap::Args, Debug)]
pub struct GanArgs {
    #[command(flatten)]
    run: SpecRunArgs,
}

/// `odl gan`: trains a GAN into the run folder and prints the summary.
pub fn run(args: &GanArgs) -> Result<()> {
    let spec = odl_gan::train::load(&args.run.spec, &args.run.sets)?;
    let out = args.run.out_dir();
    let summary = odl_gan::train::train(&spec, &out, args.run.resume)?;
    println!("{}", serde_json::to_string(&summary)?);
    eprintln!("run folder: {}", out.display());
    Ok(())
}
