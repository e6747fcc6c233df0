//! Fashion-MNIST (Xiao et al. 2017) from the files that Debian's
//! `dataset-fashion-mnist` package installs.

use std::path::{Path, PathBuf};

use odl_tensor::{Array, DType};

use crate::dataset::Dataset;
use crate::idx::{read_idx, IdxError};

/// Where `dataset-fashion-mnist` puts the files (`dpkg -L dataset-fashion-mnist`).
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// The directory to read from: `dir`, else `$ODL_FASHION_MNIST`, else
/// [`FASHION_MNIST_DIR`].
pub fn fashion_dir(dir: Option<&Path>) -> PathBuf {
    dir.map(Path::to_path_buf)
        .or_else(|| std::env::var_os("ODL_FASHION_MNIST").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(FASHION_MNIST_DIR))
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
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "Fashion-MNIST not found: install Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist) or set ODL_FASHION_MNIST",
            ),
        });
    }
    let (dims, pixels) = read_idx(&img_path)?;
    let (ldims, labels) = read_idx(&lab_path)?;
    if dims.len() != 3 || ldims.len() != 1 || dims[0] != ldims[0] {
        return Err(IdxError::Format {
            path: lab_path,
            detail: format!("{ldims:?} labels for images {dims:?}"),
        });
    }
    if let Some(bad) = labels.iter().find(|&&l| l > 9) {
        return Err(IdxError::Format { path: lab_path, detail: format!("label {bad} outside 0..10") });
    }
    let x: Vec<f32> = pixels.iter().map(|&p| p as f32 / 255.0).collect();
    Ok(Dataset::classification(
        Array::from_vec(x, &[dims[0], dims[1] * dims[2]]),
        labels.iter().map(|&l| l as usize).collect(),
        10,
    ))
}

/// `(train, test)`: 60 000 and 10 000 images as `[n, 784]` f32 in `[0, 1]`,
/// labels 0–9. Reshape to `[n, 1, 28, 28]` for convolutions.
pub fn fashion_mnist(dir: Option<&Path>) -> Result<(Dataset, Dataset), IdxError> {
    let d = fashion_dir(dir);
    let mut train = load(&d, "train")?;
    let mut test = load(&d, "t10k")?;
    train.cast(DType::F32);
    test.cast(DType::F32);
    Ok((train, test))
}
