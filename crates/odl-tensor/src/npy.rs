//! Reading and writing numpy's `.npy` and `.npz` files (through the `npyz`
//! crate), the format odl uses to exchange exact values with numpy, PyTorch and
//! JAX. Everything read is validated: a bad file yields an [`NpyError`] that
//! names the file and key, never a panic.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read};
use std::path::{Path, PathBuf};

use npyz::{TypeChar, WriterBuilder};

use crate::array::Array;
use crate::dtype::DType;
use crate::shape::{numel, Shape};

/// A problem with a `.npy`/`.npz` file.
#[derive(Debug, thiserror::Error)]
pub enum NpyError {
    /// The file could not be opened, read or written.
    #[error("{path}: {cause}")]
    Io {
        /// the file
        path: PathBuf,
        /// the cause
        cause: io::Error,
    },
    /// The bytes are not a valid `.npy`/`.npz` (bad magic, header or truncation).
    #[error("{path}{key}: not a valid {what} file: {detail}")]
    Format {
        /// the file
        path: PathBuf,
        /// `[key]` inside an archive, or empty
        key: String,
        /// `.npy` or `.npz`
        what: &'static str,
        /// what was wrong
        detail: String,
    },
    /// The array has an element type odl cannot use.
    #[error("{path}{key}: unsupported dtype {dtype} (odl reads float32, float64, integers and bool)")]
    DType {
        /// the file
        path: PathBuf,
        /// `[key]` inside an archive, or empty
        key: String,
        /// numpy's type string
        dtype: String,
    },
    /// A key the caller needs is not in the archive.
    #[error("{path}: no array named '{key}' (has: {available})")]
    MissingKey {
        /// the file
        path: PathBuf,
        /// the missing key
        key: String,
        /// the keys present
        available: String,
    },
    /// The array's shape or values do not fit what the caller needs.
    #[error("{path}[{key}]: {detail}")]
    Invalid {
        /// the file
        path: PathBuf,
        /// the key
        key: String,
        /// what was wrong
        detail: String,
    },
}

/// The elements of an array read from or written to a numpy file.
#[derive(Clone, Debug, PartialEq)]
pub enum NpyData {
    /// float32 elements
    F32(Vec<f32>),
    /// float64 elements
    F64(Vec<f64>),
    /// any integer or bool type, widened to i64
    I64(Vec<i64>),
}

/// An array as stored in a numpy file: a shape (C order) and typed elements.
#[derive(Clone, Debug, PartialEq)]
pub struct NpyValue {
    /// the shape, row-major
    pub shape: Shape,
    /// the elements
    pub data: NpyData,
}

impl From<&Array> for NpyValue {
    fn from(a: &Array) -> Self {
        let data = match a.dtype() {
            DType::F32 => NpyData::F32(a.as_slice::<f32>().to_vec()),
            DType::F64 => NpyData::F64(a.as_slice::<f64>().to_vec()),
        };
        NpyValue { shape: Shape::from_slice(a.shape()), data }
    }
}

impl NpyValue {
    /// An integer array (labels, indices).
    pub fn ints(data: Vec<i64>, shape: &[usize]) -> NpyValue {
        assert_eq!(data.len(), numel(shape), "NpyValue::ints: length/shape mismatch");
        NpyValue { shape: Shape::from_slice(shape), data: NpyData::I64(data) }
    }

    /// The value as a float [`Array`]; floats keep their dtype, integers become f64.
    pub fn to_array(&self) -> Array {
        match &self.data {
            NpyData::F32(v) => Array::from_vec(v.clone(), &self.shape),
            NpyData::F64(v) => Array::from_vec(v.clone(), &self.shape),
            NpyData::I64(v) => Array::from_vec(v.iter().map(|&x| x as f64).collect(), &self.shape),
        }
    }

    /// Non-negative integer values as indices; floats are accepted only when integral.
    pub fn to_indices(&self) -> Result<Vec<usize>, String> {
        let as_f64: Vec<f64> = match &self.data {
            NpyData::I64(v) => v.iter().map(|&x| x as f64).collect(),
            NpyData::F32(v) => v.iter().map(|&x| x as f64).collect(),
            NpyData::F64(v) => v.clone(),
        };
        as_f64
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                if x >= 0.0 && x.fract() == 0.0 && x < usize::MAX as f64 {
                    Ok(x as usize)
                } else {
                    Err(format!("element {i} is {x}, not a non-negative integer"))
                }
            })
            .collect()
    }

    /// numpy's name for the element type.
    pub fn dtype_name(&self) -> &'static str {
        match self.data {
            NpyData::F32(_) => "float32",
            NpyData::F64(_) => "float64",
            NpyData::I64(_) => "int64",
        }
    }
}

