//! `odl probe ntk`.

use anyhow::Result;
use odl_plot::{Figure, LinePlot, Series};
use odl_probe::linalg::sym_eigvals;
use odl_probe::ntk::ntk_gram;
use serde_json::{json, Value};

use super::{stage, Setup};
use crate::output::{num, nums};

/// The kernel costs one reverse pass per example and output: keep the batch small.
const MAX_EXAMPLES: usize = 128;

pub(super) fn probe(s: &mut Setup) -> Result<(Value, Vec<(String, Figure)>)> {
    let n = s.labels.len().min(MAX_EXAMPLES);
    let x = s.x.value().clone();
    let d: usize = x.shape()[1..].iter().product();
    let mut shape = x.shape().to_vec();
    shape[0] = n;
    let xs = odl_tensor::Array::from_f64(&x.to_vec_f64()[..n * d], &shape, x.dtype());
    stage(&format!("NTK Gram matrix: {n} examples"));
    let k = ntk_gram(&mut s.run.model, &xs);
    let mut ev = sym_eigvals(&k, n);
    ev.reverse();
    let figs = vec![(
        "ntk-spectrum".to_string(),
        Figure::Lines(LinePlot {
            title: format!("Eigenvalues of the empirical NTK Gram matrix ({n} examples)"),
            x_label: "index".into(),
            y_label: "eigenvalue".into(),
            y_log: true,
            series: vec![Series::line_points("", (1..=n).map(|i| i as f64).collect(), ev.clone())],
            ..Default::default()
        }),
    )];
    let trace: f64 = (0..n).map(|i| k[i * n + i]).sum();
    let result = json!({
        "examples": n,
        "lambda_min": num(ev[n - 1]),
        "lambda_max": num(ev[0]),
        "trace": num(trace),
        "eigenvalues": nums(&ev),
        "gram": nums(&k),
    });
    Ok((result, figs))
}
