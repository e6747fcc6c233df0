//! The lab's training loops, all on odl-train's one step
//! ([`odl_train::train_step`], [`odl_train::minimize_step`]) and evaluator
//! ([`odl_train::evaluate`]): experiments only need the curves, so nothing
//! is written to disk here.

use odl_autodiff::{no_grad, CompiledSum, Tensor};
use odl_data::Dataset;
use odl_nn::{Ctx, Module};
use odl_optim::{Chain, Transform};
use odl_tensor::{Array, DType, Rng};
use odl_train::data::{model_input, one_hot};
use odl_train::{evaluate, minimize_step, train_step, train_step_compiled, Diverged, StepStats};

/// How to train.
#[derive(Clone, Copy, Debug)]
pub struct TrainConfig {
    /// passes over the training set at most
    pub epochs: usize,
    /// mini-batch size
    pub batch: usize,
    /// stop once the training accuracy (measured at each evaluation) reaches this
    pub stop_at_train_acc: Option<f64>,
    /// seed of the batch order and of dropout/noise
    pub seed: u64,
    /// evaluate on the training set after every `eval_every`-th epoch (0: only
    /// before the first and after the last epoch, which are always evaluated)
    pub eval_every: usize,
    /// evaluate on the test set at every `test_every`-th training-set
    /// evaluation (0: only before the first and after the last epoch)
    pub test_every: usize,
    /// evaluate at all (`false`: the history has the mini-batch losses only)
    pub evaluate: bool,
}

impl TrainConfig {
    /// `epochs` passes in mini-batches of `batch`, evaluated after every epoch.
    pub fn new(epochs: usize, batch: usize, seed: u64) -> TrainConfig {
        TrainConfig {
            epochs,
            batch,
            stop_at_train_acc: None,
            seed,
            eval_every: 1,
            test_every: 1,
            evaluate: true,
        }
    }
    /// Stops once the training accuracy reaches `acc`.
    pub fn stop_at(self, acc: f64) -> TrainConfig {
        TrainConfig { stop_at_train_acc: Some(acc), ..self }
    }
    /// Evaluates only before and after training (for runs that need the end points only).
    pub fn ends_only(self) -> TrainConfig {
        TrainConfig { eval_every: 0, test_every: 0, ..self }
    }
    /// Does not evaluate (for runs that use the trained model, not its curves).
    pub fn without_evaluation(self) -> TrainConfig {
        TrainConfig { evaluate: false, ..self }
    }
    /// Evaluates on the test set at every `k`-th evaluation only (0: at the ends).
    pub fn test_every(self, k: usize) -> TrainConfig {
        TrainConfig { test_every: k, ..self }
    }
}

/// What happened, per evaluation (index 0 is before training).
#[derive(Clone, Debug, Default)]
pub struct History {
    /// the epochs after which the training set was evaluated (0: before training)
    pub eval_epochs: Vec<usize>,
    /// mean training loss (evaluation mode) at each of `eval_epochs`
    pub train_loss: Vec<f64>,
    /// training accuracy at each of `eval_epochs`
    pub train_acc: Vec<f64>,
    /// the epochs after which the test set was evaluated
    pub test_epochs: Vec<usize>,
    /// test accuracy at each of `test_epochs` (empty without a test set)
    pub test_acc: Vec<f64>,
    /// the first epoch after which `stop_at_train_acc` was reached
    pub epochs_to_fit: Option<usize>,
    /// the loss became NaN/∞ (training stopped there)
    pub diverged: bool,
    /// the mini-batch loss of every step (training mode)
    pub batch_loss: Vec<f64>,
    /// whether the steps were traced once and replayed (else eager)
    pub compiled: bool,
}

