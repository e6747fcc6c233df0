//! `odl probe ntk`.

use anyhow::Result;
use odl_nn::Module;
use odl_plot::{Figure, LinePlot, Series};
use odl_probe::linalg::sym_eigvals;
use odl_probe::ntk::{kernel_distance, lambda_min, max_row_movement, ntk_gram, relative_weight_change};
use serde_json::{json, Value};

use super::{stage, Setup};
use odl_train::files::{num, nums};

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
    // how far training moved the kernel and the weights from the seeded initialization
    let movement = if s.run.trained {
        stage("NTK at initialization");
        let trained = s.run.model.param_values();
        s.run.model.set_param_values(s.run.initial.clone());
        let k0 = ntk_gram(&mut s.run.model, &xs);
        s.run.model.set_param_values(trained.clone());
        let layers: Vec<Value> = s
            .run
            .model
            .named_params()
            .iter()
            .zip(&s.run.initial)
            .filter(|((_, t), _)| t.ndim() >= 2)
            .map(|((name, t), a0)| json!({"param": name, "max_row_movement": num(max_row_movement(a0, t.value()))}))
            .collect();
        json!({
            "kernel_distance": num(kernel_distance(&k0, &k)),
            "relative_weight_change": num(relative_weight_change(&s.run.initial, &trained)),
            "lambda_min_at_init": num(lambda_min(&k0, n)),
            "layers": layers,
        })
    } else {
        Value::Null
    };
    let result = json!({
        "movement_from_init": movement,
        "examples": n,
        "lambda_min": num(ev[n - 1]),
        "lambda_max": num(ev[0]),
        "trace": num(trace),
        "eigenvalues": nums(&ev),
        "gram": nums(&k),
    });
    Ok((result, figs))
}
