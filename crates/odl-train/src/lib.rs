//! # odl-train
//!
//! Training, as a library: the lab's experiments, `odl train` and the
//! probes all go through it.
//!
//! * [`step`] — **the** training step (loss → gradient → optimizer → new
//!   parameters) that every trainer calls, and [`eval`] — **the** evaluator
//!   (mean loss and accuracy over a data set in evaluation mode);
//! * [`spec`] — training specs (`odl train SPEC.toml`): typed, validated;
//! * [`data`] — a spec's data sets, and batches shaped for a model;
//! * [`build`] — a spec's model, optimizer and learning-rate schedule;
//! * [`run`] — the loop of `odl train`: it owns logging ([`logs`]),
//!   evaluation and checkpoints ([`checkpoint`]), nothing else;
//! * [`adversarial`] — adversarial training from a spec's `[adversarial]`
//!   section (PGD-AT, FGSM-RS, TRADES);
//! * [`restore`] — a run folder rebuilt for probing;
//! * [`files`] — atomic writes of results and figures; [`shards`] — a
//!   batch cut into shards for data parallelism.
//!
//! ```
//! use odl_nn::{Activation, Ctx, MlpConfig};
//! use odl_tensor::{DType, Rng};
//! use odl_train::step::train_step;
//! let mut data = odl_data::synthetic::two_moons(200, 0.1, 0);
//! data.cast(DType::F32);
//! let mut net = MlpConfig::new(&[2, 16, 2], Activation::Tanh).build(&mut Rng::seed(0), DType::F32);
//! let mut opt = odl_optim::adam(0.05, 0.9, 0.999, 1e-8);
//! let x = odl_train::data::model_input(&data.x, None);
//! let before = odl_train::eval::evaluate(&mut net, &data, None, 0.0).loss;
//! for _ in 0..100 {
//!     train_step(&mut net, &mut opt, |m| m.forward(&x, &mut Ctx::train(0)).cross_entropy(data.labels()), false)
//!         .unwrap();
//! }
//! assert!(odl_train::eval::evaluate(&mut net, &data, None, 0.0).loss < 0.5 * before);
//! ```

pub mod adversarial;
pub mod build;
pub mod checkpoint;
pub mod data;
pub mod eval;
pub mod files;
pub mod logs;
pub mod restore;
pub mod run;
pub mod shards;
pub mod spec;
pub mod step;

pub use eval::{accuracy_count, evaluate, Eval};
pub use restore::{restore, Restored};
pub use run::{train, Summary};
pub use spec::{load, Spec};
pub use step::{minimize_step, train_step, train_step_compiled, train_step_sharded, Diverged, StepStats};
