//! `odl probe jacobian`.

use anyhow::Result;
use odl_nn::LayerKind;
use odl_plot::{Figure, LinePlot, Series};
use odl_probe::jacobian::{
    jacobian_singular_values, layer_jacobian_norms, lipschitz_lower_bound, lipschitz_upper_bound, one_example,
};
use odl_tensor::Rng;
use serde_json::{json, Value};

use super::{stage, Setup};
use odl_train::files::{num, nums};
use odl_train::spec::ModelKind;

pub(super) fn probe(s: &mut Setup) -> Result<(Value, Vec<(String, Figure)>)> {
    let m = (s.args.examples as usize).min(s.run.test.len());
    let idx: Vec<usize> =
        Rng::seed(s.args.seed ^ 3).permutation(s.run.test.len()).into_iter().take(m).collect();
    let (xt, _) = s.run.inputs(&s.run.test, &idx, s.dtype);
    let mut spectra = Vec::new();
    for i in 0..m {
        stage(&format!("Jacobian of test example {}", idx[i]));
        spectra.push(jacobian_singular_values(&mut s.run.model, &one_example(xt.value(), i)));
    }
    stage("per-layer Jacobian norms");
    let layers = layer_jacobian_norms(&mut s.run.model, &one_example(xt.value(), 0));
    let lower = lipschitz_lower_bound(&mut s.run.model, s.x.value());
    // the product of weight norms bounds MLPs of 1-Lipschitz activations only
    let upper = (s.run.spec.model.kind == ModelKind::Mlp && !s.run.spec.model.residual)
        .then(|| lipschitz_upper_bound(&s.run.model));
    let series = spectra
        .iter()
        .zip(&idx)
        .map(|(sv, i)| {
            Series::line_points(
                format!("test example {i}"),
                (1..=sv.len()).map(|k| k as f64).collect(),
                sv.clone(),
            )
        })
        .collect();
    let mut figs = vec![(
        "jacobian-spectrum".to_string(),
        Figure::Lines(LinePlot {
            title: "Singular values of the input–output Jacobian".into(),
            x_label: "index".into(),
            y_label: "singular value".into(),
            y_log: true,
            series,
            ..Default::default()
        }),
    )];
    let aff: Vec<&(String, LayerKind, f64)> = layers.iter().collect();
    figs.push((
        "jacobian-layers".to_string(),
        Figure::Lines(LinePlot {
            title: "Spectral norm of each layer's Jacobian (test example)".into(),
            x_label: "layer (order of the forward pass)".into(),
            y_label: "‖∂h_l/∂h_{l−1}‖₂".into(),
            y_log: true,
            series: vec![Series::line_points(
                "",
                (0..aff.len()).map(|i| i as f64).collect(),
                aff.iter().map(|l| l.2).collect(),
            )],
            ..Default::default()
        }),
    ));
    let result = json!({
        "examples": idx,
        "singular_values": spectra.iter().map(|s| nums(s)).collect::<Vec<_>>(),
        "condition_numbers": spectra.iter().map(|s| num(s[0] / s[s.len() - 1])).collect::<Vec<_>>(),
        "layers": layers.iter().map(|(n, k, v)| json!({"name": n, "kind": format!("{k:?}"), "spectral_norm": num(*v)})).collect::<Vec<_>>(),
        "lipschitz_lower_bound": num(lower),
        "lipschitz_upper_bound": upper.map(num),
    });
    Ok((result, figs))
}
