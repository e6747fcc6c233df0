//! Adversarial training from a spec's `[adversarial]` section: each
//! mini-batch is replaced (PGD-AT, FGSM-RS) or joined (TRADES) by
//! adversarial inputs found against the current model, in the data's own
//! units (ε in pixels for Fashion-MNIST, pixels kept in [0, 1]), or (IBP)
//! its loss is mixed with the cross-entropy of the interval bounds' worst
//! case over the whole ball.
//!
//! ```toml
//! [adversarial]
//! method = "pgd"       # pgd (Madry et al. 2018) | fgsm-rs (Wong et al. 2020) | fgsm (Goodfellow et al. 2015) | trades (Zhang et al. 2019) | ibp (Gowal et al. 2018)
//! eps = 0.1            # radius in data units
//! norm = "linf"        # linf | l2
//! steps = 7            # inner steps (fgsm, fgsm-rs: 1)
//! step_size = 0.36     # as a multiple of eps (default 2.5/steps; fgsm-rs 1.25; fgsm 1)
//! beta = 6.0           # TRADES' weight of the KL term
//! eval_examples = 500  # test examples of the robust accuracy logged at evaluations
//! eval_steps = 10      # its PGD steps
//! kappa = 0.5          # IBP: the clean loss's final weight κ (loss = κ·CE(clean) + (1 − κ)·CE(worst case))
//! warmup = 0.1         # IBP: fraction of the steps with ε = 0 and κ = 1
//! ramp = 0.5           # IBP: fraction of the steps over which ε grows to eps and κ falls to kappa, linearly
//! ```

use anyhow::{bail, Result};
use odl_autodiff::Tensor;
use odl_data::Dataset;
use odl_nn::{cross_entropy_smoothed, Ctx, Module, Sequential};
use odl_robust::training::{ibp_worst_logits, kl_sum, perturb, trades_perturb};
use odl_robust::{Attack, AttackName, Net, Norm, Threat};
use odl_tensor::{Array, DType, Rng};
use serde::{Deserialize, Serialize};

use crate::data::{model_input, Scaling};
use crate::spec::{DataName, Spec};

/// Which adversarial training.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// cross-entropy on PGD examples (Madry et al. 2018)
    Pgd,
    /// cross-entropy on one FGSM step from a random start, α = 1.25ε (Wong, Rice & Kolter 2020)
    FgsmRs,
    /// cross-entropy on one FGSM step of α = ε from the clean input (Goodfellow et al. 2015)
    Fgsm,
    /// clean cross-entropy + β·KL(p(x) ‖ p(x')) at the KL-maximizing x' (Zhang et al. 2019)
    Trades,
    /// κ·CE(clean) + (1 − κ)·CE(interval bounds' worst case), ε and κ ramped (Gowal et al. 2018)
    Ibp,
}

/// The `[adversarial]` section.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AdversarialSpec {
    /// which
    pub method: Method,
    /// radius, in the data's own units
    pub eps: f64,
    /// the norm of the ball
    #[serde(default = "linf")]
    pub norm: Norm,
    /// inner steps (default 7; FGSM-RS: 1)
    #[serde(default)]
    pub steps: Option<usize>,
    /// inner step size as a multiple of `eps` (default 2.5/steps; FGSM-RS 1.25)
    #[serde(default)]
    pub step_size: Option<f64>,
    /// TRADES' β
    #[serde(default = "six")]
    pub beta: f64,
    /// test examples of the robust accuracy logged at evaluations
    #[serde(default = "five_hundred")]
    pub eval_examples: usize,
    /// PGD steps of that robust accuracy
    #[serde(default = "ten")]
    pub eval_steps: usize,
    /// IBP: the clean loss's final weight (default 0.5)
    #[serde(default)]
    pub kappa: Option<f64>,
    /// IBP: fraction of the steps before the ramp (default 0.1)
    #[serde(default)]
    pub warmup: Option<f64>,
    /// IBP: fraction of the steps the ramp lasts (default 0.5)
    #[serde(default)]
    pub ramp: Option<f64>,
}

fn linf() -> Norm {
    Norm::Linf
}
fn six() -> f64 {
    6.0
}
fn five_hundred() -> usize {
    500
}
fn ten() -> usize {
    10
}