fn format_err(path: &Path, key: &str, what: &'static str, e: impl ToString) -> NpyError {
    NpyError::Format {
        path: path.to_path_buf(),
        key: if key.is_empty() { String::new() } else { format!("[{key}]") },
        what,
        detail: e.to_string(),
    }
}

/// Reads integer (or bool) elements and widens them to i64.
fn widen<T: npyz::Deserialize + Into<i64>, R: Read>(file: npyz::NpyFile<R>) -> io::Result<Vec<i64>> {
    Ok(file.into_vec::<T>()?.into_iter().map(Into::into).collect())
}

/// Reads one array from an open npy stream holding at most `max_bytes`
/// bytes; `path`/`key` name it in errors. A header that promises more
/// elements than the bytes can hold is an error before anything is
/// allocated (a 100-byte file never makes odl allocate gigabytes).
fn read_value<R: Read>(
    file: npyz::NpyFile<R>,
    path: &Path,
    key: &str,
    what: &'static str,
    max_bytes: u64,
) -> Result<NpyValue, NpyError> {
    let keyd = if key.is_empty() { String::new() } else { format!("[{key}]") };
    let ts = match file.dtype() {
        npyz::DType::Plain(ts) => ts,
        other => return Err(NpyError::DType { path: path.into(), key: keyd, dtype: other.descr() }),
    };
    let dims: Vec<usize> = file.shape().iter().map(|&d| d as usize).collect();
    let n = file.shape().iter().try_fold(1u64, |a, &d| a.checked_mul(d));
    match n.and_then(|n| n.checked_mul(ts.size_field() as u64)) {
        Some(bytes) if bytes <= max_bytes => {}
        _ => {
            return Err(format_err(
                path,
                key,
                what,
                format!(
                "the header's shape {dims:?} needs more bytes than the file holds ({max_bytes}; truncated?)"
            ),
            ))
        }
    }
    let fortran = file.order() == npyz::Order::Fortran;
    let bad = |e: io::Error| format_err(path, key, what, e);
    let data = match (ts.type_char(), ts.size_field()) {
        (TypeChar::Float, 4) => NpyData::F32(file.into_vec::<f32>().map_err(bad)?),
        (TypeChar::Float, 8) => NpyData::F64(file.into_vec::<f64>().map_err(bad)?),
        (TypeChar::Int, 1) => NpyData::I64(widen::<i8, _>(file).map_err(bad)?),
        (TypeChar::Int, 2) => NpyData::I64(widen::<i16, _>(file).map_err(bad)?),
        (TypeChar::Int, 4) => NpyData::I64(widen::<i32, _>(file).map_err(bad)?),
        (TypeChar::Int, 8) => NpyData::I64(file.into_vec::<i64>().map_err(bad)?),
        (TypeChar::Uint, 1) => NpyData::I64(widen::<u8, _>(file).map_err(bad)?),
        (TypeChar::Uint, 2) => NpyData::I64(widen::<u16, _>(file).map_err(bad)?),
        (TypeChar::Uint, 4) => NpyData::I64(widen::<u32, _>(file).map_err(bad)?),
        (TypeChar::Bool, 1) => NpyData::I64(widen::<bool, _>(file).map_err(bad)?),
        _ => return Err(NpyError::DType { path: path.into(), key: keyd, dtype: ts.to_string() }),
    };
    let len = match &data {
        NpyData::F32(v) => v.len(),
        NpyData::F64(v) => v.len(),
        NpyData::I64(v) => v.len(),
    };
    if len != numel(&dims) {
        return Err(format_err(path, key, what, format!("{len} elements for shape {dims:?} (truncated?)")));
    }
    let mut value = NpyValue { shape: Shape::from_slice(&dims), data };
    if fortran && dims.len() > 1 {
        value = fortran_to_c(value);
    }
    Ok(value)
}

