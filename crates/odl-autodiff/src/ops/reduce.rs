//! Reductions: sum, mean and max over any set of axes.

use odl_tensor::{shape::norm_axis, ReduceOp, Shape};

use crate::op::Op;
use crate::tensor::Tensor;

fn axes_of(t: &Tensor, axes: &[isize], op: &str) -> Shape {
    axes.iter().map(|&a| norm_axis(a, t.ndim(), op)).collect()
}

impl Tensor {
    /// Sum over `axes` (negative axes count from the end).
    #[track_caller]
    pub fn sum(&self, axes: &[isize], keepdim: bool) -> Tensor {
        let ax = axes_of(self, axes, "sum");
        Tensor::from_op(self.value().reduce(ReduceOp::Sum, &ax, keepdim), Op::Sum(self.clone(), ax))
    }

    /// Sum of all elements (a 0-d tensor).
    pub fn sum_all(&self) -> Tensor {
        let ax: Shape = (0..self.ndim()).collect();
        Tensor::from_op(self.value().reduce(ReduceOp::Sum, &ax, false), Op::Sum(self.clone(), ax))
    }

    /// Mean over `axes`.
    #[track_caller]
    pub fn mean(&self, axes: &[isize], keepdim: bool) -> Tensor {
        let ax = axes_of(self, axes, "mean");
        let count: usize = ax.iter().map(|&a| self.shape()[a]).product();
        self.sum(axes, keepdim).mul_scalar(1.0 / count as f64)
    }

    /// Mean of all elements.
    pub fn mean_all(&self) -> Tensor {
        self.sum_all().mul_scalar(1.0 / self.numel() as f64)
    }

    /// Maximum over `axes`; ties share the gradient equally.
    #[track_caller]
    pub fn max(&self, axes: &[isize], keepdim: bool) -> Tensor {
        let ax = axes_of(self, axes, "max");
        Tensor::from_op(self.value().reduce(ReduceOp::Max, &ax, keepdim), Op::Max(self.clone(), ax))
    }

    /// Minimum over `axes` (as `-max(-x)`).
    #[track_caller]
    pub fn min(&self, axes: &[isize], keepdim: bool) -> Tensor {
        self.neg().max(axes, keepdim).neg()
    }

    /// `Σ a·b` over all elements (a 0-d tensor).
    #[track_caller]
    pub fn dot(&self, other: &Tensor) -> Tensor {
        self.mul(other).sum_all()
    }
}