impl AdversarialSpec {
    /// Range checks, naming the key.
    pub fn validate(&self) -> Result<()> {
        if !(self.eps.is_finite() && self.eps > 0.0) {
            bail!("adversarial.eps = {}: must be a positive number (data units)", self.eps);
        }
        if self.steps == Some(0) {
            bail!("adversarial.steps = 0: must be at least 1");
        }
        if matches!(self.method, Method::FgsmRs | Method::Fgsm) && self.steps.is_some_and(|s| s != 1) {
            bail!(
                "adversarial.steps = {}: {} takes one step (use method = \"pgd\" for more)",
                self.steps.unwrap_or(0),
                if self.method == Method::Fgsm { "fgsm" } else { "fgsm-rs" }
            );
        }
        if let Some(a) = self.step_size {
            if !(a.is_finite() && a > 0.0) {
                bail!("adversarial.step_size = {a}: must be a positive multiple of eps");
            }
        }
        if !(self.beta.is_finite() && self.beta >= 0.0) {
            bail!("adversarial.beta = {}: must be ≥ 0", self.beta);
        }
        let ibp_keys = [("kappa", self.kappa), ("warmup", self.warmup), ("ramp", self.ramp)];
        for (key, v) in ibp_keys {
            match v {
                Some(_) if self.method != Method::Ibp => {
                    bail!("adversarial.{key}: only method = \"ibp\" ramps ε and κ")
                }
                Some(v) if !(0.0..=1.0).contains(&v) => bail!("adversarial.{key} = {v}: must be in [0, 1]"),
                _ => {}
            }
        }
        if self.warmup.unwrap_or(0.1) + self.ramp.unwrap_or(0.5) > 1.0 {
            bail!(
                "adversarial.warmup + adversarial.ramp = {}: the ramp must end by the last step (≤ 1)",
                self.warmup.unwrap_or(0.1) + self.ramp.unwrap_or(0.5)
            );
        }
        if self.method == Method::Ibp && self.norm != Norm::Linf {
            bail!("adversarial.norm = \"{}\": IBP training bounds ℓ∞ balls (norm = \"linf\")", self.norm);
        }
        if self.method == Method::Ibp && (self.steps.is_some() || self.step_size.is_some()) {
            bail!("adversarial.steps / step_size: IBP training has no inner attack");
        }
        if self.eval_examples == 0 || self.eval_steps == 0 {
            bail!("adversarial.eval_examples and adversarial.eval_steps must be at least 1");
        }
        Ok(())
    }

    /// Inner steps.
    pub fn steps(&self) -> usize {
        self.steps.unwrap_or(if matches!(self.method, Method::FgsmRs | Method::Fgsm) { 1 } else { 7 })
    }

    /// IBP's (ε, κ) at `step` of `total`: ε = 0 and κ = 1 through the
    /// warm-up, then both linear over the ramp, then (eps, kappa).
    pub fn schedule(&self, step: usize, total: usize) -> (f64, f64) {
        let t = step as f64 / total.max(1) as f64;
        let (w, r) = (self.warmup.unwrap_or(0.1), self.ramp.unwrap_or(0.5));
        let f = if r == 0.0 { f64::from(t >= w) } else { ((t - w) / r).clamp(0.0, 1.0) };
        let kappa = self.kappa.unwrap_or(0.5);
        (f * self.eps, 1.0 - f * (1.0 - kappa))
    }

    /// Inner step size in data units.
    pub fn alpha(&self) -> f64 {
        let rel = self.step_size.unwrap_or(match self.method {
            Method::FgsmRs => 1.25,
            Method::Fgsm => 1.0,
            _ => 2.5 / self.steps() as f64,
        });
        rel * self.eps
    }
}

/// The valid range of a data set's inputs in its own units, and one example
/// as an image when it is one (for the Square attack's windows).
pub fn geometry(spec: &Spec, d: usize) -> ((f64, f64), Option<[usize; 3]>) {
    match spec.data.name {
        DataName::FashionMnist | DataName::FashionMnistSubset if d == 784 => ((0.0, 1.0), Some([1, 28, 28])),
        _ => ((f64::NEG_INFINITY, f64::INFINITY), None),
    }
}

/// Examples per batch of the robust-accuracy evaluation (batches run side by side).
const EVAL_BATCH: usize = 250;

/// What adversarial training needs between steps.
pub struct Adversary {
    /// the spec's section
    pub spec: AdversarialSpec,
    threat: Threat,
    scaling: Scaling,
    in_shape: Vec<usize>,
    d: usize,
    seed: u64,
    total: usize,
}

impl Adversary {
    /// For a spec whose data was normalized by `scaling`, with examples of
    /// shape `in_shape`, training for `total` steps.
    pub fn new(
        spec: &Spec,
        a: &AdversarialSpec,
        scaling: Scaling,
        in_shape: &[usize],
        total: usize,
    ) -> Result<Adversary> {
        let d = in_shape.iter().product();
        let ((lo, hi), _) = geometry(spec, d);
        let threat = Threat::new(a.norm, a.eps, lo, hi).map_err(|e| anyhow::anyhow!("adversarial: {e}"))?;
        Ok(Adversary {
            spec: a.clone(),
            threat,
            scaling,
            in_shape: in_shape.to_vec(),
            d,
            seed: spec.seed,
            total,
        })
    }

    /// Model-unit inputs `[n, …]` → clipped data-unit rows.
    fn to_data(&self, x: &Array) -> Vec<f32> {
        let mut v = self.scaling.to_data(&x.to_vec_f32());
        self.threat.clip(&mut v);
        v
    }

    /// Data-unit rows → model inputs shaped for the network.
    fn to_model(&self, v: &[f32]) -> Tensor {
        let a = Array::from_vec(self.scaling.to_model(v), &[v.len() / self.d, self.d]);
        model_input(&a, Some(&self.in_shape))
    }

