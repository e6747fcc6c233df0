//! Trace once, replay: replays must equal fresh eager runs bit for bit, and
//! functions whose graph cannot be replayed faithfully must be refused.

use odl_autodiff::{grad, grad_graph, CompileError, Compiled, Tensor};
use odl_tensor::{Array, DType, Rng};

/// A tanh MLP with squared loss; outputs the loss, its gradient and the HVP
/// along a fixed direction (second order through the recorded backward).
fn loss_grad_hvp(p: &[Tensor], x: &Tensor, t: &Tensor, v: &[Tensor]) -> Vec<Tensor> {
    let h = x.linear(&p[0], Some(&p[1])).tanh().linear(&p[2], Some(&p[3]));
    let loss = h.sub(t).square().mean_all().mul_scalar(0.5);
    let refs: Vec<&Tensor> = p.iter().collect();
    let g = grad_graph(&loss, &refs);
    let gv = g.iter().zip(v).map(|(gi, vi)| gi.dot(vi)).reduce(|a, b| a.add(&b)).unwrap();
    let mut out = vec![loss];
    out.extend(g.iter().cloned());
    out.extend(grad_graph(&gv, &refs));
    out
}

fn params(rng: &mut Rng) -> Vec<Array> {
    [vec![5, 3], vec![5], vec![2, 5], vec![2]].iter().map(|s| rng.normal(s, 0.0, 0.8, DType::F64)).collect()
}

#[test]
fn replays_equal_fresh_eager_runs_bit_for_bit() {
    let mut rng = Rng::seed(21);
    let x = Tensor::constant(rng.normal(&[7, 3], 0.0, 1.0, DType::F64));
    let t = Tensor::constant(rng.normal(&[7, 2], 0.0, 1.0, DType::F64));
    let v: Vec<Tensor> = params(&mut rng).into_iter().map(Tensor::constant).collect();
    let p0 = params(&mut rng);
    let mut c = Compiled::trace(&p0, |p| loss_grad_hvp(p, &x, &t, &v)).expect("a smooth model compiles");
    assert!(!c.is_empty());
    for _ in 0..3 {
        let p = params(&mut rng);
        let eager: Vec<Vec<u64>> = {
            let leaves: Vec<Tensor> = p.iter().map(|a| Tensor::param(a.clone())).collect();
            loss_grad_hvp(&leaves, &x, &t, &v)
                .iter()
                .map(|o| o.to_vec_f64().into_iter().map(f64::to_bits).collect())
                .collect()
        };
        let replay: Vec<Vec<u64>> =
            c.run(&p).iter().map(|o| o.to_vec_f64().into_iter().map(f64::to_bits).collect()).collect();
        assert_eq!(replay, eager);
    }
}

#[test]
fn in_place_updates_of_inputs_feed_the_next_replay() {
    // GD on f(w) = ½(w₁w₂ − 2)² through the compiled gradient matches eager GD
    let w0 = [Array::scalar(1.5, DType::F64), Array::scalar(0.5, DType::F64)];
    let f = |w: &[Tensor]| {
        let l = w[0].mul(&w[1]).add_scalar(-2.0).square().mul_scalar(0.5);
        let g = grad_graph(&l, &[&w[0], &w[1]]);
        vec![l, g[0].clone(), g[1].clone()]
    };
    let mut c = Compiled::trace(&w0, f).unwrap();
    let mut eager = [1.5f64, 0.5];
    for _ in 0..20 {
        c.replay();
        let (g0, g1) = (c.output(1).item(), c.output(2).item());
        c.input_mut(0).as_mut_slice::<f64>()[0] -= 0.1 * g0;
        c.input_mut(1).as_mut_slice::<f64>()[0] -= 0.1 * g1;
        let w: Vec<Tensor> = eager.iter().map(|&v| Tensor::param(Array::scalar(v, DType::F64))).collect();
        let out = f(&w);
        eager[0] -= 0.1 * out[1].item();
        eager[1] -= 0.1 * out[2].item();
    }
    assert_eq!(c.input_mut(0).item(), eager[0]);
    assert_eq!(c.input_mut(1).item(), eager[1]);
}

/// Bits of each output.
fn bits(outs: &[Array]) -> Vec<Vec<u64>> {
    outs.iter().map(|o| o.to_vec_f64().into_iter().map(f64::to_bits).collect()).collect()
}

/// Traces `f` at `at[0]`, then checks that replays at every point of `at`
/// equal eager runs of `f` there, bit for bit.
fn replays_like_eager(f: &dyn Fn(&[Tensor]) -> Vec<Tensor>, at: &[Vec<Array>]) {
    let mut c = Compiled::trace(&at[0], f).unwrap_or_else(|e| panic!("{e}"));
    for p in at.iter().skip(1).chain(&at[..1]) {
        let leaves: Vec<Tensor> = p.iter().map(|a| Tensor::param(a.clone())).collect();
        let eager: Vec<Array> = f(&leaves).iter().map(|t| t.value().clone()).collect();
        assert_eq!(bits(&c.run(p)), bits(&eager));
    }
}

