//! The VJP table: for each primitive, the cotangents of its inputs given the
//! cotangent `g` of its output. Every rule is written in differentiable
//! [`Tensor`] ops, so a gradient built with `create_graph` can be
//! differentiated again (Hessian-vector products, gradient penalties, third
//! derivatives). Broadcasting is undone once, by [`sum_to`].

use odl_tensor::shape::reduced_axes;
use odl_tensor::{BinaryOp, UnaryOp};

use crate::op::Op;
use crate::tensor::{join, Tensor};
use odl_tensor::cpu::matmul::PARALLEL_MIN_FLOPS;

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

/// Cotangents of the op's inputs; `need[i]` says whether input `i` wants one.
/// `None` means a zero cotangent.
///
/// `lazy[i]` marks a cotangent that is a requested gradient, returned as is:
/// a product there is recorded lazily ([`Tensor::lazy_matmul`]), so that
/// differentiating it again does not pay for its value.
pub(crate) fn vjp(
    op: &Op,
    out: &Tensor,
    g: &Tensor,
    need: [bool; 2],
    lazy: [bool; 2],
) -> [Option<Tensor>; 2] {
    use Op::*;
    let one = |t: Tensor| [Some(t), None];
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
            };
            [gx.map(|t| sum_to(t, x.shape())), gy.map(|t| sum_to(t, y.shape()))]
        }
        Select(cond, x, y) => {
            let c = Tensor::constant(cond.clone());
            let zero = g.scalar_like(0.0);
            [
                need[0].then(|| sum_to(Tensor::where_(&c, g, &zero), x.shape())),
                need[1].then(|| sum_to(Tensor::where_(&c, &zero, g), y.shape())),
            ]
        }
        Clamp(x, lo, hi) => one(g.mul(&Tensor::constant(x.value().in_range(*lo, *hi)))),
        Sum(x, axes) => one(g.reshape(&keepdim_shape(x.shape(), axes)).expand(x.shape())),
        Max(x, axes) => {
            let keep = keepdim_shape(x.shape(), axes);
            let hit = x.eq_mask(&out.detach().reshape(&keep));
            let ax: Vec<isize> = axes.iter().map(|&a| a as isize).collect();
            let share = hit.div(&hit.sum(&ax, true));
            one(g.reshape(&keep).mul(&share))
        }
        MatMul(a, b, ta, tb) => {
            let (ta, tb) = (*ta, *tb);
            let mm = |x: &Tensor, y: &Tensor, tx: bool, ty: bool, lazy: bool| {
                if lazy {
                    Tensor::lazy_matmul(x, y, tx, ty)
                } else {
                    x.matmul_t(y, tx, ty)
                }
            };
            let ga = || {
                need[0].then(|| if ta { mm(b, g, tb, true, lazy[0]) } else { mm(g, b, false, !tb, lazy[0]) })
            };
            let gb = || {
                need[1].then(|| if tb { mm(g, a, true, ta, lazy[1]) } else { mm(a, g, !ta, false, lazy[1]) })
            };
            // the two products are independent and each costs as much as the
            // forward one (numel(a) · n multiply-adds): big enough, they run side by side
            let flops = a.numel() * g.shape().last().copied().unwrap_or(1);
            let (ga, gb) =
                if need[0] && need[1] && flops >= PARALLEL_MIN_FLOPS { join(ga, gb) } else { (ga(), gb()) };
            [ga.map(|t| sum_to(t, a.shape())), gb.map(|t| sum_to(t, b.shape()))]
        }
        Reshape(x) => one(g.reshape(x.shape())),
        Permute(_, perm) => {
            let mut inv = vec![0; perm.len()];
            for (i, &p) in perm.iter().enumerate() {
                inv[p] = i;
            }
            one(g.permute(&inv))
        }
        Expand(x) => one(sum_to(g.clone(), x.shape())),
        Take(x, idx) => one(g.scatter_add(idx.clone(), x.shape())),
        ScatterAdd(x, idx) => one(g.take(idx.clone(), x.shape())),
        Conv2d(x, w, geom) => [
            need[0].then(|| Tensor::conv2d_input_grad(g, w, x.shape(), *geom)),
            need[1].then(|| Tensor::conv2d_weight_grad(x, g, w.shape(), *geom)),
        ],
        // y = Aᵀ_w c0: ⟨g, y⟩ = ⟨conv2d(g, w), c0⟩, linear in c0 and in w
        Conv2dInputGrad(c0, w, geom) => [
            need[0].then(|| g.conv2d_geom(w, *geom)),
            need[1].then(|| Tensor::conv2d_weight_grad(g, c0, w.shape(), *geom)),
        ],
        // y = B(x, c0) with ⟨g, y⟩ = ⟨conv2d(x, g), c0⟩
        Conv2dWeightGrad(x, c0, geom) => [
            need[0].then(|| Tensor::conv2d_input_grad(c0, g, x.shape(), *geom)),
            need[1].then(|| x.conv2d_geom(g, *geom)),
        ],
        Cast(x) => one(g.cast(x.dtype())),
    }
}
