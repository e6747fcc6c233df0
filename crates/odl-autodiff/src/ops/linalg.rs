//! Matrix products.

use odl_tensor::Array;

use crate::op::Op;
use crate::tensor::Tensor;

impl Tensor {
    /// Batched `a · b` over the last two axes.
    #[track_caller]
    pub fn matmul(&self, b: &Tensor) -> Tensor {
        self.matmul_t(b, false, false)
    }

    /// Batched `op(a) · op(b)` where `op` transposes the last two axes when
    /// `ta`/`tb` is set (no copy is made for the transpose).
    #[track_caller]
    pub fn matmul_t(&self, b: &Tensor, ta: bool, tb: bool) -> Tensor {
        Tensor::from_op(
            Array::matmul(self.value(), b.value(), ta, tb),
            Op::MatMul(self.clone(), b.clone(), ta, tb),
        )
    }

    /// A linear layer in PyTorch's layout: `x Wᵀ + b` with `w: [out, in]`.
    #[track_caller]
    pub fn linear(&self, w: &Tensor, b: Option<&Tensor>) -> Tensor {
        let y = self.matmul_t(w, false, true);
        match b {
            Some(b) => y.add(b),
            None => y,
        }
    }
}
