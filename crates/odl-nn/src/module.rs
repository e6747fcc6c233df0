//! The [`Module`] trait: a layer or network with named parameters (and, for
//! BatchNorm, running statistics) and a forward pass that knows whether it is
//! training.

use odl_autodiff::Tensor;
use odl_tensor::{Array, Rng};

use crate::activation::Activation;

/// What a layer is, for probes that read per-layer statistics.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LayerKind {
    /// a linear map (Linear, Conv2d): its output is a pre-activation
    Affine,
    /// an elementwise nonlinearity
    Activation(Activation),
    /// BatchNorm or LayerNorm
    Norm,
    /// a parameter-free linear map at evaluation: Flatten, Unflatten,
    /// nearest upsampling, Dropout
    LinearMap,
    /// pooling over windows (`max`: the maximum, else the mean)
    Pool {
        /// max pooling (else average pooling)
        max: bool,
        /// window (rows, columns)
        window: (usize, usize),
        /// stride (rows, columns)
        stride: (usize, usize),
    },
    /// anything else
    Other,
    /// a residual block's sum `x + α·f(x)`
    Residual,
}

/// One layer's output, recorded by [`Module::forward_traced`].
pub struct Traced {
    /// the layer's name (the prefix of its parameters: `0.0`, `2`, …)
    pub name: String,
    /// what the layer is
    pub kind: LayerKind,
    /// its output on this pass (part of the graph)
    pub output: Tensor,
}

/// Whether a forward pass trains (batch statistics, dropout) or evaluates,
/// and the generator for the random parts (dropout masks, BN noise).
pub struct Ctx {
    /// training mode
    pub train: bool,
    /// the seeded generator for dropout masks and BN noise
    pub rng: Rng,
}

impl Ctx {
    /// A training context seeded with `seed`.
    pub fn train(seed: u64) -> Ctx {
        Ctx { train: true, rng: Rng::seed(seed) }
    }

    /// An evaluation context (no randomness is drawn).
    pub fn eval() -> Ctx {
        Ctx { train: false, rng: Rng::seed(0) }
    }
}

/// A boxed copy of a module: what [`Module`] needs to hand out replicas.
/// Every `Module + Clone` has it; nothing implements it by hand.
pub trait Replicate {
    /// A copy of this module that shares its parameters — the same graph
    /// leaves, so gradients with respect to the original's
    /// [`Module::params`] flow through the copy's forward passes — and owns
    /// copies of its buffers. Data parallelism runs one replica per shard of
    /// a batch.
    fn replica(&self) -> Box<dyn Module>;
}

impl<T: Module + Clone + 'static> Replicate for T {
    fn replica(&self) -> Box<dyn Module> {
        Box::new(self.clone())
    }
}

impl Clone for Box<dyn Module> {
    fn clone(&self) -> Box<dyn Module> {
        self.replica()
    }
}

/// A layer or a network.
pub trait Module: Send + Replicate {
    /// The forward pass.
    fn forward(&mut self, x: &Tensor, ctx: &mut Ctx) -> Tensor;

    /// Parameters with PyTorch-style names (`weight`, `bias`, `0.weight`, …).
    fn named_params(&self) -> Vec<(String, &Tensor)>;

    /// Mutable access to the parameters, in the order of [`Module::named_params`].
    fn params_mut(&mut self) -> Vec<&mut Tensor>;

    /// What this layer is (containers report the kinds of their children
    /// through [`Module::forward_traced`]).
    fn kind(&self) -> LayerKind {
        LayerKind::Other
    }

    /// The forward pass, recording every leaf layer's output under its name.
    /// Containers recurse; a leaf records itself.
    fn forward_traced(&mut self, x: &Tensor, ctx: &mut Ctx, name: &str, rec: &mut Vec<Traced>) -> Tensor {
        let y = self.forward(x, ctx);
        rec.push(Traced { name: name.to_string(), kind: self.kind(), output: y.clone() });
        y
    }

    /// Whether a training forward pass couples the examples of a batch or
    /// changes the module's state (BatchNorm's batch statistics and running
    /// averages, SpectralNorm's power iteration), so that a training step
    /// split into shards on replicas would not equal the unsplit one.
    /// Containers ask their children. Evaluation never couples examples.
    fn couples_examples(&self) -> bool {
        false
    }

    /// Named sub-modules of a container (`[]` for a leaf layer); names match
    /// those of [`Module::forward_traced`] and the parameter prefixes.
    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module)> {
        Vec::new()
    }

    /// Non-trainable state (BatchNorm's running statistics), named.
    fn named_buffers(&self) -> Vec<(String, &Array)> {
        Vec::new()
    }

    /// Mutable access to the buffers, in the order of [`Module::named_buffers`].
    fn buffers_mut(&mut self) -> Vec<&mut Array> {
        Vec::new()
    }

    /// The parameters, in order.
    fn params(&self) -> Vec<&Tensor> {
        self.named_params().into_iter().map(|(_, t)| t).collect()
    }

    /// Number of scalar parameters.
    fn num_params(&self) -> usize {
        self.params().iter().map(|t| t.numel()).sum()
    }

    /// The parameter values.
    fn param_values(&self) -> Vec<Array> {
        self.params().iter().map(|t| t.value().clone()).collect()
    }

    /// Runs `step` on the parameter values (an optimizer's update, in
    /// place), then makes the results the parameters. A value that nothing
    /// else holds (the step's graphs are gone) is moved out of its tensor, so
    /// the step writes into it without copying it first.
    #[track_caller]
    fn update_params(&mut self, step: &mut dyn FnMut(&mut [Array])) {
        let mut ps = self.params_mut();
        let shapes: Vec<Vec<usize>> = ps.iter().map(|p| p.shape().to_vec()).collect();
        let mut values: Vec<Array> = ps
            .iter_mut()
            .map(|p| {
                let empty = Tensor::param(Array::zeros(&[0], p.dtype()));
                std::mem::replace(&mut **p, empty).into_value()
            })
            .collect();
        step(&mut values);
        for ((p, v), shape) in ps.iter_mut().zip(values).zip(shapes) {
            assert_eq!(v.shape(), &shape[..], "update_params: the step changed a shape {shape:?}");
            **p = Tensor::param(v);
        }
    }

    /// Replaces the parameter values (same order and shapes), e.g. after an
    /// optimizer step.
    #[track_caller]
    fn set_param_values(&mut self, values: Vec<Array>) {
        let mut ps = self.params_mut();
        assert_eq!(
            ps.len(),
            values.len(),
            "set_param_values: {} values for {} parameters",
            values.len(),
            ps.len()
        );
        for (p, v) in ps.iter_mut().zip(values) {
            assert_eq!(
                p.shape(),
                v.shape(),
                "set_param_values: shape {:?} for a parameter of shape {:?}",
                v.shape(),
                p.shape()
            );
            **p = Tensor::param(v);
        }
    }
}

/// Prefixes names: `prefix.name`.
pub(crate) fn prefixed<'a, T>(prefix: &str, items: Vec<(String, &'a T)>) -> Vec<(String, &'a T)> {
    items.into_iter().map(|(n, t)| (format!("{prefix}.{n}"), t)).collect()
}
