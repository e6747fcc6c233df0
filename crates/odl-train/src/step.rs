//! The training step every trainer calls: the loss, its gradient with
//! respect to every parameter, the optimizer's step (fused over both threads
//! where the optimizer allows it, see [`Transform::step`]), the new values
//! written back. The loops around it (`odl train`, the lab's trainers) own
//! batching, logging, evaluation and checkpoints, nothing else.

use std::sync::Mutex;

use std::cell::RefCell;

use odl_autodiff::{grad, value_and_grad_of_sum, CompiledSum, Tensor, Term};
use odl_nn::Module;
use odl_optim::Transform;
use odl_tensor::{Array, DType};

/// A step whose loss was NaN or ±∞: nothing was updated. Training records
/// it as a result ("diverged at step k"), never as a crash.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Diverged {
    /// the non-finite loss
    pub loss: f64,
}

/// What one step measured.
#[derive(Clone, Debug, PartialEq)]
pub struct StepStats {
    /// the loss at the parameters before the step
    pub loss: f64,
    /// the L2 norm of each parameter's gradient, in the order of
    /// [`Module::named_params`] (empty unless asked for)
    pub grad_norms: Vec<f64>,
    sq_sum: f64,
}

impl StepStats {
    /// The global L2 norm of the gradient (NaN unless norms were asked for).
    pub fn grad_norm(&self) -> f64 {
        if self.grad_norms.is_empty() {
            f64::NAN
        } else {
            self.sq_sum.sqrt()
        }
    }
}

/// `Σ v²` of an array's elements in order, in f64 (as
/// [`odl_optim::global_norm`] adds them).
fn sq_sum(a: &Array) -> f64 {
    match a.dtype() {
        DType::F32 => lanes_sq_sum(a.as_slice::<f32>()),
        DType::F64 => lanes_sq_sum(a.as_slice::<f64>()),
    }
}

/// `Σ v²` in f64 over eight running sums (lane `i` takes the entries `≡ i
/// mod 8`), added up at the end: one sum would wait on each addition's
/// latency (measured: ~8 % of an MLP epoch); eight vectorize.
fn lanes_sq_sum<T: Copy + Into<f64>>(v: &[T]) -> f64 {
    odl_tensor::cpu::simd(
        #[inline(always)]
        || {
            let mut acc = [0.0f64; 8];
            let chunks = v.chunks_exact(8);
            let tail: f64 = chunks.remainder().iter().map(|&x| x.into() * x.into()).sum();
            for c in chunks {
                for (a, &x) in acc.iter_mut().zip(c) {
                    let x: f64 = x.into();
                    *a += x * x;
                }
            }
            acc.iter().sum::<f64>() + tail
        },
    )
}

/// One step on `model`: `loss_of(model)` (a forward pass and a loss, in
/// whatever mode the closure chooses), the gradient with respect to every
/// parameter, `θ ← θ + opt(∇)`. With `grad_norms`, the gradient's norms per
/// parameter are measured before the optimizer transforms it.
pub fn train_step(
    model: &mut dyn Module,
    opt: &mut dyn Transform,
    loss_of: impl FnOnce(&mut dyn Module) -> Tensor,
    grad_norms: bool,
) -> Result<StepStats, Diverged> {
    let loss = loss_of(model);
    let lv = loss.item();
    if !lv.is_finite() {
        return Err(Diverged { loss: lv });
    }
    let grads: Vec<Array> = grad(&loss, &model.params()).into_iter().map(|g| g.value().clone()).collect();
    // the graph goes before the update, so that nothing else holds the gradients
    drop(loss);
    Ok(update(model, opt, lv, grads, grad_norms))
}

/// [`train_step`] by data parallelism: the loss is `Σ_k w_k L_k` over
/// `shards = [(w_k, shard_k)]` (for a batch's mean loss cut into shards of
/// rows, `w_k` = shard size / batch size), and `loss_of(replica, shard_k, k)`
/// runs on a replica of `model` (a clone: its parameters are shared, see
/// [`odl_nn::Replicate`]) on the shard's share of the compute threads; the
/// gradients are summed in place. The sum equals the unsplit batch's loss
/// only for models that do not couple examples
/// ([`Module::couples_examples`]): the caller decides. One shard is
/// [`train_step`] itself.
pub fn train_step_sharded<M: Module + Clone, T: Sync>(
    model: &mut M,
    opt: &mut dyn Transform,
    shards: &[(f64, T)],
    loss_of: &(dyn Fn(&mut M, &T, usize) -> Tensor + Sync),
    grad_norms: bool,
) -> Result<StepStats, Diverged> {
    if let [(w, one)] = shards {
        assert_eq!(*w, 1.0, "train_step_sharded: a lone shard must weigh 1, not {w}");
        let loss = loss_of(model, one, 0);
        return train_step(model, opt, |_| loss, grad_norms);
    }
    // (weight, (shard index, shard, the replica it runs on))
    let work: Vec<Shard<'_, T, M>> =
        shards.iter().enumerate().map(|(k, (w, s))| (*w, (k, s, Mutex::new(model.clone())))).collect();
    let (lv, grads) = value_and_grad_of_sum(&work, &model.params(), &|(k, s, m)| {
        let mut m = m.lock().unwrap_or_else(|e| e.into_inner());
        loss_of(&mut m, s, *k)
    });
    drop(work);
    if !lv.is_finite() {
        return Err(Diverged { loss: lv });
    }
    Ok(update(model, opt, lv, grads, grad_norms))
}

