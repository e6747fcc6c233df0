//! `odl train`: specs ([`spec`]) and the training loop ([`run`]).

pub mod run;
pub mod spec;

pub use run::{train, Summary};
pub use spec::{load, Spec};
