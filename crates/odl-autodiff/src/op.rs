//! The primitive ops: the nodes of the graph. Each one has a forward kernel
//! (an [`Array`] method) and exactly one VJP rule in [`crate::vjp`]. Everything
//! else — relu, softmax, cross-entropy, slicing, padding — is built from these.

use std::sync::Arc;

use odl_tensor::{Array, BinaryOp, Conv2dGeom, Shape, UnaryOp};

use crate::tensor::Tensor;

/// A recorded primitive and its inputs.
pub(crate) enum Op {
    Unary(UnaryOp, Tensor),
    Binary(BinaryOp, Tensor, Tensor),
    /// `cond ? a : b`; the condition is a constant mask.
    Select(Array, Tensor, Tensor),
    Clamp(Tensor, f64, f64),
    Sum(Tensor, Shape),
    Max(Tensor, Shape),
    MatMul(Tensor, Tensor, bool, bool),
    Reshape(Tensor),
    Permute(Tensor, Shape),
    Expand(Tensor),
    Take(Tensor, Arc<[usize]>),
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
            Unary(_, a)
            | Clamp(a, ..)
            | Sum(a, _)
            | Max(a, _)
            | Reshape(a)
            | Permute(a, _)
            | Expand(a)
            | Take(a, _)
            | ScatterAdd(a, _)
            | Cast(a) => [Some(a), None],
            Binary(_, a, b)
            | Select(_, a, b)
            | MatMul(a, b, ..)
            | Conv2d(a, b, _)
            | Conv2dInputGrad(a, b, _)
            | Conv2dWeightGrad(a, b, _) => [Some(a), Some(b)],
        }
    }

    /// The inputs, owned: once `self` is gone, each returned tensor is held
    /// only by its other users (the iterative drop relies on this).
    pub(crate) fn into_inputs(self) -> impl Iterator<Item = Tensor> {
        let owned: Vec<Tensor> = self.inputs().into_iter().flatten().cloned().collect();
        drop(self);
        owned.into_iter()
    }

    pub(crate) fn any_input_requires_grad(&self) -> bool {
        self.inputs().iter().flatten().any(|t| t.requires_grad())
    }

    /// A short name for messages.
    pub(crate) fn name(&self) -> String {
        use Op::*;
        match self {
            Unary(u, _) => format!("{u:?}"),
            Binary(b, ..) => format!("{b:?}"),
            Select(..) => "Where".into(),
            Clamp(..) => "Clamp".into(),
            Sum(..) => "Sum".into(),
            Max(..) => "Max".into(),
            MatMul(..) => "MatMul".into(),
            Reshape(..) => "Reshape".into(),
            Permute(..) => "Permute".into(),
            Expand(..) => "Expand".into(),
            Take(..) => "Take".into(),
            ScatterAdd(..) => "ScatterAdd".into(),
            Conv2d(..) => "Conv2d".into(),
            Conv2dInputGrad(..) => "Conv2dInputGrad".into(),
            Conv2dWeightGrad(..) => "Conv2dWeightGrad".into(),
            Cast(..) => "Cast".into(),
        }
    }
}
