//! The ensemble in AutoAttack's protocol (Croce & Hein 2020): APGD-CE, then
//! APGD-T (targeted DLR) on the examples it left standing, then the Square
//! attack (ℓ∞ or ℓ2) on what is left. With fewer than 4 classes the second stage is APGD-DLR
//! (3 classes) or PGD on the Carlini–Wagner margin (2), since the targeted
//! DLR loss needs four logits. An example counts as robust only if every attack
//! failed on it; the robust accuracy after each stage is recorded.

use super::{single, Attack, AttackName, Outcome};
use crate::classifier::Classifier;
use crate::threat::Threat;

/// The ensemble's stages for `k` classes.
pub fn stages(k: usize) -> Vec<AttackName> {
    let second = match k {
        0..=2 => AttackName::Cw,
        3 => AttackName::ApgdDlr,
        _ => AttackName::ApgdT,
    };
    vec![AttackName::ApgdCe, second, AttackName::Square]
}

/// Runs the stages in order on the survivors of the previous ones.
pub fn run(
    a: &Attack,
    c: &mut dyn Classifier,
    t: &Threat,
    x0: &[f32],
    d: usize,
    y: &[usize],
    out: &mut Outcome,
) -> Result<(), String> {
    let k = crate::classifier::logits_of(c, &x0[..d], d)[0].len();
    for name in stages(k) {
        let sub = Attack { name, seed: a.seed.wrapping_add(out.stages.len() as u64 * 7919), ..a.clone() };
        single(&sub, name, c, t, x0, d, y, out)?;
        out.stages.push((name.as_str().to_string(), out.robust_count()));
    }
    Ok(())
}
