//! The [`Transform`] trait, [`chain`], and helpers on lists of arrays.

use odl_tensor::cpu::simd;
use odl_tensor::{Array, DType};

/// A gradient transformation: turns gradients into updates, in place.
///
/// `updates` arrive holding the gradients (or what earlier transformations
/// made of them) and leave holding this transformation's output; `params` are
/// the current parameters (used by weight decay, projections, perturbations).
/// State (buffers, step counts) is created on the first call, shaped like
/// `params`.
pub trait Transform: Send {
    /// Transforms `updates` in place.
    fn update(&mut self, updates: &mut [Array], params: &[Array]);

    /// The state as named arrays (for checkpoints): names are stable and
    /// prefixed by the transformation's position in a chain.
    fn state(&self) -> Vec<(String, Array)> {
        Vec::new()
    }

    /// Restores the state written by [`Transform::state`]; unknown or missing
    /// names are an error naming them.
    fn load_state(&mut self, state: &[(String, Array)]) -> Result<(), String> {
        match state.first() {
            None => Ok(()),
            Some((name, _)) => Err(format!("unexpected optimizer state '{name}'")),
        }
    }

    /// One optimizer step: `params ← params + update(grads)`. A [`Chain`]
    /// whose parts allow it does this in one fused pass over both threads
    /// (bit-identical to `update` then [`apply_updates`]).
    fn step(&mut self, params: &mut [Array], mut grads: Vec<Array>) {
        self.update(&mut grads, params);
        apply_updates(params, &grads);
    }

    /// The learning rate that the last update applied, for transformations
    /// that apply one (what a training log records as `lr`).
    fn learning_rate(&self) -> Option<f64> {
        None
    }

    /// For a transformation that only multiplies every update by one number
    /// (a learning rate): that number at its next update, with its state
    /// advanced as if the update had run. Others return `None` and change
    /// nothing.
    fn next_factor(&mut self) -> Option<f64> {
        None
    }

    /// `update`, then `u ← c·u`, then `params ← params + u`. Transformations
    /// with an elementwise rule override this with one fused pass that
    /// rounds exactly as the three passes do.
    fn update_scale_apply(&mut self, params: &mut [Array], mut grads: Vec<Array>, c: f64) {
        self.update(&mut grads, params);
        crate::fused::scale_apply(params, &grads, c);
    }
}

/// Transformations applied one after another.
pub struct Chain(pub Vec<Box<dyn Transform>>);

/// Composes transformations left to right: `chain(vec![Box::new(a), Box::new(b)])`
/// applies `a`, then `b`.
pub fn chain(parts: Vec<Box<dyn Transform>>) -> Chain {
    Chain(parts)
}

impl Transform for Chain {
    fn update(&mut self, updates: &mut [Array], params: &[Array]) {
        for t in &mut self.0 {
            t.update(updates, params);
        }
    }

    fn state(&self) -> Vec<(String, Array)> {
        self.0
            .iter()
            .enumerate()
            .flat_map(|(i, t)| t.state().into_iter().map(move |(k, v)| (format!("{i}.{k}"), v)))
            .collect()
    }

    /// A chain ending in a learning rate with at most one transformation
    /// before it (SGD, momentum, Nesterov, AdaGrad, RMSProp, Adam, AMSGrad)
    /// takes its step in one fused pass; longer chains run part by part.
    fn step(&mut self, params: &mut [Array], mut grads: Vec<Array>) {
        if let Some((last, rest)) = self.0.split_last_mut() {
            if rest.len() <= 1 {
                if let Some(c) = last.next_factor() {
                    match rest.first_mut() {
                        None => crate::fused::scale_apply(params, &grads, c),
                        Some(t) => t.update_scale_apply(params, grads, c),
                    }
                    return;
                }
            }
        }
        self.update(&mut grads, params);
        apply_updates(params, &grads);
    }

    fn learning_rate(&self) -> Option<f64> {
        self.0.iter().rev().find_map(|t| t.learning_rate())
    }

