//! The primitive ops: the nodes of the graph. Each one has a forward kernel
//! (an [`Array`] method) and exactly one VJP rule in [`crate::vjp`]. Everything
//! else — relu, softmax, cross-entropy, slicing, padding — is built from these.
//!
//! Three of them carry no gradient (`Compare`, `InRange`, `Detach`): masks
//! and detached values. Eagerly they are plain constants; only while a
//! function is traced for [`crate::compile`] are they recorded as nodes, so
//! that a replay recomputes them from the new values instead of reusing the
//! ones seen at trace time.

use std::sync::Arc;

use odl_tensor::{BinaryOp, CmpOp, Conv2dGeom, Shape, UnaryOp};

use crate::tensor::Tensor;

/// A pooling window `(kh, kw)` and its strides `(sh, sw)`.
pub(crate) type Pool = ((usize, usize), (usize, usize));

/// A recorded primitive and its inputs.
pub(crate) enum Op {
    Unary(UnaryOp, Tensor),
    Binary(BinaryOp, Tensor, Tensor),
    /// `cond ? a : b`; no gradient flows into the condition (a mask).
    Select(Tensor, Tensor, Tensor),
    /// a comparison's mask (1 where it holds, else 0); no gradient
    Compare(CmpOp, Tensor, Tensor),
    /// the mask of `lo <= x <= hi`; no gradient
    InRange(Tensor, f64, f64),
    /// the same value with no gradient
    Detach(Tensor),
    Clamp(Tensor, f64, f64),
    Sum(Tensor, Shape),
    Max(Tensor, Shape),
    MatMul(Tensor, Tensor, bool, bool),
    Reshape(Tensor),
    Permute(Tensor, Shape),
    Expand(Tensor),
    Take(Tensor, Arc<[usize]>),
    /// max pooling: the first input's values at the window maxima of the
    /// second (`max_pool2d(x)` is `(x, x)`); no gradient into the second
    PoolGather(Tensor, Tensor, Pool),
    /// max pooling's VJP: the first input added at the window maxima of the
    /// second (zeros elsewhere); no gradient into the second
    PoolScatter(Tensor, Tensor, Pool),
    ScatterAdd(Tensor, Arc<[usize]>),
    Conv2d(Tensor, Tensor, Conv2dGeom),
    /// (cotangent, weight); the output has the conv input's shape
    Conv2dInputGrad(Tensor, Tensor, Conv2dGeom),
    /// (input, cotangent); the output has the weight's shape
    Conv2dWeightGrad(Tensor, Tensor, Conv2dGeom),
    Cast(Tensor),
}

impl Op {
    /// The differentiable inputs, in order.
    pub(crate) fn inputs(&self) -> [Option<&Tensor>; 2] {
        use Op::*;
        match self {
            Compare(..) | InRange(..) | Detach(_) => [None, None],
            Unary(_, a)
            | Clamp(a, ..)
            | Sum(a, _)
            | Max(a, _)
            | Reshape(a)
            | Permute(a, _)
            | Expand(a)
            | Take(a, _)
            | ScatterAdd(a, _)
            | PoolGather(a, ..)
            | PoolScatter(a, ..)
            | Cast(a) => [Some(a), None],
            Binary(_, a, b)
            | Select(_, a, b)
            | MatMul(a, b, ..)
            | Conv2d(a, b, _)
            | Conv2dInputGrad(a, b, _)
            | Conv2dWeightGrad(a, b, _) => [Some(a), Some(b)],
        }
    }

    /// Every input a replay reads: the differentiable ones, then the ones
    /// without a gradient (a `where`'s condition, a mask's operands).
    pub(crate) fn all_inputs(&self) -> [Option<&Tensor>; 3] {
        use Op::*;
        match self {
            Select(c, a, b) => [Some(a), Some(b), Some(c)],
            Compare(_, a, b) => [Some(a), Some(b), None],
            InRange(a, ..) | Detach(a) => [Some(a), None, None],
            PoolGather(a, x, _) | PoolScatter(a, x, _) => [Some(a), Some(x), None],
            _ => {
                let [a, b] = self.inputs();
                [a, b, None]
            }
        }
    }

    /// The inputs, owned: once `self` is gone, each returned tensor is held
    /// only by its other users (the iterative drop relies on this).
    pub(crate) fn into_inputs(self) -> impl Iterator<Item = Tensor> {
        let owned: Vec<Tensor> = self.all_inputs().into_iter().flatten().cloned().collect();
        drop(self);
        owned.into_iter()
    }

    pub(crate) fn any_input_requires_grad(&self) -> bool {
        self.inputs().iter().flatten().any(|t| t.requires_grad())
    }

    /// Whether some input is traced (while tracing: such a result must be
    /// recorded, gradient or not).
    pub(crate) fn any_input_traced(&self) -> bool {
        self.all_inputs().iter().flatten().any(|t| crate::trace::is_traced(t))
    }

    /// A short name for messages.
    pub(crate) fn name(&self) -> String {
        use Op::*;
        match self {
            Unary(u, _) => format!("{u:?}"),
            Binary(b, ..) => format!("{b:?}"),
            Select(..) => "Where".into(),
            Compare(c, ..) => format!("{c:?}"),
            InRange(..) => "InRange".into(),
            Detach(_) => "Detach".into(),
            Clamp(..) => "Clamp".into(),
            Sum(..) => "Sum".into(),
            Max(..) => "Max".into(),
            MatMul(..) => "MatMul".into(),
            Reshape(..) => "Reshape".into(),
            Permute(..) => "Permute".into(),
            Expand(..) => "Expand".into(),
            Take(..) => "Take".into(),
            ScatterAdd(..) => "ScatterAdd".into(),
            PoolGather(..) => "MaxPool".into(),
            PoolScatter(..) => "MaxPoolScatter".into(),
            Conv2d(..) => "Conv2d".into(),
            Conv2dInputGrad(..) => "Conv2dInputGrad".into(),
            Conv2dWeightGrad(..) => "Conv2dWeightGrad".into(),
            Cast(..) => "Cast".into(),
        }
    }
}
