//! L13 · How GANs are measured (Heusel et al. 2017; Bińkowski et al. 2018;
//! Lucic et al. 2018): FID and KID on features of a Fashion-MNIST classifier
//! that odl trains itself — zero for real against real, rising with noise and
//! blur, and FID's bias at small sample sizes against KID's unbiasedness.

use odl_autodiff::no_grad;
use odl_gan::metrics::{fid, kid};
use odl_nn::Ctx;
use odl_optim::adam;
use odl_tensor::{Array, DType, Rng};

use super::prelude::*;
use crate::trainer::{relu_mlp, train_classifier, TrainConfig};

/// The experiment.
pub static EXPERIMENT: Experiment = Experiment {
    id: "gan-metrics",
    lecture: "L13",
    title: "GAN metrics: FID and KID are ≈ 0 for real vs real, rise with noise and blur; FID is biased at small samples, KID is not",
    source: "M. Heusel et al., \"GANs trained by a two time-scale update rule converge to a local Nash equilibrium\" (FID), NeurIPS 2017; \
             M. Bińkowski et al., \"Demystifying MMD GANs\" (KID), ICLR 2018; M. Lucic et al., \"Are GANs created equal?\", NeurIPS 2018",
    setup: "No Inception network exists here, so the features are odl's own: a ReLU MLP 784 → 64 → 64 → 10 trained on `n_train` \
            Fashion-MNIST images (Adam, `epochs` epochs, seeded) and its 64 last hidden units, divided by their root mean square over the \
            training images ('FID/KID on odl-MLP-64 features', not comparable with papers' Inception numbers). Two disjoint sets of `n_eval` real test images; one is \
            perturbed by Gaussian noise of each standard deviation of `noises` (in units of the pixel standard deviation) or a \
            box blur of each radius of `blurs`. FID: the Fréchet distance of Gaussians fitted to the features (square roots of \
            symmetric matrices by eigendecomposition); KID: the unbiased MMD² with k(a, b) = (aᵀb/64 + 1)³. Bias: `reps` pairs \
            of disjoint real samples of each size of `sizes`.",
    params: |s| {
        vec![
            int("n_train", s.pick(2000, 5000, 10000), 100, 10000, "training images of the feature network"),
            int("epochs", s.pick(2, 3, 5), 1, 100, "its epochs"),
            int("n_eval", s.pick(400, 1000, 1000), 50, 1000, "images in each real set"),
            floats("noises", &[0.0, 1.0, 2.0, 4.0], 0.0, 10.0, "Gaussian noise levels").distinct(3),
            ints("blurs", &[0, 2, 4, 6], 0, 10, "box blur radii").distinct(3),
            ints("sizes", &s.pick(vec![20, 50, 100, 200], vec![20, 50, 100, 200, 500], vec![20, 50, 100, 200, 500]), 10, 500, "sample sizes for the bias").distinct(2),
            int("reps", s.pick(48, 64, 128), 2, 1000, "sample pairs per size"),
        ]
    },
    run,
};

/// A box blur of radius `r` of each 28 × 28 image (rows of `x`).
fn blur(x: &[f64], r: usize) -> Vec<f64> {
    if r == 0 {
        return x.to_vec();
    }
    let mut out = vec![0.0; x.len()];
    for (img, o) in x.chunks(784).zip(out.chunks_mut(784)) {
        for i in 0..28usize {
            for j in 0..28usize {
                let (mut s, mut c) = (0.0, 0.0);
                for a in i.saturating_sub(r)..(i + r + 1).min(28) {
                    for b in j.saturating_sub(r)..(j + r + 1).min(28) {
                        s += img[a * 28 + b];
                        c += 1.0;
                    }
                }
                o[i * 28 + j] = s / c;
            }
        }
    }
    out
}

/// `v` as "a, b, c" with 3 significant digits.
fn list(v: &[f64]) -> String {
    v.iter().map(|x| g3(*x)).collect::<Vec<_>>().join(", ")
}

