//! The VJP table: for each primitive, the cotangents of its inputs given the
//! cotangent `g` of its output. Every rule is written in differentiable
//! [`Tensor`] ops, so a gradient built with `create_graph` can be
//! differentiated again (Hessian-vector products, gradient penalties, third
//! derivatives). The table is only the mathematics: the driver
//! ([`crate::backward`]) undoes broadcasting (sums each cotangent to its
//! input's shape, [`sum_to`]) and decides how a matrix product is computed
//! (lazily, or beside its sibling on another thread).

use odl_tensor::shape::reduced_axes;
use odl_tensor::{BinaryOp, UnaryOp};

use crate::op::Op;
use crate::tensor::Tensor;

/// Sums `g` down to `shape` (the inverse of numpy broadcasting).
pub(crate) fn sum_to(g: Tensor, shape: &[usize]) -> Tensor {
    if g.shape() == shape {
        return g;
    }
    let axes: Vec<isize> = reduced_axes(g.shape(), shape).iter().map(|&a| a as isize).collect();
    g.sum(&axes, true).reshape(shape)
}

/// The shape of `x` with `axes` set to 1.
fn keepdim_shape(x: &[usize], axes: &[usize]) -> Vec<usize> {
    let mut s = x.to_vec();
    for &a in axes {
        s[a] = 1;
    }
    s
}

/// A cotangent as a rule states it: a tensor, or the matrix product
/// `op(x)·op(y)` (`op` transposes the last two axes when its flag is set),
/// which the driver forms.
pub(crate) enum Cot {
    /// computed
    Tensor(Tensor),
    /// `x`, `y` and whether each is transposed
    MatMul(Tensor, Tensor, bool, bool),
}

