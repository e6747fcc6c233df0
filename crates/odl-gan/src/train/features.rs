//! The feature network behind `odl gan`'s FID and KID on Fashion-MNIST.
//!
//! No Inception network can be downloaded here, so the features are odl's
//! own: the 64 penultimate ReLU units of an MLP 784 → 64 → 64 → 10 trained
//! (seed 0, Adam, 5 epochs) on the Fashion-MNIST subset odl ships, with
//! images in [−1, 1] like a GAN's. It is trained once and cached in
//! `$ODL_CACHE_DIR` (default `$XDG_CACHE_HOME/odl`, else `~/.cache/odl`) as
//! `features-fashion-mlp64-v1.npz`; the metrics are named `fid_mlp64` and
//! `kid_mlp64` so that nobody mistakes them for Inception FIDs.

use std::path::PathBuf;

use anyhow::Result;
use odl_autodiff::{no_grad, Tensor};
use odl_nn::{Activation, Ctx, MlpConfig, Module, Sequential};
use odl_tensor::npy::{write_npz, NpyValue, Npz};
use odl_tensor::{Array, DType, Rng};

/// The cache file's name.
pub const FILE: &str = "features-fashion-mlp64-v1.npz";

/// Real images' reference statistics are computed on at most this many.
const MAX_REAL: usize = 5000;

/// The feature network and the real images' features.
pub struct Features {
    net: Sequential,
    /// real features, `[n_real, 64]` row-major
    real: Vec<f64>,
    n_real: usize,
    /// the real features' root mean square: every feature is divided by it,
    /// so that KID's cubic kernel sees values of order 1
    rms: f64,
    /// FID and IS of as many held-out real images as the evaluations
    /// generate (`None` when too few are left): what a perfect generator scores
    pub floor: Option<(f64, f64)>,
    /// where it came from (the cache file, or "trained now")
    pub origin: String,
}

/// The cache directory.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("ODL_CACHE_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(d).join("odl");
    }
    match std::env::var_os("HOME") {
        Some(h) => PathBuf::from(h).join(".cache").join("odl"),
        None => std::env::temp_dir().join("odl-cache"),
    }
}

fn architecture(rng: &mut Rng) -> Sequential {
    MlpConfig::new(&[784, 64, 64, 10], Activation::Relu).build(rng, DType::F32)
}

/// Trains the feature network (seeded, deterministic).
fn train() -> Sequential {
    let (data, _) = odl_data::fashion_mnist_subset();
    let x: Vec<f64> = data.x.to_vec_f64().iter().map(|v| 2.0 * v - 1.0).collect();
    let mut set = odl_data::Dataset::classification(
        Array::from_f64(&x, &[data.len(), 784], DType::F32),
        data.labels().to_vec(),
        10,
    );
    set.cast(DType::F32);
    let mut net = architecture(&mut Rng::seed(0));
    let mut opt = odl_optim::adam(1e-3, 0.9, 0.999, 1e-8);
    for epoch in 0..5u64 {
        for b in set.batches(128, epoch) {
            let xb = Tensor::constant(b.x.clone());
            // a finite loss is guaranteed for this fixed, tested recipe
            let _ = odl_train::train_step(
                &mut net,
                &mut opt,
                |m| m.forward(&xb, &mut Ctx::train(0)).cross_entropy(b.labels()),
                false,
            );
        }
    }
    net
}

