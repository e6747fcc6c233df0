//! L13 · Mode collapse on ring-8 and grid-25 (Metz et al. 2017; Srivastava
//! et al. 2017): a plain GAN's generator ends on one or two of the eight
//! modes, while a critic kept smooth — WGAN-GP's gradient penalty,
//! Mescheder et al.'s R1 — keeps all eight covered; on the grid WGAN-GP
//! covers many more of the 25 modes. At full scale the unrolled GAN runs
//! too and is reported as measured (no claim: at these budgets it
//! collapses like the plain GAN, see the README). The runs are `odl gan`'s
//! own players and step ([`odl_gan::train::Players`]).

use odl_gan::train::run::sigma_max;
use odl_gan::train::{GanSpec, Players, Source};
use odl_tensor::Rng;

use super::prelude::*;

/// The experiment.
pub static EXPERIMENT: Experiment = Experiment {
    id: "mode-collapse",
    lecture: "L13",
    title: "Mode collapse on ring-8: the plain GAN ends on one or two modes; WGAN-GP keeps all eight, R1 six to eight",
    source: "L. Metz, B. Poole, D. Pfau, J. Sohl-Dickstein, \"Unrolled generative adversarial networks\", ICLR 2017; \
             I. Gulrajani et al., \"Improved training of Wasserstein GANs\", NeurIPS 2017; L. Mescheder, A. Geiger, S. Nowozin, \
             \"Which training methods for GANs do actually converge?\", ICML 2018",
    setup: "Ring-8: eight Gaussians (σ = 0.02) on a circle of radius 2. Generator: latent N(0, I₆₄) → 128 → 128 → 2 (ReLU); \
            discriminator 2 → 128 → 128 → 1 (ReLU); Adam (lr `lr`, β = (0.5, 0.999), β₂ = 0.9 for WGAN-GP), batches of `batch`, \
            `steps` generator steps, alternating updates, for each seed of `seeds`. Variants: the non-saturating GAN (plain); R1 \
            (γ = 0.1 on real samples); WGAN-GP (λ = 0.1, five critic steps per generator step); with `unrolled` also the unrolled \
            GAN (5 Adam steps of D continued from its optimizer's moments, differentiated through); with `grid` also the plain \
            GAN and WGAN-GP on grid-25 (5 × 5 Gaussians, σ = 0.05, spacing 2). Every `eval_every` steps, 2 500 samples from fixed latents: a \
            sample within 3σ of a center is high quality and counts for that mode; a mode is covered with at least a tenth of its \
            fair share of the high-quality samples.",
    params: |s| {
        vec![
            // collapse takes ~1 000 steps to show and the penalized critics ~1 500 to
            // spread over the ring: tiny runs quick's trajectory, measured less often
            int("steps", s.pick(2000, 2000, 3000), 10, 1_000_000, "generator steps per run"),
            int("seeds", s.pick(1, 1, 3), 1, 100, "runs per variant"),
            int("batch", 256, 8, 100_000, "samples per step (real and generated)"),
            float("lr", 1e-3, 1e-6, 1.0, "Adam's step size, both players"),
            int("eval_every", s.pick(500, 250, 250), 1, 1_000_000, "steps between coverage measurements"),
            int("unrolled", s.pick(0, 0, 1), 0, 1, "1: also run the unrolled GAN on ring-8 (slow: ~8× a plain step)"),
            int("grid", s.pick(0, 0, 1), 0, 1, "1: also run the plain GAN and WGAN-GP on grid-25"),
        ]
    },
    run,
};

/// A variant: its name, key and the spec lines that make it.
#[derive(Clone, Copy)]
struct Variant {
    name: &'static str,
    key: &'static str,
    toml: &'static str,
}

const VARIANTS: [Variant; 4] = [
    Variant { name: "plain (non-saturating)", key: "plain", toml: "" },
    Variant { name: "R1 γ = 0.1", key: "r1", toml: "[regularizer]\nr1 = 0.1\n" },
    Variant {
        name: "WGAN-GP λ = 0.1",
        key: "wgan_gp",
        toml: "[regularizer]\ngp = 0.1\n[algorithm]\nname = \"alternating\"\nn_critic = 5\n",
    },
    Variant {
        name: "unrolled (5 Adam steps)",
        key: "unrolled",
        toml: "[algorithm]\nname = \"unrolled\"\nunroll = 5\nunroll_with = \"adam\"\n",
    },
];

