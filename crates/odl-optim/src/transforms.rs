//! The building blocks. Each is one small struct implementing [`Transform`];
//! the constructors below are what users chain.

use odl_tensor::cpu::simd;
use odl_tensor::{Array, DType, Rng};

use crate::fused::{for_pieces, uniform, Real};
use crate::schedule::Schedule;
use crate::transform::{global_norm, map_mut, named, read_named, zeros_like, zip_mut, Transform};

/// `u ← c·u`.
pub struct Scale(f64);

/// Multiplies updates by a constant (`scale(-lr)` ends plain gradient descent).
pub fn scale(c: f64) -> Scale {
    Scale(c)
}

impl Transform for Scale {
    fn update(&mut self, updates: &mut [Array], _: &[Array]) {
        let c = self.0;
        updates.iter_mut().for_each(|u| map_mut(u, |v| c * v));
    }
    /// `scale(−η)` ends plain gradient descent: its learning rate is `−c`.
    fn learning_rate(&self) -> Option<f64> {
        Some(-self.0)
    }
    fn next_factor(&mut self) -> Option<f64> {
        Some(self.0)
    }
}

/// `u ← −η_t·u` with `η_t` from a schedule; `t` counts calls from 0.
pub struct ScaleByLearningRate {
    schedule: Box<dyn Schedule>,
    step: usize,
}

/// The learning-rate step with a schedule: `u ← −η_t u`.
pub fn scale_by_learning_rate(schedule: impl Schedule + 'static) -> ScaleByLearningRate {
    ScaleByLearningRate { schedule: Box::new(schedule), step: 0 }
}

impl ScaleByLearningRate {
    /// The schedule's rate at step `t` (counting from 0).
    pub fn rate_at(&self, t: usize) -> f64 {
        self.schedule.value(t)
    }
}

impl Transform for ScaleByLearningRate {
    fn update(&mut self, updates: &mut [Array], _: &[Array]) {
        let c = self.next_factor().expect("a learning rate");
        updates.iter_mut().for_each(|u| map_mut(u, |v| c * v));
    }
    /// The rate of the last update (before any: the rate of the first).
    fn learning_rate(&self) -> Option<f64> {
        Some(self.schedule.value(self.step.saturating_sub(1)))
    }
    fn next_factor(&mut self) -> Option<f64> {
        let c = -self.schedule.value(self.step);
        self.step += 1;
        Some(c)
    }
    fn state(&self) -> Vec<(String, Array)> {
        vec![("step".into(), Array::scalar(self.step as f64, odl_tensor::DType::F64))]
    }
    fn load_state(&mut self, state: &[(String, Array)]) -> Result<(), String> {
        self.step = read_step(state)?.unwrap_or(0);
        Ok(())
    }
}

fn read_step(state: &[(String, Array)]) -> Result<Option<usize>, String> {
    match state.iter().find(|(k, _)| k == "step") {
        None => Ok(None),
        Some((_, a)) if a.numel() == 1 && a.item() >= 0.0 && a.item().fract() == 0.0 => {
            Ok(Some(a.item() as usize))
        }
        Some((_, a)) => Err(format!("optimizer step must be a non-negative integer, got {a:?}")),
    }
}

/// Momentum buffer in PyTorch's convention: `v ← μ v + u` (so `v₁ = g₁`), then
/// `u ← v`, or with Nesterov `u ← u + μ v`.
pub struct Trace {
    mu: f64,
    nesterov: bool,
    v: Option<Vec<Array>>,
}

/// Heavy-ball (`nesterov = false`) or Nesterov momentum with coefficient `mu`.
pub fn trace(mu: f64, nesterov: bool) -> Trace {
    Trace { mu, nesterov, v: None }
}

impl Transform for Trace {
    fn update(&mut self, updates: &mut [Array], params: &[Array]) {
        let mu = self.mu;
        let v = self.v.get_or_insert_with(|| zeros_like(params));
        for (u, vi) in updates.iter_mut().zip(v.iter_mut()) {
            zip_mut(vi, u, |v, g| mu * v + g);
            if self.nesterov {
                zip_mut(u, vi, |g, v| g + mu * v);
            } else {
                *u = vi.clone();
            }
        }
    }
    fn update_scale_apply(&mut self, params: &mut [Array], grads: Vec<Array>, c: f64) {
        let (mu, nesterov) = (self.mu, self.nesterov);
        let v = self.v.get_or_insert_with(|| zeros_like(params));
        match uniform(params, &[&mut *v], &grads) {
            Some(DType::F32) => for_pieces::<f32, 1>(params, [v], &grads, &|p, [v], g| {
                simd(
                    #[inline(always)]
                    || trace_kernel(p, v, g, mu, nesterov, c),
                )
            }),
            Some(DType::F64) => for_pieces::<f64, 1>(params, [v], &grads, &|p, [v], g| {
                simd(
                    #[inline(always)]
                    || trace_kernel(p, v, g, mu, nesterov, c),
                )
            }),
            None => {
                let mut grads = grads;
                self.update(&mut grads, params);
                crate::fused::scale_apply(params, &grads, c);
            }
        }
    }
    fn state(&self) -> Vec<(String, Array)> {
        self.v.as_deref().map(|v| named("momentum", v)).unwrap_or_default()
    }
    fn load_state(&mut self, state: &[(String, Array)]) -> Result<(), String> {
        self.v = read_named("momentum", state)?;
        Ok(())
    }
}

