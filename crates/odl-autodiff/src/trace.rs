//! The tracing context of [`crate::compile`]. While a function is traced,
//! two things that a replay could not redo are remembered here, outside the
//! graph: constants made from traced values (a mask, a detached value, a
//! gradient taken without recording — the graph holds them as fixed values),
//! and traced values read out as numbers. [`crate::compile::Compiled::trace`]
//! refuses a trace with either. Nothing is recorded when no trace runs.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;

use crate::op::Op;
use crate::tensor::Tensor;

/// What a trace remembered.
#[derive(Default)]
pub(crate) struct Log {
    /// ids of constants computed from traced values
    pub(crate) derived: HashSet<u64>,
    /// whether a traced value was read out as numbers
    pub(crate) read: bool,
    /// ids of the trace's inputs (data inputs need not require a gradient)
    inputs: HashSet<u64>,
}

thread_local! {
    static ON: Cell<bool> = const { Cell::new(false) };
    static LOG: RefCell<Log> = RefCell::new(Log::default());
}

/// Whether a trace runs on this thread.
pub(crate) fn is_tracing() -> bool {
    ON.with(Cell::get)
}

/// Runs `f` as a trace of a function of `inputs` and returns what it
/// remembered (a trace inside a trace keeps its own log; the outer one is
/// restored afterwards, even on panic).
pub(crate) fn tracing<R>(inputs: &[Tensor], f: impl FnOnce() -> R) -> (R, Log) {
    struct Restore(bool, Option<Log>);
    impl Drop for Restore {
        fn drop(&mut self) {
            ON.with(|t| t.set(self.0));
            if let Some(outer) = self.1.take() {
                LOG.with(|l| *l.borrow_mut() = outer);
            }
        }
    }
    let mut restore = Restore(ON.with(|t| t.replace(true)), Some(LOG.with(|l| l.take())));
    LOG.with(|l| l.borrow_mut().inputs = inputs.iter().map(Tensor::id).collect());
    let out = f();
    let log = LOG.with(|l| l.take());
    if let Some(outer) = restore.1.take() {
        LOG.with(|l| *l.borrow_mut() = outer);
    }
    drop(restore);
    (out, log)
}

/// Whether `t` is traced: an input of the trace, a parameter, or computed
/// from one (only meaningful while tracing).
pub(crate) fn is_traced(t: &Tensor) -> bool {
    t.requires_grad() || !t.is_leaf() || LOG.with(|l| l.borrow().inputs.contains(&t.id()))
}

/// Whether `t` is a constant computed from traced values in this trace.
pub(crate) fn is_derived(t: &Tensor) -> bool {
    is_tracing() && LOG.with(|l| l.borrow().derived.contains(&t.id()))
}

/// A constant made while tracing: remembered (it may hold traced values).
pub(crate) fn constant(t: &Tensor) {
    if is_tracing() {
        LOG.with(|l| l.borrow_mut().derived.insert(t.id()));
    }
}

/// A result of `op` that the graph does not record: remembered when it was
/// computed from traced values.
pub(crate) fn unrecorded(t: &Tensor, op: &Op) {
    if is_tracing() && op.all_inputs().iter().flatten().any(|x| x.requires_grad() || is_derived(x)) {
        LOG.with(|l| l.borrow_mut().derived.insert(t.id()));
    }
}

/// `t` read out as numbers: remembered when it is a traced value.
pub(crate) fn read(t: &Tensor) {
    if is_tracing() && (is_traced(t) || is_derived(t)) {
        LOG.with(|l| l.borrow_mut().read = true);
    }
}
