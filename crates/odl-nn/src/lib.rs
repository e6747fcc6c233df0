//! # odl-nn
//!
//! Layers and networks on top of `odl-autodiff`: [`Linear`], [`Conv2d`],
//! pooling, activations, [`BatchNorm`] (with Santurkar et al.'s noisy
//! variant), [`LayerNorm`], [`Dropout`], [`Residual`] blocks, [`Sequential`]
//! containers, MLPs from a compact description ([`MlpConfig`]), and every
//! initialization the course compares ([`Init`], [`critical_tanh`]).
//!
//! ```
//! use odl_nn::{Activation, Ctx, MlpConfig, Module};
//! use odl_autodiff::{grad, Tensor};
//! use odl_tensor::{DType, Rng};
//! let mut rng = Rng::seed(0);
//! let mut net = MlpConfig::new(&[4, 8, 3], Activation::Relu).build(&mut rng, DType::F64);
//! let x = Tensor::constant(rng.normal(&[5, 4], 0.0, 1.0, DType::F64));
//! let loss = net.forward(&x, &mut Ctx::train(1)).cross_entropy(&[0, 1, 2, 0, 1]);
//! let grads = grad(&loss, &net.params());
//! assert_eq!(grads.len(), 4); // two weights, two biases
//! assert_eq!(net.num_params(), 4 * 8 + 8 + 8 * 3 + 3);
//! ```

pub mod activation;
pub mod init;
pub mod layers;
pub mod loss;
pub mod mlp;
pub mod module;
pub mod spectral;

pub use activation::Activation;
pub use init::{critical_tanh, fans, gain, orthogonal, Init};
pub use layers::{
    avg_pool2d, BatchNorm, BnNoise, Conv2d, Dropout, Flatten, LayerNorm, Linear, Pool2d, Residual,
    Sequential, Unflatten, Upsample,
};
pub use loss::{bce_with_logits, cross_entropy_smoothed, cross_entropy_smoothed_targets, hinge, lp_loss};
pub use mlp::{MlpConfig, Norm};
pub use module::{Ctx, LayerKind, Module, Replicate, Traced};
pub use spectral::SpectralNorm;