/// [`Trace`], the learning rate `c` and the update, per element.
#[inline(always)]
fn trace_kernel<T: Real>(p: &mut [T], v: &mut [T], g: &[T], mu: f64, nesterov: bool, c: f64) {
    for ((p, v), g) in p.iter_mut().zip(v.iter_mut()).zip(g) {
        *v = T::r(mu * v.f() + g.f());
        let u = if nesterov { T::r(g.f() + mu * v.f()) } else { *v };
        let u = T::r(c * u.f());
        *p = T::r(p.f() + u.f());
    }
}

/// Settings of [`scale_by_adam`].
#[derive(Clone, Copy, Debug)]
pub struct AdamConfig {
    /// decay of the first moment
    pub b1: f64,
    /// decay of the second moment
    pub b2: f64,
    /// added to the denominator
    pub eps: f64,
    /// divide the moments by `1 − βᵗ` (Adam's bias correction)
    pub bias_correction: bool,
    /// use the running maximum of the second moment (AMSGrad, Reddi et al. 2018)
    pub amsgrad: bool,
}

/// Adam's scaling (Kingma & Ba 2015) in PyTorch's form:
/// `m ← β₁m + (1−β₁)g`, `s ← β₂s + (1−β₂)g²`, `u ← (m/(1−β₁ᵗ)) / (√(s/(1−β₂ᵗ)) + ε)`.
pub struct ScaleByAdam {
    cfg: AdamConfig,
    t: usize,
    m: Option<Vec<Array>>,
    s: Option<Vec<Array>>,
    s_max: Option<Vec<Array>>,
}

/// Adam's (or AMSGrad's) moment scaling; chain with a learning rate.
pub fn scale_by_adam(cfg: AdamConfig) -> ScaleByAdam {
    ScaleByAdam { cfg, t: 0, m: None, s: None, s_max: None }
}

