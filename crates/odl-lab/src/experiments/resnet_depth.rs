//! L9 · He, Zhang, Ren & Sun 2016 and Li et al. 2018: plain deep networks
//! train worse as they get deeper (the degradation problem); residual
//! connections remove it, and keep the loss surface smooth.

use std::collections::BTreeMap;

use odl_nn::Module;
use odl_optim::adam;
use odl_plot::Heatmap;
use odl_probe::landscape::{filter_normalized_direction, slice_1d, slice_2d};
use odl_tensor::Array;
use odl_train::evaluate;

use super::prelude::*;
use crate::trainer::{relu_mlp, train_classifier, TrainConfig};

/// The experiment.
pub static EXPERIMENT: Experiment = Experiment {
    id: "resnet-depth",
    lecture: "L9",
    title: "Residual connections remove the degradation of deep plain networks",
    source: "K. He, X. Zhang, S. Ren, J. Sun, \"Deep residual learning for image recognition\", CVPR 2016; H. Li, Z. Xu, G. Taylor, C. Studer, T. Goldstein, \"Visualizing the loss landscape of neural nets\", NeurIPS 2018",
    setup: "ReLU MLPs of `width` units at each depth of `depths` (He initialization), plain or with residual blocks \
            h ← h + relu(Wh)/√L, trained with Adam for the same number of epochs on `n_train` examples. Final training loss \
            per (architecture, depth), and 1-D and 2-D filter-normalized slices of the trained deepest nets.",
    params: |s| {
        vec![
            ints("depths", &s.pick(vec![2, 24], vec![2, 8, 24], vec![2, 8, 24, 48]), 1, 1000, "hidden layers").distinct(2),
            int("width", s.pick(64, 64, 128), 2, 8192, "units per layer"),
            int("n_train", s.pick(1000, 2000, 5000), 10, 60000, "training examples"),
            int("epochs", s.pick(10, 10, 30), 1, 10000, "epochs (the same budget for every net)"),
            float("lr", 1e-3, 1e-7, 1.0, "Adam step size"),
        ]
    },
    run,
};

