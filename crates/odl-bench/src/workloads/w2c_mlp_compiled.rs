//! W2C and W3C: W2's and W3's training steps compiled — the same MLP,
//! batch, loss and optimizer, each shard's forward, cross-entropy (one-hot
//! targets) and backward traced once outside the timer and replayed
//! ([`odl_autodiff::CompiledSum`]); losses and gradients equal the eager
//! steps' bit for bit. The peers' numbers are W2's and W3's.

use anyhow::{anyhow, Result};
use odl_autodiff::{CompiledSum, Tensor, Term};
use odl_nn::Activation;
use odl_optim::Transform;
use odl_tensor::{Array, DType};

use super::mlp::{forward, shard_rows, MlpProblem, W2};
use super::{Prepared, Workload};
use crate::data::Source;

/// The workload.
pub static WORKLOAD: Workload = Workload { id: "W2C", name: "mlp", prepare };

/// W3's step compiled (the deep narrow tanh MLP: 33 small layers).
pub static W3C: Workload = Workload { id: "W3C", name: "deepnarrow", prepare: prepare3 };

fn prepare3(src: &Source) -> Result<Prepared> {
    compiled(src, &super::w3_deep_narrow::W3, Activation::Tanh, odl_optim::sgd(0.01))
}

fn prepare(src: &Source) -> Result<Prepared> {
    compiled(src, &W2, Activation::Relu, odl_optim::momentum(0.01, 0.9))
}

fn compiled(
    src: &Source,
    spec: &super::MlpSpec,
    act: Activation,
    mut opt: odl_optim::Chain,
) -> Result<Prepared> {
    let MlpProblem { mut params, x, y, .. } = spec.problem(src)?;
    let k = *spec.sizes.last().expect("sizes");
    let terms: Vec<Term> = shard_rows(&x, &y)
        .into_iter()
        .map(|(w, (xk, yk))| (w, vec![xk.value().clone(), odl_train::data::one_hot(&yk, k, DType::F32)]))
        .collect();
    let mut sum = CompiledSum::new();
    // traced here, outside the timer
    grads(&terms, &params, &mut sum, act)
        .ok_or_else(|| anyhow!("W2C: {}", sum.refused().expect("a reason")))?;
    Ok(Prepared::step(move |want: bool| {
        let (value, g) = grads(&terms, &params, &mut sum, act).expect("traced in prepare");
        opt.step(&mut params, g);
        want.then_some(value)
    }))
}

/// The batch's loss and gradient at `params`, replayed (traced on the first call).
fn grads(
    terms: &[Term],
    params: &[Array],
    sum: &mut CompiledSum,
    act: Activation,
) -> Option<(f64, Vec<Array>)> {
    let ps: Vec<Tensor> = params.iter().map(|a| Tensor::param(a.clone())).collect();
    let refs: Vec<&Tensor> = ps.iter().collect();
    sum.value_and_grad(terms, &refs, &|d| forward(&ps, &d[0], act).cross_entropy_targets(&d[1]))
}
