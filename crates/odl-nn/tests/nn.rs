//! Layers, networks and initializations: shapes, statistics against their
//! formulas, and derivatives by the gradient checker.

use odl_autodiff::{check_grads, grad, CheckOptions, Tensor};
use odl_nn::{
    avg_pool2d, critical_tanh, fans, gain, Activation, BatchNorm, BnNoise, Conv2d, Ctx, Dropout, Init,
    LayerNorm, Linear, MlpConfig, Module, Norm, Residual, Sequential,
};
use odl_tensor::{Array, DType, Rng};

fn var(a: &Array) -> f64 {
    let v = a.to_vec_f64();
    let m = v.iter().sum::<f64>() / v.len() as f64;
    v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64
}

#[test]
fn initializations_have_their_variances() {
    let mut rng = Rng::seed(1);
    let shape = [300, 200];
    let (fi, fo) = fans(&shape);
    assert_eq!((fi, fo), (200, 300));
    let cases: Vec<(Init, f64)> = vec![
        (Init::Normal(0.3), 0.09),
        (Init::Uniform(0.5), 0.25 / 3.0),
        (Init::LecunNormal, 1.0 / 200.0),
        (Init::XavierUniform(1.0), 2.0 / 500.0),
        (Init::XavierNormal(2.0), 4.0 * 2.0 / 500.0),
        (Init::KaimingNormal(gain("relu", 0.0)), 2.0 / 200.0),
        (Init::KaimingNormalFanOut(1.0), 1.0 / 300.0),
        (Init::KaimingUniform(1.0), 1.0 / 200.0),
        (Init::TorchDefault, 1.0 / (3.0 * 200.0)),
        (Init::MeanField(1.5), 2.25 / 200.0),
    ];
    for (init, want) in cases {
        let w = init.sample(&mut rng, &shape, DType::F64);
        let v = var(&w);
        assert!((v / want - 1.0).abs() < 0.03, "{init:?}: variance {v} vs {want}");
    }
    // conv fans count the kernel
    assert_eq!(fans(&[16, 8, 3, 3]), (72, 144));
    assert_eq!(gain("tanh", 0.0), 5.0 / 3.0);
    assert!((gain("leaky_relu", 0.2) - (2.0 / 1.04f64).sqrt()).abs() < 1e-15);
}

fn gram_is(w: &[f64], rows: usize, cols: usize, by_rows: bool, g2: f64) {
    let (n, len) = if by_rows { (rows, cols) } else { (cols, rows) };
    let at = |i: usize, k: usize| if by_rows { w[i * cols + k] } else { w[k * cols + i] };
    for i in 0..n {
        for j in 0..n {
            let d: f64 = (0..len).map(|k| at(i, k) * at(j, k)).sum();
            let want = if i == j { g2 } else { 0.0 };
            assert!((d - want).abs() < 1e-10, "({i},{j}): {d}");
        }
    }
}

