//! Trace once, replay many times: the graph that a derivative computation
//! records (forward ops and, through `grad_graph`, the backward ones too) is
//! flattened into a list of kernel calls over buffers, and [`Compiled::run`]
//! re-executes that list for new input values. No graph is built, no VJP rule
//! is consulted and no cotangent bookkeeping happens on a replay, which is what
//! a training step of a tiny network (a 1-D chain of 50 scalars) spends its
//! time on; elementwise binary ops on equal shapes are done in place, in buffers
//! kept from one run to the next.
//!
//! A replay recomputes exactly what the graph records. While a function is
//! traced, the values an eager run keeps outside the graph are recorded too,
//! as nodes without a gradient: masks (the gradients of ReLU, `clamp`, `max`
//! and `where`), conditions of `where`, detached values (logsumexp's shift),
//! and gradients taken with `grad` instead of `grad_graph`. So ReLU networks
//! with softmax cross-entropy compile — with the targets given as a tensor
//! input ([`Tensor::cross_entropy_targets`], one-hot rows), since a pick by
//! label index would replay the trace's labels. Max pooling is one primitive
//! whose forward and VJP find the window maxima of their input, so a replay
//! pools at the new maxima (CNNs compile). Refused with a
//! [`CompileError`]: gathers by index (`cross_entropy` with a label slice,
//! `take`/`scatter_add`), constants the function built
//! from traced values' numbers, and traced values read out as numbers (`item`,
//! `to_vec_f64`) while tracing. Replays are bit-identical to running the
//! function again.

use std::collections::HashMap;
use std::fmt;

use odl_tensor::{Array, BinaryOp, CmpOp, Conv2dGeom, DType, ReduceOp, Shape, UnaryOp};

use crate::op::{Op, Pool};
use crate::tensor::Tensor;
use crate::trace::{tracing, Log};

/// Why a function cannot be compiled.
#[derive(Debug, Clone, PartialEq)]
pub enum CompileError {
    /// The graph holds an op whose replay would use values fixed at trace time.
    Unsupported(String),
    /// The function made a constant while tracing (a random draw, or an
    /// array built from a traced value): a replay would reuse it unchanged.
    Derived,
    /// The function read a traced value out as numbers while tracing.
    ReadWhileTracing,
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompileError::Unsupported(op) => write!(
                f,
                "cannot compile: the graph uses {op}, a gather whose indices were fixed at trace time \
                 (labels: use cross_entropy_targets with one-hot targets as an input; \
                 other gathers: run the function eagerly instead)"
            ),
            CompileError::Derived => write!(
                f,
                "cannot compile: the function made a constant while tracing (a random draw such as \
                 dropout's mask, or an array built from a traced value's numbers), which a replay would reuse unchanged"
            ),
            CompileError::ReadWhileTracing => write!(
                f,
                "cannot compile: the function read a traced value as numbers (item/to_vec_f64) while tracing"
            ),
        }
    }
}

impl std::error::Error for CompileError {}

/// A primitive with its non-tensor arguments (the graph's [`Op`] without its inputs).
enum Kernel {
    Unary(UnaryOp),
    Binary(BinaryOp),
    Clamp(f64, f64),
    Select,
    Compare(CmpOp),
    InRange(f64, f64),
    Copy,
    Reduce(ReduceOp, Shape),
    MatMul(bool, bool),
    Reshape,
    Permute(Shape),
    Expand,
    Conv2d(Conv2dGeom),
    Conv2dInputGrad(Conv2dGeom),
    Conv2dWeightGrad(Conv2dGeom),
    PoolGather(Pool),
    PoolScatter(Pool),
    Cast(DType),
}

/// One kernel call: reads buffers `args`, writes buffer `out` of shape `shape`.
struct Step {
    kernel: Kernel,
    args: [Option<usize>; 3],
    out: usize,
    shape: Shape,
}

/// A traced function, ready to replay. See the module docs.
pub struct Compiled {
    steps: Vec<Step>,
    /// one buffer per graph node: inputs, constants, and every step's output
    bufs: Vec<Option<Array>>,
    inputs: Vec<usize>,
    /// each input's shape and dtype at tracing
    input_types: Vec<(Shape, DType)>,
    outputs: Vec<usize>,
}

impl Compiled {
    /// Traces `f` at `inputs` (each becomes a leaf that gradients can be taken
    /// with respect to) and keeps the graph of its outputs for replay.
    pub fn trace(
        inputs: &[Array],
        f: impl FnOnce(&[Tensor]) -> Vec<Tensor>,
    ) -> Result<Compiled, CompileError> {
        let leaves: Vec<Tensor> = inputs.iter().map(|a| Tensor::param(a.clone())).collect();
        Compiled::trace_with(&leaves, || f(&leaves))
    }

