//! The lab's training loops, all on odl-train's one step
//! ([`odl_train::train_step`], [`odl_train::minimize_step`]) and evaluator
//! ([`odl_train::evaluate`]): experiments only need the curves, so nothing
//! is written to disk here.

use odl_autodiff::Tensor;
use odl_data::Dataset;
use odl_nn::{Ctx, Module};
use odl_optim::{Chain, Transform};
use odl_tensor::{Array, DType, Rng};
use odl_train::data::model_input;
use odl_train::{evaluate, minimize_step, train_step};

/// How to train.
pub struct TrainConfig {
    /// passes over the training set at most
    pub epochs: usize,
    /// mini-batch size
    pub batch: usize,
    /// stop once the training accuracy (measured after each epoch) reaches this
    pub stop_at_train_acc: Option<f64>,
    /// seed of the batch order and of dropout/noise
    pub seed: u64,
}

/// What happened, per epoch (index 0 is before training).
#[derive(Clone, Debug, Default)]
pub struct History {
    /// mean training loss (evaluation mode) after each epoch
    pub train_loss: Vec<f64>,
    /// training accuracy after each epoch
    pub train_acc: Vec<f64>,
    /// test accuracy after each epoch (empty without a test set)
    pub test_acc: Vec<f64>,
    /// the first epoch after which `stop_at_train_acc` was reached
    pub epochs_to_fit: Option<usize>,
    /// the loss became NaN/∞ (training stopped there)
    pub diverged: bool,
    /// the mini-batch loss of every step (training mode)
    pub batch_loss: Vec<f64>,
}

/// Trains `model` with cross-entropy and `opt`; `progress(epoch fraction)`.
/// `in_shape` is one example's shape as the model sees it (`None`: flat).
pub fn train_classifier(
    model: &mut (dyn Module + 'static),
    opt: &mut Chain,
    train: &Dataset,
    test: Option<&Dataset>,
    in_shape: Option<&[usize]>,
    cfg: &TrainConfig,
    progress: &dyn Fn(f64),
) -> History {
    let mut ce = |m: &mut (dyn Module + 'static), x: &Array, y: &[usize], _: u64, ctx: &mut Ctx| {
        m.forward(&model_input(x, in_shape), ctx).cross_entropy(y)
    };
    train_classifier_with(model, opt, train, test, in_shape, cfg, &mut ce, progress)
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
    let mut h = History::default();
    let record = |model: &mut M, h: &mut History| {
        let e = evaluate(model.as_module(), train, in_shape, 0.0);
        h.train_loss.push(e.loss);
        h.train_acc.push(e.accuracy);
        if let Some(t) = test {
            h.test_acc.push(evaluate(model.as_module(), t, in_shape, 0.0).accuracy);
        }
    };
    record(model, &mut h);
    let mut step = 0u64;
    for epoch in 0..cfg.epochs {
        for b in train.batches(cfg.batch, cfg.seed.wrapping_add(epoch as u64 * 0x9E37_79B9)) {
            let mut ctx = Ctx { train: true, rng: Rng::stream(cfg.seed, step) };
            let l = loss(model, &b.x, b.labels(), step, &mut ctx);
            step += 1;
            match train_step(model.as_module(), opt, |_| l, false) {
                Ok(s) => h.batch_loss.push(s.loss),
                Err(d) => {
                    h.batch_loss.push(d.loss);
                    h.diverged = true;
                    return h;
                }
            }
        }
        record(model, &mut h);
        progress((epoch + 1) as f64 / cfg.epochs as f64);
        let last = *h.train_acc.last().expect("recorded");
        if !h.train_loss.last().expect("recorded").is_finite() {
            h.diverged = true;
            break;
        }
        if let Some(t) = cfg.stop_at_train_acc {
            if last >= t {
                h.epochs_to_fit = Some(epoch + 1);
                break;
            }
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
