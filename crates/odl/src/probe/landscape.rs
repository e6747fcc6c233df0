//! `odl probe landscape`.

use anyhow::Result;
use odl_nn::Module;
use odl_plot::{Figure, Heatmap, LinePlot, Series};
use odl_probe::landscape::{filter_normalized_direction, slice_1d, slice_2d};
use odl_probe::{eigenpairs, flatten, hessian_at, unflatten, ModelLoss, Which};
use odl_tensor::Array;
use serde_json::{json, Value};

use super::{stage, Setup};
use odl_train::files::nums;

pub(super) fn probe(s: &mut Setup) -> Result<(Value, Vec<(String, Figure)>)> {
    let a = s.args.clone();
    let theta = s.run.model.param_values();
    let (d1, d2) = if a.directions == "hessian" {
        stage("top two Hessian eigenvectors (Lanczos)");
        let labels = s.labels.clone();
        let ml = ModelLoss::new(&mut s.run.model, s.x.clone(), move |z| z.cross_entropy(&labels));
        let h = hessian_at(&|p| ml.loss(p), &theta);
        let (_, v) = eigenpairs(&h, 2, a.steps as usize, Which::Largest, a.seed);
        // unit eigenvectors scaled to ‖θ‖, so α is relative to the weights as with filter normalization
        let tn = flatten(&theta).iter().map(|x| x * x).sum::<f64>().sqrt();
        let scaled = |v: &Vec<f64>| unflatten(&v.iter().map(|x| x * tn).collect::<Vec<_>>(), &theta);
        (scaled(&v[0]), scaled(&v[1]))
    } else {
        (filter_normalized_direction(&theta, a.seed ^ 11), filter_normalized_direction(&theta, a.seed ^ 12))
    };
    let n1 = a.grid as usize;
    let alphas: Vec<f64> = (0..n1).map(|i| -a.range + 2.0 * a.range * i as f64 / (n1 - 1) as f64).collect();
    stage(&format!("1-D slice: {n1} evaluations"));
    let (one, two, g2) = {
        let mut eval = |p: &[Array]| s.eval(p);
        let cell = std::cell::RefCell::new(&mut eval);
        let ev = |p: &[Array]| (cell.borrow_mut())(p);
        let one = slice_1d(&ev, &theta, &d1, &alphas);
        let n2 = n1 / 2 + 1;
        let g2: Vec<f64> = (0..n2).map(|i| -a.range + 2.0 * a.range * i as f64 / (n2 - 1) as f64).collect();
        stage(&format!("2-D slice: {} evaluations", n2 * n2));
        (one, slice_2d(&ev, &theta, &d1, &d2, &g2, &g2), g2)
    };
    s.run.model.set_param_values(theta);
    let loss1: Vec<f64> = one.iter().map(|p| p.0).collect();
    let acc1: Vec<f64> = one.iter().map(|p| p.1).collect();
    let loss2: Vec<f64> = two.iter().map(|p| p.0).collect();
    let what = if a.directions == "hessian" {
        "top Hessian eigenvector"
    } else {
        "filter-normalized random direction"
    };
    let figs = vec![
        (
            "landscape-1d".to_string(),
            Figure::Lines(LinePlot {
                title: format!("Loss along a {what}"),
                x_label: "α (θ + α d)".into(),
                y_label: "training loss (batch)".into(),
                y_log: true,
                series: vec![Series::line("loss", alphas.clone(), loss1.clone())],
                ..Default::default()
            }),
        ),
        (
            "landscape-1d-accuracy".to_string(),
            Figure::Lines(LinePlot {
                title: format!("Accuracy along a {what}"),
                x_label: "α (θ + α d)".into(),
                y_label: "training accuracy (batch)".into(),
                series: vec![Series::line("accuracy", alphas.clone(), acc1.clone())],
                ..Default::default()
            }),
        ),
        (
            "landscape-2d".to_string(),
            Figure::Heatmap(Heatmap {
                title: format!("Loss surface on the plane of two directions ({})", a.directions),
                x_label: "α (direction 1)".into(),
                y_label: "β (direction 2)".into(),
                x: g2.clone(),
                y: g2.clone(),
                z: loss2.clone(),
                log_z: true,
                z_label: "loss".into(),
                contours: 10,
                overlay: vec![],
            }),
        ),
    ];
    let result = json!({
        "directions": a.directions,
        "alphas": nums(&alphas),
        "loss_1d": nums(&loss1),
        "accuracy_1d": nums(&acc1),
        "grid_2d": nums(&g2),
        "loss_2d": nums(&loss2),
        "loss_at_center": one[n1 / 2].0,
    });
    Ok((result, figs))
}