#[test]
fn orthogonal_and_delta_orthogonal() {
    let mut rng = Rng::seed(2);
    // tall: orthonormal columns; wide: orthonormal rows
    let w = Init::Orthogonal(2.0).sample(&mut rng, &[40, 10], DType::F64).to_vec_f64();
    gram_is(&w, 40, 10, false, 4.0);
    let w = Init::Orthogonal(1.0).sample(&mut rng, &[10, 40], DType::F64).to_vec_f64();
    gram_is(&w, 10, 40, true, 1.0);
    let d = Init::DeltaOrthogonal(1.0).sample(&mut rng, &[8, 8, 3, 3], DType::F64).to_vec_f64();
    let centre: Vec<f64> = (0..64).map(|ab| d[ab * 9 + 4]).collect();
    gram_is(&centre, 8, 8, true, 1.0);
    let off: f64 = d.iter().enumerate().filter(|(i, _)| i % 9 != 4).map(|(_, v)| v.abs()).sum();
    assert_eq!(off, 0.0);
    // identity init
    let i = Init::Identity(1.0).sample(&mut rng, &[3, 3], DType::F64).to_vec_f64();
    assert_eq!(i, vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
}

#[test]
fn critical_tanh_sits_on_the_edge_of_chaos() {
    // with no bias variance the critical point is σ_w = 1 with q* = 0 (the
    // q-map reaches 0 only polynomially slowly there, hence the tolerance)
    let (sw, q) = critical_tanh(0.0);
    assert!((sw - 1.0).abs() < 5e-3 && q < 5e-3, "{sw} {q}");
    // with σ_b = 0.3 the critical σ_w is above 1 and q* > 0
    let (sw, q) = critical_tanh(0.3);
    assert!(sw > 1.05 && sw < 1.6 && q > 0.0, "{sw} {q}");
    // and at that point a deep tanh net neither explodes nor collapses the
    // distance between two inputs as fast as off-critical ones
    let depth_ratio = |sigma_w: f64| {
        let mut rng = Rng::seed(3);
        let n = 300;
        let mut a = rng.normal(&[n], 0.0, 1.0, DType::F64).to_vec_f64();
        let mut b: Vec<f64> = a.iter().map(|x| x + 1e-3 * rng.normal_f64()).collect();
        let d0 = a.iter().zip(&b).map(|(x, y)| (x - y).powi(2)).sum::<f64>().sqrt();
        for _ in 0..30 {
            let w = rng.normal(&[n, n], 0.0, sigma_w / (n as f64).sqrt(), DType::F64).to_vec_f64();
            let bias: Vec<f64> = (0..n).map(|_| 0.3 * rng.normal_f64()).collect();
            let step = |h: &[f64]| -> Vec<f64> {
                (0..n).map(|i| ((0..n).map(|j| w[i * n + j] * h[j]).sum::<f64>() + bias[i]).tanh()).collect()
            };
            a = step(&a);
            b = step(&b);
        }
        a.iter().zip(&b).map(|(x, y)| (x - y).powi(2)).sum::<f64>().sqrt() / d0
    };
    let (crit, ordered, chaotic) = (depth_ratio(sw), depth_ratio(0.6), depth_ratio(3.0));
    assert!(crit < chaotic && crit > ordered, "ordered {ordered}, critical {crit}, chaotic {chaotic}");
}

#[test]
fn linear_and_conv_layers() {
    let mut rng = Rng::seed(4);
    let mut lin = Linear::new(3, 2, true, &Init::Normal(1.0), None, &mut rng, DType::F64);
    let x = rng.normal(&[4, 3], 0.0, 1.0, DType::F64);
    let y = lin.forward(&Tensor::constant(x.clone()), &mut Ctx::eval()).to_vec_f64();
    let (w, b) = (lin.weight.to_vec_f64(), lin.bias.as_ref().unwrap().to_vec_f64());
    for n in 0..4 {
        for o in 0..2 {
            let want = b[o] + (0..3).map(|i| w[o * 3 + i] * x.get(n * 3 + i)).sum::<f64>();
            assert!((y[n * 2 + o] - want).abs() < 1e-14);
        }
    }
    let names: Vec<String> = lin.named_params().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, vec!["weight", "bias"]);
    let mut conv = Conv2d::new(2, 5, 3, 2, 1, true, &Init::KaimingNormal(1.0), &mut rng, DType::F64);
    let y =
        conv.forward(&Tensor::constant(rng.normal(&[2, 2, 9, 9], 0.0, 1.0, DType::F64)), &mut Ctx::eval());
    assert_eq!(y.shape(), &[2, 5, 5, 5]);
}

#[test]
fn layers_pass_the_gradient_checker() {
    let mut rng = Rng::seed(5);
    let x = rng.normal(&[6, 4], 0.0, 1.0, DType::F64);
    let w = rng.normal(&[3, 4], 0.0, 0.5, DType::F64);
    let g = rng.uniform(&[4], 0.5, 1.5, DType::F64);
    let b = rng.normal(&[4], 0.0, 0.5, DType::F64);
    let opts = CheckOptions::order(2);
    // a linear layer, in its weight and its input
    check_grads(|t| t[0].linear(&t[1], None).tanh(), &[x.clone(), w], &opts).unwrap();
    // BatchNorm in training mode, through the batch statistics
    check_grads(
        |t| {
            let mut bn = BatchNorm::new(4, DType::F64);
            bn.gamma = t[1].clone();
            bn.beta = t[2].clone();
            bn.forward(&t[0], &mut Ctx::train(0)).tanh()
        },
        &[x.clone(), g.clone(), b.clone()],
        &opts,
    )
    .unwrap();
    check_grads(
        |t| {
            let mut ln = LayerNorm::new(4, DType::F64);
            ln.gamma = t[1].clone();
            ln.beta = t[2].clone();
            ln.forward(&t[0], &mut Ctx::eval()).sin()
        },
        &[x, g, b],
        &opts,
    )
    .unwrap();
    let img = rng.normal(&[1, 2, 5, 5], 0.0, 1.0, DType::F64);
    check_grads(|t| avg_pool2d(&t[0], 2, 1).exp(), &[img], &opts).unwrap();
}

