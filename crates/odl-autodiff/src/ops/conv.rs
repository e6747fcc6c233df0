//! Convolution and pooling.

use odl_tensor::{Array, Conv2dGeom};

use crate::op::Op;
use crate::tensor::Tensor;

impl Tensor {
    /// 2-d cross-correlation (PyTorch's conv2d): `x` `[n,c,h,w]`, weight
    /// `[o,c,kh,kw]`, zero padding, equal stride in both directions.
    #[track_caller]
    pub fn conv2d(&self, w: &Tensor, stride: usize, padding: usize) -> Tensor {
        self.conv2d_geom(w, Conv2dGeom::square(stride, padding))
    }

    /// 2-d cross-correlation with any geometry (e.g. padding only along the
    /// width for 1-d signals stored as `[n, c, 1, length]`).
    #[track_caller]
    pub fn conv2d_geom(&self, w: &Tensor, geom: Conv2dGeom) -> Tensor {
        Tensor::from_op(
            Array::conv2d(self.value(), w.value(), geom),
            Op::Conv2d(self.clone(), w.clone(), geom),
        )
    }

    /// The adjoint of conv2d in its input (a transposed convolution) — used by
    /// conv2d's VJP, and differentiable itself.
    #[track_caller]
    pub fn conv2d_input_grad(g: &Tensor, w: &Tensor, x_shape: &[usize], geom: Conv2dGeom) -> Tensor {
        Tensor::from_op(
            Array::conv2d_input_grad(g.value(), w.value(), x_shape, geom),
            Op::Conv2dInputGrad(g.clone(), w.clone(), geom),
        )
    }

    /// The adjoint of conv2d in its weight — used by conv2d's VJP, and
    /// differentiable itself.
    #[track_caller]
    pub fn conv2d_weight_grad(x: &Tensor, g: &Tensor, w_shape: &[usize], geom: Conv2dGeom) -> Tensor {
        Tensor::from_op(
            Array::conv2d_weight_grad(x.value(), g.value(), w_shape, geom),
            Op::Conv2dWeightGrad(x.clone(), g.clone(), geom),
        )
    }

    /// Nearest-neighbour upsampling of `[n, c, h, w]` by `factor` in both
    /// spatial axes (each pixel becomes a `factor×factor` block): a reshape,
    /// a broadcast and a reshape, so its gradient (sum over each block) and
    /// every higher derivative come from those primitives' rules.
    #[track_caller]
    pub fn upsample_nearest(&self, factor: usize) -> Tensor {
        assert!(self.ndim() == 4, "upsample_nearest: need [n, c, h, w], got {:?}", self.shape());
        assert!(factor >= 1, "upsample_nearest: factor must be at least 1");
        let (n, c, h, w) = (self.shape()[0], self.shape()[1], self.shape()[2], self.shape()[3]);
        self.reshape(&[n, c, h, 1, w, 1]).expand(&[n, c, h, factor, w, factor]).reshape(&[
            n,
            c,
            h * factor,
            w * factor,
        ])
    }

    /// Max pooling over `k×k` windows with `stride` (no padding), as a gather
    /// at the argmax: the gradient flows to the chosen element of each window.
    #[track_caller]
    pub fn max_pool2d(&self, k: usize, stride: usize) -> Tensor {
        self.max_pool2d_rect((k, k), (stride, stride))
    }

    /// Max pooling over `kh×kw` windows with strides `(sh, sw)`.
    #[track_caller]
    pub fn max_pool2d_rect(&self, k: (usize, usize), stride: (usize, usize)) -> Tensor {
        if !crate::tensor::is_grad_enabled() && !crate::trace::is_tracing() {
            // nothing will differentiate or replay this: the maxima, no indices
            return Tensor::make(self.value().maxpool2d(k, stride), None, false);
        }
        let (idx, shape) = self.value().maxpool2d_argmax(k, stride);
        self.take(idx.into(), &shape)
    }
}
