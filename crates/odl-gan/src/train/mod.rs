//! `odl gan SPEC.toml`: GAN training from a spec into a run folder, like
//! `odl train`'s — metrics as they happen, sample figures, checkpoints,
//! exact resume, divergence recorded as a result.
//!
//! * [`spec`] — the spec (typed, validated; errors name the key);
//! * [`nets`] — the two networks (MLP, DCGAN-style);
//! * [`run`] — the players' step for each algorithm and the loop;
//! * [`features`] — the cached feature network of FID/KID on images;
//! * [`checkpoint`] — both players and both optimizers in one `.npz`.

pub mod checkpoint;
pub mod features;
pub mod nets;
pub mod run;
pub mod spec;

pub use run::{train, GanSummary, Players, Source};
pub use spec::{load, GanSpec};