    fn net<'a>(&self, model: &'a mut Sequential) -> Net<'a> {
        Net { model, in_shape: self.in_shape.clone(), mean: self.scaling.mean, std: self.scaling.std }
    }

    /// Checks that the method can train `model` (IBP: every layer bounded).
    pub fn check_model(&self, model: &Sequential) -> Result<()> {
        if self.spec.method == Method::Ibp {
            odl_robust::certify::ibp::check(model)
                .map_err(|e| anyhow::anyhow!("adversarial.method = \"ibp\": {e}"))?;
        }
        Ok(())
    }

    /// The training loss of one batch (`x` in model units, as the data set
    /// holds it) at step `step`: the inner maximization runs against the
    /// model in evaluation mode, the loss in training mode with `ctx`.
    /// `shard` numbers the batch's shard under data parallelism, so that
    /// each draws its own random starts.
    pub fn loss(
        &self,
        model: &mut Sequential,
        x: &Array,
        y: &[usize],
        step: usize,
        shard: usize,
        ctx: &mut Ctx,
        smoothing: f64,
    ) -> Tensor {
        let x0 = self.to_data(x);
        if self.spec.method == Method::Ibp {
            let (eps, kappa) = self.spec.schedule(step, self.total);
            let clean = cross_entropy_smoothed(&model.forward(&self.to_model(&x0), ctx), y, smoothing);
            if kappa >= 1.0 {
                return clean;
            }
            let t = self.threat.with_eps(eps);
            let worst = ibp_worst_logits(&mut self.net(model), &t, &x0, self.d, y)
                .expect("the model and the norm were checked before training");
            return clean.mul_scalar(kappa)
                + cross_entropy_smoothed(&worst, y, smoothing).mul_scalar(1.0 - kappa);
        }
        // shard k of a step draws its own random starts (shard 0 those of an unsharded step)
        let stream =
            (self.seed ^ 0xAD7E_25A1).wrapping_add((shard as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut rng = Rng::stream(stream, step as u64);
        let (steps, alpha) = (self.spec.steps(), self.spec.alpha());
        let adv = {
            let mut net = self.net(model);
            match self.spec.method {
                Method::Pgd | Method::FgsmRs => {
                    perturb(&mut net, &self.threat, &x0, self.d, y, steps, alpha, Some(&mut rng))
                }
                Method::Fgsm => perturb(&mut net, &self.threat, &x0, self.d, y, steps, alpha, None),
                Method::Trades => trades_perturb(&mut net, &self.threat, &x0, self.d, steps, alpha, &mut rng),
                Method::Ibp => unreachable!("IBP returned above"),
            }
        };
        let xa = self.to_model(&adv);
        match self.spec.method {
            Method::Pgd | Method::FgsmRs | Method::Fgsm => {
                cross_entropy_smoothed(&model.forward(&xa, ctx), y, smoothing)
            }
            Method::Ibp => unreachable!("IBP returned above"),
            Method::Trades => {
                let z = model.forward(&self.to_model(&x0), ctx);
                let za = model.forward(&xa, ctx);
                let kl = kl_sum(&z.softmax(1), &za).mul_scalar(self.spec.beta / y.len() as f64);
                cross_entropy_smoothed(&z, y, smoothing) + kl
            }
        }
    }

    /// Accuracy under PGD (`eval_steps` steps, step 2.5ε/steps, one random
    /// start) on the first `eval_examples` test examples.
    pub fn robust_accuracy(&self, model: &mut Sequential, test: &Dataset) -> f64 {
        let n = self.spec.eval_examples.min(test.len());
        let idx: Vec<usize> = (0..n).collect();
        let b = test.subset(&idx);
        let x0 = self.to_data(&b.x.cast(DType::F32));
        let mut a = Attack::new(AttackName::Pgd);
        a.steps = self.spec.eval_steps;
        a.seed = self.seed;
        // batches side by side on replicas of the model, as `odl attack` runs them
        let net = self.net(model);
        match a.run_batched(&net, &self.threat, &x0, self.d, b.labels(), EVAL_BATCH, &|| {}) {
            Ok(o) => o.robust_accuracy(),
            Err(_) => f64::NAN,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ibp_schedule_warms_up_ramps_linearly_and_holds() {
        let a: AdversarialSpec =
            toml::from_str("method = \"ibp\"\neps = 0.2\nkappa = 0.4\nwarmup = 0.2\nramp = 0.5").unwrap();
        a.validate().unwrap();
        assert_eq!(a.schedule(0, 100), (0.0, 1.0));
        assert_eq!(a.schedule(20, 100), (0.0, 1.0));
        let (e, k) = a.schedule(45, 100);
        assert!((e - 0.1).abs() < 1e-12 && (k - 0.7).abs() < 1e-12, "halfway: {e}, {k}");
        for step in [70, 99] {
            let (e, k) = a.schedule(step, 100);
            assert!((e - 0.2).abs() < 1e-12 && (k - 0.4).abs() < 1e-12, "step {step}: {e}, {k}");
        }
    }
}