impl Features {
    /// The cached network (trained and cached on first use) with the
    /// features of `real` (`[n, 1, 28, 28]` in [−1, 1]; the first half, at
    /// most 5 000) and the floor of `n_eval` held-out real images.
    pub fn cached(real: &Array, n_eval: usize) -> Result<Features> {
        let path = cache_dir().join(FILE);
        let mut net = architecture(&mut Rng::seed(0));
        let shapes: Vec<Vec<usize>> = net.params().iter().map(|t| t.shape().to_vec()).collect();
        let loaded = Npz::open(&path).ok().and_then(|npz| {
            shapes
                .iter()
                .enumerate()
                .map(|(i, s)| npz.array(&format!("param.{i}"), DType::F32, Some(s)).ok())
                .collect::<Option<Vec<_>>>()
        });
        let origin = match loaded {
            Some(v) => {
                net.set_param_values(v);
                path.display().to_string()
            }
            None => {
                net = train();
                let entries: Vec<(String, NpyValue)> = net
                    .param_values()
                    .iter()
                    .enumerate()
                    .map(|(i, a)| (format!("param.{i}"), NpyValue::from(a)))
                    .collect();
                let written = std::fs::create_dir_all(cache_dir()).is_ok() && {
                    let tmp = path.with_extension("npz.tmp");
                    write_npz(&tmp, entries.iter().map(|(k, v)| (k.as_str(), v.clone()))).is_ok()
                        && std::fs::rename(&tmp, &path).is_ok()
                };
                if written {
                    format!("{} (trained now)", path.display())
                } else {
                    "trained now (the cache directory is not writable)".to_string()
                }
            }
        };
        // half at most: the rest are held out for the real-vs-real floor
        let n = (real.shape()[0] / 2).clamp(2.min(real.shape()[0]), MAX_REAL);
        let mut f = Features { net, real: Vec::new(), n_real: n, rms: 1.0, floor: None, origin };
        let rv = real.to_vec_f64();
        let raw = f.of(&rv[..n * 784], n);
        f.rms = (raw.iter().map(|v| v * v).sum::<f64>() / raw.len().max(1) as f64).sqrt().max(1e-12);
        f.real = raw.iter().map(|v| v / f.rms).collect();
        let held = (real.shape()[0] - n).min(n_eval);
        if held >= 2 {
            let x = &rv[n * 784..(n + held) * 784];
            let (fid, _) = f.fid_kid(x, held)?;
            f.floor = Some((fid, f.score(x, held)));
        }
        Ok(f)
    }

    /// The metric suffix: which features.
    pub fn name(&self) -> &'static str {
        "mlp64"
    }

    /// Features `[n, 64]` of `n` images (flattened, in [−1, 1]), divided
    /// by the real features' root mean square.
    pub fn of(&mut self, x: &[f64], n: usize) -> Vec<f64> {
        let xt = Tensor::constant(Array::from_f64(x, &[n, 784], DType::F32));
        let mut ctx = Ctx::eval();
        no_grad(|| {
            let mut h = xt;
            // every layer but the last linear one
            let layers = self.net.0.len();
            for l in &mut self.net.0[..layers - 1] {
                h = l.forward(&h, &mut ctx);
            }
            h.to_vec_f64().into_iter().map(|v| v / self.rms).collect()
        })
    }

    /// The Inception-Score formula on the feature network's own 10-class
    /// head (`is_mlp64`; 1 000 held-out real images of the subset score 6.1).
    pub fn score(&mut self, x: &[f64], n: usize) -> f64 {
        if x.iter().any(|v| !v.is_finite()) {
            return f64::NAN;
        }
        let xt = Tensor::constant(Array::from_f64(x, &[n, 784], DType::F32));
        let p = no_grad(|| self.net.forward(&xt, &mut Ctx::eval()).softmax(-1)).to_vec_f64();
        crate::metrics::inception_score(&p, n, 10)
    }

    /// FID and KID of `n` generated images against the real ones.
    pub fn fid_kid(&mut self, x: &[f64], n: usize) -> Result<(f64, f64)> {
        if x.iter().any(|v| !v.is_finite()) {
            return Ok((f64::NAN, f64::NAN));
        }
        let f = self.of(x, n);
        let fid = crate::metrics::fid(&self.real, self.n_real, &f, n, 64);
        let kid = crate::metrics::kid(&self.real, self.n_real, &f, n, 64);
        Ok((fid, kid))
    }
}
