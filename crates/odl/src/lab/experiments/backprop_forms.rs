//! placeholder
use crate::lab::{Experiment, Outcome};
/// The experiment.
pub static EXPERIMENT: Experiment = Experiment {
    id: "backprop_forms",
    lecture: "L?",
    title: "",
    source: "",
    setup: "",
    params: |_| vec![],
    run: |_| Ok(Outcome::default()),
};
