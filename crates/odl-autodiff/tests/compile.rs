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

#[test]
fn graphs_that_would_replay_stale_values_are_refused() {
    let x = Array::from_vec(vec![0.5f64, -1.0, 2.0], &[3]);
    let one =
        |f: &dyn Fn(&Tensor) -> Vec<Tensor>| Compiled::trace(std::slice::from_ref(&x), |p| f(&p[0])).err();
    // ReLU's value replays (an elementwise max), its gradient's mask would not
    assert_eq!(one(&|p| vec![p.relu().sum_all()]), None);
    assert_eq!(one(&|p| grad_graph(&p.relu().sum_all(), &[p])), Some(CompileError::Derived));
    // `where` carries its mask in the op
    let mask = Tensor::constant(Array::from_vec(vec![1.0, 0.0, 1.0], &[3]));
    assert_eq!(
        one(&|p| vec![Tensor::where_(&mask, p, &p.neg()).sum_all()]),
        Some(CompileError::Unsupported("Where".into()))
    );
    // a gradient taken without create_graph is a constant computed from the input
    assert_eq!(one(&|p| grad(&p.exp().sum_all(), &[p])), Some(CompileError::Derived));
    // clamp's gradient multiplies by an in-range mask computed from the values
    assert_eq!(one(&|p| grad_graph(&p.clamp(-1.0, 1.0).sum_all(), &[p])), Some(CompileError::Derived));
    // a detached value is a constant that depends on the input
    assert_eq!(one(&|p| vec![p.sub(&p.detach()).sum_all()]), Some(CompileError::Derived));
    // cross-entropy picks logits by label index (and logsumexp shifts by a detached max)
    assert!(one(&|p| vec![p.reshape(&[1, 3]).cross_entropy(&[1])]).is_some());
    // a gather by index alone
    assert_eq!(
        one(&|p| vec![p.gather(0, &[2, 0], &[2]).sum_all()]),
        Some(CompileError::Unsupported("Take".into()))
    );
    // numbers read out while tracing
    assert_eq!(one(&|p| vec![p.mul_scalar(p.sum_all().item())]), Some(CompileError::ReadWhileTracing));
    // literal constants and data made before tracing are fine
    let data = Tensor::constant(Array::from_vec(vec![1.0, 2.0, 3.0], &[3]));
    assert_eq!(one(&|p| vec![p.mul(&data).add_scalar(1.0).exp().sum_all()]), None);
}