/// [`train_step_sharded`] traced once and replayed ([`CompiledSum`]): the
/// shards are `terms = [(w_k, data_k)]` (the model's input rows and one-hot
/// targets, say) and `loss_of(model, data_k)` builds shard `k`'s loss from
/// the data as tensors. Traced on the first call for each shard shape,
/// replayed after that with the model's current parameters; the same losses,
/// gradients and updates as the eager step, bit for bit. `None` when the
/// loss cannot be compiled (`sum.refused()` says why; the caller steps
/// eagerly), with nothing updated. `loss_of` must be a pure function of the
/// parameters and the data — no random draws, no buffers written (a replay
/// does not call it); a model that draws (dropout) is refused by the trace.
pub fn train_step_compiled(
    model: &mut dyn Module,
    opt: &mut dyn Transform,
    sum: &mut CompiledSum,
    terms: &[Term],
    loss_of: &dyn Fn(&mut dyn Module, &[Tensor]) -> Tensor,
    grad_norms: bool,
) -> Option<Result<StepStats, Diverged>> {
    let params: Vec<Tensor> = model.params().into_iter().cloned().collect();
    let refs: Vec<&Tensor> = params.iter().collect();
    let (lv, grads) = {
        let m = RefCell::new(&mut *model);
        sum.value_and_grad(terms, &refs, &|data| loss_of(&mut **m.borrow_mut(), data))?
    };
    // the parameters' only other handles go, so the update writes in place
    drop(refs);
    drop(params);
    if !lv.is_finite() {
        return Some(Err(Diverged { loss: lv }));
    }
    Some(Ok(update(model, opt, lv, grads, grad_norms)))
}

/// One term of a sharded step: weight, shard index, shard, its replica.
type Shard<'a, T, M> = (f64, (usize, &'a T, Mutex<M>));

/// `θ ← θ + opt(∇)` on the model, with the gradient's norms first if asked.
fn update(
    model: &mut dyn Module,
    opt: &mut dyn Transform,
    lv: f64,
    grads: Vec<Array>,
    grad_norms: bool,
) -> StepStats {
    let sq: Vec<f64> = if grad_norms { grads.iter().map(sq_sum).collect() } else { Vec::new() };
    let mut grads = Some(grads);
    model.update_params(&mut |values| opt.step(values, grads.take().expect("one step")));
    StepStats { loss: lv, sq_sum: sq.iter().sum(), grad_norms: sq.iter().map(|s| s.sqrt()).collect() }
}

/// One step of minimizing `f`, a scalar function of parameter tensors, at
/// `theta`: returns `f(θ)` before the step.
pub fn minimize_step(
    f: &dyn Fn(&[Tensor]) -> Tensor,
    theta: &mut [Array],
    opt: &mut dyn Transform,
) -> Result<f64, Diverged> {
    let ps: Vec<Tensor> = theta.iter().map(|a| Tensor::param(a.clone())).collect();
    let loss = f(&ps);
    let lv = loss.item();
    if !lv.is_finite() {
        return Err(Diverged { loss: lv });
    }
    let grads: Vec<Array> =
        grad(&loss, &ps.iter().collect::<Vec<_>>()).into_iter().map(|g| g.value().clone()).collect();
    drop((loss, ps));
    opt.step(theta, grads);
    Ok(lv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eight_lane_square_sum_equals_the_plain_one() {
        let mut r = odl_tensor::Rng::seed(3);
        for n in (0..40).chain([1000, 4099]) {
            let v: Vec<f32> = (0..n).map(|_| r.normal_f64() as f32).collect();
            let plain: f64 = v.iter().map(|&x| x as f64 * x as f64).sum();
            let lanes = sq_sum(&Array::from_vec(v.clone(), &[n]));
            assert!((lanes - plain).abs() <= 1e-13 * plain.max(1.0), "n = {n}: {lanes} vs {plain}");
            // small integers: every partial sum is exact, so the order cannot matter
            let ints: Vec<f64> = (0..n).map(|i| (i % 7) as f64 - 3.0).collect();
            let exact: f64 = ints.iter().map(|x| x * x).sum();
            assert_eq!(sq_sum(&Array::from_vec(ints, &[n])), exact, "n = {n}");
        }
    }
}