/// Cotangents of the op's inputs, before broadcasting is undone; `need[i]`
/// says whether input `i` wants one. `None` means a zero cotangent.
pub(crate) fn vjp(op: &Op, out: &Tensor, g: &Tensor, need: [bool; 2]) -> [Option<Cot>; 2] {
    use Op::*;
    let t = |x: Option<Tensor>| x.map(Cot::Tensor);
    let one = |x: Tensor| [Some(Cot::Tensor(x)), None];
    match op {
        Unary(u, x) => {
            let gx = match u {
                UnaryOp::Neg => g.neg(),
                UnaryOp::Exp => g.mul(out),
                UnaryOp::Log => g.div(x),
                UnaryOp::Sqrt => g.div(out).mul_scalar(0.5),
                UnaryOp::Tanh => g.mul_one_minus_sq(out),
                UnaryOp::Abs => g.mul(&x.sign()),
                UnaryOp::Sign => return [None, None],
                UnaryOp::Sin => g.mul(&x.cos()),
                UnaryOp::Cos => g.mul(&x.sin()).neg(),
                UnaryOp::Recip => g.mul(&out.square()).neg(),
                UnaryOp::Relu => g.mul_positive(x),
            };
            one(gx)
        }
        Binary(b, x, y) => {
            let (gx, gy) = match b {
                BinaryOp::Add => (need[0].then(|| g.clone()), need[1].then(|| g.clone())),
                BinaryOp::Sub => (need[0].then(|| g.clone()), need[1].then(|| g.neg())),
                BinaryOp::Mul => (need[0].then(|| g.mul(y)), need[1].then(|| g.mul(x))),
                BinaryOp::Div => (need[0].then(|| g.div(y)), need[1].then(|| g.mul(out).div(y).neg())),
                BinaryOp::Pow => (
                    need[0].then(|| g.mul(y).mul(&x.pow(&y.add_scalar(-1.0)))),
                    need[1].then(|| g.mul(out).mul(&x.log())),
                ),
                BinaryOp::Max => {
                    (need[0].then(|| g.mul(&x.gt_mask(y))), need[1].then(|| g.mul(&x.le_mask(y))))
                }
                BinaryOp::Min => {
                    (need[0].then(|| g.mul(&x.lt_mask(y))), need[1].then(|| g.mul(&x.ge_mask(y))))
                }
                // f(a, b) = a(1 − b²): ∂a = c(1 − b²) = f(c, b), ∂b = −2abc
                BinaryOp::MulOneMinusSq => (
                    need[0].then(|| g.mul_one_minus_sq(y)),
                    need[1].then(|| g.mul(x).mul(y).mul_scalar(-2.0)),
                ),
                // f(a, b) = a·[b > 0]: linear in a, piecewise constant in b
                BinaryOp::MulPositive => (need[0].then(|| g.mul_positive(y)), None),
            };
            [t(gx), t(gy)]
        }
        Select(c, ..) => {
            let zero = g.scalar_like(0.0);
            [t(need[0].then(|| Tensor::where_(c, g, &zero))), t(need[1].then(|| Tensor::where_(c, &zero, g)))]
        }
        // masks and detached values carry no gradient (never asked for one)
        Compare(..) | InRange(..) | Detach(_) => [None, None],
        Clamp(x, lo, hi) => one(g.mul(&x.in_range_mask(*lo, *hi))),
        Sum(x, axes) => one(g.reshape(&keepdim_shape(x.shape(), axes)).expand(x.shape())),
        Max(x, axes) => {
            let keep = keepdim_shape(x.shape(), axes);
            let hit = x.eq_mask(&out.detach().reshape(&keep));
            let ax: Vec<isize> = axes.iter().map(|&a| a as isize).collect();
            let share = hit.div(&hit.sum(&ax, true));
            one(g.reshape(&keep).mul(&share))
        }
        // C = op(A)·op(B): dA = g·op(B)ᵀ (transposed back if A was), dB likewise
        MatMul(a, b, ta, tb) => {
            let (ta, tb) = (*ta, *tb);
            let p = |x: &Tensor, y: &Tensor, tx: bool, ty: bool| Cot::MatMul(x.clone(), y.clone(), tx, ty);
            [
                need[0].then(|| if ta { p(b, g, tb, true) } else { p(g, b, false, !tb) }),
                need[1].then(|| if tb { p(g, a, true, ta) } else { p(a, g, !ta, false) }),
            ]
        }
        Reshape(x) => one(g.reshape(x.shape())),
        Permute(_, perm) => {
            let mut inv = vec![0; perm.len()];
            for (i, &p) in perm.iter().enumerate() {
                inv[p] = i;
            }
            one(g.permute(&inv))
        }
        Expand(_) => one(g.clone()),
        Take(x, idx) => one(g.scatter_add(idx.clone(), x.shape())),
        ScatterAdd(x, idx) => one(g.take(idx.clone(), x.shape())),
        // linear in the values, piecewise constant in the keys `x`: each
        // rule is the other's adjoint, at the maxima of the same `x`
        PoolGather(_, x, p) => one(Tensor::pool_scatter(g, x, *p)),
        PoolScatter(_, x, p) => one(Tensor::pool_gather(g, x, *p)),
        Conv2d(x, w, geom) => [
            t(need[0].then(|| Tensor::conv2d_input_grad(g, w, x.shape(), *geom))),
            t(need[1].then(|| Tensor::conv2d_weight_grad(x, g, w.shape(), *geom))),
        ],
        // y = Aᵀ_w c0: ⟨g, y⟩ = ⟨conv2d(g, w), c0⟩, linear in c0 and in w
        Conv2dInputGrad(c0, w, geom) => [
            t(need[0].then(|| g.conv2d_geom(w, *geom))),
            t(need[1].then(|| Tensor::conv2d_weight_grad(g, c0, w.shape(), *geom))),
        ],
        // y = B(x, c0) with ⟨g, y⟩ = ⟨conv2d(x, g), c0⟩
        Conv2dWeightGrad(x, c0, geom) => [
            t(need[0].then(|| Tensor::conv2d_input_grad(c0, g, x.shape(), *geom))),
            t(need[1].then(|| x.conv2d_geom(g, *geom))),
        ],
        Cast(x) => one(g.cast(x.dtype())),
    }
}
