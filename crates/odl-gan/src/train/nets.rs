//! A GAN spec's two networks, built on odl-nn's layers: MLPs for points
//! and flattened images, DCGAN-style convolutional nets for 28×28 images.

use anyhow::{bail, Result};
use odl_nn::{
    gain, Activation, Conv2d, Flatten, Init, Linear, Module, Sequential, SpectralNorm, Unflatten, Upsample,
};
use odl_tensor::{DType, Rng};

use super::spec::{NetKind, NetSpec};

/// The initialization for layers followed by `act`: He/Glorot-style with
/// its gain (Kaiming normal).
fn init_for(act: Activation) -> Init {
    let (name, slope) = act.gain_name();
    Init::KaimingNormal(gain(name, slope))
}

/// The generator: latent `[n, latent]` → a sample of `out_shape`
/// (`[2]` for points, `[1, 28, 28]` for images).
pub fn generator(spec: &NetSpec, out_shape: &[usize], rng: &mut Rng) -> Result<Sequential> {
    let latent = spec.latent.unwrap_or(if out_shape.len() == 1 { 2 } else { 64 });
    let out_act =
        spec.output.unwrap_or(if out_shape.len() == 1 { Activation::Identity } else { Activation::Tanh });
    let act = spec.activation;
    let init = init_for(act);
    let mut net = Sequential::new();
    match spec.kind {
        NetKind::Mlp => {
            let out: usize = out_shape.iter().product();
            let mut w = latent;
            for &h in &spec.hidden {
                net.push(Linear::new(w, h, true, &init, None, rng, DType::F32));
                net.push(act);
                w = h;
            }
            net.push(Linear::new(w, out, true, &init_for(Activation::Identity), None, rng, DType::F32));
            net.push(out_act);
            if out_shape.len() > 1 {
                net.push(Unflatten(out_shape.to_vec()));
            }
        }
        NetKind::Dcgan => {
            if out_shape != [1, 28, 28] {
                bail!("generator.kind = \"dcgan\" draws 1×28×28 images; the data are {out_shape:?}");
            }
            let (c1, c2) = (spec.channels[0], spec.channels[1]);
            net.push(Linear::new(latent, c1 * 7 * 7, true, &init, None, rng, DType::F32));
            net.push(act);
            net.push(Unflatten(vec![c1, 7, 7]));
            net.push(Upsample(2));
            net.push(Conv2d::new(c1, c2, 3, 1, 1, true, &init, rng, DType::F32));
            net.push(act);
            net.push(Upsample(2));
            net.push(Conv2d::new(c2, 1, 3, 1, 1, true, &init_for(Activation::Identity), rng, DType::F32));
            net.push(out_act);
        }
    }
    Ok(net)
}

/// The discriminator: a sample of `in_shape` → one logit or critic value `[n, 1]`.
pub fn discriminator(spec: &NetSpec, in_shape: &[usize], rng: &mut Rng) -> Result<Sequential> {
    let act = spec.activation;
    let init = init_for(act);
    let mut net = Sequential::new();
    match spec.kind {
        NetKind::Mlp => {
            if in_shape.len() > 1 {
                net.push(Flatten);
            }
            let mut w: usize = in_shape.iter().product();
            let linear = |net: &mut Sequential, i: usize, o: usize, init: &Init, rng: &mut Rng| {
                let l = Linear::new(i, o, true, init, None, rng, DType::F32);
                if spec.spectral_norm {
                    net.push(SpectralNorm::new(l, rng));
                } else {
                    net.push(l);
                }
            };
            for &h in &spec.hidden {
                linear(&mut net, w, h, &init, rng);
                net.push(act);
                w = h;
            }
            linear(&mut net, w, 1, &init_for(Activation::Identity), rng);
        }
        NetKind::Dcgan => {
            if in_shape != [1, 28, 28] {
                bail!("discriminator.kind = \"dcgan\" reads 1×28×28 images; the data are {in_shape:?}");
            }
            let (c1, c2) = (spec.channels[0], spec.channels[1]);
            net.push(Conv2d::new(1, c1, 4, 2, 1, true, &init, rng, DType::F32));
            net.push(act);
            net.push(Conv2d::new(c1, c2, 4, 2, 1, true, &init, rng, DType::F32));
            net.push(act);
            net.push(Flatten);
            net.push(Linear::new(
                c2 * 7 * 7,
                1,
                true,
                &init_for(Activation::Identity),
                None,
                rng,
                DType::F32,
            ));
        }
    }
    Ok(net)
}

/// The weight matrices of a network (parameters named `….weight` with two
/// or more axes): what orthogonal regularization and the per-layer
/// singular values look at.
pub fn weights(net: &Sequential) -> Vec<(String, &odl_autodiff::Tensor)> {
    net.named_params().into_iter().filter(|(n, t)| n.ends_with("weight") && t.ndim() >= 2).collect()
}
