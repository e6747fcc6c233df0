//! # odl-optim
//!
//! Optimizers as composable *gradient transformations*, as in Optax: each
//! [`Transform`] turns a list of gradients into a list of updates in place,
//! keeping whatever state it needs (momentum buffers, second moments, a step
//! counter); a real optimizer is a [`chain`] of them, and
//! [`apply_updates`] adds the result to the parameters.
//!
//! ```
//! use odl_optim::{adam, apply_updates, Transform};
//! use odl_tensor::{Array, DType};
//! // minimize ½‖x‖² from x = (1, −2)
//! let mut x = vec![Array::from_f64(&[1.0, -2.0], &[2], DType::F64)];
//! let mut opt = adam(0.1, 0.9, 0.999, 1e-8);
//! for _ in 0..500 {
//!     let mut g = x.clone(); // ∇ ½‖x‖² = x
//!     opt.update(&mut g, &x);
//!     apply_updates(&mut x, &g);
//! }
//! assert!(x[0].to_vec_f64().iter().all(|v| v.abs() < 1e-3));
//! ```
//!
//! Update rules follow PyTorch's conventions so that results compare with it
//! (see each constructor). Files: [`transform`] (the trait, `chain`,
//! `apply_updates`), [`transforms`] (the building blocks), [`optimizers`] (the
//! named optimizers as chains), [`schedule`] (learning-rate schedules).

mod fused;
pub mod lm;
pub mod optimizers;
pub mod schedule;
pub mod transform;
pub mod transforms;

pub use lm::{levenberg_marquardt, LmConfig, LmReport};
pub use optimizers::{adagrad, adam, adamw, amsgrad, momentum, nesterov, rmsprop, sgd, sgd_scheduled};
pub use schedule::Schedule;
pub use transform::{apply_updates, chain, global_norm, Chain, Transform};
pub use transforms::{
    add_decayed_weights, clip_by_global_norm, clip_by_value, perturb, project_box, scale, scale_by_adagrad,
    scale_by_adam, scale_by_learning_rate, scale_by_rms, trace, AdamConfig,
};
