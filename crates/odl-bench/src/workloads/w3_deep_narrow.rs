//! W3: one SGD step of a deep narrow tanh MLP (64 wide, 33 linear layers,
//! 64 rows).

use anyhow::Result;
use odl_nn::Activation;

use super::mlp::{step, MlpSpec};
use super::{Prepared, Workload};
use crate::data::Source;

/// The workload.
pub static WORKLOAD: Workload = Workload { id: "W3", name: "deepnarrow", prepare };

/// Input 64, 32 hidden layers of width 64, output 10: 33 linear layers.
const W3_SIZES: [usize; 34] = {
    let mut s = [64; 34];
    s[33] = 10;
    s
};

/// W3's network and batch.
pub const W3: MlpSpec = MlpSpec { dumps: &["W3"], sizes: &W3_SIZES, seed: 3, batch: 64, direction: false };

fn prepare(src: &Source) -> Result<Prepared> {
    step(src, &W3, Activation::Tanh, odl_optim::sgd(0.01))
}
