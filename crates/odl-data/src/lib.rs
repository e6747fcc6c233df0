//! # odl-data
//!
//! Data sets for odl's experiments, all offline: the IDX format and
//! Fashion-MNIST as Debian's `dataset-fashion-mnist` package installs it
//! ([`fashion_mnist`]) and a fixed 10 000 + 2 000 subset shipped inside odl
//! ([`fashion_mnist_subset`]), an MNIST-1D-style generator ([`mnist1d`]), synthetic
//! sets ([`synthetic`]), and the [`Dataset`] type with seeded shuffling,
//! mini-batches, splits, normalization, random/corrupted labels and shuffled
//! pixels.
//!
//! ```
//! use odl_data::synthetic::two_moons;
//! let data = two_moons(200, 0.1, 0);
//! let (train, test) = data.split(0.8, 1);
//! assert_eq!((train.len(), test.len()), (160, 40));
//! let batches: Vec<_> = train.batches(32, 7).collect();
//! assert_eq!(batches.len(), 5);
//! ```

pub mod dataset;
pub mod fashion;
pub mod idx;
pub mod mnist1d;
pub mod synthetic;

pub use dataset::{Batch, Dataset, Targets};
pub use fashion::{fashion_mnist, fashion_mnist_subset, FASHION_MNIST_DIR, SUBSET_TEST, SUBSET_TRAIN};
pub use idx::{parse_idx, read_idx, IdxError};
pub use mnist1d::{mnist1d, Mnist1dConfig};
