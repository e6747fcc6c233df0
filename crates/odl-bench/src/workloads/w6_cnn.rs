//! W6: one SGD step of a small CNN (conv 3×3 ×32, ReLU, max-pool; conv
//! 3×3 ×64, ReLU, max-pool; linear) on 64 images 28×28, one shard of images
//! per compute thread.

use anyhow::Result;
use odl_autodiff::{value_and_grad_of_sum, Tensor};
use odl_optim::Transform;
use odl_tensor::{Array, DType, Rng};

use super::mlp::shard_rows;
use super::{Prepared, Workload};
use crate::data::{batch, maybe_open, Source};

/// The workload.
pub static WORKLOAD: Workload = Workload { id: "W6", name: "cnn", prepare };

fn prepare(src: &Source) -> Result<Prepared> {
    let npz = maybe_open(src, "W6")?;
    let mut rng = Rng::seed(6);
    let conv = |rng: &mut Rng, cin: usize, cout: usize| {
        let a = 1.0 / ((cin * 9) as f64).sqrt();
        (rng.uniform(&[cout, cin, 3, 3], -a, a, DType::F32), rng.uniform(&[cout], -a, a, DType::F32))
    };
    let shapes: [(&[usize], &[usize]); 3] =
        [(&[32, 1, 3, 3], &[32]), (&[64, 32, 3, 3], &[64]), (&[10, 3136], &[10])];
    let mut params: Vec<Array> = match &npz {
        None => {
            let (c1w, c1b) = conv(&mut rng, 1, 32);
            let (c2w, c2b) = conv(&mut rng, 32, 64);
            let a = 1.0 / 3136f64.sqrt();
            let (fw, fb) =
                (rng.uniform(&[10, 3136], -a, a, DType::F32), rng.uniform(&[10], -a, a, DType::F32));
            vec![c1w, c1b, c2w, c2b, fw, fb]
        }
        Some(npz) => {
            let mut v = Vec::new();
            for (i, (ws, bs)) in shapes.iter().enumerate() {
                v.push(npz.array(&format!("params.{i}.0"), DType::F32, Some(ws))?);
                v.push(npz.array(&format!("params.{i}.1"), DType::F32, Some(bs))?);
            }
            v
        }
    };
    let (x, y) = batch(src, npz.as_ref(), &[64, 1, 28, 28], &mut rng)?;
    // data parallelism: one shard of images per compute thread, each
    // shard's forward and backward on its own thread, gradients added
    let shards = shard_rows(&x, &y);
    let mut opt = odl_optim::sgd(0.01);
    let step = move |want: bool| {
        let ps: Vec<Tensor> = params.iter().map(|a| Tensor::param(a.clone())).collect();
        let loss = |(xk, yk): &(Tensor, Vec<usize>)| {
            let conv_block = |h: &Tensor, w: &Tensor, b: &Tensor| {
                h.conv2d(w, 1, 1).add(&b.reshape(&[1, b.numel(), 1, 1])).relu().max_pool2d(2, 2)
            };
            let h = conv_block(xk, &ps[0], &ps[1]);
            let h = conv_block(&h, &ps[2], &ps[3]);
            h.flatten().linear(&ps[4], Some(&ps[5])).cross_entropy(yk)
        };
        let refs: Vec<&Tensor> = ps.iter().collect();
        let (value, grads) = value_and_grad_of_sum(&shards, &refs, &loss);
        drop(refs);
        drop(ps);
        opt.step(&mut params, grads);
        want.then_some(value)
    };
    Ok(Prepared { step: Box::new(step), extra: vec![] })
}