fn spec(
    v: &Variant,
    data: &str,
    seed: u64,
    steps: usize,
    batch: usize,
    lr: f64,
    every: usize,
) -> Result<GanSpec> {
    let (loss, b2) = if v.key == "wgan_gp" { ("wgan", 0.9) } else { ("non-saturating", 0.999) };
    let text = format!(
        "seed = {seed}\n[data]\nname = \"{data}\"\n[generator]\nhidden = [128, 128]\nlatent = 64\n[discriminator]\nhidden = [128, 128]\n\
         [loss]\nname = \"{loss}\"\n{}[optim.generator]\nname = \"adam\"\nlr = {lr}\nbetas = [0.5, {b2}]\n\
         [optim.discriminator]\nname = \"adam\"\nlr = {lr}\nbetas = [0.5, {b2}]\n\
         [train]\nsteps = {steps}\nbatch_size = {batch}\neval_every = {every}\neval_samples = 2500\n",
        v.toml
    );
    let s: GanSpec = toml::from_str(&text)?;
    s.validate()?;
    Ok(s)
}

/// What one run measured every `eval_every` steps.
struct Trace {
    modes: Vec<f64>,
    hq: Vec<f64>,
    /// per generator weight: its name and σ_max at step 0 and at each evaluation
    sigma: Vec<(String, Vec<f64>)>,
}

