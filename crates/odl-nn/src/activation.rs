//! [`Activation`]: the elementwise nonlinearities, as a value (specs name
//! them: `activation = "relu"`) and as a layer.

use odl_autodiff::Tensor;

use crate::module::{Ctx, LayerKind, Module};

/// Elementwise activations.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Activation {
    /// `max(x, 0)`
    Relu,
    /// `x` or `slope·x`
    LeakyRelu(f64),
    /// `tanh x`
    Tanh,
    /// logistic
    Sigmoid,
    /// `log(1 + eˣ)`
    Softplus,
    /// GELU (tanh approximation)
    Gelu,
    /// `x`
    Identity,
}

impl Activation {
    /// Applies the activation.
    pub fn apply(self, x: &Tensor) -> Tensor {
        match self {
            Activation::Relu => x.relu(),
            Activation::LeakyRelu(s) => x.leaky_relu(s),
            Activation::Tanh => x.tanh(),
            Activation::Sigmoid => x.sigmoid(),
            Activation::Softplus => x.softplus(),
            Activation::Gelu => x.gelu(),
            Activation::Identity => x.clone(),
        }
    }

    /// The name PyTorch's `calculate_gain` uses.
    pub fn gain_name(self) -> (&'static str, f64) {
        match self {
            Activation::Relu => ("relu", 0.0),
            Activation::LeakyRelu(s) => ("leaky_relu", s),
            Activation::Tanh => ("tanh", 0.0),
            _ => ("linear", 0.0),
        }
    }
}

impl Module for Activation {
    fn kind(&self) -> LayerKind {
        LayerKind::Activation(*self)
    }
    fn forward(&mut self, x: &Tensor, _: &mut Ctx) -> Tensor {
        self.apply(x)
    }
    fn named_params(&self) -> Vec<(String, &Tensor)> {
        Vec::new()
    }
    fn params_mut(&mut self) -> Vec<&mut Tensor> {
        Vec::new()
    }
}
