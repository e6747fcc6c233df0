//! `odl train SPEC` (and the arguments every spec-driven run shares).

use std::path::PathBuf;

use anyhow::Result;

/// The arguments of a run from a spec file (`odl train`, `odl gan`).
#[derive(clap::Args, Debug)]
pub struct SpecRunArgs {
    /// the spec (TOML), e.g. specs/fashion-mnist-mlp.toml or specs/gan/ring8-wgan-gp.toml
    pub spec: PathBuf,
    /// override a value: --set optim.lr=0.01 (repeatable)
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// the run folder (default runs/<spec name>)
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// continue the run in --out from its checkpoint
    #[arg(long)]
    pub resume: bool,
}

impl SpecRunArgs {
    /// `--out`, or `runs/<spec file stem>`.
    pub fn out_dir(&self) -> PathBuf {
        self.out.clone().unwrap_or_else(|| {
            let stem = self
                .spec
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "run".into());
            PathBuf::from("runs").join(stem)
        })
    }
}

/// Arguments of `odl train`.
#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    #[command(flatten)]
    run: SpecRunArgs,
}

/// `odl train`: trains into the run folder and prints the summary.
pub fn run(args: &TrainArgs) -> Result<()> {
    let spec = odl_train::load(&args.run.spec, &args.run.sets)?;
    let out = args.run.out_dir();
    let summary = odl_train::train(&spec, &out, args.run.resume)?;
    println!("{}", serde_json::to_string(&summary)?);
    eprintln!("run folder: {}", out.display());
    Ok(())
}
