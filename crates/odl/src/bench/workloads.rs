//! The workloads of `shared/bench/WORKLOADS.md` that the engine can run, each
//! as a stateful step closure. Every step does what the spec puts inside the
//! timer, and nothing else.

use anyhow::{bail, Result};
use odl_autodiff::{grad, grad_graph, par_map, value_and_grad_of_sum, Compiled, Hessian, Tensor};
use odl_tensor::cpu::matmul::gemm;
use odl_tensor::cpu::{par_for_each, simd, PAR_MIN_ELEMENTS, PIECE};
use odl_tensor::{Array, DType, Rng};

use super::data::{batch, maybe_open, mlp, Layer, Source};
use crate::shards::shards;
use odl_optim::Transform;

/// One prepared workload: `step(want_check)` runs one timed iteration and,
/// when asked, returns the workload's `check` value for that iteration.
pub struct Prepared {
    /// the timed step
    pub step: Box<dyn FnMut(bool) -> Option<f64>>,
    /// extra fields for the JSON record
    pub extra: Vec<(String, serde_json::Value)>,
}

/// Short names, as in `peers.py`.
pub fn name(wl: &str) -> &'static str {
    match wl {
        "W1" => "chain1d",
        "W2" => "mlp",
        "W3" => "deepnarrow",
        "W4" => "hvp",
        "W4P" => "hvp_power20",
        "W5" => "pgd",
        "W6" => "cnn",
        "W7" => "wgangp",
        "W8" => "jacspec",
        "G1024" => "gemm1024",
        "G256" => "gemm256",
        _ => "?",
    }
}

/// Workloads odl runs, in order.
pub const ALL: [&str; 9] = ["W1", "W2", "W3", "W4", "W4P", "W5", "W6", "W7", "W8"];
/// GEMM calibration workloads.
pub const GEMM: [&str; 2] = ["G1024", "G256"];

/// Builds the step for `wl`.
pub fn prepare(wl: &str, src: &Source) -> Result<Prepared> {
    let p = match wl {
        "W1" => w1(src)?,
        "W2" => mlp_step(src, "W2", Act::Relu, Opt::Momentum(0.01, 0.9))?,
        "W3" => mlp_step(src, "W3", Act::Tanh, Opt::Sgd(0.01))?,
        "W4" => w4(src, false)?,
        "W4P" => w4(src, true)?,
        "W5" => w5(src)?,
        "W6" => w6(src)?,
        "W7" => w7(src)?,
        "W8" => w8(src)?,
        "G1024" => gemm_step(1024),
        "G256" => gemm_step(256),
        other => bail!("unknown workload '{other}' (odl runs: {}, {})", ALL.join(", "), GEMM.join(", ")),
    };
    Ok(p)
}

fn w1(src: &Source) -> Result<Prepared> {
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
    // traced once (the compile, outside the timer as JAX's jit is), replayed
    // every step: outputs are the loss and the 50 gradients
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
    let step = move |want: bool| {
        step_fn.replay();
        let check = want.then(|| step_fn.output(0).item());
        for i in 0..50 {
            let g = step_fn.output(1 + i).as_slice::<f64>()[0];
            step_fn.input_mut(i).as_mut_slice::<f64>()[0] -= lr * g;
        }
        check
    };
    Ok(Prepared { step: Box::new(step), extra: vec![] })
}

/// Hidden-layer activation.
#[derive(Clone, Copy)]
pub enum Act {
    /// ReLU (W2, W4)
    Relu,
    /// tanh (W3)
    Tanh,
}

#[derive(Clone, Copy)]
enum Opt {
    Sgd(f64),
    Momentum(f64, f64),
}

/// The MLP of the workloads: linear layers with `act` between them.
pub fn forward(ps: &[Tensor], x: &Tensor, act: Act) -> Tensor {
    let n = ps.len() / 2;
    let mut h = x.clone();
    for l in 0..n {
        h = h.linear(&ps[2 * l], Some(&ps[2 * l + 1]));
        if l + 1 < n {
            h = match act {
                Act::Relu => h.relu(),
                Act::Tanh => h.tanh(),
            };
        }
    }
    h
}