fn run(r: &Run) -> Result<Outcome> {
    let p = r.params;
    let (n_train, epochs, n_eval, reps) =
        (p.usize("n_train"), p.usize("epochs"), p.usize("n_eval"), p.usize("reps"));
    let (noises, blurs, sizes) = (p.floats("noises"), p.usizes("blurs"), p.usizes("sizes"));
    let mut out = Outcome::default();
    let data = LabData::load(r, &mut out, n_train, 2 * n_eval)?;

    // the feature network
    let mut net = relu_mlp(784, 64, 2, 10, false, r.seed());
    let mut opt = adam(1e-3, 0.9, 0.999, 1e-8);
    let cfg = TrainConfig::new(epochs, 64, r.seed()).ends_only();
    let h = train_classifier(&mut net, &mut opt, &data.train, Some(&data.test), None, &cfg, &|f| {
        r.progress(0.4 * f, "feature network")
    });
    let acc = *h.test_acc.last().unwrap_or(&f64::NAN);
    out.metric("feature_net_test_acc", acc);
    let d = 64;
    let mut features = |x: &[f64]| -> Vec<f64> {
        let n = x.len() / 784;
        let mut ctx = Ctx { train: false, rng: Rng::seed(0) };
        let mut h = odl_autodiff::Tensor::constant(Array::from_f64(x, &[n, 784], DType::F32));
        no_grad(|| {
            let layers = net.0.len();
            for m in net.0[..layers - 1].iter_mut() {
                h = m.forward(&h, &mut ctx);
            }
        });
        h.to_vec_f64()
    };
    // features scaled by one number, their root mean square over the training
    // images, so the cubic kernel of KID sees inputs of order 1
    let train_f = features(&data.train.x.to_vec_f64());
    let rms = (train_f.iter().map(|v| v * v).sum::<f64>() / train_f.len() as f64).sqrt().max(1e-12);
    let mut features = move |x: &[f64]| -> Vec<f64> { features(x).into_iter().map(|v| v / rms).collect() };
    let test = data.test.x.to_vec_f64();
    let (a, b) = test.split_at(n_eval * 784);
    let fb = features(b);
    let mut rng = Rng::seed(r.seed() ^ 0x6a11);

    // perturbations of set A against clean set B
    let mut curve = |xs: Vec<Vec<f64>>| -> (Vec<f64>, Vec<f64>) {
        let (mut f, mut k) = (Vec::new(), Vec::new());
        for x in xs {
            let fa = features(&x);
            f.push(fid(&fa, n_eval, &fb, n_eval, d));
            k.push(kid(&fa, n_eval, &fb, n_eval, d));
        }
        (f, k)
    };
    r.progress(0.45, "noise");
    let noisy: Vec<Vec<f64>> =
        noises.iter().map(|&s| a.iter().map(|v| v + s * rng.normal_f64()).collect()).collect();
    let (fid_noise, kid_noise) = curve(noisy);
    r.progress(0.6, "blur");
    let (fid_blur, kid_blur) = curve(blurs.iter().map(|&rad| blur(a, rad)).collect());

    // bias: disjoint real pairs of each size
    let all = features(&test);
    let n_all = 2 * n_eval;
    let (mut fid_mean, mut kid_mean, mut kid_se) = (Vec::new(), Vec::new(), Vec::new());
    for (si, &m) in sizes.iter().enumerate() {
        r.progress(0.7 + 0.3 * si as f64 / sizes.len() as f64, &format!("{reps} pairs of {m}"));
        if 2 * m > n_all {
            anyhow::bail!(
                "sizes: {m} needs 2·{m} real images, only {n_all} drawn (raise n_eval or lower sizes)"
            );
        }
        let (mut fs, mut ks) = (Vec::new(), Vec::new());
        for _ in 0..reps {
            let perm = rng.permutation(n_all);
            let pick = |idx: &[usize]| {
                idx.iter().flat_map(|&i| all[i * d..(i + 1) * d].iter().copied()).collect::<Vec<f64>>()
            };
            let (x, y) = (pick(&perm[..m]), pick(&perm[m..2 * m]));
            fs.push(fid(&x, m, &y, m, d));
            ks.push(kid(&x, m, &y, m, d));
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let km = mean(&ks);
        fid_mean.push(mean(&fs));
        kid_mean.push(km);
        kid_se.push((ks.iter().map(|k| (k - km).powi(2)).sum::<f64>() / (reps * (reps - 1)) as f64).sqrt());
    }
    let sz: Vec<f64> = sizes.iter().map(|&s| s as f64).collect();
    out.metric("fid_noise", fid_noise.clone());
    out.metric("kid_noise", kid_noise.clone());
    out.metric("fid_blur", fid_blur.clone());
    out.metric("kid_blur", kid_blur.clone());
    out.metric("fid_real_vs_real_by_size", fid_mean.clone());
    out.metric("kid_real_vs_real_by_size", kid_mean.clone());

    let bl: Vec<f64> = blurs.iter().map(|&b| b as f64).collect();
    out.figure(
        "noise",
        LinePlot::new(
            "FID and KID of noisy real images against clean ones",
            "noise σ (pixel standard deviations)",
            "distance",
        )
        .with(vec![
            Series::line_points("FID", noises.clone(), fid_noise.clone()),
            Series::line_points("KID", noises.clone(), kid_noise.clone()),
        ]),
    )
    .caption("Both start near 0 for real against real (σ = 0) and grow steadily with the noise.");
    out.figure(
        "blur",
        LinePlot::new(
            "FID and KID of blurred real images against sharp ones",
            "box blur radius (pixels)",
            "distance",
        )
        .with(vec![
            Series::line_points("FID", bl.clone(), fid_blur.clone()),
            Series::line_points("KID", bl, kid_blur.clone()),
        ]),
    )
    .caption("Blur moves the features as steadily as noise: a metric that ranks image quality.");
    out.figure(
        "bias",
        LinePlot::new(format!("Real against real: mean over {reps} disjoint pairs"), "images per set", "distance")
            .log_x()
            .with(vec![
                Series::line_points("FID", sz.clone(), fid_mean.clone()),
                Series::line_points("KID (± 2 standard errors)", sz.clone(), kid_mean.clone()).with_band(
                    kid_mean.iter().zip(&kid_se).map(|(k, s)| k - 2.0 * s).collect(),
                    kid_mean.iter().zip(&kid_se).map(|(k, s)| k + 2.0 * s).collect(),
                ),
            ]),
    )
    .caption("Two samples of one distribution: FID is far from 0 at small samples and falls like 1/n (a biased estimator), KID's mean stays at 0 at every size (unbiased).");

    let increasing = |v: &[f64]| v.windows(2).all(|w| w[1] > w[0]);
    out.claim(Claim::all(
        "monotone_in_noise",
        "FID and KID rise monotonically with the noise added to real images",
        vec![
            Check::that("FID increasing in σ", format!("FID = {}", list(&fid_noise)), increasing(&fid_noise)),
            Check::that("KID increasing in σ", format!("KID = {}", list(&kid_noise)), increasing(&kid_noise)),
        ],
    ));
    out.claim(Claim::all(
        "monotone_in_blur",
        "FID and KID rise monotonically with blur",
        vec![
            Check::that(
                "FID increasing in the radius",
                format!("FID = {}", list(&fid_blur)),
                increasing(&fid_blur),
            ),
            Check::that(
                "KID increasing in the radius",
                format!("KID = {}", list(&kid_blur)),
                increasing(&kid_blur),
            ),
        ],
    ));
    let last = sizes.len() - 1;
    let worst_z = kid_mean.iter().zip(&kid_se).map(|(m, s)| (m / s).abs()).fold(0.0, f64::max);
    out.claim(Claim::all(
        "fid_biased_kid_unbiased",
        "FID of two real samples is biased upwards at small n, KID is unbiased",
        vec![
            Check::greater_than(
                (&format!("FID at n = {}", sizes[0]), fid_mean[0]),
                2.0,
                (&format!("FID at n = {}", sizes[last]), fid_mean[last]),
            ),
            Check::less("largest |mean KID| / standard error over sizes", worst_z, 3.5),
        ],
    ));
    Ok(out)
}