/// Reorders a Fortran-order array into C order.
fn fortran_to_c(v: NpyValue) -> NpyValue {
    let rev: Vec<usize> = v.shape.iter().rev().copied().collect();
    let perm: Vec<usize> = (0..rev.len()).rev().collect();
    let fix = |a: Array| a.reshape(&rev).permute(&perm);
    let data = match v.data {
        NpyData::F32(x) => NpyData::F32(fix(Array::from_vec(x, &rev)).as_slice::<f32>().to_vec()),
        NpyData::F64(x) => NpyData::F64(fix(Array::from_vec(x, &rev)).as_slice::<f64>().to_vec()),
        NpyData::I64(x) => {
            // permute through f64 is exact for |x| < 2^53; labels and indices are far below
            let a = fix(Array::from_vec(x.iter().map(|&i| i as f64).collect(), &rev));
            NpyData::I64(a.as_slice::<f64>().iter().map(|&f| f as i64).collect())
        }
    };
    NpyValue { shape: v.shape, data }
}

fn open(path: &Path) -> Result<File, NpyError> {
    File::open(path).map_err(|cause| NpyError::Io { path: path.into(), cause })
}

/// Reads a `.npy` file.
pub fn read_npy(path: impl AsRef<Path>) -> Result<NpyValue, NpyError> {
    let path = path.as_ref();
    let f = open(path)?;
    let len = f.metadata().map_err(|cause| NpyError::Io { path: path.into(), cause })?.len();
    let file = npyz::NpyFile::new(BufReader::new(f)).map_err(|e| format_err(path, "", ".npy", e))?;
    read_value(file, path, "", ".npy", len)
}

/// The largest expansion a member of an archive may claim over its
/// compressed bytes (deflate's own limit is about 1032×): anything more is
/// a malformed (or hostile) archive, refused before it is inflated.
const MAX_INFLATE: u64 = 1100;

/// Reads every array of a `.npz` archive, by key. Each member is read
/// whole, so the archive's CRC-32 of it is verified: a flipped byte is an
/// error naming the file and key, never a silently different value.
pub fn read_npz(path: impl AsRef<Path>) -> Result<BTreeMap<String, NpyValue>, NpyError> {
    let path = path.as_ref();
    let mut zip = npyz::zip::ZipArchive::new(BufReader::new(open(path)?))
        .map_err(|e| format_err(path, "", ".npz", e))?;
    let mut out = BTreeMap::new();
    for i in 0..zip.len() {
        let mut member = zip.by_index(i).map_err(|e| format_err(path, "", ".npz", e))?;
        let name = member.name().trim_end_matches(".npy").to_string();
        let size = member.size();
        if size > member.compressed_size().saturating_mul(MAX_INFLATE).saturating_add(1 << 16) {
            return Err(format_err(
                path,
                &name,
                ".npz",
                format!("claims {size} bytes from {} compressed", member.compressed_size()),
            ));
        }
        let mut bytes = Vec::with_capacity(size as usize);
        (&mut member).take(size + 1).read_to_end(&mut bytes).map_err(|e| {
            format_err(
                path,
                &name,
                ".npz",
                format!("{e} (corrupted: the archive's checksum of this array does not match)"),
            )
        })?;
        if bytes.len() as u64 != size {
            return Err(format_err(
                path,
                &name,
                ".npz",
                format!("{} bytes where the archive says {size}", bytes.len()),
            ));
        }
        drop(member);
        let file = npyz::NpyFile::new(&bytes[..]).map_err(|e| format_err(path, &name, ".npz", e))?;
        let v = read_value(file, path, &name, ".npz", size)?;
        if out.insert(name.clone(), v).is_some() {
            return Err(format_err(path, &name, ".npz", "the key appears twice"));
        }
    }
    Ok(out)
}

/// A `.npz` archive read into memory, with typed, validated accessors.
pub struct Npz {
    path: PathBuf,
    arrays: BTreeMap<String, NpyValue>,
}