/// Modes covered, the high-quality fraction and the generator's σ_max per
/// layer after every `every` steps.
fn run_one(s: &GanSpec) -> Result<Trace> {
    let source = Source::of(s)?;
    let mix = s.data.mixture().expect("ring data");
    let mut p = Players::new(s, &source.shape(), source)?;
    let z = p.latents(s.train.eval_samples, &mut Rng::seed(s.seed ^ 0xC0DE));
    let (mut modes, mut hq) = (Vec::new(), Vec::new());
    let mut sigma: Vec<(String, Vec<f64>)> = sigma_max(&p.g).into_iter().map(|(n, v)| (n, vec![v])).collect();
    for k in 0..s.train.steps {
        if let Err(what) = p.step(k) {
            anyhow::bail!("seed {}: diverged at step {}: {what}", s.seed, k + 1);
        }
        if (k + 1) % s.train.eval_every == 0 {
            let c = mix.coverage(&p.sample(&z).to_vec_f64());
            modes.push(c.covered as f64);
            hq.push(c.high_quality);
            for ((_, v), (_, now)) in sigma.iter_mut().zip(sigma_max(&p.g)) {
                v.push(now);
            }
        }
    }
    Ok(Trace { modes, hq, sigma })
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

/// Every variant's runs on one mixture.
struct Mixed {
    /// per variant: final modes of each seed
    finals: Vec<Vec<f64>>,
    /// per variant: each seed's modes averaged over the last quarter of its
    /// evaluations (one evaluation's count moves by ±1 from the next)
    ends: Vec<Vec<f64>>,
    /// per variant: the most modes any evaluation of any seed covered
    peaks: Vec<f64>,
    /// the plain GAN's first seed: σ_max per generator weight over time
    plain_sigma: Vec<(String, Vec<f64>)>,
}

/// Runs `variants` on `data` ("ring" or "grid") for every seed, adding the
/// modes-over-time and quality figures, the per-seed rows and the metrics.
fn on_mixture(
    r: &Run,
    out: &mut Outcome,
    rows: &mut Vec<Vec<String>>,
    data: &str,
    variants: &[Variant],
) -> Result<Mixed> {
    let p = r.params;
    let (steps, seeds, batch, lr, every) =
        (p.usize("steps"), p.usize("seeds"), p.usize("batch"), p.float("lr"), p.usize("eval_every"));
    let (label, n_modes) = if data == "ring" { ("Ring-8", 8) } else { ("Grid-25", 25) };
    let suffix = if data == "ring" { String::new() } else { format!("_{data}") };
    let (mut curves, mut hq_curves) = (Vec::new(), Vec::new());
    let mut m = Mixed { finals: Vec::new(), ends: Vec::new(), peaks: Vec::new(), plain_sigma: Vec::new() };
    for v in variants {
        let (mut fin, mut end) = (Vec::new(), Vec::new());
        let mut sum_modes: Vec<f64> = Vec::new();
        let mut sum_hq: Vec<f64> = Vec::new();
        let mut peak = 0.0f64;
        // the unrolled GAN costs ~8× a plain run: one seed
        let n_seeds = if v.key == "unrolled" { 1 } else { seeds };
        for s in 0..n_seeds {
            let seed = r.seed().wrapping_add(s as u64);
            let Trace { modes, hq, sigma } = run_one(&spec(v, data, seed, steps, batch, lr, every)?)?;
            if s == 0 && v.key == "plain" {
                m.plain_sigma = sigma;
            }
            let last = *modes.last().expect("at least one evaluation");
            fin.push(last);
            end.push(mean(&modes[modes.len() - modes.len().div_ceil(4)..]));
            peak = peak.max(modes.iter().copied().fold(0.0, f64::max));
            if sum_modes.is_empty() {
                sum_modes = vec![0.0; modes.len()];
                sum_hq = vec![0.0; modes.len()];
            }
            for ((a, b), (m, h)) in sum_modes.iter_mut().zip(sum_hq.iter_mut()).zip(modes.iter().zip(&hq)) {
                *a += m / n_seeds as f64;
                *b += h / n_seeds as f64;
            }
            rows.push(vec![
                data.to_string(),
                v.name.to_string(),
                seed.to_string(),
                format!("{last}"),
                format!("{}", hq.last().copied().unwrap_or(f64::NAN)),
                modes.iter().map(|m| format!("{m}")).collect::<Vec<_>>().join(" "),
            ]);
        }
        let xs: Vec<f64> = (1..=sum_modes.len()).map(|k| (k * every) as f64).collect();
        curves.push(Series::line_points(v.name, xs.clone(), sum_modes));
        hq_curves.push(Series::line_points(v.name, xs, sum_hq));
        out.metric(&format!("final_modes_{}{suffix}", v.key), fin.clone());
        out.metric(&format!("mean_final_modes_{}{suffix}", v.key), mean(&fin));
        out.metric(&format!("end_modes_{}{suffix}", v.key), end.clone());
        m.finals.push(fin);
        m.ends.push(end);
        m.peaks.push(peak);
    }
    let note = if variants.iter().any(|v| v.key == "unrolled") { "; unrolled: one" } else { "" };
    let fig = |name: &str| if data == "ring" { name.to_string() } else { format!("{name}{suffix}") };
    let modes_caption = if data == "ring" {
        "The plain GAN covers several modes early, then its generator concentrates on one or two; the gradient-penalized critics keep the ring covered: WGAN-GP all eight, R1 six to eight."
    } else {
        "On the 5 × 5 grid the same ordering: the plain GAN drops modes, WGAN-GP's critic spreads its generator over nearly all twenty-five."
    };
    out.figure(
        &fig("modes"),
        LinePlot::new(
            format!("{label} modes covered (mean of {seeds} seed(s){note})"),
            "generator step",
            format!("modes covered (of {n_modes})"),
        )
        .with(curves),
    )
    .caption(modes_caption);
    if data == "ring" {
        out.figure(
            "quality",
            LinePlot::new("Fraction of samples within 3σ of a center", "generator step", "high-quality fraction").with(hq_curves),
        )
        .caption("The other side of the trade: the collapsed plain GAN puts many samples right on its one or two modes, while the penalized critics' generators still spread theirs along the ring — coverage first, sharpness later.");
    }
    Ok(m)
}

fn run(r: &Run) -> Result<Outcome> {
    let p = r.params;
    let (steps, every) = (p.usize("steps"), p.usize("eval_every"));
    if every > steps {
        anyhow::bail!("eval_every = {every} must not exceed steps = {steps}");
    }
    let n_variants = if p.usize("unrolled") == 1 { 4 } else { 3 };
    let mut out = Outcome::default();
    let mut rows = Vec::new();
    let ring = on_mixture(r, &mut out, &mut rows, "ring", &VARIANTS[..n_variants])?;
    let grid = if p.usize("grid") == 1 {
        // the plain GAN against the strongest cure (R1 is close to plain on the grid at this budget)
        Some(on_mixture(r, &mut out, &mut rows, "grid", &[VARIANTS[0], VARIANTS[2]])?)
    } else {
        None
    };
    r.csv(
        "runs.csv",
        &["data", "variant", "seed", "final_modes", "final_high_quality", "modes_over_time"],
        &rows,
    )?;
    let (finals, ends, peaks, plain_sigma) = (&ring.finals, &ring.ends, &ring.peaks, &ring.plain_sigma);
    // BigGAN's observation: the generator's top singular values grow in training
    let xs: Vec<f64> =
        (0..plain_sigma.first().map_or(0, |s| s.1.len())).map(|k| (k * every) as f64).collect();
    let hidden = plain_sigma.len().saturating_sub(1);
    let init_max = plain_sigma[..hidden].iter().map(|s| s.1[0]).fold(0.0, f64::max);
    let end_max = plain_sigma[..hidden].iter().map(|s| *s.1.last().expect("measured")).fold(0.0, f64::max);
    out.metric("generator_sigma_max_initial", init_max);
    out.metric("generator_sigma_max_final", end_max);
    out.figure(
        "generator_sigma",
        LinePlot::new("Plain GAN: largest singular value of each generator weight", "generator step", "σ_max(W)")
            .with(plain_sigma.iter().map(|(n, v)| Series::line_points(n.as_str(), xs.clone(), v.clone()))),
    )
    .caption("As BigGAN reports, the hidden layers' top singular values grow during training; the output layer's stays near 1.");
    out.claim(Claim::check(
        "generator_sigma_grows",
        "The generator's top singular values grow during training (Brock et al. 2019): the largest hidden-layer σ_max at the end is at least 1.5× its initial value",
        Check::greater_than(("final max hidden σ_max", end_max), 1.5, ("initial", init_max)),
    ));
    let plain_mean = mean(&finals[0]);
    out.claim(Claim::all(
        "plain_gan_collapses",
        "The plain (non-saturating) GAN collapses: it covers more modes early than it ends with, and ends on at most 3 of 8",
        vec![
            Check::less_than(("final modes (mean)", plain_mean), 1.0, ("most modes it covered", peaks[0])),
            Check::at_most("final modes of every seed (max)", finals[0].iter().copied().fold(0.0, f64::max), 3.0),
        ],
    ));
    out.claim(Claim::all(
        "penalized_critics_cover_the_ring",
        "With a gradient penalty on the critic the generator keeps the ring covered to the end, in every seed: WGAN-GP at least 7 of the 8 modes, R1 (γ = 0.1) at least 6 — it hovers between 6 and 8 over seeds 0–9 at quick scale (modes averaged over the last quarter of the evaluations: one evaluation's count moves by ±1 from the next)",
        vec![
            Check::at_least("WGAN-GP modes at the end (min over seeds)", min(&ends[2]), 7.0),
            Check::at_least("R1 modes at the end (min over seeds)", min(&ends[1]), 6.0),
        ],
    ));
    if let Some(g) = grid {
        out.claim(Claim::check(
            "wgan_gp_covers_more_of_the_grid",
            "On grid-25 the WGAN-GP generator ends covering at least 5 more of the 25 modes than the plain GAN's, in every seed",
            Check::at_least(
                "WGAN-GP minus plain final modes (min over seeds)",
                min(&g.finals[1].iter().zip(&g.finals[0]).map(|(w, p)| w - p).collect::<Vec<_>>()),
                5.0,
            ),
        ));
    }
    Ok(out)
}
