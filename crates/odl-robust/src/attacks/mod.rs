//! Attacks: each takes a classifier, a threat model, a batch of clean inputs
//! `[n, d]` (data units) and their labels, and returns adversarial inputs
//! inside the threat model with, per example, whether the classifier gets it
//! wrong there. An example that is already misclassified counts as broken
//! with no perturbation (robust accuracy ≤ clean accuracy, as in
//! AutoAttack's protocol).
//!
//! | attack | file | gradients | objective |
//! |---|---|---|---|
//! | `fgsm` | [`fgsm`] | one | cross-entropy |
//! | `pgd` | [`pgd`] | `steps` × `restarts` | cross-entropy |
//! | `cw` | [`pgd`] | `steps` × `restarts` | Carlini–Wagner margin |
//! | `apgd-ce`, `apgd-dlr`, `apgd-t` | [`apgd`] | `steps` (× targets) | CE, DLR, targeted DLR |
//! | `square` | [`square`] | none (`queries` forward passes) | margin |
//! | `auto` | [`auto`] | APGD-CE → APGD-T → Square on what survives | — |

pub mod apgd;
pub mod auto;
pub mod fgsm;
pub mod pgd;
pub mod square;

use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;

use odl_autodiff::par_map;
use odl_nn::Sequential;

use crate::classifier::{predict, Classifier, Net};
use crate::threat::Threat;

/// Which attack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttackName {
    /// fast gradient sign method (Goodfellow et al. 2015)
    Fgsm,
    /// projected gradient descent on cross-entropy (Madry et al. 2018)
    Pgd,
    /// PGD on the Carlini–Wagner margin
    Cw,
    /// APGD on cross-entropy
    ApgdCe,
    /// APGD on the DLR loss
    ApgdDlr,
    /// APGD on the targeted DLR loss, towards each of the top classes
    ApgdT,
    /// the Square attack (score-based, no gradients)
    Square,
    /// the ensemble: APGD-CE, APGD-T, Square, stopping per example at the first success
    Auto,
}

/// Every attack, in the order the CLI lists them.
pub const ALL: [AttackName; 8] = [
    AttackName::Fgsm,
    AttackName::Pgd,
    AttackName::Cw,
    AttackName::ApgdCe,
    AttackName::ApgdDlr,
    AttackName::ApgdT,
    AttackName::Square,
    AttackName::Auto,
];

impl AttackName {
    /// The CLI's name.
    pub fn as_str(self) -> &'static str {
        match self {
            AttackName::Fgsm => "fgsm",
            AttackName::Pgd => "pgd",
            AttackName::Cw => "cw",
            AttackName::ApgdCe => "apgd-ce",
            AttackName::ApgdDlr => "apgd-dlr",
            AttackName::ApgdT => "apgd-t",
            AttackName::Square => "square",
            AttackName::Auto => "auto",
        }
    }
}

impl fmt::Display for AttackName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AttackName {
    type Err = String;
    fn from_str(s: &str) -> Result<AttackName, String> {
        ALL.into_iter().find(|a| a.as_str() == s).ok_or_else(|| {
            let names: Vec<&str> = ALL.iter().map(|a| a.as_str()).collect();
            format!("unknown attack '{s}' (expected one of {})", names.join(", "))
        })
    }
}

/// An attack and its budget.
#[derive(Clone, Debug, PartialEq)]
pub struct Attack {
    /// which
    pub name: AttackName,
    /// gradient steps (PGD, CW, APGD)
    pub steps: usize,
    /// random restarts (PGD, CW, APGD)
    pub restarts: usize,
    /// PGD's step size as a multiple of ε (default 2.5/steps, Madry et al.)
    pub step_size: Option<f64>,
    /// target classes of APGD-T (the top ones after the label)
    pub targets: usize,
    /// forward passes of the Square attack
    pub queries: usize,
    /// one example as an image `[c, h, w]` for the Square attack's windows
    /// (`None`: `[1, 1, d]`)
    pub image: Option<[usize; 3]>,
    /// seed of every random draw
    pub seed: u64,
}

