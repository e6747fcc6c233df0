//! `odl train`: specs ([`spec`]) and the training loop ([`run`]).

pub mod run;
pub mod spec;

pub use run::{restore, train, Restored, Summary};
pub use spec::{load, Spec};