impl Transform for ScaleByAdam {
    fn update(&mut self, updates: &mut [Array], params: &[Array]) {
        let AdamConfig { b1, b2, bias_correction, amsgrad, .. } = self.cfg;
        self.t += 1;
        let (bc1, bc2) = if bias_correction {
            (1.0 - b1.powi(self.t as i32), 1.0 - b2.powi(self.t as i32))
        } else {
            (1.0, 1.0)
        };
        let m = self.m.get_or_insert_with(|| zeros_like(params));
        let s = self.s.get_or_insert_with(|| zeros_like(params));
        if amsgrad && self.s_max.is_none() {
            self.s_max = Some(zeros_like(params));
        }
        let k = AdamStep { cfg: self.cfg, bc1, bc2, c: 1.0 };
        for (i, u) in updates.iter_mut().enumerate() {
            let sm = self.s_max.as_mut().map(|sm| &mut sm[i]);
            match u.dtype() {
                DType::F32 => k.moments_array::<f32>(&mut m[i], &mut s[i], sm, u),
                DType::F64 => k.moments_array::<f64>(&mut m[i], &mut s[i], sm, u),
            }
        }
    }
    fn update_scale_apply(&mut self, params: &mut [Array], grads: Vec<Array>, c: f64) {
        let cfg = self.cfg;
        let m = self.m.get_or_insert_with(|| zeros_like(params));
        let s = self.s.get_or_insert_with(|| zeros_like(params));
        if cfg.amsgrad && self.s_max.is_none() {
            self.s_max = Some(zeros_like(params));
        }
        let t = self.t + 1;
        let (bc1, bc2) = if cfg.bias_correction {
            (1.0 - cfg.b1.powi(t as i32), 1.0 - cfg.b2.powi(t as i32))
        } else {
            (1.0, 1.0)
        };
        let k = AdamStep { cfg, bc1, bc2, c };
        let done = match self.s_max.as_mut() {
            None => match uniform(params, &[&mut *m, &mut *s], &grads) {
                Some(DType::F32) => {
                    for_pieces::<f32, 2>(params, [m, s], &grads, &|p, [m, s], g| {
                        simd(
                            #[inline(always)]
                            || k.run(p, m, s, None, g),
                        )
                    });
                    true
                }
                Some(DType::F64) => {
                    for_pieces::<f64, 2>(params, [m, s], &grads, &|p, [m, s], g| {
                        simd(
                            #[inline(always)]
                            || k.run(p, m, s, None, g),
                        )
                    });
                    true
                }
                None => false,
            },
            Some(sm) => match uniform(params, &[&mut *m, &mut *s, &mut *sm], &grads) {
                Some(DType::F32) => {
                    for_pieces::<f32, 3>(params, [m, s, sm], &grads, &|p, [m, s, sm], g| {
                        simd(
                            #[inline(always)]
                            || k.run(p, m, s, Some(sm), g),
                        )
                    });
                    true
                }
                Some(DType::F64) => {
                    for_pieces::<f64, 3>(params, [m, s, sm], &grads, &|p, [m, s, sm], g| {
                        simd(
                            #[inline(always)]
                            || k.run(p, m, s, Some(sm), g),
                        )
                    });
                    true
                }
                None => false,
            },
        };
        if done {
            self.t = t;
        } else {
            let mut grads = grads;
            self.update(&mut grads, params);
            crate::fused::scale_apply(params, &grads, c);
        }
    }
    fn state(&self) -> Vec<(String, Array)> {
        let mut out = vec![("step".to_string(), Array::scalar(self.t as f64, odl_tensor::DType::F64))];
        out.extend(self.m.as_deref().map(|v| named("m", v)).unwrap_or_default());
        out.extend(self.s.as_deref().map(|v| named("s", v)).unwrap_or_default());
        out.extend(self.s_max.as_deref().map(|v| named("s_max", v)).unwrap_or_default());
        out
    }
    fn load_state(&mut self, state: &[(String, Array)]) -> Result<(), String> {
        self.t = read_step(state)?.unwrap_or(0);
        self.m = read_named("m", state)?;
        self.s = read_named("s", state)?;
        self.s_max = read_named("s_max", state)?;
        Ok(())
    }
}

/// One fused Adam step's constants.
struct AdamStep {
    cfg: AdamConfig,
    bc1: f64,
    bc2: f64,
    c: f64,
}

/// Adam's constants in the element type: the moments and the direction are
/// computed in f32 for f32 parameters (as PyTorch does; f64 division and
/// square root cost several times more), in f64 for f64 ones.
#[derive(Clone, Copy)]
struct AdamConsts<T> {
    b1: T,
    one_minus_b1: T,
    b2: T,
    one_minus_b2: T,
    bc1: T,
    bc2: T,
    eps: T,
}

impl<T: Real> AdamConsts<T> {
    /// Both moments (and AMSGrad's maximum) of one element, and its direction
    /// `(m/bc₁) / (√(s/bc₂) + ε)`.
    #[inline(always)]
    fn direction(&self, m: &mut T, s: &mut T, s_max: Option<&mut T>, g: T) -> T {
        *m = self.b1 * *m + self.one_minus_b1 * g;
        *s = self.b2 * *s + self.one_minus_b2 * (g * g);
        let den = match s_max {
            Some(sm) => {
                *sm = Real::max(*sm, *s);
                *sm
            }
            None => *s,
        };
        (*m / self.bc1) / (Real::sqrt(den / self.bc2) + self.eps)
    }
}

impl AdamStep {
    fn consts<T: Real>(&self) -> AdamConsts<T> {
        let AdamConfig { b1, b2, eps, .. } = self.cfg;
        AdamConsts {
            b1: T::r(b1),
            one_minus_b1: T::r(1.0 - b1),
            b2: T::r(b2),
            one_minus_b2: T::r(1.0 - b2),
            bc1: T::r(self.bc1),
            bc2: T::r(self.bc2),
            eps: T::r(eps),
        }
    }

