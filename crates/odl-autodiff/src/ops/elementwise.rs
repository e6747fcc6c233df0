//! Elementwise ops: unary functions, broadcast binary arithmetic (also as Rust
//! operators), comparisons (masks), `where` and `clamp`.

use std::ops::{Add, Div, Mul, Neg, Sub};

use odl_tensor::{Array, BinaryOp, CmpOp, UnaryOp};

use crate::op::Op;
use crate::tensor::Tensor;

macro_rules! unary_methods {
    ($($(#[$doc:meta])* $name:ident => $op:ident),* $(,)?) => {
        impl Tensor {
            $(
                $(#[$doc])*
                pub fn $name(&self) -> Tensor {
                    Tensor::from_op(self.value().unary(UnaryOp::$op), Op::Unary(UnaryOp::$op, self.clone()))
                }
            )*
        }
    };
}

unary_methods! {
    /// `-x`
    neg => Neg,
    /// `e^x`
    exp => Exp,
    /// natural logarithm
    log => Log,
    /// square root
    sqrt => Sqrt,
    /// hyperbolic tangent
    tanh => Tanh,
    /// absolute value
    abs => Abs,
    /// sign (`sign(0) = 0`); its derivative is zero
    sign => Sign,
    /// sine
    sin => Sin,
    /// cosine
    cos => Cos,
    /// `1/x`
    recip => Recip,
    /// `max(x, 0)`; its gradient is `g · [x > 0]` (zero at 0), in one pass
    relu => Relu,
}

macro_rules! binary_methods {
    ($($(#[$doc:meta])* $name:ident => $op:ident),* $(,)?) => {
        impl Tensor {
            $(
                $(#[$doc])*
                #[track_caller]
                pub fn $name(&self, other: &Tensor) -> Tensor {
                    Tensor::from_op(
                        self.value().binary(BinaryOp::$op, other.value()),
                        Op::Binary(BinaryOp::$op, self.clone(), other.clone()),
                    )
                }
            )*
        }
    };
}

binary_methods! {
    /// `a + b`, broadcast
    add => Add,
    /// `a - b`, broadcast
    sub => Sub,
    /// `a * b`, broadcast
    mul => Mul,
    /// `a / b`, broadcast
    div => Div,
    /// `a ^ b`, broadcast
    pow => Pow,
    /// elementwise maximum (the gradient goes to `a` where `a > b`, else to `b`)
    maximum => Max,
    /// elementwise minimum (the gradient goes to `a` where `a < b`, else to `b`)
    minimum => Min,
    /// `a · (1 − b²)` in one pass (tanh's VJP, `g · (1 − tanh²)`)
    mul_one_minus_sq => MulOneMinusSq,
    /// `a · [b > 0]` in one pass (ReLU's VJP, `g · [x > 0]`); no gradient
    /// flows into `b`
    mul_positive => MulPositive,
}

macro_rules! compare_methods {
    ($($(#[$doc:meta])* $name:ident => $op:ident),* $(,)?) => {
        impl Tensor {
            $(
                $(#[$doc])*
                #[track_caller]
                pub fn $name(&self, other: &Tensor) -> Tensor {
                    Tensor::from_op(
                        self.value().compare(CmpOp::$op, other.value()),
                        Op::Compare(CmpOp::$op, self.clone(), other.clone()),
                    )
                }
            )*
        }
    };
}

compare_methods! {
    /// mask of `a == b` (a constant: comparisons have no gradient)
    eq_mask => Eq,
    /// mask of `a != b`
    ne_mask => Ne,
    /// mask of `a < b`
    lt_mask => Lt,
    /// mask of `a <= b`
    le_mask => Le,
    /// mask of `a > b`
    gt_mask => Gt,
    /// mask of `a >= b`
    ge_mask => Ge,
}

impl Tensor {
    /// A constant scalar of this tensor's dtype.
    pub fn scalar_like(&self, v: f64) -> Tensor {
        Tensor::scalar(v, self.dtype())
    }

    /// `x + c`
    pub fn add_scalar(&self, c: f64) -> Tensor {
        self.add(&self.scalar_like(c))
    }

    /// `x * c`
    pub fn mul_scalar(&self, c: f64) -> Tensor {
        self.mul(&self.scalar_like(c))
    }

    /// `x ^ c`
    pub fn powf(&self, c: f64) -> Tensor {
        self.pow(&self.scalar_like(c))
    }

    /// `x²`
    pub fn square(&self) -> Tensor {
        self.mul(self)
    }

    /// `cond ? a : b` where `cond` is a mask (nonzero = true; no gradient
    /// flows into it); broadcast.
    #[track_caller]
    pub fn where_(cond: &Tensor, a: &Tensor, b: &Tensor) -> Tensor {
        Tensor::from_op(
            Array::select(cond.value(), a.value(), b.value()),
            Op::Select(cond.clone(), a.clone(), b.clone()),
        )
    }

    /// The mask of `lo <= x <= hi` (1 inside, 0 outside or NaN; a constant).
    pub fn in_range_mask(&self, lo: f64, hi: f64) -> Tensor {
        Tensor::from_op(self.value().in_range(lo, hi), Op::InRange(self.clone(), lo, hi))
    }

    /// Clamps to `[lo, hi]`; the gradient passes where `lo <= x <= hi`.
    pub fn clamp(&self, lo: f64, hi: f64) -> Tensor {
        Tensor::from_op(self.value().clamp(lo, hi), Op::Clamp(self.clone(), lo, hi))
    }

    /// Converts the element type (differentiable).
    pub fn cast(&self, dtype: odl_tensor::DType) -> Tensor {
        if dtype == self.dtype() {
            return self.clone();
        }
        Tensor::from_op(self.value().cast(dtype), Op::Cast(self.clone()))
    }
}

macro_rules! operator {
    ($trait:ident, $f:ident, $method:ident) => {
        impl $trait<&Tensor> for &Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $f(self, rhs: &Tensor) -> Tensor {
                Tensor::$method(self, rhs)
            }
        }
        impl $trait<Tensor> for Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $f(self, rhs: Tensor) -> Tensor {
                Tensor::$method(&self, &rhs)
            }
        }
        impl $trait<&Tensor> for Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $f(self, rhs: &Tensor) -> Tensor {
                Tensor::$method(&self, rhs)
            }
        }
        impl $trait<f64> for &Tensor {
            type Output = Tensor;
            fn $f(self, rhs: f64) -> Tensor {
                Tensor::$method(self, &self.scalar_like(rhs))
            }
        }
        impl $trait<f64> for Tensor {
            type Output = Tensor;
            fn $f(self, rhs: f64) -> Tensor {
                Tensor::$method(&self, &self.scalar_like(rhs))
            }
        }
    };
}

operator!(Add, add, add);
operator!(Sub, sub, sub);
operator!(Mul, mul, mul);
operator!(Div, div, div);

impl Neg for &Tensor {
    type Output = Tensor;
    fn neg(self) -> Tensor {
        Tensor::neg(self)
    }
}

impl Neg for Tensor {
    type Output = Tensor;
    fn neg(self) -> Tensor {
        Tensor::neg(&self)
    }
}
