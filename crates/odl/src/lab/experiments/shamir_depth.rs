//! placeholder
use crate::lab::{Experiment, Outcome};
/// The experiment.
pub static EXPERIMENT: Experiment = Experiment {
    id: "shamir_depth",
    lecture: "L?",
    title: "",
    source: "",
    setup: "",
    params: |_| vec![],
    run: |_| Ok(Outcome::default()),
};
