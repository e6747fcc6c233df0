//! The experiments, one file each, in lecture order. To add one: write a
//! file with an `EXPERIMENT` (id, lecture, title, source, setup, params,
//! run; `use super::prelude::*` brings what they all use) and list it in
//! [`ALL`].

pub mod adam_counterexample;
pub mod adaptive_generalization;
pub mod adversarial_examples;
pub mod adversarial_training;
pub mod alchemy;
pub mod backprop_forms;
pub mod batchnorm;
pub mod bilinear_games;
pub mod certified_defenses;
pub mod deep_faster;
pub mod dirac_gan;
pub mod dynamical_isometry;
pub mod edge_of_stability;
pub mod explode_vanish;
pub mod f_divergences;
pub mod gan_metrics;
pub mod gan_theory;
pub mod gradient_masking;
pub mod hanin_rolnick;
pub mod loss_landscape;
pub mod lr_schedules;
pub mod matrix_sensing;
pub mod mode_collapse;
pub mod momentum_rates;
pub mod overparam_ntk;
pub mod poisoning;
pub mod random_labels;
pub mod resnet_depth;
pub mod saddle_escape;
pub mod shamir_depth;
pub mod sharp_minima;
pub mod spectral_normalization;
pub mod spurious_minima;

use crate::experiment::Experiment;

/// What every experiment file uses.
mod prelude {
    pub(super) use anyhow::Result;
    pub(super) use odl_plot::{LinePlot, Series};

    pub(super) use crate::claim::{g3, Check, Claim};
    pub(super) use crate::data::LabData;
    pub(super) use crate::experiment::{Experiment, Outcome, Run};
    pub(super) use crate::params::{choice, choices, float, floats, int, ints};
    pub(super) use crate::summary::Metric;
}

/// The experiments that take longest at quick and full scale (measured on
/// 2 cores), longest first: `odl lab` starts them before the others, so
/// that the lab does not end with one long experiment running alone.
pub static LONGEST_FIRST: &[&str] = &[
    "adversarial-training",
    "edge-of-stability",
    "explode-vanish",
    "mode-collapse",
    "loss-landscape",
    "dynamical-isometry",
    "random-labels",
    "sharp-minima",
    "spurious-minima",
];

/// Every experiment of the lab, in lecture order.
pub static ALL: &[&Experiment] = &[
    &alchemy::EXPERIMENT,
    &random_labels::EXPERIMENT,
    &backprop_forms::EXPERIMENT,
    &shamir_depth::EXPERIMENT,
    &explode_vanish::EXPERIMENT,
    &hanin_rolnick::EXPERIMENT,
    &dynamical_isometry::EXPERIMENT,
    &batchnorm::EXPERIMENT,
    &resnet_depth::EXPERIMENT,
    &momentum_rates::EXPERIMENT,
    &adam_counterexample::EXPERIMENT,
    &adaptive_generalization::EXPERIMENT,
    &lr_schedules::EXPERIMENT,
    &matrix_sensing::EXPERIMENT,
    &saddle_escape::EXPERIMENT,
    &spurious_minima::EXPERIMENT,
    &overparam_ntk::EXPERIMENT,
    &sharp_minima::EXPERIMENT,
    &loss_landscape::EXPERIMENT,
    &deep_faster::EXPERIMENT,
    &edge_of_stability::EXPERIMENT,
    &gan_theory::EXPERIMENT,
    &f_divergences::EXPERIMENT,
    &dirac_gan::EXPERIMENT,
    &spectral_normalization::EXPERIMENT,
    &mode_collapse::EXPERIMENT,
    &gan_metrics::EXPERIMENT,
    &bilinear_games::EXPERIMENT,
    &adversarial_examples::EXPERIMENT,
    &adversarial_training::EXPERIMENT,
    &gradient_masking::EXPERIMENT,
    &certified_defenses::EXPERIMENT,
    &poisoning::EXPERIMENT,
];
