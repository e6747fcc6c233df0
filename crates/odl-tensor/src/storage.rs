//! The backend seam. An [`crate::Array`]'s data lives in a [`Storage`], and
//! every kernel is reached through a `match` on it. Today there is one
//! backend, the CPU; a CUDA backend would add a `Storage::Cuda` variant and an
//! arm in each `Array` kernel method. The autodiff layer and its VJP rules
//! only call `Array` methods and would not change. Two places reach past the
//! seam to host memory, on purpose, for fused memory-bound passes: the
//! optimizers' elementwise updates (odl-optim: `as_mut_slice` with
//! [`crate::cpu::simd`] and [`crate::cpu::par_for_each`]) and a few benchmark
//! workloads (odl-bench: W4P's normalizations, W5's attack update). A second
//! backend would give them device versions.

/// Where an array's elements live, and in what type.
#[derive(Clone, Debug)]
pub enum Storage {
    /// Host memory, computed by the kernels in [`crate::cpu`].
    Cpu(CpuStorage),
}

/// Host memory of one of the two element types.
#[derive(Clone, Debug)]
pub enum CpuStorage {
    /// 32-bit floats.
    F32(Vec<f32>),
    /// 64-bit floats.
    F64(Vec<f64>),
}

impl CpuStorage {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            CpuStorage::F32(v) => v.len(),
            CpuStorage::F64(v) => v.len(),
        }
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Applies a generic expression to the vector inside a [`CpuStorage`] and
/// wraps the result in the same element type.
#[macro_export]
#[doc(hidden)]
macro_rules! map_cpu {
    ($s:expr, |$v:ident| $body:expr) => {
        match $s {
            $crate::storage::CpuStorage::F32($v) => $crate::storage::CpuStorage::F32($body),
            $crate::storage::CpuStorage::F64($v) => $crate::storage::CpuStorage::F64($body),
        }
    };
}

/// Like [`map_cpu!`] for two storages that must share an element type.
#[macro_export]
#[doc(hidden)]
macro_rules! zip_cpu {
    ($op:expr, $a:expr, $b:expr, |$x:ident, $y:ident| $body:expr) => {
        match ($a, $b) {
            ($crate::storage::CpuStorage::F32($x), $crate::storage::CpuStorage::F32($y)) => {
                $crate::storage::CpuStorage::F32($body)
            }
            ($crate::storage::CpuStorage::F64($x), $crate::storage::CpuStorage::F64($y)) => {
                $crate::storage::CpuStorage::F64($body)
            }
            (a, b) => panic!(
                "{}: element types differ ({} and {}); cast one first",
                $op,
                $crate::storage::dtype_of(a),
                $crate::storage::dtype_of(b)
            ),
        }
    };
}

/// The element type held by a CPU storage.
pub fn dtype_of(s: &CpuStorage) -> crate::DType {
    match s {
        CpuStorage::F32(_) => crate::DType::F32,
        CpuStorage::F64(_) => crate::DType::F64,
    }
}
