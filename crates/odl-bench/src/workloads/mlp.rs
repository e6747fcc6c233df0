//! The MLP shared by W2, W3, W4, W4P and W5: linear layers in PyTorch's
//! layout with an activation between them, its inputs, and the batch cut
//! into one shard per compute thread.

use anyhow::Result;
use odl_autodiff::{value_and_grad_of_sum, Tensor};
use odl_nn::Activation;
use odl_optim::{Chain, Transform};
use odl_tensor::{Array, DType, Rng};

use super::Prepared;
use crate::data::{batch, maybe_open, mlp, Layer, Source};

/// What an MLP workload trains or differentiates.
pub struct MlpSpec {
    /// the files of a dump its inputs are read from: the first that exists
    /// (W4P shares W4's inputs)
    pub dumps: &'static [&'static str],
    /// layer sizes, input first
    pub sizes: &'static [usize],
    /// seed of odl's own draw
    pub seed: u64,
    /// examples per batch
    pub batch: usize,
    /// whether it has an HVP direction `v` (W4, W4P; drawn from seed 4)
    pub direction: bool,
}

/// W2's network: 784-256-256-256-10, 128 rows.
pub const W2: MlpSpec =
    MlpSpec { dumps: &["W2"], sizes: &[784, 256, 256, 256, 10], seed: 2, batch: 128, direction: false };

/// The network, batch and (for W4/W4P) direction of an MLP workload.
pub struct MlpProblem {
    /// weights and biases, `[W_1, b_1, W_2, b_2, …]` in PyTorch's layout
    pub params: Vec<Array>,
    /// the input batch
    pub x: Array,
    /// the labels
    pub y: Vec<usize>,
    /// the HVP direction, one array per parameter (empty without one)
    pub v: Vec<Array>,
}

fn flatten(layers: Vec<Layer>) -> Vec<Array> {
    layers.into_iter().flat_map(|(w, b)| [w, b]).collect()
}

impl MlpSpec {
    /// Builds (or loads from the dump) the network, batch and direction.
    pub fn problem(&self, src: &Source) -> Result<MlpProblem> {
        let dump = match src {
            Source::Dump(dir) => {
                self.dumps.iter().find(|d| dir.join(format!("{d}.npz")).exists()).unwrap_or(&self.dumps[0])
            }
            Source::Random => self.dumps[0],
        };
        let npz = maybe_open(src, dump)?;
        let mut rng = Rng::seed(self.seed);
        let params = flatten(mlp(src, npz.as_ref(), "params", self.sizes, &mut rng)?);
        let (x, y) = batch(src, npz.as_ref(), &[self.batch, self.sizes[0]], &mut rng)?;
        let mut v = Vec::new();
        if self.direction {
            let mut r4 = Rng::seed(4);
            for (i, p) in params.iter().enumerate() {
                v.push(match &npz {
                    None => r4.normal(p.shape(), 0.0, 1.0, DType::F32),
                    Some(npz) => npz.array(&format!("v.{}.{}", i / 2, i % 2), DType::F32, Some(p.shape()))?,
                });
            }
        }
        Ok(MlpProblem { params, x, y, v })
    }

    /// The weights and biases alone (W5 attacks W2's untrained network).
    pub fn params(&self, src: &Source, npz: Option<&odl_tensor::npy::Npz>) -> Result<Vec<Array>> {
        Ok(flatten(mlp(src, npz, "params", self.sizes, &mut Rng::seed(self.seed))?))
    }
}

/// The MLP: linear layers with `act` between them.
pub fn forward(ps: &[Tensor], x: &Tensor, act: Activation) -> Tensor {
    let n = ps.len() / 2;
    let mut h = x.clone();
    for l in 0..n {
        h = h.linear(&ps[2 * l], Some(&ps[2 * l + 1]));
        if l + 1 < n {
            h = act.apply(&h);
        }
    }
    h
}

/// `x` (a constant batch) and `y` in one shard per compute thread.
pub fn shard_rows(x: &Array, y: &[usize]) -> Vec<(f64, (Tensor, Vec<usize>))> {
    odl_train::shards::shards(&Tensor::constant(x.clone()), y, odl_tensor::num_threads())
}

/// One training step of an MLP workload (W2, W3): cross-entropy, the
/// gradient by data parallelism (one shard of rows per compute thread,
/// gradients added in place), then the optimizer's fused step over both
/// threads. The check is the loss.
pub fn step(src: &Source, spec: &MlpSpec, act: Activation, mut opt: Chain) -> Result<Prepared> {
    let MlpProblem { mut params, x, y, .. } = spec.problem(src)?;
    let shards = shard_rows(&x, &y);
    Ok(Prepared::step(move |want: bool| {
        let ps: Vec<Tensor> = params.iter().map(|a| Tensor::param(a.clone())).collect();
        let refs: Vec<&Tensor> = ps.iter().collect();
        let (value, grads) = value_and_grad_of_sum(&shards, &refs, &|(xk, yk): &(Tensor, Vec<usize>)| {
            forward(&ps, xk, act).cross_entropy(yk)
        });
        drop(refs);
        drop(ps);
        opt.step(&mut params, grads);
        want.then_some(value)
    }))
}