/// A ReLU MLP's training step in f32: cross-entropy against one-hot targets
/// (an input, like the batch), the loss and its gradient in every parameter.
fn relu_step(v: &[Tensor]) -> Vec<Tensor> {
    let (p, x, y) = (&v[..4], &v[4], &v[5]);
    let logits = x.linear(&p[0], Some(&p[1])).relu().linear(&p[2], Some(&p[3]));
    let loss = logits.cross_entropy_targets(y);
    let refs: Vec<&Tensor> = p.iter().collect();
    let mut out = vec![loss.clone()];
    out.extend(grad_graph(&loss, &refs));
    out
}

fn one_hot(labels: &[usize], k: usize) -> Array {
    let mut v = vec![0.0f32; labels.len() * k];
    for (i, &l) in labels.iter().enumerate() {
        v[i * k + l] = 1.0;
    }
    Array::from_vec(v, &[labels.len(), k])
}

#[test]
fn a_relu_mlp_training_step_replays_new_batches_bit_for_bit() {
    let mut rng = Rng::seed(5);
    let (n, d, h, k) = (16, 12, 20, 5);
    let batches: Vec<Vec<Array>> = (0..4)
        .map(|_| {
            let mut v: Vec<Array> = [vec![h, d], vec![h], vec![k, h], vec![k]]
                .iter()
                .map(|s| rng.normal(s, 0.0, 0.5, DType::F32))
                .collect();
            v.push(rng.normal(&[n, d], 0.0, 1.0, DType::F32));
            let labels: Vec<usize> = (0..n).map(|_| rng.below(k)).collect();
            v.push(one_hot(&labels, k));
            v
        })
        .collect();
    replays_like_eager(&relu_step, &batches);
    // the replay computes the label-indexed loss too: the same numbers as `cross_entropy`
    let mut c = Compiled::trace(&batches[0], relu_step).unwrap();
    let b = &batches[2];
    let labels: Vec<usize> =
        b[5].to_vec_f64().chunks(k).map(|r| r.iter().position(|&t| t == 1.0).unwrap()).collect();
    let leaves: Vec<Tensor> = b.iter().map(|a| Tensor::param(a.clone())).collect();
    let logits = leaves[4].linear(&leaves[0], Some(&leaves[1])).relu().linear(&leaves[2], Some(&leaves[3]));
    let loss = logits.cross_entropy(&labels);
    let mut eager = vec![loss.value().clone()];
    eager.extend(grad(&loss, &leaves[..4].iter().collect::<Vec<_>>()).iter().map(|g| g.value().clone()));
    assert_eq!(bits(&c.run(b)), bits(&eager));
}

/// A scalar function of one tensor.
type Scalar = fn(&Tensor) -> Tensor;

#[test]
fn masks_detached_values_and_wheres_are_recomputed_on_replay() {
    // each function's mask or shift changes between the points: a replay
    // that kept the trace's would differ from the eager run
    let at: Vec<Vec<Array>> = [[0.5, -1.0, 2.0, -0.2], [-0.7, 1.5, -2.5, 0.3], [0.1, 0.2, -0.3, 3.0]]
        .iter()
        .map(|v| vec![Array::from_vec(v.to_vec(), &[4])])
        .collect();
    let fs: [(&str, Scalar); 9] = [
        ("relu", |p| p.relu().square().sum_all()),
        ("leaky_relu", |p| p.leaky_relu(0.1).exp().sum_all()),
        ("clamp", |p| p.clamp(-1.0, 1.0).mul(p).sum_all()),
        ("abs", |p| p.abs().mul(p).sum_all()),
        ("softplus", |p| p.softplus().sum_all()),
        ("logsumexp", |p| p.reshape(&[2, 2]).logsumexp(1, false).sum_all()),
        ("max", |p| p.reshape(&[2, 2]).max(&[0], false).square().sum_all()),
        ("maximum", |p| p.maximum(&p.neg().add_scalar(0.5)).sum_all()),
        ("max_pool2d", |p| p.reshape(&[1, 1, 2, 2]).max_pool2d(2, 2).exp().sum_all()),
    ];
    for (name, f) in fs {
        // the value, the gradient, and the HVP along (1, 1, 1, 1)
        let g = move |p: &[Tensor]| {
            let y = f(&p[0]);
            let g = grad_graph(&y, &[&p[0]]).remove(0);
            let hv = grad_graph(&g.sum_all(), &[&p[0]]).remove(0);
            vec![y, g, hv]
        };
        let mut c = Compiled::trace(&at[0], g).unwrap_or_else(|e| panic!("{name}: {e}"));
        for p in &at[1..] {
            let leaves = [Tensor::param(p[0].clone())];
            let eager: Vec<Array> = g(&leaves).iter().map(|t| t.value().clone()).collect();
            assert_eq!(bits(&c.run(p)), bits(&eager), "{name}");
        }
    }
    // a `where` whose condition comes from the input
    replays_like_eager(
        &|p| {
            let pos = p[0].gt_mask(&p[1]);
            let y = Tensor::where_(&pos, &p[0].square(), &p[1].sin()).sum_all();
            let mut out = vec![y.clone(), pos];
            out.extend(grad_graph(&y, &[&p[0], &p[1]]));
            out
        },
        &at.iter().zip(at.iter().rev()).map(|(a, b)| vec![a[0].clone(), b[0].clone()]).collect::<Vec<_>>(),
    );
    // a gradient taken without recording is recomputed too, and so are values built from it
    replays_like_eager(
        &|p| {
            let g = grad(&p[0].relu().exp().sum_all(), &[&p[0]]).remove(0);
            vec![g.clone(), p[0].sub(&g.mul_scalar(0.1))]
        },
        &at,
    );
}

