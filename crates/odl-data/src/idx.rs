//! The IDX format of (Fashion-)MNIST, plain or gzipped, validated.

use std::io::Read;
use std::path::{Path, PathBuf};

/// A problem with an IDX file.
#[derive(Debug, thiserror::Error)]
pub enum IdxError {
    /// The file could not be read.
    #[error("{path}: {cause}")]
    Io {
        /// the file
        path: PathBuf,
        /// the cause
        cause: std::io::Error,
    },
    /// The bytes are not a valid IDX file of unsigned bytes.
    #[error("{path}: not a valid IDX file: {detail}")]
    Format {
        /// the file
        path: PathBuf,
        /// what was wrong
        detail: String,
    },
}

/// Reads an IDX file of unsigned bytes (type 0x08), gzipped or not: returns
/// the dimensions and the data.
pub fn read_idx(path: impl AsRef<Path>) -> Result<(Vec<usize>, Vec<u8>), IdxError> {
    let path = path.as_ref();
    let raw = std::fs::read(path).map_err(|cause| IdxError::Io { path: path.into(), cause })?;
    parse_idx(&raw, path)
}

/// Parses the bytes of an IDX file (gzipped or not); `path` names it in errors.
pub fn parse_idx(raw: &[u8], path: &Path) -> Result<(Vec<usize>, Vec<u8>), IdxError> {
    let io = |cause| IdxError::Io { path: path.into(), cause };
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        // gzip expands at most about 1032×: a stream that inflates further is
        // malformed (or a bomb) and is cut off rather than filling memory
        let limit = (raw.len() as u64).saturating_mul(1100).saturating_add(1 << 16);
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(raw).take(limit + 1).read_to_end(&mut out).map_err(io)?;
        if out.len() as u64 > limit {
            return Err(IdxError::Format {
                path: path.into(),
                detail: "the gzip stream inflates beyond any valid size".into(),
            });
        }
        out
    } else {
        raw.to_vec()
    };
    let bad = |detail: String| IdxError::Format { path: path.into(), detail };
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        return Err(bad("bad magic number".into()));
    }
    if bytes[2] != 0x08 {
        return Err(bad(format!(
            "element type 0x{:02x}; only unsigned bytes (0x08) are supported",
            bytes[2]
        )));
    }
    let nd = bytes[3] as usize;
    if nd == 0 || bytes.len() < 4 + 4 * nd {
        return Err(bad(format!("header of {nd} dimensions is truncated")));
    }
    let dims: Vec<usize> = (0..nd)
        .map(|i| u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().expect("4 bytes")) as usize)
        .collect();
    let Some(n) = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d)) else {
        return Err(bad(format!("dimensions {dims:?} overflow")));
    };
    let data = &bytes[4 + 4 * nd..];
    if data.len() != n {
        return Err(bad(format!("{} data bytes for dimensions {dims:?} ({n} expected)", data.len())));
    }
    Ok((dims, data.to_vec()))
}
