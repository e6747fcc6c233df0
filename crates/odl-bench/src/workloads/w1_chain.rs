//! W1: one gradient step on a 1-D chain of 50 scalar weights,
//! ½(w₅₀⋯w₁x − y)², compiled once (as JAX's jit compiles, outside the timer)
//! and replayed.

use anyhow::Result;
use odl_autodiff::{grad_graph, Compiled, Tensor};
use odl_tensor::{Array, DType, Rng};

use super::{Prepared, Workload};
use crate::data::{maybe_open, Source};

/// The workload.
pub static WORKLOAD: Workload = Workload { id: "W1", name: "chain1d", prepare };

fn prepare(src: &Source) -> Result<Prepared> {
    let npz = maybe_open(src, "W1")?;
    let (w, x, y) = match &npz {
        None => {
            let mut rng = Rng::seed(1);
            let w: Vec<f64> = (0..50).map(|_| 1.0 + 0.01 * rng.normal_f64()).collect();
            (w, 1.0, 2.0)
        }
        Some(npz) => (
            npz.array("w", DType::F64, Some(&[50]))?.to_vec_f64(),
            npz.array("x", DType::F64, Some(&[]))?.item(),
            npz.array("y", DType::F64, Some(&[]))?.item(),
        ),
    };
    let lr = 1e-3;
    let (xt, yt) = (Tensor::scalar(x, DType::F64), Tensor::scalar(y, DType::F64));
    // outputs: the loss and the 50 gradients
    let ws: Vec<Array> = w.iter().map(|&v| Array::scalar(v, DType::F64)).collect();
    let mut step_fn = Compiled::trace(&ws, |ws| {
        let mut h = xt.clone();
        for wi in ws {
            h = wi.mul(&h);
        }
        let loss = h.sub(&yt).square().mul_scalar(0.5);
        let refs: Vec<&Tensor> = ws.iter().collect();
        let mut out = vec![loss.clone()];
        out.extend(grad_graph(&loss, &refs));
        out
    })?;
    Ok(Prepared::step(move |want: bool| {
        step_fn.replay();
        let check = want.then(|| step_fn.output(0).item());
        for i in 0..50 {
            let g = step_fn.output(1 + i).as_slice::<f64>()[0];
            step_fn.input_mut(i).as_mut_slice::<f64>()[0] -= lr * g;
        }
        check
    }))
}