impl Attack {
    /// `name` with the default budget: 20 PGD steps (100 for APGD), 1
    /// restart, 3 APGD-T targets, 1 000 Square queries.
    pub fn new(name: AttackName) -> Attack {
        let steps = match name {
            AttackName::ApgdCe | AttackName::ApgdDlr | AttackName::ApgdT | AttackName::Auto => 100,
            _ => 20,
        };
        Attack { name, steps, restarts: 1, step_size: None, targets: 3, queries: 1000, image: None, seed: 0 }
    }

    /// Runs the attack on `x0` (`[n, d]`, data units, inside the box) with
    /// labels `y`. `Err` says what the attack cannot do with these inputs
    /// (inputs outside the box, an image shape that does not fit `d`, too few
    /// classes for DLR).
    pub fn run(
        &self,
        c: &mut dyn Classifier,
        t: &Threat,
        x0: &[f32],
        d: usize,
        y: &[usize],
    ) -> Result<Outcome, String> {
        if d == 0 || x0.len() != y.len() * d {
            return Err(format!("{} inputs do not form {} examples of {d} values", x0.len(), y.len()));
        }
        if let Some(s) = self.image {
            if s.iter().product::<usize>() != d {
                return Err(format!("image shape {s:?} does not hold {d} values"));
            }
        }
        if !t.in_box(x0) {
            return Err(format!(
                "clean inputs outside the box [{}, {}]: clip them first (Threat::clip)",
                t.lo, t.hi
            ));
        }
        if self.steps == 0 || self.restarts == 0 || self.queries == 0 {
            return Err("steps, restarts and queries must be at least 1".into());
        }
        let clean = predict(c, x0, d);
        let mut out = Outcome::clean(x0, &clean, y);
        match self.name {
            AttackName::Auto => auto::run(self, c, t, x0, d, y, &mut out)?,
            name => {
                single(self, name, c, t, x0, d, y, &mut out)?;
                out.stages.push((name.as_str().to_string(), out.robust_count()));
            }
        }
        Ok(out)
    }

    /// [`Attack::run`] on batches of `batch` examples, side by side on the
    /// compute threads, each batch on its own replica of `net`'s model.
    /// Examples never interact, so each batch's outcome is what a run on it
    /// alone gives; the outcomes are joined in order. `done` is called once
    /// per finished batch (a progress bar's tick).
    #[allow(clippy::too_many_arguments)]
    pub fn run_batched(
        &self,
        net: &Net,
        t: &Threat,
        x0: &[f32],
        d: usize,
        y: &[usize],
        batch: usize,
        done: &(dyn Fn() + Sync),
    ) -> Result<Outcome, String> {
        let (n, batch) = (y.len(), batch.max(1));
        if d == 0 || x0.len() != n * d {
            return Err(format!("{} inputs do not form {n} examples of {d} values", x0.len()));
        }
        let batches: Vec<(usize, usize, Mutex<Sequential>)> = (0..n.div_ceil(batch))
            .map(|c| (c * batch, ((c + 1) * batch).min(n), Mutex::new(net.model.clone())))
            .collect();
        // (the model itself is not shared across threads: only its replicas are)
        let (in_shape, mean, std) = (&net.in_shape, net.mean, net.std);
        let outcomes = par_map(&batches, &|(s, e, model)| {
            let mut model = model.lock().unwrap_or_else(|p| p.into_inner());
            let mut replica = Net { model: &mut model, in_shape: in_shape.clone(), mean, std };
            let o = self.run(&mut replica, t, &x0[s * d..e * d], d, &y[*s..*e]);
            done();
            o
        });
        let mut whole: Option<Outcome> = None;
        for o in outcomes {
            let o = o?;
            match whole.as_mut() {
                None => whole = Some(o),
                Some(w) => w.append(o),
            }
        }
        Ok(whole.unwrap_or_else(|| Outcome::clean(&[], &[], &[])))
    }
}