#[test]
fn graphs_that_would_replay_stale_values_are_refused() {
    let x = Array::from_vec(vec![0.5f64, -1.0, 2.0, 0.25], &[4]);
    let one =
        |f: &dyn Fn(&Tensor) -> Vec<Tensor>| Compiled::trace(std::slice::from_ref(&x), |p| f(&p[0])).err();
    // cross-entropy by label index: the labels would be the trace's on every replay
    assert_eq!(
        one(&|p| vec![p.reshape(&[2, 2]).cross_entropy(&[1, 0])]),
        Some(CompileError::Unsupported("Take".into()))
    );
    // a gather by index alone
    assert_eq!(
        one(&|p| vec![p.gather(0, &[2, 0], &[2]).sum_all()]),
        Some(CompileError::Unsupported("Take".into()))
    );
    // a constant built from a traced value's numbers
    assert_eq!(
        one(&|p| vec![p.sub(&Tensor::constant(p.value().unary(odl_tensor::UnaryOp::Exp))).sum_all()]),
        Some(CompileError::Derived)
    );
    // numbers read out while tracing
    assert_eq!(one(&|p| vec![p.mul_scalar(p.sum_all().item())]), Some(CompileError::ReadWhileTracing));
    // literal constants and data made before tracing are fine
    let data = Tensor::constant(Array::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[4]));
    assert_eq!(one(&|p| vec![p.mul(&data).add_scalar(1.0).exp().sum_all()]), None);
    // a mask of data made before tracing is a plain constant, not recorded
    let mask = data.gt_mask(&data.scalar_like(2.5));
    assert_eq!(one(&|p| vec![Tensor::where_(&mask, p, &p.neg()).sum_all()]), None);
}

#[test]
fn eager_masks_and_detached_values_stay_constants() {
    // outside a trace nothing about them is recorded: no graph, no gradient
    let p = Tensor::param(Array::from_vec(vec![0.5f64, -1.0], &[2]));
    for t in [p.gt_mask(&p.scalar_like(0.0)), p.detach(), p.in_range_mask(0.0, 1.0)] {
        assert!(t.is_leaf() && !t.requires_grad());
    }
    assert_eq!(p.in_range_mask(0.0, 1.0).to_vec_f64(), vec![1.0, 0.0]);
}