/// Trains `model` with cross-entropy and `opt`; `progress(epoch fraction)`.
/// `in_shape` is one example's shape as the model sees it (`None`: flat).
/// The step is traced once and replayed where the model allows it (no
/// random draws, no running statistics, no gathers: see
/// [`odl_train::train_step_compiled`]) — the same numbers, bit for bit, as
/// the eager step it falls back to.
pub fn train_classifier(
    model: &mut (dyn Module + 'static),
    opt: &mut Chain,
    train: &Dataset,
    test: Option<&Dataset>,
    in_shape: Option<&[usize]>,
    cfg: &TrainConfig,
    progress: &dyn Fn(f64),
) -> History {
    let eager = |m: &mut (dyn Module + 'static), opt: &mut Chain, x: &Array, y: &[usize], ctx: &mut Ctx| {
        let l = m.forward(&model_input(x, in_shape), ctx).cross_entropy(y);
        train_step(m, opt, |_| l, false)
    };
    let mut sum = (model.named_buffers().is_empty() && !model.couples_examples() && !train.is_empty())
        .then(CompiledSum::new);
    // the one-hot width is the model's output width (a head may be wider than the data's classes)
    let classes = if sum.is_some() {
        let first = train.subset(&[0]);
        no_grad(|| model.forward(&model_input(&first.x, in_shape), &mut Ctx::eval()).shape().to_vec())
            .get(1)
            .copied()
            .unwrap_or(0)
    } else {
        0
    };
    let mut step =
        |m: &mut (dyn Module + 'static), opt: &mut Chain, x: &Array, y: &[usize], _: u64, ctx: &mut Ctx| {
            if let Some(s) = sum.as_mut() {
                let dtype = m.params().first().map_or(DType::F32, |p| p.dtype());
                let terms =
                    vec![(1.0, vec![model_input(x, in_shape).value().clone(), one_hot(y, classes, dtype)])];
                let rng = ctx.rng.clone();
                let done = train_step_compiled(
                    m,
                    opt,
                    s,
                    &terms,
                    &|m, d| {
                        m.forward(&d[0], &mut Ctx { train: true, rng: rng.clone() })
                            .cross_entropy_targets(&d[1])
                    },
                    false,
                );
                match done {
                    Some(stats) => return stats,
                    None => sum = None,
                }
            }
            eager(m, opt, x, y, ctx)
        };
    let mut h = run_epochs(model, opt, train, test, in_shape, cfg, &mut step, progress);
    h.compiled = sum.is_some();
    h
}

/// A network seen as a `dyn Module` (any sized module, and `dyn Module`
/// itself), so that a training loss can take the concrete type.
pub trait AsModule {
    /// `self` as a trait object.
    fn as_module(&mut self) -> &mut dyn Module;
}

impl<T: Module> AsModule for T {
    fn as_module(&mut self) -> &mut dyn Module {
        self
    }
}

impl AsModule for dyn Module {
    fn as_module(&mut self) -> &mut dyn Module {
        self
    }
}

/// A training loss `(model, x, labels, step, ctx) ↦ loss` of one batch.
pub type BatchLoss<'a, M> = dyn FnMut(&mut M, &Array, &[usize], u64, &mut Ctx) -> Tensor + 'a;

/// [`train_classifier`] with another training loss:
/// `loss(model, x, labels, step, ctx)` of a batch (`x` as the data set holds
/// it); the recorded losses and accuracies stay the clean cross-entropy's.
#[allow(clippy::too_many_arguments)]
pub fn train_classifier_with<M: AsModule + ?Sized>(
    model: &mut M,
    opt: &mut Chain,
    train: &Dataset,
    test: Option<&Dataset>,
    in_shape: Option<&[usize]>,
    cfg: &TrainConfig,
    loss: &mut BatchLoss<'_, M>,
    progress: &dyn Fn(f64),
) -> History {
    let mut step = |m: &mut M, opt: &mut Chain, x: &Array, y: &[usize], k: u64, ctx: &mut Ctx| {
        let l = loss(m, x, y, k, ctx);
        train_step(m.as_module(), opt, |_| l, false)
    };
    run_epochs(model, opt, train, test, in_shape, cfg, &mut step, progress)
}

/// One optimizer step on a batch `(model, opt, x, labels, step, ctx)`.
type BatchStep<'a, M> =
    dyn FnMut(&mut M, &mut Chain, &Array, &[usize], u64, &mut Ctx) -> Result<StepStats, Diverged> + 'a;

/// The epochs of [`train_classifier_with`], one `step` per batch.
#[allow(clippy::too_many_arguments)]
fn run_epochs<M: AsModule + ?Sized>(
    model: &mut M,
    opt: &mut Chain,
    train: &Dataset,
    test: Option<&Dataset>,
    in_shape: Option<&[usize]>,
    cfg: &TrainConfig,
    step_fn: &mut BatchStep<'_, M>,
    progress: &dyn Fn(f64),
) -> History {
    let mut h = History::default();
    let every = |k: usize, i: usize| k > 0 && i.is_multiple_of(k);
    let eval_train = |model: &mut M, h: &mut History, epoch: usize| {
        let e = evaluate(model.as_module(), train, in_shape, 0.0);
        h.eval_epochs.push(epoch);
        h.train_loss.push(e.loss);
        h.train_acc.push(e.accuracy);
    };
    let eval_test = |model: &mut M, h: &mut History, epoch: usize| {
        if let Some(t) = test {
            h.test_epochs.push(epoch);
            h.test_acc.push(evaluate(model.as_module(), t, in_shape, 0.0).accuracy);
        }
    };
    if cfg.evaluate {
        eval_train(model, &mut h, 0);
        eval_test(model, &mut h, 0);
    }
    let mut step = 0u64;
    for epoch in 0..cfg.epochs {
        for b in train.batches(cfg.batch, cfg.seed.wrapping_add(epoch as u64 * 0x9E37_79B9)) {
            let mut ctx = Ctx { train: true, rng: Rng::stream(cfg.seed, step) };
            let stats = step_fn(model, opt, &b.x, b.labels(), step, &mut ctx);
            step += 1;
            match stats {
                Ok(s) => h.batch_loss.push(s.loss),
                Err(d) => {
                    h.batch_loss.push(d.loss);
                    h.diverged = true;
                    return h;
                }
            }
        }
        let done = epoch + 1;
        progress(done as f64 / cfg.epochs as f64);
        let last = done == cfg.epochs;
        if !cfg.evaluate || (!last && !every(cfg.eval_every, done)) {
            continue;
        }
        eval_train(model, &mut h, done);
        let (loss, acc) = (h.train_loss[h.train_loss.len() - 1], h.train_acc[h.train_acc.len() - 1]);
        let fits = cfg.stop_at_train_acc.is_some_and(|t| acc >= t);
        // the epoch where a run ends always has its test accuracy
        if last || fits || !loss.is_finite() || every(cfg.test_every, h.eval_epochs.len() - 1) {
            eval_test(model, &mut h, done);
        }
        if !loss.is_finite() {
            h.diverged = true;
            break;
        }
        if fits {
            h.epochs_to_fit = Some(done);
            break;
        }
    }
    h
}

/// Minimizes `f` (a scalar function of parameter tensors) from `theta0` with
/// `opt` for `steps` steps; returns the loss before each step and after the
/// last (`steps + 1` values; a non-finite loss ends the run there).
pub fn optimize(
    f: &dyn Fn(&[Tensor]) -> Tensor,
    theta0: &[Array],
    opt: &mut Chain,
    steps: usize,
) -> (Vec<f64>, Vec<Array>) {
    optimize_until(f, theta0, opt, steps, &|_| false)
}

/// [`optimize`] that also stops as soon as `done(losses)` holds for the
/// losses so far (then the last loss is the one that satisfied it, and no
/// step is taken from there).
pub fn optimize_until(
    f: &dyn Fn(&[Tensor]) -> Tensor,
    theta0: &[Array],
    opt: &mut Chain,
    steps: usize,
    done: &dyn Fn(&[f64]) -> bool,
) -> (Vec<f64>, Vec<Array>) {
    let mut theta = theta0.to_vec();
    let mut losses = Vec::with_capacity(steps + 1);
    for _ in 0..steps {
        match minimize_step(f, &mut theta, opt) {
            Ok(l) => losses.push(l),
            Err(d) => {
                losses.push(d.loss);
                return (losses, theta);
            }
        }
        if done(&losses) {
            return (losses, theta);
        }
    }
    let ps: Vec<Tensor> = theta.iter().map(|a| Tensor::param(a.clone())).collect();
    losses.push(f(&ps).item());
    (losses, theta)
}

/// Runs an optimizer on a flat f64 vector with a hand-written gradient:
/// `x ← x + opt(∇f(x))` until `done(x, k)` or `cap` steps. Returns the
/// iterations taken (`None` if `cap` was reached or `x` became non-finite)
/// and the final point.
pub fn iterate(
    grad_f: &mut dyn FnMut(&[f64]) -> Vec<f64>,
    x0: &[f64],
    opt: &mut Chain,
    done: &mut dyn FnMut(&[f64], usize) -> bool,
    cap: usize,
) -> (Option<usize>, Vec<f64>) {
    let n = x0.len();
    let mut x = vec![Array::from_f64(x0, &[n], DType::F64)];
    for k in 0..=cap {
        let xv = x[0].to_vec_f64();
        if xv.iter().any(|v| !v.is_finite()) {
            return (None, xv);
        }
        if done(&xv, k) {
            return (Some(k), xv);
        }
        if k == cap {
            return (None, xv);
        }
        opt.step(&mut x, vec![Array::from_f64(&grad_f(&xv), &[n], DType::F64)]);
    }
    unreachable!("the loop returns at k == cap")
}

/// A ReLU MLP of `depth` hidden layers of `width` units, plain or with
/// residual blocks (branch scale 1/√depth, which keeps the forward signal of
/// a deep residual ReLU net bounded at He initialization).
pub fn relu_mlp(
    d_in: usize,
    width: usize,
    depth: usize,
    classes: usize,
    residual: bool,
    seed: u64,
) -> odl_nn::Sequential {
    let mut w = vec![d_in];
    w.extend(std::iter::repeat_n(width, depth));
    w.push(classes);
    let mut cfg = odl_nn::MlpConfig::new(&w, odl_nn::Activation::Relu);
    cfg.init = odl_nn::Init::KaimingNormal(2f64.sqrt());
    cfg.residual = residual;
    cfg.residual_scale = 1.0 / (depth as f64).sqrt();
    cfg.build(&mut Rng::seed(seed), DType::F32)
}

/// The CNN of `specs/fashion-mnist-cnn.toml` for flat `side × side` grey
/// images: unflatten, then per entry of `channels` a 3×3 convolution ("same"
/// padding), ReLU and 2×2 max pooling, then a linear map to `classes`
/// logits; Kaiming-normal weights (gain √2) from `seed`.
pub fn relu_cnn(side: usize, channels: &[usize], classes: usize, seed: u64) -> odl_nn::Sequential {
    use odl_nn::{Activation, Conv2d, Flatten, Init, Linear, Pool2d, Sequential, Unflatten};
    let mut rng = Rng::seed(seed);
    let init = Init::KaimingNormal(2f64.sqrt());
    let mut net = Sequential::new();
    net.push(Unflatten(vec![1, side, side]));
    let (mut c, mut s) = (1, side);
    for &ch in channels {
        net.push(Conv2d::new(c, ch, 3, 1, 1, true, &init, &mut rng, DType::F32));
        net.push(Activation::Relu);
        net.push(Pool2d::Max(2, 2));
        (c, s) = (ch, s / 2);
    }
    net.push(Flatten);
    net.push(Linear::new(c * s * s, classes, true, &init, None, &mut rng, DType::F32));
    net
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The replayed step of `train_classifier` against the eager one of
    /// `train_classifier_with` on the same cross-entropy: identical runs.
    #[test]
    fn the_compiled_classifier_step_equals_the_eager_one_bit_for_bit() {
        let mut data = odl_data::synthetic::gaussian_mixture(90, 3, 5, 2.0, 1.0, 4);
        data.x = data.x.cast(DType::F32);
        let cfg = TrainConfig::new(3, 20, 9);
        // plain and residual ReLU nets (a residual block's sum and scale compile too)
        for residual in [false, true] {
            let run = |compiled: bool| {
                let mut m = relu_mlp(5, 16, 3, 3, residual, 1);
                let mut opt = odl_optim::momentum(0.05, 0.9);
                if compiled {
                    train_classifier(&mut m, &mut opt, &data, None, None, &cfg, &|_| ())
                } else {
                    let mut ce =
                        |m: &mut odl_nn::Sequential, x: &Array, y: &[usize], _: u64, ctx: &mut Ctx| {
                            m.forward(&model_input(x, None), ctx).cross_entropy(y)
                        };
                    train_classifier_with(&mut m, &mut opt, &data, None, None, &cfg, &mut ce, &|_| ())
                }
            };
            let (c, e) = (run(true), run(false));
            assert!(c.compiled && !e.compiled);
            assert_eq!(c.batch_loss.len(), 3 * 5, "90 examples in batches of 20, three epochs");
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&c.batch_loss), bits(&e.batch_loss), "residual = {residual}");
            assert_eq!(bits(&c.train_loss), bits(&e.train_loss));
        }
    }

    /// Sparse evaluation changes what is measured, never the training: the
    /// evaluated epochs carry the same numbers as in a run evaluated after
    /// every epoch, the test set is evaluated where asked and where the run
    /// ends, and a run without evaluation takes the same steps.
    #[test]
    fn sparse_evaluation_records_the_same_numbers_at_fewer_epochs() {
        let mut all = odl_data::synthetic::gaussian_mixture(180, 3, 5, 2.0, 1.0, 4);
        all.x = all.x.cast(DType::F32);
        let (data, test) = all.split(2.0 / 3.0, 5);
        let run = |cfg: TrainConfig| {
            let mut m = relu_mlp(5, 16, 2, 3, false, 1);
            train_classifier(
                &mut m,
                &mut odl_optim::momentum(0.05, 0.9),
                &data,
                Some(&test),
                None,
                &cfg,
                &|_| (),
            )
        };
        let full = run(TrainConfig::new(7, 20, 3));
        assert_eq!(full.eval_epochs, (0..=7).collect::<Vec<_>>());
        assert_eq!(full.test_epochs, full.eval_epochs);
        let sparse = run(TrainConfig { eval_every: 2, test_every: 2, ..TrainConfig::new(7, 20, 3) });
        // training set after epochs 2, 4, 6 and the last; the test set at every second of those and at the end
        assert_eq!(sparse.eval_epochs, [0, 2, 4, 6, 7]);
        assert_eq!(sparse.test_epochs, [0, 4, 7]);
        let at = |h: &History, epochs: &[usize], v: &[f64]| -> Vec<u64> {
            epochs.iter().map(|e| v[h.eval_epochs.iter().position(|x| x == e).unwrap()].to_bits()).collect()
        };
        assert_eq!(
            at(&full, &sparse.eval_epochs, &full.train_loss),
            at(&sparse, &sparse.eval_epochs, &sparse.train_loss)
        );
        let test_at = |h: &History, e: usize| h.test_acc[h.test_epochs.iter().position(|x| *x == e).unwrap()];
        for &e in &sparse.test_epochs {
            assert_eq!(
                test_at(&full, e).to_bits(),
                test_at(&sparse, e).to_bits(),
                "test accuracy after epoch {e}"
            );
        }
        let ends = run(TrainConfig::new(7, 20, 3).ends_only());
        assert_eq!((ends.eval_epochs.as_slice(), ends.test_epochs.as_slice()), (&[0, 7][..], &[0, 7][..]));
        let none = run(TrainConfig::new(7, 20, 3).without_evaluation());
        assert!(none.train_loss.is_empty() && none.test_acc.is_empty());
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&none.batch_loss), bits(&full.batch_loss));
        // a run that stops early has its test accuracy where it stopped
        let stop = full.train_acc[1..].iter().position(|a| *a >= full.train_acc[3]).unwrap() + 1;
        let early =
            run(TrainConfig { test_every: 0, ..TrainConfig::new(7, 20, 3).stop_at(full.train_acc[3]) });
        assert_eq!(early.epochs_to_fit, Some(stop));
        assert_eq!(early.test_epochs, [0, stop]);
    }
}
