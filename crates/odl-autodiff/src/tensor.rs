//! [`Tensor`]: a value ([`Array`]) plus, when it depends on something that
//! requires a gradient, the primitive [`Op`] that made it. The op holds its
//! inputs, so the graph *is* the chain of ops (as in candle and micrograd).

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use odl_tensor::{Array, DType, Shape};

use crate::op::Op;
use crate::trace;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

pub(crate) struct Node {
    pub(crate) id: u64,
    value: Value,
    pub(crate) op: Option<Op>,
    pub(crate) requires_grad: bool,
}

/// A node's value: set at creation, or (a lazy node) computed from its op on
/// first use, with shape and dtype known before (see [`Tensor::lazy_matmul`]).
enum Value {
    Ready(Array),
    Lazy(Box<(OnceLock<Array>, Shape, DType)>),
}

/// A differentiable n-dimensional array. Cheap to clone (shared).
#[derive(Clone)]
pub struct Tensor(pub(crate) Arc<Node>);

/// Runs `f` with graph recording set to `on` on this thread, restoring the
/// previous setting afterwards, even on panic.
fn with_grad_mode<R>(on: bool, f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            GRAD_ENABLED.with(|g| g.set(self.0));
        }
    }
    let _restore = Restore(GRAD_ENABLED.with(|g| g.replace(on)));
    f()
}

/// Runs `f` with graph recording switched off on this thread: ops then build no
/// graph (as in PyTorch's `no_grad`). Recording is restored afterwards, even on panic.
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    with_grad_mode(false, f)
}

/// Runs `f` with graph recording switched on (inside a [`no_grad`] region too).
pub fn enable_grad<R>(f: impl FnOnce() -> R) -> R {
    with_grad_mode(true, f)
}

/// [`odl_tensor::join`] for tensor code: both halves record (or do not
/// record) a graph as the caller does, whichever thread runs them. While a
/// function is traced both run here, one after the other: the trace's
/// record of what it saw is this thread's.
pub(crate) fn join<RA: Send, RB: Send>(
    a: impl FnOnce() -> RA + Send,
    b: impl FnOnce() -> RB + Send,
) -> (RA, RB) {
    if trace::is_tracing() {
        return (a(), b());
    }
    let on = is_grad_enabled();
    odl_tensor::join(|| with_grad_mode(on, a), || with_grad_mode(on, b))
}

/// `f` of every item, in order, the items spread over the compute threads
/// by recursive halving; each call records a graph, or not, as the caller
/// does. Work that splits into independent pieces (a batch's shards) runs
/// side by side this way, each piece with its share of the threads (one
/// each when there are at least as many pieces as threads).
pub fn par_map<T: Sync, R: Send>(items: &[T], f: &(dyn Fn(&T) -> R + Sync)) -> Vec<R> {
    match items {
        [] => Vec::new(),
        [one] => vec![f(one)],
        _ => {
            let (a, b) = items.split_at(items.len() / 2);
            let (mut ra, rb) = join(|| par_map(a, f), || par_map(b, f));
            ra.extend(rb);
            ra
        }
    }
}

/// Whether ops on this thread currently record a graph.
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

impl Tensor {
    fn node(value: Value, op: Option<Op>, requires_grad: bool) -> Tensor {
        Tensor(Arc::new(Node { id: NEXT_ID.fetch_add(1, Ordering::Relaxed), value, op, requires_grad }))
    }

    pub(crate) fn make(value: Array, op: Option<Op>, requires_grad: bool) -> Tensor {
        Tensor::node(Value::Ready(value), op, requires_grad)
    }

    /// A constant from a literal number (never derived from traced values).
    fn literal(value: Array) -> Tensor {
        Tensor::make(value, None, false)
    }

    /// A recorded product whose value is computed only when something reads
    /// it. A gradient built with `create_graph` ends in such products (the
    /// weight gradients `δᵀh` of linear layers); a Hessian-vector product
    /// differentiates through them but never reads them, so their
    /// multiply-adds are skipped unless the gradient itself is asked for.
    /// Outside graph recording this is an ordinary (eager) product.
    pub(crate) fn lazy_matmul(a: &Tensor, b: &Tensor, ta: bool, tb: bool) -> Tensor {
        let op = Op::MatMul(a.clone(), b.clone(), ta, tb);
        if !(is_grad_enabled() && op.any_input_requires_grad()) {
            return a.matmul_t(b, ta, tb);
        }
        let shape = Array::matmul_shape(a.shape(), b.shape(), ta, tb);
        assert_eq!(
            a.dtype(),
            b.dtype(),
            "matmul: element types differ ({} and {}); cast one first",
            a.dtype(),
            b.dtype()
        );
        Tensor::node(Value::Lazy(Box::new((OnceLock::new(), shape, a.dtype()))), Some(op), true)
    }

    /// A constant: no gradient flows into it.
    pub fn constant(value: Array) -> Tensor {
        let t = Tensor::make(value, None, false);
        trace::constant(&t);
        t
    }

    /// A leaf that gradients are taken with respect to (a parameter or an input).
    pub fn param(value: Array) -> Tensor {
        Tensor::make(value, None, true)
    }

    /// The value, moved out without a copy when this is the only handle on
    /// the node (a parameter whose graphs are gone), else a shared copy.
    /// An optimizer that then writes into the array writes in place
    /// instead of copying it first (arrays copy on write when shared).
    pub fn into_value(mut self) -> Array {
        let dtype = self.dtype();
        // a lazy product is computed now, so both arms below hold a value
        self.value();
        match Arc::get_mut(&mut self.0) {
            Some(node) => match std::mem::replace(&mut node.value, Value::Ready(Array::zeros(&[0], dtype))) {
                Value::Ready(v) => v,
                Value::Lazy(lazy) => lazy.0.into_inner().expect("computed above"),
            },
            None => self.value().clone(),
        }
    }

