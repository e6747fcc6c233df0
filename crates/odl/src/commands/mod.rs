//! The commands' arguments and their calls into the libraries.

pub mod attack;
pub mod bench;
pub mod certify;
pub mod gan;
pub mod lab;
pub mod sweep;
pub mod train;
