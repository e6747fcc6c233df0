//! The forward API of [`crate::Tensor`], one file per op family. Every method
//! computes its value with an `Array` kernel and records one primitive op (or
//! is a composition of methods that do).

mod conv;
mod elementwise;
mod linalg;
mod movement;
mod reduce;