#[test]
fn batchnorm_normalizes_and_tracks_running_statistics() {
    let mut rng = Rng::seed(6);
    let x = rng.normal(&[64, 3, 4, 4], 2.0, 3.0, DType::F64);
    let mut bn = BatchNorm::new(3, DType::F64);
    let y = bn.forward(&Tensor::constant(x.clone()), &mut Ctx::train(0));
    for c in 0..3 {
        let vals: Vec<f64> = (0..64)
            .flat_map(|n| (0..16).map(move |p| (n, p)))
            .map(|(n, p)| y.value().get((n * 3 + c) * 16 + p))
            .collect();
        let m = vals.iter().sum::<f64>() / vals.len() as f64;
        let v = vals.iter().map(|x| (x - m).powi(2)).sum::<f64>() / vals.len() as f64;
        assert!(m.abs() < 1e-12 && (v - 1.0).abs() < 1e-3, "channel {c}: mean {m}, var {v}");
    }
    // running mean moved 10 % of the way to the batch mean (≈ 2)
    let rm = bn.running_mean.to_vec_f64();
    assert!(rm.iter().all(|&m| (m - 0.2).abs() < 0.03), "{rm:?}");
    // evaluation uses the running statistics, so it differs from training
    let e = bn.forward(&Tensor::constant(x.clone()), &mut Ctx::eval());
    assert!(e.value().max_abs_diff(y.value()) > 0.1);
    assert_eq!(bn.named_buffers().len(), 2);
    // noisy BN changes the output randomly but reproducibly per seed
    bn.noise = Some(BnNoise { scale_std: 0.5, shift_std: 0.5 });
    let n1 = bn.forward(&Tensor::constant(x.clone()), &mut Ctx::train(7));
    let n2 = bn.forward(&Tensor::constant(x.clone()), &mut Ctx::train(7));
    let n3 = bn.forward(&Tensor::constant(x), &mut Ctx::train(8));
    assert_eq!(n1.to_vec_f64(), n2.to_vec_f64());
    assert!(n1.value().max_abs_diff(n3.value()) > 0.01);
}

#[test]
fn dropout_masks_in_training_only() {
    let x = Tensor::constant(Array::ones(&[100, 100], DType::F64));
    let mut d = Dropout(0.3);
    assert_eq!(d.forward(&x, &mut Ctx::eval()).to_vec_f64(), x.to_vec_f64());
    let y = d.forward(&x, &mut Ctx::train(1)).to_vec_f64();
    let zeros = y.iter().filter(|&&v| v == 0.0).count() as f64 / 1e4;
    assert!((zeros - 0.3).abs() < 0.02, "{zeros}");
    let mean = y.iter().sum::<f64>() / 1e4;
    assert!((mean - 1.0).abs() < 0.03, "{mean}");
}

#[test]
fn mlp_builder_in_both_forms() {
    let mut rng = Rng::seed(7);
    // the W2 network: 335,114 parameters
    let w2 = MlpConfig::new(&[784, 256, 256, 256, 10], Activation::Relu).build(&mut rng, DType::F32);
    assert_eq!(w2.num_params(), 335_114);
    let names: Vec<String> = w2.named_params().into_iter().map(|(n, _)| n).collect();
    assert_eq!(&names[..3], &["0.weight", "0.bias", "2.weight"]);
    // standard form: no biases, f(x) = W_3 σ(W_2 σ(W_1 x))
    let mut cfg = MlpConfig::new(&[5, 5, 5, 2], Activation::Tanh);
    cfg.bias = false;
    let mut std_form = cfg.build(&mut rng, DType::F64);
    assert_eq!(std_form.num_params(), 5 * 5 + 5 * 5 + 5 * 2);
    let x = rng.normal(&[3, 5], 0.0, 1.0, DType::F64);
    let ws: Vec<Tensor> = std_form.params().into_iter().cloned().collect();
    let by_hand = Tensor::constant(x.clone())
        .linear(&ws[0], None)
        .tanh()
        .linear(&ws[1], None)
        .tanh()
        .linear(&ws[2], None);
    let out = std_form.forward(&Tensor::constant(x), &mut Ctx::eval());
    assert_eq!(out.to_vec_f64(), by_hand.to_vec_f64());
    // residual blocks with BatchNorm; scale 0 makes each block the identity
    let mut cfg = MlpConfig::new(&[6, 6, 6, 6, 3], Activation::Relu);
    cfg.norm = Norm::Batch;
    cfg.residual = true;
    cfg.residual_scale = 0.0;
    let mut res = cfg.build(&mut rng, DType::F64);
    assert_eq!(res.0.len(), 4); // three residual blocks and the output layer
    let x = Tensor::constant(rng.normal(&[8, 6], 0.0, 1.0, DType::F64));
    let out = res.forward(&x, &mut Ctx::train(0));
    let mut last = Sequential::new();
    let p = res.params().into_iter().cloned().collect::<Vec<_>>();
    let n = p.len();
    last.push(Linear { weight: p[n - 2].clone(), bias: Some(p[n - 1].clone()) });
    let direct = last.forward(&x, &mut Ctx::eval());
    assert!(out.value().max_abs_diff(direct.value()) < 1e-12);
    assert!(res.named_params().iter().any(|(n, _)| n == "0.block.1.weight"));
    let _ = Residual { block: Sequential::new(), scale: 1.0 };
}