    /// The moments, the scaled update and `p ← p + u`, per element, rounded
    /// where [`ScaleByAdam::update`] and the separate passes round.
    #[inline(always)]
    fn run<T: Real>(&self, p: &mut [T], m: &mut [T], s: &mut [T], s_max: Option<&mut [T]>, g: &[T]) {
        let k = self.consts::<T>();
        let c = self.c;
        let apply = |p: &mut T, u: T| {
            let u = T::r(c * u.f());
            *p = T::r(p.f() + u.f());
        };
        // two loops, so that the one without AMSGrad has no branch
        match s_max {
            None => {
                for i in 0..p.len() {
                    apply(&mut p[i], k.direction(&mut m[i], &mut s[i], None, g[i]));
                }
            }
            Some(sm) => {
                for i in 0..p.len() {
                    apply(&mut p[i], k.direction(&mut m[i], &mut s[i], Some(&mut sm[i]), g[i]));
                }
            }
        }
    }

    /// [`ScaleByAdam::update`] on one array: the gradient `u` becomes the direction.
    fn moments_array<T: Real>(&self, m: &mut Array, s: &mut Array, s_max: Option<&mut Array>, u: &mut Array) {
        let k = self.consts::<T>();
        let n = u.numel();
        for a in [&*m, &*s].into_iter().chain(s_max.as_deref()) {
            assert!(
                a.dtype() == u.dtype() && a.numel() == n,
                "optimizer: state {}{:?} for an update {}{:?}",
                a.dtype(),
                a.shape(),
                u.dtype(),
                u.shape()
            );
        }
        let (m, s, u) = (m.as_mut_slice::<T>(), s.as_mut_slice::<T>(), u.as_mut_slice::<T>());
        match s_max.map(|a| a.as_mut_slice::<T>()) {
            None => simd(
                #[inline(always)]
                || (0..n).for_each(|i| u[i] = k.direction(&mut m[i], &mut s[i], None, u[i])),
            ),
            Some(sm) => simd(
                #[inline(always)]
                || (0..n).for_each(|i| u[i] = k.direction(&mut m[i], &mut s[i], Some(&mut sm[i]), u[i])),
            ),
        }
    }
}

/// RMSProp's scaling in PyTorch's form (not centered): `s ← αs + (1−α)g²`,
/// `u ← g / (√s + ε)`.
pub struct ScaleByRms {
    alpha: f64,
    eps: f64,
    s: Option<Vec<Array>>,
}

/// RMSProp's scaling with decay `alpha`.
pub fn scale_by_rms(alpha: f64, eps: f64) -> ScaleByRms {
    ScaleByRms { alpha, eps, s: None }
}

impl Transform for ScaleByRms {
    fn update(&mut self, updates: &mut [Array], params: &[Array]) {
        let (a, eps) = (self.alpha, self.eps);
        let s = self.s.get_or_insert_with(|| zeros_like(params));
        for (u, si) in updates.iter_mut().zip(s.iter_mut()) {
            zip_mut(si, u, |s, g| a * s + (1.0 - a) * g * g);
            zip_mut(u, si, |g, s| g / (s.sqrt() + eps));
        }
    }
    fn state(&self) -> Vec<(String, Array)> {
        self.s.as_deref().map(|v| named("s", v)).unwrap_or_default()
    }
    fn load_state(&mut self, state: &[(String, Array)]) -> Result<(), String> {
        self.s = read_named("s", state)?;
        Ok(())
    }
}

/// AdaGrad's scaling in PyTorch's form: `Σ ← Σ + g²`, `u ← g / (√Σ + ε)`.
pub struct ScaleByAdagrad {
    eps: f64,
    initial: f64,
    sum: Option<Vec<Array>>,
}

/// AdaGrad's scaling (Duchi et al. 2011), accumulator starting at `initial`.
pub fn scale_by_adagrad(eps: f64, initial: f64) -> ScaleByAdagrad {
    ScaleByAdagrad { eps, initial, sum: None }
}

impl Transform for ScaleByAdagrad {
    fn update(&mut self, updates: &mut [Array], params: &[Array]) {
        let (eps, init) = (self.eps, self.initial);
        let sum = self
            .sum
            .get_or_insert_with(|| params.iter().map(|p| Array::full(p.shape(), init, p.dtype())).collect());
        for (u, si) in updates.iter_mut().zip(sum.iter_mut()) {
            zip_mut(si, u, |s, g| s + g * g);
            zip_mut(u, si, |g, s| g / (s.sqrt() + eps));
        }
    }
    fn state(&self) -> Vec<(String, Array)> {
        self.sum.as_deref().map(|v| named("sum", v)).unwrap_or_default()
    }
    fn load_state(&mut self, state: &[(String, Array)]) -> Result<(), String> {
        self.sum = read_named("sum", state)?;
        Ok(())
    }
}

/// `u ← u + λ·p`: L2 weight decay before the scaling (SGD's `weight_decay`), or
/// decoupled decay after Adam's scaling (AdamW, Loshchilov & Hutter 2019).
pub struct AddDecayedWeights(f64);

