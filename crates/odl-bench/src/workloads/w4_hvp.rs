//! W4: one Hessian-vector product of W2's network at W2's batch
//! (⟨v, Hv⟩ is the check); W4P: 20 power iterations on the Hessian (the top
//! eigenvalue is the check). Each shard of the batch has its own gradient
//! graph and HVP on its own thread (data parallelism); the power
//! iteration's normalizations run on both threads too.

use anyhow::Result;
use odl_autodiff::{grad, par_map, Hessian, Tensor};
use odl_nn::Activation;
use odl_tensor::cpu::{par_for_each, simd, PAR_MIN_ELEMENTS, PIECE};
use odl_tensor::Array;

use super::mlp::{forward, shard_rows, MlpProblem, MlpSpec, W2};
use super::{Prepared, Workload};
use crate::data::Source;

/// W4.
pub static W4: Workload = Workload { id: "W4", name: "hvp", prepare: |src| hvp(src, false) };
/// W4P.
pub static W4P: Workload = Workload { id: "W4P", name: "hvp_power20", prepare: |src| hvp(src, true) };

/// W2's network and batch, the direction from seed 4.
const W4_SPEC: MlpSpec = MlpSpec { dumps: &["W4"], direction: true, ..W2 };
/// The same, from W4P's dump or else W4's.
const W4P_SPEC: MlpSpec = MlpSpec { dumps: &["W4P", "W4"], direction: true, ..W2 };

/// `Σ ⟨a_i, b_i⟩` over lists of f32 arrays: f32 partial sums in 16 lanes
/// per piece of `PIECE` elements, added up in f64, the pieces spread over the
/// compute threads (the same pieces and order on any number of threads).
fn dot(a: &[Array], b: &[Array]) -> f64 {
    let pieces: Vec<(&[f32], &[f32])> = a
        .iter()
        .zip(b)
        .flat_map(|(x, y)| x.as_slice::<f32>().chunks(PIECE).zip(y.as_slice::<f32>().chunks(PIECE)))
        .collect();
    let one = |&(x, y): &(&[f32], &[f32])| -> f64 {
        simd(
            #[inline(always)]
            || {
                let mut acc = [0.0f32; 16];
                let (xc, yc) = (x.chunks_exact(16), y.chunks_exact(16));
                let tail: f64 =
                    xc.remainder().iter().zip(yc.remainder()).map(|(p, q)| (*p as f64) * (*q as f64)).sum();
                for (cx, cy) in xc.zip(yc) {
                    for i in 0..16 {
                        acc[i] += cx[i] * cy[i];
                    }
                }
                acc.iter().map(|&v| v as f64).sum::<f64>() + tail
            },
        )
    };
    par_map(&pieces, &one).iter().sum()
}

/// `s·a` for a list of f32 arrays, in place (copying first only data that
/// is shared), on both threads.
fn scale(mut a: Vec<Array>, s: f64) -> Vec<Array> {
    let s = s as f32;
    let pieces: Vec<&mut [f32]> =
        a.iter_mut().flat_map(|x| x.as_mut_slice::<f32>().chunks_mut(PIECE)).collect();
    par_for_each(pieces, |p| p.len(), PAR_MIN_ELEMENTS, &|p| {
        simd(
            #[inline(always)]
            || p.iter_mut().for_each(|v| *v *= s),
        )
    });
    a
}

fn hvp(src: &Source, power: bool) -> Result<Prepared> {
    let MlpProblem { params, x, y, v } = if power { W4P_SPEC.problem(src)? } else { W4_SPEC.problem(src)? };
    // the batch's mean loss as the weighted mean of one shard per compute
    // thread: each shard's HVP runs on a thread of its own (data parallelism)
    let shards = shard_rows(&x, &y);
    let hessian_at = move |ps: &[Tensor]| {
        Hessian::of_sum(&shards, ps, &|(xk, yk): &(Tensor, Vec<usize>)| {
            forward(ps, xk, Activation::Relu).cross_entropy(yk)
        })
    };
    let xt = Tensor::constant(x);
    let loss_of = move |ps: &[Tensor]| forward(ps, &xt, Activation::Relu).cross_entropy(&y);

    // memory: peak live heap of one plain gradient vs one HVP (same inputs),
    // after a first run so that one-time buffers do not count; the median of
    // five, since a worker thread's late frees can shift one reading
    let ps: Vec<Tensor> = params.iter().map(|a| Tensor::param(a.clone())).collect();
    let refs: Vec<&Tensor> = ps.iter().collect();
    let peak = |f: &dyn Fn()| {
        f();
        let mut peaks: Vec<usize> = (0..5)
            .map(|_| {
                crate::alloc::start();
                f();
                crate::alloc::stop()
            })
            .collect();
        peaks.sort_unstable();
        peaks[2]
    };
    let grad_bytes = peak(&|| drop(grad(&loss_of(&ps), &refs)));
    let hvp_bytes = peak(&|| drop(hessian_at(&ps).apply_arrays(&v)));
    drop(refs);
    drop(ps);
    let extra = vec![
        ("grad_peak_heap_bytes".to_string(), serde_json::json!(grad_bytes)),
        ("hvp_peak_heap_bytes".to_string(), serde_json::json!(hvp_bytes)),
        ("hvp_over_grad_memory".to_string(), serde_json::json!(hvp_bytes as f64 / grad_bytes as f64)),
    ];

    let step: Box<dyn FnMut(bool) -> Option<f64>> = if !power {
        Box::new(move |want: bool| {
            let ps: Vec<Tensor> = params.iter().map(|a| Tensor::param(a.clone())).collect();
            let hv = hessian_at(&ps).apply_arrays(&v);
            want.then(|| dot(&v, &hv))
        })
    } else {
        Box::new(move |_want: bool| {
            let ps: Vec<Tensor> = params.iter().map(|a| Tensor::param(a.clone())).collect();
            let h = hessian_at(&ps);
            let mut u = scale(v.clone(), 1.0 / dot(&v, &v).sqrt());
            let mut lam = 0.0;
            for _ in 0..20 {
                let w = h.apply_arrays(&u);
                lam = dot(&u, &w);
                let norm = dot(&w, &w).sqrt();
                u = scale(w, 1.0 / norm);
            }
            Some(lam)
        })
    };
    Ok(Prepared { step, extra })
}