/// Runs one attack on the examples that are still robust in `out`,
/// recording what it breaks.
pub(crate) fn single(
    a: &Attack,
    name: AttackName,
    c: &mut dyn Classifier,
    t: &Threat,
    x0: &[f32],
    d: usize,
    y: &[usize],
    out: &mut Outcome,
) -> Result<(), String> {
    let live: Vec<usize> = (0..y.len()).filter(|&i| !out.success[i]).collect();
    if live.is_empty() {
        return Ok(());
    }
    let xs: Vec<f32> = rows(x0, d, &live);
    let ys: Vec<usize> = live.iter().map(|&i| y[i]).collect();
    let found = match name {
        AttackName::Fgsm => fgsm::run(c, t, &xs, d, &ys),
        AttackName::Pgd => pgd::run(a, crate::losses::Loss::Ce, c, t, &xs, d, &ys),
        AttackName::Cw => pgd::run(a, crate::losses::Loss::Margin, c, t, &xs, d, &ys),
        AttackName::ApgdCe => apgd::untargeted(a, crate::losses::Loss::Ce, c, t, &xs, d, &ys)?,
        AttackName::ApgdDlr => apgd::untargeted(a, crate::losses::Loss::Dlr, c, t, &xs, d, &ys)?,
        AttackName::ApgdT => apgd::targeted(a, c, t, &xs, d, &ys)?,
        AttackName::Square => square::run(a, c, t, &xs, d, &ys)?,
        AttackName::Auto => unreachable!("the ensemble is not a single attack"),
    };
    let stage = out.stages.len();
    for (j, &i) in live.iter().enumerate() {
        // the adversarial point is kept either way (the strongest one found),
        // and only a success changes the verdict
        out.x_adv[i * d..(i + 1) * d].copy_from_slice(&found.x[j * d..(j + 1) * d]);
        if found.success[j] {
            out.success[i] = true;
            out.broken_by[i] = Some(stage);
        }
    }
    Ok(())
}

/// The rows `idx` of a batch `x` (`[n, d]`), gathered into one `[idx.len(), d]`.
pub(crate) fn rows(x: &[f32], d: usize, idx: &[usize]) -> Vec<f32> {
    idx.iter().flat_map(|&i| x[i * d..(i + 1) * d].iter().copied()).collect()
}

/// What an attack function returns for the examples it was given.
pub struct Found {
    /// the adversarial inputs `[n, d]` (a misclassified point where one was
    /// found, else the attack's best point)
    pub x: Vec<f32>,
    /// whether `x` is misclassified, per example
    pub success: Vec<bool>,
}

/// The result of [`Attack::run`].
#[derive(Clone, Debug)]
pub struct Outcome {
    /// adversarial inputs `[n, d]`, inside the threat model
    pub x_adv: Vec<f32>,
    /// per example: misclassified at `x_adv` (or already at the clean input)
    pub success: Vec<bool>,
    /// per example: correctly classified at the clean input
    pub clean_correct: Vec<bool>,
    /// per example: the stage (index into `stages`) that broke it; `None`
    /// for robust examples and those already misclassified
    pub broken_by: Vec<Option<usize>>,
    /// each stage's name and the number of examples still robust after it
    /// (one stage for a single attack; the ensemble's in order)
    pub stages: Vec<(String, usize)>,
}

impl Outcome {
    fn clean(x0: &[f32], pred: &[usize], y: &[usize]) -> Outcome {
        let clean_correct: Vec<bool> = pred.iter().zip(y).map(|(p, l)| p == l).collect();
        Outcome {
            x_adv: x0.to_vec(),
            success: clean_correct.iter().map(|&c| !c).collect(),
            broken_by: vec![None; y.len()],
            clean_correct,
            stages: Vec::new(),
        }
    }

    /// `b`'s examples after `self`'s (each stage's robust count is summed).
    fn append(&mut self, b: Outcome) {
        self.x_adv.extend(b.x_adv);
        self.success.extend(b.success);
        self.clean_correct.extend(b.clean_correct);
        self.broken_by.extend(b.broken_by);
        for (s, t) in self.stages.iter_mut().zip(b.stages) {
            s.1 += t.1;
        }
    }

    /// Examples still classified correctly.
    pub fn robust_count(&self) -> usize {
        self.success.iter().filter(|&&s| !s).count()
    }

    /// Fraction of examples still classified correctly.
    pub fn robust_accuracy(&self) -> f64 {
        self.robust_count() as f64 / self.success.len().max(1) as f64
    }

    /// Fraction of examples classified correctly without perturbation.
    pub fn clean_accuracy(&self) -> f64 {
        self.clean_correct.iter().filter(|&&c| c).count() as f64 / self.success.len().max(1) as f64
    }
}