impl Npz {
    /// Reads the archive at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Npz, NpyError> {
        let path = path.as_ref().to_path_buf();
        let arrays = read_npz(&path)?;
        Ok(Npz { path, arrays })
    }

    /// The keys, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.arrays.keys().map(String::as_str)
    }

    /// The raw value under `key`.
    pub fn value(&self, key: &str) -> Result<&NpyValue, NpyError> {
        self.arrays.get(key).ok_or_else(|| NpyError::MissingKey {
            path: self.path.clone(),
            key: key.to_owned(),
            available: self.arrays.keys().cloned().collect::<Vec<_>>().join(", "),
        })
    }

    /// The float array under `key`, cast to `dtype`; when `shape` is given it must match.
    pub fn array(&self, key: &str, dtype: DType, shape: Option<&[usize]>) -> Result<Array, NpyError> {
        let v = self.value(key)?;
        if let Some(s) = shape {
            if v.shape.as_slice() != s {
                return Err(NpyError::Invalid {
                    path: self.path.clone(),
                    key: key.into(),
                    detail: format!("shape {:?}, expected {:?}", v.shape.as_slice(), s),
                });
            }
        }
        Ok(v.to_array().cast(dtype))
    }

    /// Non-negative integer indices under `key`, each below `bound` when given.
    pub fn indices(&self, key: &str, bound: Option<usize>) -> Result<Vec<usize>, NpyError> {
        let v = self.value(key)?;
        let invalid = |detail: String| NpyError::Invalid { path: self.path.clone(), key: key.into(), detail };
        let idx = v.to_indices().map_err(invalid)?;
        if let Some(b) = bound {
            if let Some((i, &x)) = idx.iter().enumerate().find(|(_, &x)| x >= b) {
                return Err(invalid(format!("element {i} is {x}, must be below {b}")));
            }
        }
        Ok(idx)
    }
}

fn write_value<W: io::Write>(w: W, v: &NpyValue) -> io::Result<()> {
    let shape: Vec<u64> = v.shape.iter().map(|&d| d as u64).collect();
    match &v.data {
        NpyData::F32(x) => {
            let mut wr = npyz::WriteOptions::new().default_dtype().shape(&shape).writer(w).begin_nd()?;
            wr.extend(x.iter().copied())?;
            wr.finish()
        }
        NpyData::F64(x) => {
            let mut wr = npyz::WriteOptions::new().default_dtype().shape(&shape).writer(w).begin_nd()?;
            wr.extend(x.iter().copied())?;
            wr.finish()
        }
        NpyData::I64(x) => {
            let mut wr = npyz::WriteOptions::new().default_dtype().shape(&shape).writer(w).begin_nd()?;
            wr.extend(x.iter().copied())?;
            wr.finish()
        }
    }
}

/// Writes one array as `.npy`.
pub fn write_npy(path: impl AsRef<Path>, v: &NpyValue) -> Result<(), NpyError> {
    let path = path.as_ref();
    let io_err = |cause| NpyError::Io { path: path.into(), cause };
    let f = File::create(path).map_err(io_err)?;
    write_value(BufWriter::new(f), v).map_err(io_err)
}

/// Archive members are stored uncompressed, as `np.savez` does (deflating
/// random floats saves little and costs a lot), and dated 1980-01-01 (the
/// zip format's first date) rather than now: the same arrays give the same
/// bytes and checksum whenever they are written.
fn stored() -> npyz::zip::write::FileOptions {
    npyz::zip::write::FileOptions::default()
        .compression_method(npyz::zip::CompressionMethod::Stored)
        .last_modified_time(npyz::zip::DateTime::default())
}

/// Writes named arrays as one `.npz` archive (keys as numpy's `np.savez` would).
pub fn write_npz<'a>(
    path: impl AsRef<Path>,
    entries: impl IntoIterator<Item = (&'a str, NpyValue)>,
) -> Result<(), NpyError> {
    let path = path.as_ref();
    let io_err = |cause| NpyError::Io { path: path.into(), cause };
    let mut npz = npyz::npz::NpzWriter::create(path).map_err(io_err)?;
    for (name, v) in entries {
        let shape: Vec<u64> = v.shape.iter().map(|&d| d as u64).collect();
        macro_rules! put {
            ($x:expr) => {{
                let mut wr = npz
                    .array(name, stored())
                    .map_err(io_err)?
                    .default_dtype()
                    .shape(&shape)
                    .begin_nd()
                    .map_err(io_err)?;
                wr.extend($x.iter().copied()).map_err(io_err)?;
                wr.finish().map_err(io_err)?;
            }};
        }
        match &v.data {
            NpyData::F32(x) => put!(x),
            NpyData::F64(x) => put!(x),
            NpyData::I64(x) => put!(x),
        }
    }
    Ok(())
}