#[test]
fn a_compiled_sum_over_shards_equals_the_eager_one_bit_for_bit() {
    use odl_autodiff::{value_and_grad_of_sum, CompiledSum};
    let mut rng = Rng::seed(8);
    let (d, h, k) = (10, 16, 4);
    let mut params: Vec<Tensor> = [vec![h, d], vec![h], vec![k, h], vec![k]]
        .iter()
        .map(|s| Tensor::param(rng.normal(s, 0.0, 0.5, DType::F32)))
        .collect();
    let forward = |p: &[Tensor], x: &Tensor| x.linear(&p[0], Some(&p[1])).relu().linear(&p[2], Some(&p[3]));
    let mut sum = CompiledSum::new();
    // three batches of 12 rows and a last one of 7, each cut into 3 shards
    for n in [12, 12, 7, 12] {
        let x = rng.normal(&[n, d], 0.0, 1.0, DType::F32);
        let labels: Vec<usize> = (0..n).map(|_| rng.below(k)).collect();
        let cuts = [0, n / 3, 2 * n / 3, n];
        let eager_terms: Vec<(f64, (Tensor, Vec<usize>))> = cuts
            .windows(2)
            .map(|c| {
                let rows = Tensor::constant(x.clone()).slice(0, c[0], c[1], 1).detach();
                ((c[1] - c[0]) as f64 / n as f64, (rows, labels[c[0]..c[1]].to_vec()))
            })
            .collect();
        let refs: Vec<&Tensor> = params.iter().collect();
        let (ev, eg) =
            value_and_grad_of_sum(&eager_terms, &refs, &|(x, y)| forward(&params, x).cross_entropy(y));
        let terms: Vec<(f64, Vec<Array>)> =
            eager_terms.iter().map(|(w, (x, y))| (*w, vec![x.value().clone(), one_hot(y, k)])).collect();
        let (cv, cg) = sum
            .value_and_grad(&terms, &refs, &|data| forward(&params, &data[0]).cross_entropy_targets(&data[1]))
            .expect("a ReLU MLP compiles");
        assert_eq!(cv.to_bits(), ev.to_bits());
        assert_eq!(bits(&cg), bits(&eg));
        // a gradient step, so that the next batch replays at new parameters
        params = params
            .iter()
            .zip(&cg)
            .map(|(p, g)| Tensor::param(p.value().binary(odl_tensor::BinaryOp::Sub, g)))
            .collect();
    }
    assert!(sum.refused().is_none());
    // cross-entropy by label index gathers at fixed indices: refused, and
    // every later call says so
    let x = Array::zeros(&[2, 2], DType::F32);
    let terms = vec![(1.0, vec![x])];
    let refs: Vec<&Tensor> = params.iter().collect();
    let by_label = |data: &[Tensor]| data[0].mul(&params[3].sum_all()).cross_entropy(&[1, 0]);
    let mut sum = CompiledSum::new();
    assert!(sum.value_and_grad(&terms, &refs, &by_label).is_none());
    assert_eq!(sum.refused(), Some(&CompileError::Unsupported("Take".into())));
    assert!(sum.value_and_grad(&terms, &refs, &by_label).is_none());
}

/// A CNN's training step — conv, ReLU, 2×2 max pooling (and a 3×3/2 one,
/// whose windows overlap), a linear layer, cross-entropy against one-hot
/// targets — replays bit for bit like eager execution: value, every
/// parameter's gradient, at new data and new parameters each time (the
/// window maxima move). Ties included: ReLU zeros fill whole windows.
#[test]
fn a_cnn_step_with_max_pooling_replays_bit_for_bit() {
    let mut rng = Rng::seed(11);
    let (n, c, o, k) = (3, 2, 4, 5);
    let shapes: [Vec<usize>; 5] = [vec![o, c, 3, 3], vec![o], vec![o, o, 3, 3], vec![k, o * 2 * 2], vec![k]];
    let params: Vec<Tensor> =
        shapes.iter().map(|s| Tensor::param(rng.normal(s, 0.0, 0.5, DType::F32))).collect();
    let step = |p: &[Tensor], data: &[Tensor]| {
        let h = data[0].conv2d(&p[0], 1, 1).add(&p[1].reshape(&[1, o, 1, 1])).relu().max_pool2d(2, 2);
        let h = h.conv2d(&p[2], 1, 1).relu().max_pool2d(3, 2); // 5×5 → 2×2, overlapping windows
        let y = h.reshape(&[n, o * 2 * 2]).linear(&p[3], Some(&p[4]));
        let loss = y.cross_entropy_targets(&data[1]);
        let mut out = vec![loss.clone()];
        out.extend(grad(&loss, &p.iter().collect::<Vec<_>>()));
        out
    };
    let batch = |rng: &mut Rng| {
        let x = rng.normal(&[n, c, 10, 10], 0.0, 1.0, DType::F32);
        let labels: Vec<usize> = (0..n).map(|_| rng.below(k)).collect();
        vec![x, one_hot(&labels, k)]
    };
    let first: Vec<Tensor> = batch(&mut rng).into_iter().map(Tensor::constant).collect();
    let mut c = Compiled::trace_with(&[params.clone(), first.clone()].concat(), || step(&params, &first))
        .expect("a CNN with max pooling compiles");
    for _ in 0..4 {
        let moved: Vec<Array> = params
            .iter()
            .map(|p| {
                p.value().binary(odl_tensor::BinaryOp::Add, &rng.normal(p.shape(), 0.0, 0.3, DType::F32))
            })
            .collect();
        let data = batch(&mut rng);
        let eager_p: Vec<Tensor> = moved.iter().cloned().map(Tensor::param).collect();
        let eager_d: Vec<Tensor> = data.iter().cloned().map(Tensor::constant).collect();
        let eager: Vec<Array> = step(&eager_p, &eager_d).iter().map(|t| t.value().clone()).collect();
        let replayed = c.run(&[moved, data].concat());
        assert_eq!(bits(&replayed), bits(&eager));
    }
}