fn run(r: &Run) -> Result<Outcome> {
    let p = r.params;
    let (depths, width, epochs, lr) =
        (p.usizes("depths"), p.usize("width"), p.usize("epochs"), p.float("lr"));
    let mut out = Outcome::default();
    let data = LabData::load(r, &mut out, p.usize("n_train"), 200)?;
    let (d_in, classes) = (data.d, data.classes);
    let mut losses = BTreeMap::new();
    let (mut plain, mut res) = (Vec::new(), Vec::new());
    let mut curves = Vec::new();
    let mut deepest = Vec::new();
    let total = depths.len() * 2;
    for (di, &depth) in depths.iter().enumerate() {
        for (ri, residual) in [false, true].into_iter().enumerate() {
            let name = if residual { "residual" } else { "plain" };
            let mut net = relu_mlp(d_in, width, depth, classes, residual, r.seed() ^ 9);
            let base = (2 * di + ri) as f64 / total as f64;
            let cfg = TrainConfig::new(epochs, 50, r.seed());
            let h = train_classifier(
                &mut net,
                &mut adam(lr, 0.9, 0.999, 1e-8),
                &data.train,
                None,
                None,
                &cfg,
                &|f| r.progress(base + f / total as f64, &format!("{name}, depth {depth}")),
            );
            let fin = *h.train_loss.last().unwrap();
            losses.insert(format!("{name}/{depth}"), fin);
            if residual {
                res.push(fin)
            } else {
                plain.push(fin)
            }
            curves.push(Series::indexed(format!("{name}, depth {depth}"), h.train_loss.clone()));
            if depth == *depths.iter().max().unwrap() {
                deepest.push((name, net));
            }
        }
    }
    let df: Vec<f64> = depths.iter().map(|d| *d as f64).collect();
    out.figure(
        "final-loss-vs-depth",
        LinePlot::new(format!("Training loss after {epochs} epochs"), "hidden layers", "training loss")
            .log_y()
            .with([
                Series::line_points("plain", df.clone(), plain.clone()),
                Series::line_points("residual", df.clone(), res.clone()),
            ]),
    )
    .caption("The plain net's loss after the same budget rises with depth; the residual net's stays low.");
    out.figure(
        "training-curves",
        LinePlot::new("Training loss by epoch", "epoch", "training loss").log_y().with(curves),
    )
    .caption("Deep plain nets (e.g. the deepest) train slowly from the start; residual nets of every depth fall quickly.");
    // 1-D filter-normalized slices of the deepest trained nets (on the training set)
    r.progress(0.95, "filter-normalized slices");
    let alphas: Vec<f64> = (0..=20).map(|i| -1.0 + 0.1 * i as f64).collect();
    let mut slices = Vec::new();
    let mut slice_metric = BTreeMap::new();
    let mut surfaces = Vec::new();
    for (name, net) in deepest.iter_mut() {
        let theta = net.param_values();
        let dir = filter_normalized_direction(&theta, r.seed() ^ 3);
        let cell = std::cell::RefCell::new(&mut *net);
        let eval = |q: &[Array]| {
            let mut m = cell.borrow_mut();
            m.set_param_values(q.to_vec());
            let e = evaluate(&mut **m, &data.train, None, 0.0);
            (e.loss, e.accuracy)
        };
        let curve: Vec<f64> = slice_1d(&eval, &theta, &dir, &alphas).into_iter().map(|v| v.0).collect();
        slice_metric.insert(name.to_string(), curve.clone());
        // and a 2-D slice on a second filter-normalized direction
        let grid: Vec<f64> = (0..=10).map(|i| -1.0 + 0.2 * i as f64).collect();
        let dir2 = filter_normalized_direction(&theta, r.seed() ^ 4);
        let z: Vec<f64> =
            slice_2d(&eval, &theta, &dir, &dir2, &grid, &grid).into_iter().map(|v| v.0).collect();
        surfaces.push((name.to_string(), grid, z));
        slices.push(Series::line(*name, alphas.clone(), curve));
    }
    out.figure(
        "slices",
        LinePlot::new(
            format!("Filter-normalized 1-D slices at depth {}", depths.iter().max().unwrap()),
            "α",
            "training loss",
        )
        .log_y()
        .with(slices),
    )
    .caption("Through the deepest nets' minima: the residual net's slice is a smooth basin, the plain net's is sharper.");
    for (name, grid, z) in surfaces {
        out.metric(&format!("slice_2d_{name}"), z.clone());
        out.figure(
            &format!("surface-{name}"),
            Heatmap {
                title: format!(
                    "{name}, depth {}: loss on a filter-normalized plane",
                    depths.iter().max().unwrap()
                ),
                x_label: "α".into(),
                y_label: "β".into(),
                x: grid.clone(),
                y: grid,
                z,
                log_z: true,
                z_label: "training loss".into(),
                contours: 10,
                overlay: vec![],
            },
        )
    .caption("The loss on a filter-normalized plane around the deepest net's minimum: compare the residual and plain surfaces' contours.");
    }
    out.metric("final_train_loss", losses);
    out.metric(
        "slices_1d",
        Metric::map([("alphas", Metric::from(alphas)), ("loss", Metric::from(slice_metric))]),
    );
    let (p0, pl, rl) = (plain[0], *plain.last().unwrap(), *res.last().unwrap());
    let dmax = depths[depths.len() - 1];
    out.claim(Claim::check(
        "plain_degrades_with_depth",
        "A deeper plain network trains worse than a shallow one on the same budget (the degradation problem)",
        Check::greater_than(
            (&format!("plain net's training loss at depth {dmax}"), pl),
            1.0,
            (&format!("at depth {}", depths[0]), p0),
        ),
    ));
    out.claim(Claim::check(
        "residual_fixes_it",
        "With residual connections the deepest network trains better than its plain counterpart",
        Check::less_than(
            (&format!("residual net's training loss at depth {dmax}"), rl),
            1.0,
            ("the plain net's", pl),
        ),
    ));
    Ok(out)
}