    /// Traces `f` with existing tensors as its inputs: a model's parameters
    /// (which `f` reaches through the model), a batch made before tracing.
    /// Any other tensor `f` uses that was made before tracing is a constant of
    /// the replay.
    pub fn trace_with(inputs: &[Tensor], f: impl FnOnce() -> Vec<Tensor>) -> Result<Compiled, CompileError> {
        let (outputs, log) = tracing(inputs, f);
        if log.read {
            return Err(CompileError::ReadWhileTracing);
        }
        Compiled::build(inputs, &outputs, &log)
    }

    fn build(leaves: &[Tensor], outputs: &[Tensor], log: &Log) -> Result<Compiled, CompileError> {
        let mut slot: HashMap<u64, usize> = HashMap::new();
        let mut bufs: Vec<Option<Array>> = Vec::new();
        let mut inputs = Vec::with_capacity(leaves.len());
        for t in leaves {
            inputs.push(*slot.entry(t.id()).or_insert_with(|| {
                bufs.push(Some(t.value().clone()));
                bufs.len() - 1
            }));
        }
        // every node the outputs depend on, through all op inputs
        let mut seen: HashMap<u64, Tensor> = HashMap::new();
        let mut stack: Vec<Tensor> = outputs.to_vec();
        while let Some(t) = stack.pop() {
            if seen.contains_key(&t.id()) || slot.contains_key(&t.id()) {
                continue;
            }
            if let Some(op) = t.op() {
                stack.extend(op.all_inputs().into_iter().flatten().cloned());
            } else if log.derived.contains(&t.id()) {
                return Err(CompileError::Derived);
            }
            seen.insert(t.id(), t);
        }
        // ids grow with creation: ascending id is a topological order
        let mut nodes: Vec<Tensor> = seen.into_values().collect();
        nodes.sort_unstable_by_key(Tensor::id);
        let mut steps = Vec::new();
        for t in &nodes {
            let at = bufs.len();
            bufs.push(Some(t.value().clone()));
            slot.insert(t.id(), at);
            let Some(op) = t.op() else { continue }; // a constant: its value stays
            let args = op.all_inputs().map(|x| x.map(|x| slot[&x.id()]));
            steps.push(Step { kernel: kernel(op, t)?, args, out: at, shape: Shape::from_slice(t.shape()) });
        }
        let outputs = outputs.iter().map(|t| slot[&t.id()]).collect();
        let input_types = leaves.iter().map(|t| (Shape::from_slice(t.shape()), t.dtype())).collect();
        Ok(Compiled { steps, bufs, inputs, input_types, outputs })
    }

