//! Fully connected networks from a compact description, in the course's two
//! forms: the standard form `f(x) = W_L σ(W_{L−1} ⋯ σ(W_1 x))` (`bias: false`)
//! and the recursive form `h_l = σ(W_l h_{l−1} + b_l)` (`bias: true`).

use odl_tensor::{DType, Rng};

use crate::activation::Activation;
use crate::init::Init;
use crate::layers::{BatchNorm, LayerNorm, Linear, Residual, Sequential};

/// Normalization after each hidden linear layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Norm {
    /// none
    None,
    /// BatchNorm (1-d)
    Batch,
    /// LayerNorm
    Layer,
}

/// A description of an MLP.
#[derive(Clone, Debug)]
pub struct MlpConfig {
    /// layer widths, input first and output last (`[784, 256, 10]` is one hidden layer)
    pub widths: Vec<usize>,
    /// activation between layers (none after the last)
    pub activation: Activation,
    /// whether linear layers have biases
    pub bias: bool,
    /// normalization after each hidden linear layer
    pub norm: Norm,
    /// wrap each hidden layer whose input and output widths agree in a residual block
    pub residual: bool,
    /// scale of the residual branch
    pub residual_scale: f64,
    /// weight initialization
    pub init: Init,
    /// bias initialization (`None`: PyTorch's default `U(±1/√fan_in)`)
    pub bias_init: Option<Init>,
}

impl MlpConfig {
    /// A plain MLP with PyTorch's default initialization.
    pub fn new(widths: &[usize], activation: Activation) -> MlpConfig {
        MlpConfig {
            widths: widths.to_vec(),
            activation,
            bias: true,
            norm: Norm::None,
            residual: false,
            residual_scale: 1.0,
            init: Init::TorchDefault,
            bias_init: None,
        }
    }

    /// Builds the network, drawing every parameter from `rng`.
    #[track_caller]
    pub fn build(&self, rng: &mut Rng, dtype: DType) -> Sequential {
        assert!(
            self.widths.len() >= 2,
            "MlpConfig: need at least input and output widths, got {:?}",
            self.widths
        );
        let mut net = Sequential::new();
        let layers = self.widths.len() - 1;
        for l in 0..layers {
            let (i, o) = (self.widths[l], self.widths[l + 1]);
            let lin = Linear::new(i, o, self.bias, &self.init, self.bias_init.as_ref(), rng, dtype);
            if l + 1 == layers {
                net.push(lin);
                break;
            }
            let mut block = Sequential::new();
            block.push(lin);
            match self.norm {
                Norm::None => {}
                Norm::Batch => {
                    block.push(BatchNorm::new(o, dtype));
                }
                Norm::Layer => {
                    block.push(LayerNorm::new(o, dtype));
                }
            }
            block.push(self.activation);
            if self.residual && i == o {
                net.push(Residual { block, scale: self.residual_scale });
            } else {
                for m in block.0 {
                    net.0.push(m);
                }
            }
        }
        net
    }
}