fn flatten(layers: Vec<Layer>) -> Vec<Array> {
    layers.into_iter().flat_map(|(w, b)| [w, b]).collect()
}

/// The network, batch and (for W4/W4P) direction of the MLP workloads.
pub struct MlpProblem {
    /// weights and biases, `[W_1, b_1, W_2, b_2, …]` in PyTorch's layout
    pub params: Vec<Array>,
    /// the input batch
    pub x: Array,
    /// the labels
    pub y: Vec<usize>,
    /// the HVP direction, one array per parameter (W4, W4P; empty otherwise)
    pub v: Vec<Array>,
}

/// Layer sizes of the MLP workloads.
pub fn mlp_sizes(wl: &str) -> Vec<usize> {
    match wl {
        // input 64, 32 hidden layers of width 64, output 10: 33 linear layers
        "W3" => {
            let mut s = vec![64; 33];
            s.push(10);
            s
        }
        _ => vec![784, 256, 256, 256, 10],
    }
}

/// Builds (or loads) the inputs of W2, W3, W4 or W4P.
pub fn mlp_problem(src: &Source, wl: &str) -> Result<MlpProblem> {
    let sizes = mlp_sizes(wl);
    let (seed, bs) = if wl == "W3" { (3, 64) } else { (2, 128) };
    // W4 and W4P share W2's network and batch, and draw v from seed 4
    let npz = match src {
        Source::Dump(dir) if wl == "W4P" && !dir.join("W4P.npz").exists() => maybe_open(src, "W4")?,
        _ => maybe_open(src, wl)?,
    };
    let mut rng = Rng::seed(seed);
    let params = flatten(mlp(src, npz.as_ref(), "params", &sizes, &mut rng)?);
    let (x, y) = batch(src, npz.as_ref(), &[bs, sizes[0]], &mut rng)?;
    let mut v = Vec::new();
    if wl.starts_with("W4") {
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

fn mlp_step(src: &Source, wl: &str, act: Act, opt: Opt) -> Result<Prepared> {
    let MlpProblem { mut params, x, y, .. } = mlp_problem(src, wl)?;
    // data parallelism: one shard of rows per compute thread
    let shards = shard_rows(&x, &y);
    let mut vel: Vec<Option<Array>> = vec![None; params.len()];
    let step = move |want: bool| {
        let ps: Vec<Tensor> = params.iter().map(|a| Tensor::param(a.clone())).collect();
        let refs: Vec<&Tensor> = ps.iter().collect();
        let (value, grads) = value_and_grad_of_sum(&shards, &refs, &|(xk, yk): &(Tensor, Vec<usize>)| {
            forward(&ps, xk, act).cross_entropy(yk)
        });
        let check = want.then_some(value);
        drop(refs);
        drop(ps);
        // one pass over all parameters, split over the compute threads
        match opt {
            Opt::Sgd(lr) => Array::scale_add_all(&mut params, 1.0, &grads, -lr),
            Opt::Momentum(lr, mu) => {
                // v ← μ v + g (v₀ = g), then p ← p − lr v (PyTorch's convention)
                let (lr, mu) = (lr as f32, mu as f32);
                let pieces = params
                    .iter_mut()
                    .zip(vel.iter_mut())
                    .zip(&grads)
                    .flat_map(|((p, v), g)| {
                        let v = v.get_or_insert_with(|| Array::zeros(g.shape(), DType::F32));
                        p.as_mut_slice::<f32>()
                            .chunks_mut(PIECE)
                            .zip(v.as_mut_slice::<f32>().chunks_mut(PIECE))
                            .zip(g.as_slice::<f32>().chunks(PIECE))
                    })
                    .collect();
                par_for_each(pieces, |(_, g)| g.len(), PAR_MIN_ELEMENTS, &|((p, v), g)| {
                    simd(
                        #[inline(always)]
                        || {
                            for ((pi, vi), gi) in p.iter_mut().zip(v.iter_mut()).zip(g) {
                                *vi = mu * *vi + gi;
                                *pi -= lr * *vi;
                            }
                        },
                    )
                });
            }
        }
        check
    };
    Ok(Prepared { step: Box::new(step), extra: vec![] })
}

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

fn w4(src: &Source, power: bool) -> Result<Prepared> {
    let MlpProblem { params, x, y, v } = mlp_problem(src, if power { "W4P" } else { "W4" })?;
    // the batch's mean loss as the weighted mean of one shard per compute
    // thread: each shard's HVP runs on a thread of its own (data parallelism)
    let shards = shard_rows(&x, &y);
    let hessian_at = move |ps: &[Tensor]| {
        Hessian::of_sum(&shards, ps, &|(xk, yk): &(Tensor, Vec<usize>)| {
            forward(ps, xk, Act::Relu).cross_entropy(yk)
        })
    };
    let xt = Tensor::constant(x);
    let loss_of = move |ps: &[Tensor]| forward(ps, &xt, Act::Relu).cross_entropy(&y);

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

/// `x` (a constant batch) and `y` in one shard per compute thread.
fn shard_rows(x: &Array, y: &[usize]) -> Vec<(f64, (Tensor, Vec<usize>))> {
    shards(&Tensor::constant(x.clone()), y, odl_tensor::num_threads())
}

fn w8(src: &Source) -> Result<Prepared> {
    let npz = maybe_open(src, "W8")?;
    let n = 256;
    let (ws, x) = match &npz {
        None => {
            let mut rng = Rng::seed(8);
            let ws: Vec<Array> = (0..32).map(|_| rng.normal(&[n, n], 0.0, 1.0 / 16.0, DType::F32)).collect();
            (ws, rng.normal(&[n], 0.0, 1.0, DType::F32))
        }
        Some(npz) => {
            let mut ws = Vec::new();
            for l in 0..32 {
                ws.push(npz.array(&format!("Ws.{l}"), DType::F32, Some(&[n, n]))?);
            }
            (ws, npz.array("x", DType::F32, Some(&[n]))?)
        }
    };
    let ws: Vec<Tensor> = ws.into_iter().map(Tensor::constant).collect();
    let x = Tensor::constant(x.reshape(&[n, 1]));
    let step = move |_want: bool| {
        // Forward-mode accumulation of J = D_32 W_32 ⋯ D_1 W_1 in engine ops:
        // the tangent of h_l for all 256 input directions at once.
        let mut h = x.clone();
        let mut jac: Option<Tensor> = None;
        for w in &ws {
            h = w.matmul(&h).tanh();
            let d = h.square().neg().add_scalar(1.0); // tanh' = 1 − tanh², [n,1]
            let wj = match &jac {
                None => w.clone(),
                Some(j) => w.matmul(j),
            };
            jac = Some(wj.mul(&d));
        }
        let j = jac.expect("32 layers");
        let sv = singular_values(j.value());
        Some(sv[0])
    };
    Ok(Prepared {
        step: Box::new(step),
        extra: vec![(
            "jacobian_method".into(),
            serde_json::json!("forward accumulation D_l W_l J_{l-1} (exact)"),
        )],
    })
}

/// All singular values (descending) of a square f32 matrix, through faer.
fn singular_values(a: &Array) -> Vec<f64> {
    let (m, n) = (a.shape()[0], a.shape()[1]);
    let mat = faer::MatRef::from_row_major_slice(a.as_slice::<f32>(), m, n);
    let mut s: Vec<f64> =
        mat.singular_values().expect("SVD converges").into_iter().map(|v| v as f64).collect();
    s.sort_by(|a, b| b.total_cmp(a));
    s
}

fn gemm_step(n: usize) -> Prepared {
    let mut rng = Rng::seed(100 + n as u64);
    let a = rng.normal(&[n, n], 0.0, 1.0, DType::F32).to_vec_f32();
    let b = rng.normal(&[n, n], 0.0, 1.0, DType::F32).to_vec_f32();
    let mut c = vec![0.0f32; n * n];
    Prepared {
        step: Box::new(move |_| {
            gemm(n, n, n, &a, false, &b, false, &mut c, false);
            Some(c[0] as f64)
        }),
        extra: vec![],
    }
}

fn w5(src: &Source) -> Result<Prepared> {
    // W2's (untrained) network, frozen; a batch of 256 inputs in [0, 1]
    let npz = maybe_open(src, "W5")?;
    let mut rng = Rng::seed(2);
    let params: Vec<Tensor> = flatten(mlp(src, npz.as_ref(), "params", &mlp_sizes("W2"), &mut rng)?)
        .into_iter()
        .map(Tensor::constant)
        .collect();
    let (x0, y) = match &npz {
        None => {
            let mut r5 = Rng::seed(5);
            let x = r5.uniform(&[256, 784], 0.0, 1.0, DType::F32);
            (x, (0..256).map(|_| r5.below(10)).collect::<Vec<_>>())
        }
        Some(npz) => (npz.array("x", DType::F32, Some(&[256, 784]))?, npz.indices("y", Some(10))?),
    };
    let (eps, alpha) = (0.1, 0.01);
    // every example is attacked on its own (the sign of a mean loss's input
    // gradient is that of its own loss), so the batch splits into one shard
    // of rows per compute thread, each attacked start to end on its thread
    let shards: Vec<(Array, Vec<usize>)> =
        shard_rows(&x0, &y).into_iter().map(|(_, (x, y))| (x.value().clone(), y)).collect();
    let attack = move |(x0, y): &(Array, Vec<usize>)| -> Array {
        let lo = x0.binary(odl_tensor::BinaryOp::Sub, &Array::scalar(eps, DType::F32));
        let hi = x0.binary(odl_tensor::BinaryOp::Add, &Array::scalar(eps, DType::F32));
        // L∞ PGD without random start: x ← Π(x + α·sign ∇ₓ CE)
        let mut xa = x0.clone();
        for _ in 0..20 {
            let xt = Tensor::param(xa.clone());
            let loss = forward(&params, &xt, Act::Relu).cross_entropy(y);
            let g = grad(&loss, &[&xt]).remove(0);
            drop(loss);
            drop(xt);
            // the attack's update in one fused pass (not differentiated):
            // x ← clip(min(max(x + α·sign g, x0 − ε), x0 + ε), 0, 1)
            let (gs, los, his) = (g.value().as_slice::<f32>(), lo.as_slice::<f32>(), hi.as_slice::<f32>());
            let xs = xa.as_mut_slice::<f32>();
            let a = alpha as f32;
            simd(
                #[inline(always)]
                || {
                    for (((x, &g), &l), &h) in xs.iter_mut().zip(gs).zip(los).zip(his) {
                        let s = if g > 0.0 {
                            1.0
                        } else if g < 0.0 {
                            -1.0
                        } else {
                            0.0
                        };
                        let v = *x + a * s;
                        let v = if v > l { v } else { l };
                        let v = if v < h { v } else { h };
                        *x = v.clamp(0.0, 1.0);
                    }
                },
            );
        }
        xa
    };
    let step = move |want: bool| {
        let parts = par_map(&shards, &attack);
        let mut xa = Vec::with_capacity(x0.numel());
        for p in &parts {
            xa.extend_from_slice(p.as_slice::<f32>());
        }
        let xa = Array::from_vec(xa, x0.shape());
        want.then(|| {
            let d = xa.binary(odl_tensor::BinaryOp::Sub, &x0).unary(odl_tensor::UnaryOp::Abs);
            d.sum_all() / d.numel() as f64
        })
    };
    Ok(Prepared { step: Box::new(step), extra: vec![] })
}

fn w6(src: &Source) -> Result<Prepared> {
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
    let lr = 0.01f32;
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
        Array::scale_add_all(&mut params, 1.0, &grads, -lr as f64);
        want.then_some(value)
    };
    Ok(Prepared { step: Box::new(step), extra: vec![] })
}

fn w7(src: &Source) -> Result<Prepared> {
    let npz = maybe_open(src, "W7")?;
    let mut rng = Rng::seed(7);
    let g_params: Vec<Tensor> = flatten(mlp(src, npz.as_ref(), "G", &[2, 128, 128, 2], &mut rng)?)
        .into_iter()
        .map(Tensor::constant)
        .collect();
    let mut d_params = flatten(mlp(src, npz.as_ref(), "D", &[2, 128, 128, 1], &mut rng)?);
    let (x_real, z, eps) = match &npz {
        None => {
            let k: Vec<usize> = (0..256).map(|_| rng.below(8)).collect();
            let mut xr = Vec::with_capacity(512);
            for &ki in &k {
                let ang = 2.0 * std::f64::consts::PI * ki as f64 / 8.0;
                xr.push(2.0 * ang.cos() + 0.02 * rng.normal_f64());
                xr.push(2.0 * ang.sin() + 0.02 * rng.normal_f64());
            }
            let z = rng.normal(&[256, 2], 0.0, 1.0, DType::F32);
            let e = rng.uniform(&[256, 1], 0.0, 1.0, DType::F32);
            (Array::from_f64(&xr, &[256, 2], DType::F32), z, e)
        }
        Some(npz) => (
            npz.array("x_real", DType::F32, Some(&[256, 2]))?,
            npz.array("z", DType::F32, Some(&[256, 2]))?,
            npz.array("eps", DType::F32, Some(&[256, 1]))?,
        ),
    };
    // every term of the critic's loss is a mean over the 256 rows (real,
    // noise and mixing weight row by row), so the batch splits into one shard
    // of rows per compute thread (data parallelism)
    let n = odl_tensor::num_threads().clamp(1, 256);
    let rows = |a: &Array, lo: usize, hi: usize| {
        let w = a.shape()[1];
        Tensor::constant(Array::from_vec(a.as_slice::<f32>()[lo * w..hi * w].to_vec(), &[hi - lo, w]))
    };
    let shards: Vec<(f64, [Tensor; 3])> = (0..n)
        .map(|k| {
            let (lo, hi) = (k * 256 / n, (k + 1) * 256 / n);
            ((hi - lo) as f64 / 256.0, [rows(&x_real, lo, hi), rows(&z, lo, hi), rows(&eps, lo, hi)])
        })
        .collect();
    let mut adam = odl_optim::adam(1e-4, 0.5, 0.9, 1e-8);
    let step = move |want: bool| {
        let dp: Vec<Tensor> = d_params.iter().map(|a| Tensor::param(a.clone())).collect();
        let critic_loss = |[xr, z, e]: &[Tensor; 3]| {
            let xf = odl_autodiff::no_grad(|| forward(&g_params, z, Act::Relu)).detach();
            let xh = Tensor::param(e.mul(xr).add(&e.neg().add_scalar(1.0).mul(&xf)).value().clone());
            let d_hat = forward(&dp, &xh, Act::Relu).sum_all();
            let gx = odl_autodiff::grad_graph(&d_hat, &[&xh]).remove(0);
            let gp = gx.square().sum(&[1], false).sqrt().add_scalar(-1.0).square().mean_all();
            forward(&dp, &xf, Act::Relu)
                .mean_all()
                .sub(&forward(&dp, xr, Act::Relu).mean_all())
                .add(&gp.mul_scalar(10.0))
        };
        let refs: Vec<&Tensor> = dp.iter().collect();
        let (value, mut grads) = value_and_grad_of_sum(&shards, &refs, &critic_loss);
        let check = want.then_some(value);
        drop(refs);
        drop(dp);
        adam.update(&mut grads, &d_params);
        odl_optim::apply_updates(&mut d_params, &grads);
        check
    };
    Ok(Prepared { step: Box::new(step), extra: vec![] })
}
