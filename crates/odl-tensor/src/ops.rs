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

/// Geometry of a 2-d convolution or pooling window (NCHW).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv2dGeom {
    /// stride in both spatial directions
    pub stride: usize,
    /// zero padding on every side
    pub padding: usize,
}

impl Conv2dGeom {
    /// Output size along one axis for input size `n` and window `k`.
    pub fn out_len(&self, n: usize, k: usize) -> usize {
        (n + 2 * self.padding - k) / self.stride + 1
    }
}
