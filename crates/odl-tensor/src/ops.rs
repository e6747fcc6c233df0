//! The names of the kernel families. The autodiff layer records these in its
//! graph; the backends implement them.

/// Elementwise functions of one argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `-x`
    Neg,
    /// `e^x`
    Exp,
    /// natural logarithm
    Log,
    /// square root
    Sqrt,
    /// hyperbolic tangent
    Tanh,
    /// `|x|`
    Abs,
    /// sign, with `sign(0) = 0`
    Sign,
    /// sine
    Sin,
    /// cosine
    Cos,
    /// `1/x`
    Recip,
    /// `max(x, 0)` (a NaN stays NaN, as in `maximum`)
    Relu,
}

/// Elementwise functions of two broadcast arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `a + b`
    Add,
    /// `a - b`
    Sub,
    /// `a * b`
    Mul,
    /// `a / b`
    Div,
    /// `a ^ b`
    Pow,
    /// elementwise maximum
    Max,
    /// elementwise minimum
    Min,
    /// `a · (1 − b²)`: tanh's VJP `g · (1 − y²)` fused into one pass
    MulOneMinusSq,
    /// `a · [b > 0]`: ReLU's VJP `g · [x > 0]` fused into one pass (a mask
    /// and a product before; the same numbers, a NaN `a` included)
    MulPositive,
}

/// Elementwise comparisons; the result is a mask of 0.0 and 1.0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `a == b`
    Eq,
    /// `a != b`
    Ne,
    /// `a < b`
    Lt,
    /// `a <= b`
    Le,
    /// `a > b`
    Gt,
    /// `a >= b`
    Ge,
}

/// Reductions over a set of axes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    /// sum
    Sum,
    /// maximum
    Max,
}

/// Geometry of a 2-d convolution (NCHW).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv2dGeom {
    /// stride in both spatial directions
    pub stride: usize,
    /// zero padding `(top and bottom, left and right)`
    pub padding: (usize, usize),
}

impl Conv2dGeom {
    /// The same padding on every side.
    pub fn square(stride: usize, padding: usize) -> Conv2dGeom {
        Conv2dGeom { stride, padding: (padding, padding) }
    }

    /// Output size along one axis of input size `n`, window `k` and padding `p`.
    pub fn out_len(&self, n: usize, k: usize, p: usize) -> usize {
        (n + 2 * p - k) / self.stride + 1
    }
}