/// Adds `lambda · p` to the updates.
pub fn add_decayed_weights(lambda: f64) -> AddDecayedWeights {
    AddDecayedWeights(lambda)
}

impl Transform for AddDecayedWeights {
    fn update(&mut self, updates: &mut [Array], params: &[Array]) {
        let l = self.0;
        for (u, p) in updates.iter_mut().zip(params) {
            zip_mut(u, p, |u, p| u + l * p);
        }
    }
}

/// Rescales all updates together so that their global L2 norm is at most `max`.
pub struct ClipByGlobalNorm(f64);

/// Gradient clipping by global norm (PyTorch's `clip_grad_norm_`).
pub fn clip_by_global_norm(max: f64) -> ClipByGlobalNorm {
    ClipByGlobalNorm(max)
}

impl Transform for ClipByGlobalNorm {
    fn update(&mut self, updates: &mut [Array], _: &[Array]) {
        let n = global_norm(updates);
        if n > self.0 {
            let c = self.0 / n;
            updates.iter_mut().for_each(|u| map_mut(u, |v| c * v));
        }
    }
}

/// Clamps every update component to `[−c, c]`.
pub struct ClipByValue(f64);

/// Gradient clipping by value (PyTorch's `clip_grad_value_`).
pub fn clip_by_value(c: f64) -> ClipByValue {
    ClipByValue(c)
}

impl Transform for ClipByValue {
    fn update(&mut self, updates: &mut [Array], _: &[Array]) {
        let c = self.0;
        updates.iter_mut().for_each(|u| map_mut(u, |v| v.clamp(-c, c)));
    }
}

/// Projected step onto the box `[lo, hi]`: `u ← clamp(p + u, lo, hi) − p`, so
/// that `p + u` stays in the box. Put it last in a chain.
pub struct ProjectBox(f64, f64);

/// Projection of the new parameters onto the box `[lo, hi]`.
pub fn project_box(lo: f64, hi: f64) -> ProjectBox {
    assert!(lo <= hi, "project_box: lo {lo} > hi {hi}");
    ProjectBox(lo, hi)
}

impl Transform for ProjectBox {
    fn update(&mut self, updates: &mut [Array], params: &[Array]) {
        let (lo, hi) = (self.0, self.1);
        for (u, p) in updates.iter_mut().zip(params) {
            zip_mut(u, p, |u, p| (p + u).clamp(lo, hi) - p);
        }
    }
}

/// Perturbed gradient descent (Jin et al. 2017): when the step is small
/// (`‖u‖ ≤ threshold`) and at least `interval` steps have passed since the
/// last perturbation, add a point drawn uniformly from the ball of radius
/// `radius`. Put it after the learning-rate scaling, so `threshold` is on the
/// step (η·‖∇f‖) and `radius` is in parameter units.
pub struct Perturb {
    radius: f64,
    threshold: f64,
    interval: usize,
    rng: Rng,
    t: usize,
    last: Option<usize>,
}

/// Jin et al.'s perturbation, seeded.
pub fn perturb(radius: f64, threshold: f64, interval: usize, seed: u64) -> Perturb {
    Perturb { radius, threshold, interval, rng: Rng::seed(seed), t: 0, last: None }
}

impl Perturb {
    /// Steps at which a perturbation was added so far (the most recent).
    pub fn last_perturbation(&self) -> Option<usize> {
        self.last
    }
}

impl Transform for Perturb {
    fn update(&mut self, updates: &mut [Array], _: &[Array]) {
        let t = self.t;
        self.t += 1;
        let due = self.last.is_none_or(|l| t - l > self.interval);
        if !(due && global_norm(updates) <= self.threshold) {
            return;
        }
        self.last = Some(t);
        // uniform in the ball: a Gaussian direction, radius r·U^(1/d)
        let d: usize = updates.iter().map(Array::numel).sum();
        let dirs: Vec<Vec<f64>> =
            updates.iter().map(|u| (0..u.numel()).map(|_| self.rng.normal_f64()).collect()).collect();
        let norm = dirs.iter().flatten().map(|x| x * x).sum::<f64>().sqrt().max(f64::MIN_POSITIVE);
        let r = self.radius * self.rng.uniform_f64().powf(1.0 / d as f64);
        for (u, dir) in updates.iter_mut().zip(dirs) {
            let xi =
                Array::from_f64(&dir.iter().map(|x| x * r / norm).collect::<Vec<_>>(), u.shape(), u.dtype());
            zip_mut(u, &xi, |u, x| u + x);
        }
    }
}
