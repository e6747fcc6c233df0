//! `odl probe sharpness`.

use anyhow::Result;
use odl_plot::{Figure, LinePlot, Series};
use odl_probe::sharpness::{along_gradient, epsilon_sharpness};
use odl_probe::{eigenpairs, hessian_at, objective::value_and_grad, ModelLoss, Which};
use odl_tensor::Array;
use serde_json::{json, Value};

use super::{stage, Setup};
use odl_train::files::{num, nums};

pub(super) fn probe(s: &mut Setup) -> Result<(Value, Vec<(String, Figure)>)> {
    let a = s.args.clone();
    let labels = s.labels.clone();
    let ml = ModelLoss::new(&mut s.run.model, s.x.clone(), move |z| z.cross_entropy(&labels));
    let theta = ml.theta();
    let f = |p: &[odl_autodiff::Tensor]| ml.loss(p);
    let vg = |p: &[Array]| value_and_grad(&f, p);
    stage("ε-sharpness: 20 ascent steps");
    let sharp = epsilon_sharpness(&vg, &theta, a.eps, 20);
    stage("top Hessian eigenvalue (Lanczos)");
    let lmax = eigenpairs(&hessian_at(&f, &theta), 1, a.steps as usize, Which::Largest, a.seed).0[0];
    let etas: Vec<f64> = (0..25).map(|i| 10f64.powf(-4.0 + 4.0 * i as f64 / 24.0)).collect();
    stage("loss and gradient along the gradient: 25 step sizes");
    let m = along_gradient(&vg, &theta, &etas);
    let figs = vec![(
        "sharpness-along-gradient".to_string(),
        Figure::Lines(LinePlot {
            title: "Loss and gradient change along −∇L (Santurkar et al.)".into(),
            x_label: "step size η".into(),
            y_label: "value".into(),
            x_log: true,
            y_log: true,
            series: vec![
                Series::line_points("L(θ − η∇L)", etas.clone(), m.losses.clone()),
                Series::line_points("‖∇L(θ − η∇L) − ∇L(θ)‖", etas.clone(), m.grad_changes.clone()),
            ],
        }),
    )];
    let result = json!({
        "epsilon": a.eps,
        "epsilon_sharpness": num(sharp),
        "top_eigenvalue": num(lmax),
        "gd_stability_threshold_2_over_lambda": num(2.0 / lmax),
        "along_gradient": {"etas": nums(&etas), "losses": nums(&m.losses), "grad_changes": nums(&m.grad_changes),
            "loss_range": num(m.loss_range), "max_grad_change": num(m.max_grad_change), "beta_smoothness": num(m.beta)},
    });
    Ok((result, figs))
}
