//! Fashion-MNIST (Xiao et al. 2017): the whole data set from the files that
//! Debian's `dataset-fashion-mnist` package installs ([`fashion_mnist`]),
//! and a fixed subset that odl carries inside itself ([`fashion_mnist_subset`]:
//! the first 10 000 training and 2 000 test images of the official files,
//! MIT-licensed like the data set; `data/fashion-mnist-subset/README.md`),
//! so that every machine can run the lab on the same real images.

use std::path::{Path, PathBuf};

use odl_tensor::{Array, DType};

use crate::dataset::Dataset;
use crate::idx::{parse_idx, read_idx, IdxError};

/// Where `dataset-fashion-mnist` puts the files (`dpkg -L dataset-fashion-mnist`).
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// Training examples in the shipped subset.
pub const SUBSET_TRAIN: usize = 10_000;
/// Test examples in the shipped subset.
pub const SUBSET_TEST: usize = 2_000;

/// The shipped subset's files, compiled into odl (IDX, gzipped): training
/// images and labels, test images and labels.
const SUBSET: [(&str, &[u8]); 4] = [
    ("train-images-idx3-ubyte.gz", include_bytes!("../data/fashion-mnist-subset/train-images-idx3-ubyte.gz")),
    ("train-labels-idx1-ubyte.gz", include_bytes!("../data/fashion-mnist-subset/train-labels-idx1-ubyte.gz")),
    ("t10k-images-idx3-ubyte.gz", include_bytes!("../data/fashion-mnist-subset/t10k-images-idx3-ubyte.gz")),
    ("t10k-labels-idx1-ubyte.gz", include_bytes!("../data/fashion-mnist-subset/t10k-labels-idx1-ubyte.gz")),
];

/// The directory to read from: `dir`, else `$ODL_FASHION_MNIST`, else
/// [`FASHION_MNIST_DIR`].
pub fn fashion_dir(dir: Option<&Path>) -> PathBuf {
    dir.map(Path::to_path_buf)
        .or_else(|| std::env::var_os("ODL_FASHION_MNIST").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(FASHION_MNIST_DIR))
}

/// Images and labels as a data set: `[n, 784]` f32 in `[0, 1]`, labels 0–9.
fn assemble(
    images: (Vec<usize>, Vec<u8>),
    labels: (Vec<usize>, Vec<u8>),
    lab_path: &Path,
) -> Result<Dataset, IdxError> {
    let ((dims, pixels), (ldims, labels)) = (images, labels);
    if dims.len() != 3 || ldims.len() != 1 || dims[0] != ldims[0] {
        return Err(IdxError::Format {
            path: lab_path.into(),
            detail: format!("{ldims:?} labels for images {dims:?}"),
        });
    }
    if let Some(bad) = labels.iter().find(|&&l| l > 9) {
        return Err(IdxError::Format { path: lab_path.into(), detail: format!("label {bad} outside 0..10") });
    }
    let x: Vec<f32> = pixels.iter().map(|&p| p as f32 / 255.0).collect();
    Ok(Dataset::classification(
        Array::from_vec(x, &[dims[0], dims[1] * dims[2]]),
        labels.iter().map(|&l| l as usize).collect(),
        10,
    ))
}

fn load(dir: &Path, stem: &str) -> Result<Dataset, IdxError> {
    let find = |name: &str| {
        let gz = dir.join(format!("{name}.gz"));
        if gz.exists() {
            gz
        } else {
            dir.join(name)
        }
    };
    let img_path = find(&format!("{stem}-images-idx3-ubyte"));
    let lab_path = find(&format!("{stem}-labels-idx1-ubyte"));
    if !img_path.exists() {
        return Err(IdxError::Io {
            path: img_path,
            cause: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "Fashion-MNIST not found: install Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist) or set ODL_FASHION_MNIST",
            ),
        });
    }
    assemble(read_idx(&img_path)?, read_idx(&lab_path)?, &lab_path)
}

/// `(train, test)`: 60 000 and 10 000 images as `[n, 784]` f32 in `[0, 1]`,
/// labels 0–9, from `dir` (see [`fashion_dir`]). Reshape to `[n, 1, 28, 28]`
/// for convolutions.
pub fn fashion_mnist(dir: Option<&Path>) -> Result<(Dataset, Dataset), IdxError> {
    let d = fashion_dir(dir);
    let mut train = load(&d, "train")?;
    let mut test = load(&d, "t10k")?;
    train.cast(DType::F32);
    test.cast(DType::F32);
    Ok((train, test))
}

/// `(train, test)` of the subset odl ships: the first [`SUBSET_TRAIN`]
/// training and [`SUBSET_TEST`] test images of Fashion-MNIST, in the same
/// form as [`fashion_mnist`]. Needs no file and no package.
pub fn fashion_mnist_subset() -> (Dataset, Dataset) {
    let parse = |k: usize| {
        let (name, bytes) = SUBSET[k];
        let path = PathBuf::from(format!("<odl's fashion-mnist subset>/{name}"));
        (parse_idx(bytes, &path).expect("the shipped subset is valid IDX (tested)"), path)
    };
    let set = |i: usize, l: usize| {
        let ((img, _), (lab, lab_path)) = (parse(i), parse(l));
        assemble(img, lab, &lab_path).expect("the shipped subset is consistent (tested)")
    };
    (set(0, 1), set(2, 3))
}