    fn load_state(&mut self, state: &[(String, Array)]) -> Result<(), String> {
        for (i, t) in self.0.iter_mut().enumerate() {
            let prefix = format!("{i}.");
            let mine: Vec<(String, Array)> = state
                .iter()
                .filter_map(|(k, v)| k.strip_prefix(&prefix).map(|rest| (rest.to_string(), v.clone())))
                .collect();
            t.load_state(&mine)?;
        }
        if let Some((k, _)) = state.iter().find(|(k, _)| {
            k.split_once('.').and_then(|(i, _)| i.parse::<usize>().ok()).is_none_or(|i| i >= self.0.len())
        }) {
            return Err(format!("unexpected optimizer state '{k}'"));
        }
        Ok(())
    }
}

/// `p ← p + u` for every parameter.
#[track_caller]
pub fn apply_updates(params: &mut [Array], updates: &[Array]) {
    assert_eq!(
        params.len(),
        updates.len(),
        "apply_updates: {} parameters, {} updates",
        params.len(),
        updates.len()
    );
    // `p + round(1·u)` is `p + u`: the fused pass, on both threads
    crate::fused::scale_apply(params, updates, 1.0);
}

/// The global L2 norm `sqrt(Σ ‖a_i‖²)` of a list of arrays, in f64.
pub fn global_norm(a: &[Array]) -> f64 {
    a.iter().map(|x| x.to_vec_f64().iter().map(|v| v * v).sum::<f64>()).sum::<f64>().sqrt()
}

/// `a ← f(a, b)` elementwise (same shape; computed in f64, stored in `a`'s dtype).
#[track_caller]
#[inline(always)]
pub(crate) fn zip_mut(a: &mut Array, b: &Array, f: impl Fn(f64, f64) -> f64) {
    assert_eq!(a.shape(), b.shape(), "optimizer: shapes {:?} and {:?} differ", a.shape(), b.shape());
    match (a.dtype(), b.dtype()) {
        (DType::F32, DType::F32) => {
            let (xs, ys) = (a.as_mut_slice::<f32>(), b.as_slice::<f32>());
            simd(
                #[inline(always)]
                || xs.iter_mut().zip(ys).for_each(|(x, &y)| *x = f(*x as f64, y as f64) as f32),
            );
        }
        (DType::F64, DType::F64) => {
            let (xs, ys) = (a.as_mut_slice::<f64>(), b.as_slice::<f64>());
            simd(
                #[inline(always)]
                || xs.iter_mut().zip(ys).for_each(|(x, &y)| *x = f(*x, y)),
            );
        }
        (da, db) => panic!("optimizer: dtypes {da} and {db} differ"),
    }
}

/// `a ← f(a)` elementwise.
#[inline(always)]
pub(crate) fn map_mut(a: &mut Array, f: impl Fn(f64) -> f64) {
    match a.dtype() {
        DType::F32 => {
            let xs = a.as_mut_slice::<f32>();
            simd(
                #[inline(always)]
                || xs.iter_mut().for_each(|x| *x = f(*x as f64) as f32),
            )
        }
        DType::F64 => {
            let xs = a.as_mut_slice::<f64>();
            simd(
                #[inline(always)]
                || xs.iter_mut().for_each(|x| *x = f(*x)),
            )
        }
    }
}

/// Zeros shaped like each parameter.
pub(crate) fn zeros_like(params: &[Array]) -> Vec<Array> {
    params.iter().map(|p| Array::zeros(p.shape(), p.dtype())).collect()
}

/// Names `prefix.i` for a list of buffers.
pub(crate) fn named(prefix: &str, bufs: &[Array]) -> Vec<(String, Array)> {
    bufs.iter().enumerate().map(|(i, b)| (format!("{prefix}.{i}"), b.clone())).collect()
}

/// Reads buffers `prefix.0 …` back; `Ok(None)` when none are present.
pub(crate) fn read_named(prefix: &str, state: &[(String, Array)]) -> Result<Option<Vec<Array>>, String> {
    let mut out: Vec<(usize, Array)> = Vec::new();
    for (k, v) in state {
        if let Some(i) = k.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')) {
            let i: usize = i.parse().map_err(|_| format!("bad optimizer state name '{k}'"))?;
            out.push((i, v.clone()));
        }
    }
    if out.is_empty() {
        return Ok(None);
    }
    out.sort_by_key(|(i, _)| *i);
    if out.iter().enumerate().any(|(j, (i, _))| *i != j) {
        return Err(format!("optimizer state '{prefix}' has gaps"));
    }
    Ok(Some(out.into_iter().map(|(_, v)| v).collect()))
}
