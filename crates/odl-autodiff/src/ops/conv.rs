//! Convolution and pooling.

use odl_tensor::{Array, Conv2dGeom};

use crate::op::{Op, Pool};
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

    /// Max pooling over `k×k` windows with `stride` (no padding): the gradient
    /// flows to each window's maximum (the first of equal maxima; a NaN wins).
    #[track_caller]
    pub fn max_pool2d(&self, k: usize, stride: usize) -> Tensor {
        self.max_pool2d_rect((k, k), (stride, stride))
    }

    /// Max pooling over `kh×kw` windows with strides `(sh, sw)`: one
    /// primitive whose VJP recomputes the maxima' positions from the input,
    /// so a compiled replay pools at the new input's maxima.
    #[track_caller]
    pub fn max_pool2d_rect(&self, k: (usize, usize), stride: (usize, usize)) -> Tensor {
        Tensor::pool_gather(self, self, (k, stride))
    }

    /// `v`'s values at the window maxima of `x` (same shape as `v`).
    #[track_caller]
    pub(crate) fn pool_gather(v: &Tensor, x: &Tensor, p: Pool) -> Tensor {
        Tensor::from_op(
            v.value().maxpool2d_gather(x.value(), p.0, p.1),
            Op::PoolGather(v.clone(), x.clone(), p),
        )
    }

    /// `g` (pooled shape) added at the window maxima of `x`, zeros elsewhere.
    #[track_caller]
    pub(crate) fn pool_scatter(g: &Tensor, x: &Tensor, p: Pool) -> Tensor {
        Tensor::from_op(
            g.value().maxpool2d_scatter(x.value(), p.0, p.1),
            Op::PoolScatter(g.clone(), x.clone(), p),
        )
    }
}