    /// Records the result of an op: the graph is kept only when recording is on
    /// and some input requires a gradient — or, while a function is traced
    /// for [`crate::compile`], when some input is traced at all (a mask, a
    /// detached value, a gradient taken without recording: nodes with no
    /// gradient, which a replay recomputes).
    pub(crate) fn from_op(value: Array, op: Op) -> Tensor {
        if is_grad_enabled() && op.any_input_requires_grad() {
            Tensor::make(value, Some(op), true)
        } else if trace::is_tracing() && op.any_input_traced() {
            Tensor::make(value, Some(op), false)
        } else {
            let t = Tensor::make(value, None, false);
            trace::unrecorded(&t, &op);
            t
        }
    }

    /// A constant built from `f64` values.
    #[track_caller]
    pub fn from_f64(data: &[f64], shape: &[usize], dtype: DType) -> Tensor {
        Tensor::constant(Array::from_f64(data, shape, dtype))
    }

    /// A constant 0-d tensor.
    pub fn scalar(v: f64, dtype: DType) -> Tensor {
        Tensor::literal(Array::scalar(v, dtype))
    }

    /// A constant of zeros.
    pub fn zeros(shape: &[usize], dtype: DType) -> Tensor {
        Tensor::literal(Array::zeros(shape, dtype))
    }

    /// A constant of ones.
    pub fn ones(shape: &[usize], dtype: DType) -> Tensor {
        Tensor::literal(Array::ones(shape, dtype))
    }

    /// Zeros of this tensor's shape and dtype.
    pub fn zeros_like(&self) -> Tensor {
        Tensor::zeros(self.shape(), self.dtype())
    }

    /// The value (computed now if this is a lazy node not read before).
    pub fn value(&self) -> &Array {
        match &self.0.value {
            Value::Ready(v) => v,
            Value::Lazy(lazy) => lazy.0.get_or_init(|| match &self.0.op {
                Some(Op::MatMul(a, b, ta, tb)) => Array::matmul(a.value(), b.value(), *ta, *tb),
                _ => unreachable!("only products are created lazily"),
            }),
        }
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        match &self.0.value {
            Value::Ready(v) => v.shape(),
            Value::Lazy(lazy) => &lazy.1,
        }
    }

    /// Number of axes.
    pub fn ndim(&self) -> usize {
        self.shape().len()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape().iter().product()
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        match &self.0.value {
            Value::Ready(v) => v.dtype(),
            Value::Lazy(lazy) => lazy.2,
        }
    }

    /// Whether gradients can flow to or through this tensor.
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad
    }

    /// True for tensors made by [`Tensor::param`] / [`Tensor::constant`] (no op).
    pub fn is_leaf(&self) -> bool {
        self.0.op.is_none()
    }

    /// A unique id (stable for this tensor's lifetime).
    pub fn id(&self) -> u64 {
        self.0.id
    }

    /// The same value cut from the graph (a constant; no gradient flows
    /// through it).
    pub fn detach(&self) -> Tensor {
        Tensor::from_op(self.value().clone(), Op::Detach(self.clone()))
    }

    /// The single element as `f64`.
    #[track_caller]
    pub fn item(&self) -> f64 {
        trace::read(self);
        self.value().item()
    }

    /// The elements as `f64`.
    pub fn to_vec_f64(&self) -> Vec<f64> {
        trace::read(self);
        self.value().to_vec_f64()
    }

    /// `self + other` for same-shaped tensors; when nothing records a graph
    /// and `self` is a plain value held only here, the sum is written into
    /// its buffer (a backward pass accumulating cotangents without a new
    /// array per term). Same arithmetic either way.
    pub(crate) fn accumulate(mut self, other: &Tensor) -> Tensor {
        if !is_grad_enabled()
            && !trace::is_tracing()
            && self.shape() == other.shape()
            && self.dtype() == other.dtype()
        {
            if let Some(Node { value: Value::Ready(acc), op: None, requires_grad: false, .. }) =
                Arc::get_mut(&mut self.0)
            {
                acc.scale_add(1.0, other.value(), 1.0);
                return self;
            }
        }
        self.add(other)
    }

    pub(crate) fn op(&self) -> Option<&Op> {
        self.0.op.as_ref()
    }
}

impl Drop for Node {
    // Long chains (an unrolled 10k-step recurrence) would otherwise drop
    // recursively and overflow the stack: unlink uniquely owned inputs iteratively.
    fn drop(&mut self) {
        let Some(op) = self.op.take() else { return };
        // common case: no input would be freed together with a graph of its
        // own, so the ordinary (shallow) drop is enough
        if op.all_inputs().into_iter().flatten().all(|t| t.0.op.is_none() || Arc::strong_count(&t.0) > 1) {
            return;
        }
        let mut stack: Vec<Op> = vec![op];
        while let Some(op) = stack.pop() {
            for t in op.into_inputs() {
                if let Ok(mut node) = Arc::try_unwrap(t.0) {
                    if let Some(inner) = node.op.take() {
                        stack.push(inner);
                    }
                }
            }
        }
    }
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tensor({:?}", self.value())?;
        if let Some(op) = &self.0.op {
            write!(f, ", op={}", op.name())?;
        } else if self.0.requires_grad {
            write!(f, ", param")?;
        }
        write!(f, ")")
    }
}