#[test]
fn training_an_mlp_lowers_its_loss_and_set_param_values_round_trips() {
    let mut rng = Rng::seed(8);
    let mut net = MlpConfig::new(&[2, 16, 2], Activation::Tanh).build(&mut rng, DType::F64);
    // two Gaussian blobs
    let n = 64;
    let labels: Vec<usize> = (0..n).map(|i| i % 2).collect();
    let xs: Vec<f64> = labels
        .iter()
        .flat_map(|&c| {
            let s = if c == 0 { -1.0 } else { 1.0 };
            [s + 0.3 * rng.normal_f64(), s + 0.3 * rng.normal_f64()]
        })
        .collect();
    let x = Tensor::from_f64(&xs, &[n, 2], DType::F64);
    let loss_of = |net: &mut Sequential| net.forward(&x, &mut Ctx::eval()).cross_entropy(&labels);
    let first = loss_of(&mut net).item();
    for _ in 0..100 {
        let loss = loss_of(&mut net);
        let g = grad(&loss, &net.params());
        let new: Vec<Array> = net
            .param_values()
            .iter()
            .zip(&g)
            .map(|(p, g)| {
                p.binary(
                    odl_tensor::BinaryOp::Sub,
                    &g.value().binary(odl_tensor::BinaryOp::Mul, &Array::scalar(0.5, DType::F64)),
                )
            })
            .collect();
        net.set_param_values(new);
    }
    let last = loss_of(&mut net).item();
    assert!(last < 0.2 * first, "{first} → {last}");
}

#[test]
fn spectral_norm_divides_by_the_top_singular_value() {
    let mut rng = Rng::seed(9);
    let lin = Linear::new(6, 4, true, &Init::Normal(1.0), None, &mut rng, DType::F64);
    let w = lin.weight.value().clone();
    let mut sn = odl_nn::SpectralNorm::new(lin, &mut rng);
    let x = Tensor::constant(rng.normal(&[3, 6], 0.0, 1.0, DType::F64));
    for _ in 0..50 {
        sn.forward(&x, &mut Ctx::train(0));
    }
    // σ_max of W from the eigenvalues of W Wᵀ by power iteration in f64
    let wv = w.to_vec_f64();
    let mut u = vec![1.0; 4];
    for _ in 0..500 {
        let wtu: Vec<f64> = (0..6).map(|j| (0..4).map(|i| wv[i * 6 + j] * u[i]).sum()).collect();
        let wwtu: Vec<f64> = (0..4).map(|i| (0..6).map(|j| wv[i * 6 + j] * wtu[j]).sum()).collect();
        let n = wwtu.iter().map(|a| a * a).sum::<f64>().sqrt();
        u = wwtu.iter().map(|a| a / n).collect();
    }
    let wtu: Vec<f64> = (0..6).map(|j| (0..4).map(|i| wv[i * 6 + j] * u[i]).sum()).collect();
    let sigma = wtu.iter().map(|a| a * a).sum::<f64>().sqrt();
    assert!((sn.sigma() - sigma).abs() < 1e-8 * sigma, "{} vs {sigma}", sn.sigma());
    // the layer's effective weight has unit spectral norm: ‖W_sn x‖ ≤ ‖x‖ with equality on v
    let y = sn.forward(&x, &mut Ctx::eval());
    let b = sn.inner.bias.as_ref().unwrap().to_vec_f64();
    let yv = y.to_vec_f64();
    let xv = x.to_vec_f64();
    for r in 0..3 {
        let ny: f64 = (0..4).map(|i| (yv[r * 4 + i] - b[i]).powi(2)).sum::<f64>().sqrt();
        let nx: f64 = (0..6).map(|j| xv[r * 6 + j].powi(2)).sum::<f64>().sqrt();
        assert!(ny <= nx * (1.0 + 1e-9), "{ny} > {nx}");
    }
    // gradients flow through σ̂(W) (its value and derivative in W)
    check_grads(
        |t| {
            let mut s = odl_nn::SpectralNorm {
                inner: Linear { weight: t[0].clone(), bias: None },
                u: Array::from_f64(&[0.5, -0.5, 0.5, 0.5], &[4], DType::F64),
                iterations: 30,
            };
            s.forward(&t[1], &mut Ctx::eval()).tanh()
        },
        &[w, rng.normal(&[2, 6], 0.0, 1.0, DType::F64)],
        &CheckOptions::order(1),
    )
    .unwrap();
}