    /// Number of kernel calls a replay makes.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// True when the outputs are inputs or constants (nothing to compute).
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The outputs of the traced function at new input values (same shapes
    /// and dtypes as at tracing).
    #[track_caller]
    pub fn run(&mut self, inputs: &[Array]) -> Vec<Array> {
        assert_eq!(
            inputs.len(),
            self.inputs.len(),
            "Compiled::run: {} inputs for {}",
            inputs.len(),
            self.inputs.len()
        );
        for (k, a) in inputs.iter().enumerate() {
            self.set_input(k, a.clone());
        }
        self.replay();
        (0..self.outputs.len()).map(|k| self.output(k).clone()).collect()
    }

    /// Number of inputs.
    pub fn num_inputs(&self) -> usize {
        self.inputs.len()
    }

    /// Replaces input `k` (same shape and dtype as at tracing).
    #[track_caller]
    pub fn set_input(&mut self, k: usize, a: Array) {
        let (shape, dtype) = &self.input_types[k];
        assert!(
            a.shape() == &shape[..] && a.dtype() == *dtype,
            "Compiled: input {k} is {}{:?}, traced as {dtype}{:?}",
            a.dtype(),
            a.shape(),
            &shape[..]
        );
        self.bufs[self.inputs[k]] = Some(a);
    }

    /// Input `k`'s buffer, to update in place (an optimizer step) before the
    /// next [`Compiled::replay`].
    #[track_caller]
    pub fn input_mut(&mut self, k: usize) -> &mut Array {
        self.bufs[self.inputs[k]].as_mut().expect("Compiled: input released and not set again")
    }

    /// Drops the input buffers, so that arrays shared with them (a model's
    /// parameters) can be written in place without a copy; every input must
    /// be set again ([`Compiled::set_input`]) before the next replay.
    pub fn release_inputs(&mut self) {
        for &i in &self.inputs {
            self.bufs[i] = None;
        }
    }

    /// Output `k` of the last replay (of the trace, before any).
    #[track_caller]
    pub fn output(&self, k: usize) -> &Array {
        self.bufs[self.outputs[k]].as_ref().expect("Compiled: output taken before")
    }

    /// Moves output `k` of the last replay out (a gradient handed to an
    /// optimizer that writes into it); the next replay computes it afresh.
    #[track_caller]
    pub fn take_output(&mut self, k: usize) -> Array {
        self.bufs[self.outputs[k]].take().expect("Compiled: output taken before")
    }

    /// Recomputes every output from the current inputs.
    pub fn replay(&mut self) {
        for step in &self.steps {
            let kept = self.bufs[step.out].take();
            let [a, b, c] = step.args.map(|i| {
                i.map(|i| self.bufs[i].as_ref().expect("Compiled: an input released and not set again"))
            });
            let mut out = kept;
            let done = out.as_mut().is_some_and(|o| in_place(&step.kernel, a, b, o));
            let out = match out {
                Some(o) if done => o,
                _ => eval(step, a.expect("every primitive has a first input"), b, c),
            };
            self.bufs[step.out] = Some(out);
        }
    }
}

/// The kernel of a recorded op, or why it cannot be replayed.
fn kernel(op: &Op, t: &Tensor) -> Result<Kernel, CompileError> {
    use Op::*;
    Ok(match op {
        Unary(u, _) => Kernel::Unary(*u),
        Binary(b, ..) => Kernel::Binary(*b),
        Clamp(_, lo, hi) => Kernel::Clamp(*lo, *hi),
        Select(..) => Kernel::Select,
        Compare(c, ..) => Kernel::Compare(*c),
        InRange(_, lo, hi) => Kernel::InRange(*lo, *hi),
        Detach(_) => Kernel::Copy,
        Sum(_, axes) => Kernel::Reduce(ReduceOp::Sum, axes.clone()),
        Max(_, axes) => Kernel::Reduce(ReduceOp::Max, axes.clone()),
        MatMul(_, _, ta, tb) => Kernel::MatMul(*ta, *tb),
        Reshape(_) => Kernel::Reshape,
        Permute(_, perm) => Kernel::Permute(perm.clone()),
        Expand(_) => Kernel::Expand,
        Conv2d(.., g) => Kernel::Conv2d(*g),
        Conv2dInputGrad(.., g) => Kernel::Conv2dInputGrad(*g),
        Conv2dWeightGrad(.., g) => Kernel::Conv2dWeightGrad(*g),
        PoolGather(.., p) => Kernel::PoolGather(*p),
        PoolScatter(.., p) => Kernel::PoolScatter(*p),
        Cast(_) => Kernel::Cast(t.dtype()),
        Take(..) | ScatterAdd(..) => return Err(CompileError::Unsupported(op.name())),
    })
}

/// Runs a step with the same `Array` kernel the op's constructor uses.
fn eval(step: &Step, a: &Array, b: Option<&Array>, c: Option<&Array>) -> Array {
    let b = || b.expect("a binary primitive has a second input");
    match &step.kernel {
        // a `where`: (a, b, condition)
        Kernel::Select => Array::select(c.expect("a where has a condition"), a, b()),
        Kernel::Compare(op) => a.compare(*op, b()),
        Kernel::InRange(lo, hi) => a.in_range(*lo, *hi),
        Kernel::Copy => a.clone(),
        Kernel::Unary(u) => a.unary(*u),
        Kernel::Binary(op) => a.binary(*op, b()),
        Kernel::Clamp(lo, hi) => a.clamp(*lo, *hi),
        Kernel::Reduce(r, axes) => a.reduce(*r, axes, false).reshape(&step.shape),
        Kernel::MatMul(ta, tb) => Array::matmul(a, b(), *ta, *tb),
        Kernel::Reshape => a.reshape(&step.shape),
        Kernel::Permute(perm) => a.permute(perm),
        Kernel::Expand => a.expand(&step.shape),
        Kernel::Conv2d(g) => Array::conv2d(a, b(), *g),
        Kernel::Conv2dInputGrad(g) => Array::conv2d_input_grad(a, b(), &step.shape, *g),
        Kernel::Conv2dWeightGrad(g) => Array::conv2d_weight_grad(a, b(), &step.shape, *g),
        // (values, keys): with max_pool2d(x) both are x's buffer
        Kernel::PoolGather((k, s)) => a.maxpool2d_gather(b(), *k, *s),
        Kernel::PoolScatter((k, s)) => a.maxpool2d_scatter(b(), *k, *s),
        Kernel::Cast(d) => a.cast(*d),
    }
}

/// A binary op on two arrays of the output's shape, written into the
/// output's buffer (no allocation); false when the step is not of that form.
fn in_place(k: &Kernel, a: Option<&Array>, b: Option<&Array>, out: &mut Array) -> bool {
    match (k, a, b) {
        (Kernel::Binary(op), Some(a), Some(b)) => out.binary_into(*op, a, b),
        _ => false,
    }
}
