//! W2: one training step of W2's ReLU MLP (cross-entropy, SGD with momentum
//! 0.9 in PyTorch's convention), one shard of the batch per compute thread.

use anyhow::Result;
use odl_nn::Activation;

use super::mlp::{step, W2};
use super::{Prepared, Workload};
use crate::data::Source;

/// The workload.
pub static WORKLOAD: Workload = Workload { id: "W2", name: "mlp", prepare };

fn prepare(src: &Source) -> Result<Prepared> {
    step(src, &W2, Activation::Relu, odl_optim::momentum(0.01, 0.9))
}
