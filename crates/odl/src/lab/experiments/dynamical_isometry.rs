//! placeholder
use crate::lab::{Experiment, Outcome};
/// The experiment.
pub static EXPERIMENT: Experiment = Experiment {
    id: "dynamical_isometry",
    lecture: "L?",
    title: "",
    source: "",
    setup: "",
    params: |_| vec![],
    run: |_| Ok(Outcome::default()),
};
