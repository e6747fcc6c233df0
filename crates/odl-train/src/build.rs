//! A spec's network, optimizer and learning-rate schedule. The schedule is
//! built once, inside the optimizer; the learning rate a step used is read
//! back from the optimizer ([`odl_optim::Transform::learning_rate`]).

use anyhow::{bail, Result};
use odl_nn::{gain, Conv2d, Flatten, Init, Linear, MlpConfig, Norm, Pool2d, Sequential};
use odl_optim::schedule::{Cosine, Exponential, InvSqrt, MultiStep, OneCycle, Step, Warmup};
use odl_optim::{
    add_decayed_weights, chain, clip_by_global_norm, scale_by_adagrad, scale_by_adam, scale_by_learning_rate,
    scale_by_rms, trace, AdamConfig, Chain, Schedule, Transform,
};
use odl_tensor::{DType, Rng};

use crate::spec::{InitName, ModelKind, NormName, OptimName, OptimSpec, ScheduleKind, ScheduleSpec, Spec};

fn init(spec: &Spec) -> Init {
    let (name, slope) = spec.model.activation.gain_name();
    let g = gain(name, slope);
    match spec.model.init {
        InitName::TorchDefault => Init::TorchDefault,
        InitName::KaimingNormal => Init::KaimingNormal(g),
        InitName::XavierUniform => Init::XavierUniform(g),
        InitName::LecunNormal => Init::LecunNormal,
        InitName::Orthogonal => Init::Orthogonal(g),
    }
}

/// The network of `spec` for examples of shape `in_shape` and `classes`
/// outputs, initialized from `rng`.
pub fn model(spec: &Spec, in_shape: &[usize], classes: usize, rng: &mut Rng) -> Result<Sequential> {
    let act = spec.model.activation;
    let init = init(spec);
    match spec.model.kind {
        ModelKind::Mlp => {
            let mut widths = vec![in_shape[0]];
            widths.extend(&spec.model.hidden);
            widths.push(classes);
            let cfg = MlpConfig {
                widths,
                activation: act,
                bias: spec.model.bias,
                norm: match spec.model.norm {
                    NormName::None => Norm::None,
                    NormName::Batch => Norm::Batch,
                    NormName::Layer => Norm::Layer,
                },
                residual: spec.model.residual,
                residual_scale: 1.0,
                init,
                bias_init: None,
            };
            Ok(cfg.build(rng, DType::F32))
        }
        ModelKind::Cnn => {
            let (mut c, mut h, mut w) = (in_shape[0], in_shape[1], in_shape[2]);
            let one_d = h == 1;
            let mut net = Sequential::new();
            for &ch in &spec.model.channels {
                if w < 2 || (!one_d && h < 2) {
                    bail!(
                        "model.channels: {} convolutions with 2× pooling shrink {:?} to nothing",
                        spec.model.channels.len(),
                        in_shape
                    );
                }
                if one_d {
                    // kernel 5 along the signal, "same" padding, then max-pool by 2
                    net.push(Conv2d::new_1d(c, ch, 5, spec.model.bias, &init, rng, DType::F32));
                    net.push(act);
                    net.push(Pool2d::Max1d(2));
                    (c, w) = (ch, w / 2);
                } else {
                    net.push(Conv2d::new(c, ch, 3, 1, 1, spec.model.bias, &init, rng, DType::F32));
                    net.push(act);
                    net.push(Pool2d::Max(2, 2));
                    (c, h, w) = (ch, h / 2, w / 2);
                }
            }
            net.push(Flatten);
            net.push(Linear::new(c * h * w, classes, spec.model.bias, &init, None, rng, DType::F32));
            Ok(net)
        }
    }
}

/// The learning-rate schedule of `spec` over a run of `total` steps.
pub fn schedule(spec: &Spec, total: usize) -> Box<dyn Schedule> {
    schedule_of(&spec.optim, &spec.schedule, total)
}

/// The schedule `s` of the optimizer `o`'s peak rate over `total` steps.
pub fn schedule_of(o: &OptimSpec, s: &ScheduleSpec, total: usize) -> Box<dyn Schedule> {
    let lr = o.lr;
    let after = total.saturating_sub(s.warmup).max(1);
    let base: Box<dyn Schedule> = match s.kind {
        ScheduleKind::Constant => Box::new(lr),
        ScheduleKind::Step => {
            Box::new(Step { lr, every: s.every.unwrap_or(1), gamma: s.gamma.unwrap_or(1.0) })
        }
        ScheduleKind::Multistep => {
            Box::new(MultiStep { lr, milestones: s.milestones.clone(), gamma: s.gamma.unwrap_or(1.0) })
        }
        ScheduleKind::Exponential => Box::new(Exponential { lr, gamma: s.gamma.unwrap_or(1.0) }),
        ScheduleKind::InvSqrt => Box::new(InvSqrt { lr }),
        ScheduleKind::Cosine => Box::new(Cosine { lr, total: after, min_lr: s.min_lr }),
        ScheduleKind::OneCycle => Box::new(OneCycle::new(lr, after)),
    };
    if s.warmup > 0 {
        Box::new(Warmup { steps: s.warmup, then: base })
    } else {
        base
    }
}

/// The optimizer of `spec` (with its schedule) over a run of `total` steps:
/// clipping, coupled weight decay, the method's scaling, decoupled decay
/// (AdamW), the learning rate — in that order, as PyTorch applies them.
pub fn optimizer(spec: &Spec, total: usize) -> Chain {
    optimizer_of(&spec.optim, &spec.schedule, total)
}

/// The optimizer `o` with schedule `s` over a run of `total` steps (see
/// [`optimizer`]).
pub fn optimizer_of(o: &OptimSpec, s: &ScheduleSpec, total: usize) -> Chain {
    let mut parts: Vec<Box<dyn Transform>> = Vec::new();
    if let Some(c) = o.clip_norm {
        parts.push(Box::new(clip_by_global_norm(c)));
    }
    let coupled_decay = o.weight_decay > 0.0 && o.name != OptimName::Adamw;
    if coupled_decay {
        parts.push(Box::new(add_decayed_weights(o.weight_decay)));
    }
    let adam =
        |amsgrad| AdamConfig { b1: o.betas[0], b2: o.betas[1], eps: o.eps, bias_correction: true, amsgrad };
    match o.name {
        OptimName::Sgd => {}
        OptimName::Momentum => parts.push(Box::new(trace(o.momentum, false))),
        OptimName::Nesterov => parts.push(Box::new(trace(o.momentum, true))),
        OptimName::Adagrad => parts.push(Box::new(scale_by_adagrad(o.eps, 0.0))),
        OptimName::Rmsprop => parts.push(Box::new(scale_by_rms(o.betas[1], o.eps))),
        OptimName::Adam => parts.push(Box::new(scale_by_adam(adam(false)))),
        OptimName::Amsgrad => parts.push(Box::new(scale_by_adam(adam(true)))),
        OptimName::Adamw => {
            parts.push(Box::new(scale_by_adam(adam(false))));
            if o.weight_decay > 0.0 {
                parts.push(Box::new(add_decayed_weights(o.weight_decay)));
            }
        }
    }
    parts.push(Box::new(scale_by_learning_rate(schedule_of(o, s, total))));
    chain(parts)
}
