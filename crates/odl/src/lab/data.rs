//! Data for the lab's classifiers: a Fashion-MNIST subset when Debian's
//! `dataset-fashion-mnist` is installed (or `ODL_FASHION_MNIST` points at the
//! IDX files), otherwise MNIST-1D-style data — said in the report's notes.

use odl_data::{fashion_mnist, mnist1d, Dataset, Mnist1dConfig};
use odl_tensor::DType;

/// A normalized train/test pair, its name, and a note when it is the fallback.
pub struct LabData {
    /// training examples
    pub train: Dataset,
    /// test examples
    pub test: Dataset,
    /// `fashion-mnist` or `mnist1d`
    pub name: &'static str,
    /// why the fallback was used, if it was
    pub note: Option<String>,
}

/// `n_train` training and `n_test` test examples (f32, normalized with the
/// training set's mean and standard deviation).
pub fn classification(n_train: usize, n_test: usize, seed: u64) -> LabData {
    let (mut train, mut test, name, note) = match fashion_mnist(None) {
        Ok((tr, te)) => {
            // a seeded subset, so different seeds see different examples
            let pick = |d: &Dataset, n: usize, s: u64| {
                let idx: Vec<usize> =
                    odl_tensor::Rng::seed(s).permutation(d.len()).into_iter().take(n).collect();
                d.subset(&idx)
            };
            (pick(&tr, n_train, seed), pick(&te, n_test, seed ^ 0x7e57), "fashion-mnist", None)
        }
        Err(e) => {
            let all = mnist1d(&Mnist1dConfig { n: n_train + n_test, seed, ..Default::default() });
            let idx: Vec<usize> = (0..all.len()).collect();
            let (tr, te) = (all.subset(&idx[..n_train]), all.subset(&idx[n_train..]));
            (
                tr,
                te,
                "mnist1d",
                Some(format!("Fashion-MNIST is not available ({e}); MNIST-1D-style data was used instead.")),
            )
        }
    };
    train.cast(DType::F32);
    test.cast(DType::F32);
    let (m, s) = train.normalize();
    test.normalize_with(m, s);
    LabData { train, test, name, note }
}