#[test]
fn replicas_share_parameters_and_own_buffers() {
    let mut rng = Rng::seed(21);
    let mut cfg = MlpConfig::new(&[5, 8, 3], Activation::Relu);
    let plain = cfg.build(&mut rng, DType::F64);
    cfg.norm = Norm::Batch;
    let bn = cfg.build(&mut rng, DType::F64);
    assert!(!plain.couples_examples());
    assert!(bn.couples_examples(), "BatchNorm couples the examples of a batch");
    let mut res = Sequential::new();
    res.push(Residual { block: bn.clone(), scale: 1.0 });
    assert!(res.couples_examples(), "a residual block asks its branch");

    let x = Tensor::constant(rng.normal(&[6, 5], 0.0, 1.0, DType::F64));
    let labels = [0, 1, 2, 0, 1, 2];
    for mut net in [plain, bn] {
        // the gradient through a replica's forward reaches the original's parameters
        let mut copy = net.clone();
        let through_copy = grad(&copy.forward(&x, &mut Ctx::train(0)).cross_entropy(&labels), &net.params());
        let running: Vec<Array> = net.named_buffers().into_iter().map(|(_, a)| a.clone()).collect();
        let direct = grad(&net.forward(&x, &mut Ctx::train(0)).cross_entropy(&labels), &net.params());
        for (a, b) in through_copy.iter().zip(&direct) {
            assert_eq!(a.value().to_vec_f64(), b.value().to_vec_f64());
            assert!(a.value().to_vec_f64().iter().any(|v| *v != 0.0));
        }
        // the replica's training pass moved its own running statistics only
        let after: Vec<Array> = net.named_buffers().into_iter().map(|(_, a)| a.clone()).collect();
        let theirs: Vec<Array> = copy.named_buffers().into_iter().map(|(_, a)| a.clone()).collect();
        for ((r, a), t) in running.iter().zip(&after).zip(&theirs) {
            assert_ne!(r.to_vec_f64(), a.to_vec_f64(), "the original's own pass updates them");
            assert_eq!(a.to_vec_f64(), t.to_vec_f64(), "both passes saw the same batch");
        }
    }
}

#[test]
fn update_params_writes_in_place_unless_the_value_is_held_elsewhere() {
    let mut rng = Rng::seed(22);
    let mut net = MlpConfig::new(&[4, 6, 2], Activation::Tanh).build(&mut rng, DType::F32);
    let ptrs = |net: &Sequential| -> Vec<*const f32> {
        net.params().iter().map(|p| p.value().as_slice::<f32>().as_ptr()).collect()
    };
    let before = ptrs(&net);
    let old = net.param_values();
    drop(old);
    net.update_params(&mut |values| {
        for v in values.iter_mut() {
            for e in v.as_mut_slice::<f32>() {
                *e += 1.0;
            }
        }
    });
    // nothing else held the arrays: the step wrote where they were
    assert_eq!(ptrs(&net), before);
    // a graph (or anyone) holding a parameter keeps its old value: the step copies
    let held = net.params()[0].clone();
    let seen = held.value().to_vec_f64();
    net.update_params(&mut |values| {
        for e in values[0].as_mut_slice::<f32>() {
            *e *= 2.0;
        }
    });
    assert_eq!(held.value().to_vec_f64(), seen);
    let now = net.params()[0].value().to_vec_f64();
    assert!(now.iter().zip(&seen).all(|(a, b)| *a == 2.0 * b));
    assert_ne!(net.params()[0].value().as_slice::<f32>().as_ptr(), held.value().as_slice::<f32>().as_ptr());
}
