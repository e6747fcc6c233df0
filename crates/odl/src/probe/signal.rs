//! `odl probe signal`.

use anyhow::Result;
use odl_plot::{Figure, LinePlot, Series};
use serde_json::{json, Value};

use super::Setup;

pub(super) fn probe(s: &mut Setup) -> Result<(Value, Vec<(String, Figure)>)> {
    let labels = s.labels.clone();
    let st = odl_probe::signal::signal(&mut s.run.model, &s.x, |y| y.cross_entropy(&labels));
    let pick = |f: &dyn Fn(&odl_probe::signal::LayerStats) -> f64,
                kind: &dyn Fn(&str) -> bool|
     -> (Vec<f64>, Vec<f64>) {
        st.iter().enumerate().filter(|(_, l)| kind(&l.kind)).map(|(i, l)| (i as f64, f(l))).unzip()
    };
    let is_pre = |k: &str| k == "affine";
    let is_post = |k: &str| {
        !matches!(k, "affine" | "norm" | "residual" | "other" | "linear-map" | "max-pool" | "avg-pool")
    };
    let (x1, y1) = pick(&|l| l.var, &is_pre);
    let (x2, y2) = pick(&|l| l.var, &is_post);
    let (x3, y3) = pick(&|l| l.grad_var, &is_pre);
    let figs = vec![
        (
            "signal-forward".to_string(),
            Figure::Lines(LinePlot {
                title: "Forward signal: variance per layer".into(),
                x_label: "layer (order of the forward pass)".into(),
                y_label: "variance over batch and units".into(),
                y_log: true,
                series: vec![
                    Series::line_points("pre-activations", x1, y1),
                    Series::line_points("post-activations", x2, y2),
                ],
                ..Default::default()
            }),
        ),
        (
            "signal-backward".to_string(),
            Figure::Lines(LinePlot {
                title: "Backward signal: variance of ∂L/∂(pre-activation)".into(),
                x_label: "layer (order of the forward pass)".into(),
                y_label: "gradient variance".into(),
                y_log: true,
                series: vec![Series::line_points("∂L/∂z_l", x3, y3)],
                ..Default::default()
            }),
        ),
    ];
    Ok((json!({ "layers": serde_json::to_value(&st)? }), figs))
}
