//! Learning-rate schedules: `η_t` as a function of the step `t = 0, 1, …`.

use std::f64::consts::PI;

/// A learning-rate schedule.
pub trait Schedule: Send {
    /// The learning rate at step `t` (counting from 0).
    fn value(&self, t: usize) -> f64;
}

/// A constant learning rate.
impl Schedule for f64 {
    fn value(&self, _: usize) -> f64 {
        *self
    }
}

impl Schedule for Box<dyn Schedule> {
    fn value(&self, t: usize) -> f64 {
        (**self).value(t)
    }
}

/// `lr · γ^⌊t/every⌋` (PyTorch's `StepLR`).
pub struct Step {
    /// initial rate
    pub lr: f64,
    /// steps between decays
    pub every: usize,
    /// decay factor
    pub gamma: f64,
}

impl Schedule for Step {
    fn value(&self, t: usize) -> f64 {
        self.lr * self.gamma.powi((t / self.every.max(1)) as i32)
    }
}

/// `lr · γ^(number of milestones ≤ t)` (PyTorch's `MultiStepLR`).
pub struct MultiStep {
    /// initial rate
    pub lr: f64,
    /// steps at which the rate is multiplied by `gamma`
    pub milestones: Vec<usize>,
    /// decay factor
    pub gamma: f64,
}

impl Schedule for MultiStep {
    fn value(&self, t: usize) -> f64 {
        self.lr * self.gamma.powi(self.milestones.iter().filter(|&&m| m <= t).count() as i32)
    }
}

/// `lr · γᵗ` (PyTorch's `ExponentialLR`).
pub struct Exponential {
    /// initial rate
    pub lr: f64,
    /// decay per step
    pub gamma: f64,
}

impl Schedule for Exponential {
    fn value(&self, t: usize) -> f64 {
        self.lr * self.gamma.powi(t as i32)
    }
}

/// `α / √(t+1)`, the classical rate for convex stochastic problems.
pub struct InvSqrt {
    /// `α`
    pub lr: f64,
}

impl Schedule for InvSqrt {
    fn value(&self, t: usize) -> f64 {
        self.lr / ((t + 1) as f64).sqrt()
    }
}

/// Cosine decay from `lr` to `min_lr` over `total` steps, then `min_lr`
/// (PyTorch's `CosineAnnealingLR` without restarts).
pub struct Cosine {
    /// initial rate
    pub lr: f64,
    /// length of the decay
    pub total: usize,
    /// final rate
    pub min_lr: f64,
}

impl Schedule for Cosine {
    fn value(&self, t: usize) -> f64 {
        let f = (t.min(self.total) as f64) / self.total.max(1) as f64;
        self.min_lr + 0.5 * (self.lr - self.min_lr) * (1.0 + (PI * f).cos())
    }
}

/// Linear warm-up over `steps` steps to the inner schedule's first value, then
/// the inner schedule (shifted to start after the warm-up).
pub struct Warmup<S: Schedule> {
    /// warm-up length
    pub steps: usize,
    /// the schedule after warm-up
    pub then: S,
}

impl<S: Schedule> Schedule for Warmup<S> {
    fn value(&self, t: usize) -> f64 {
        if t < self.steps {
            self.then.value(0) * (t + 1) as f64 / self.steps as f64
        } else {
            self.then.value(t - self.steps)
        }
    }
}

/// The one-cycle policy (Smith & Topin 2019; PyTorch's `OneCycleLR` with cosine
/// annealing): from `max_lr/div` up to `max_lr` over the first `pct_start` of
/// `total` steps, then down to `max_lr/(div·final_div)`.
pub struct OneCycle {
    /// peak rate
    pub max_lr: f64,
    /// total steps
    pub total: usize,
    /// fraction of the steps spent increasing
    pub pct_start: f64,
    /// initial rate is `max_lr / div`
    pub div: f64,
    /// final rate is the initial rate `/ final_div`
    pub final_div: f64,
}

impl OneCycle {
    /// PyTorch's defaults: `pct_start` 0.3, `div` 25, `final_div` 10⁴.
    pub fn new(max_lr: f64, total: usize) -> OneCycle {
        OneCycle { max_lr, total, pct_start: 0.3, div: 25.0, final_div: 1e4 }
    }
}

impl Schedule for OneCycle {
    fn value(&self, t: usize) -> f64 {
        let start = self.max_lr / self.div;
        let end = start / self.final_div;
        let up = ((self.pct_start * self.total as f64) - 1.0).max(1.0);
        let down = (self.total as f64 - 1.0 - up).max(1.0);
        let t = t as f64;
        let cos =
            |from: f64, to: f64, f: f64| to + 0.5 * (from - to) * (1.0 + (PI * f.clamp(0.0, 1.0)).cos());
        if t <= up {
            cos(start, self.max_lr, t / up)
        } else {
            cos(self.max_lr, end, (t - up) / down)
        }
    }
}
