//! Element types. odl has two, both first-class: `f32` for speed, `f64` for
//! theory checks (finite differences, exact spectra).

use std::fmt::{Debug, Display};

use crate::storage::CpuStorage;

/// The element type of an [`crate::Array`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    /// 32-bit IEEE float.
    F32,
    /// 64-bit IEEE float.
    F64,
}

impl DType {
    /// The name numpy uses (`"float32"`, `"float64"`).
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "float32",
            DType::F64 => "float64",
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F64 => 8,
        }
    }
}

impl Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A scalar type that kernels are generic over (`f32` and `f64`).
pub trait Element:
    num_traits::Float
    + num_traits::FloatConst
    + Copy
    + Default
    + Send
    + Sync
    + Debug
    + Display
    + std::iter::Sum
    + std::ops::AddAssign
    + std::ops::MulAssign
    + faer::traits::RealField
    + 'static
{
    /// The runtime tag of this type.
    const DTYPE: DType;
    /// Wraps a vector of this type into CPU storage.
    fn wrap(v: Vec<Self>) -> CpuStorage;
    /// Borrows CPU storage as a slice of this type, if it holds this type.
    fn view(s: &CpuStorage) -> Option<&[Self]>;
    /// Mutably borrows CPU storage as a slice of this type, if it holds this type.
    fn view_mut(s: &mut CpuStorage) -> Option<&mut [Self]>;
    /// Lossy conversion from `f64`.
    fn of(x: f64) -> Self;
    /// Conversion to `f64`.
    fn to_f64(self) -> f64;
    /// `e^x` of every element (vectorized for f32, libm for f64).
    #[inline(always)]
    fn exp_slice(x: &[Self]) -> Vec<Self> {
        crate::cpu::map_vec(x, |v| v.exp())
    }
    /// `tanh` of every element (vectorized for f32, libm for f64).
    #[inline(always)]
    fn tanh_slice(x: &[Self]) -> Vec<Self> {
        crate::cpu::map_vec(x, |v| v.tanh())
    }
}

impl Element for f32 {
    const DTYPE: DType = DType::F32;
    fn wrap(v: Vec<Self>) -> CpuStorage {
        CpuStorage::F32(v)
    }
    fn view(s: &CpuStorage) -> Option<&[Self]> {
        match s {
            CpuStorage::F32(v) => Some(v),
            _ => None,
        }
    }
    fn view_mut(s: &mut CpuStorage) -> Option<&mut [Self]> {
        match s {
            CpuStorage::F32(v) => Some(v),
            _ => None,
        }
    }
    #[inline(always)]
    fn of(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn exp_slice(x: &[Self]) -> Vec<Self> {
        crate::cpu::map_vec(x, crate::cpu::fastmath::exp_f32)
    }
    #[inline(always)]
    fn tanh_slice(x: &[Self]) -> Vec<Self> {
        crate::cpu::map_vec(x, crate::cpu::fastmath::tanh_f32)
    }
}

impl Element for f64 {
    const DTYPE: DType = DType::F64;
    fn wrap(v: Vec<Self>) -> CpuStorage {
        CpuStorage::F64(v)
    }
    fn view(s: &CpuStorage) -> Option<&[Self]> {
        match s {
            CpuStorage::F64(v) => Some(v),
            _ => None,
        }
    }
    fn view_mut(s: &mut CpuStorage) -> Option<&mut [Self]> {
        match s {
            CpuStorage::F64(v) => Some(v),
            _ => None,
        }
    }
    #[inline(always)]
    fn of(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
}
