//! Optional · Li, Xu, Taylor, Studer & Goldstein 2018, "Visualizing the loss
//! landscape of neural nets": 2-D filter-normalized surfaces of trained nets
//! with and without skip connections and at two widths, and the training
//! trajectory on the PCA plane of its iterates.

use std::collections::BTreeMap;

use odl_nn::Module;
use odl_optim::adam;
use odl_plot::Heatmap;
use odl_probe::landscape::{filter_normalized_direction, pca_plane, slice_2d};
use odl_tensor::Array;
use odl_train::evaluate;

use super::prelude::*;
use crate::trainer::{relu_mlp, train_classifier, TrainConfig};

/// The experiment.
pub static EXPERIMENT: Experiment = Experiment {
    id: "loss-landscape",
    lecture: "optional",
    title: "Loss landscapes: skip connections keep deep nets' surfaces convex-looking; trajectories live in two dimensions",
    source: "H. Li, Z. Xu, G. Taylor, C. Studer, T. Goldstein, \"Visualizing the loss landscape of neural nets\", NeurIPS 2018",
    setup: "ReLU MLPs of `depth` hidden layers — plain of width `width`, residual of width `width`, plain of width 4×`width` — \
            trained with Adam for `epochs` epochs, parameters saved after each epoch. Around each trained net, the loss on a \
            `grid`×`grid` plane of two filter-normalized random directions; non-convexity = the fraction of interior grid \
            points where the finite-difference 2×2 Hessian has a negative eigenvalue larger than 5% of its positive one. \
            The plain net's trajectory is drawn on the PCA plane of its iterates.",
    params: |s| {
        vec![
            int("depth", s.pick(12, 16, 24), 1, 1000, "hidden layers"),
            int("width", s.pick(32, 48, 64), 2, 8192, "units per layer"),
            int("n_train", s.pick(800, 1000, 5000), 10, 60000, "training examples"),
            int("epochs", s.pick(8, 12, 30), 2, 10000, "epochs"),
            int("grid", s.pick(11, 15, 25), 3, 201, "grid points per axis"),
            float("range", 1.0, 1e-3, 100.0, "the plane spans [−range, range]²"),
        ]
    },
    run,
};

/// Fraction of interior points whose finite-difference Hessian has λ_min < −0.05 |λ_max|.
fn nonconvex_fraction(z: &[f64], n: usize) -> f64 {
    let at = |i: usize, j: usize| z[j * n + i];
    let (mut bad, mut all) = (0, 0);
    for j in 1..n - 1 {
        for i in 1..n - 1 {
            let fxx = at(i + 1, j) - 2.0 * at(i, j) + at(i - 1, j);
            let fyy = at(i, j + 1) - 2.0 * at(i, j) + at(i, j - 1);
            let fxy = (at(i + 1, j + 1) - at(i + 1, j - 1) - at(i - 1, j + 1) + at(i - 1, j - 1)) / 4.0;
            let (m, dd) = ((fxx + fyy) / 2.0, (((fxx - fyy) / 2.0).powi(2) + fxy * fxy).sqrt());
            let (lmin, lmax) = (m - dd, m + dd);
            all += 1;
            if lmin < -0.05 * lmax.abs().max(1e-300) {
                bad += 1;
            }
        }
    }
    bad as f64 / all.max(1) as f64
}

fn run(r: &Run) -> Result<Outcome> {
    let p = r.params;
    let (depth, width, epochs, n_grid, range) =
        (p.usize("depth"), p.usize("width"), p.usize("epochs"), p.usize("grid"), p.float("range"));
    let mut out = Outcome::default();
    let data = LabData::load(r, &mut out, p.usize("n_train"), 200)?;
    let (d_in, classes) = (data.d, data.classes);
    let grid: Vec<f64> = (0..n_grid).map(|i| -range + 2.0 * range * i as f64 / (n_grid - 1) as f64).collect();
    let configs = [("plain", width, false), ("residual", width, true), ("plain, 4× wider", 4 * width, false)];
    let mut nonconvex = BTreeMap::new();
    let mut pca_explained = 0.0;
    for (ci, (name, w, residual)) in configs.iter().enumerate() {
        let mut net = relu_mlp(d_in, *w, depth, classes, *residual, r.seed() ^ 21);
        let mut traj = vec![net.param_values()];
        let cfg = TrainConfig::new(1, 50, r.seed()).without_evaluation();
        // one optimizer for the whole run (its moments carry over epochs);
        // an epoch at a time only to record the iterates
        let mut opt = adam(1e-3, 0.9, 0.999, 1e-8);
        for e in 0..epochs {
            r.progress((ci as f64 + 0.5 * e as f64 / epochs as f64) / 3.0, &format!("{name}: training"));
            let c = TrainConfig { seed: cfg.seed.wrapping_add(e as u64), ..cfg };
            train_classifier(&mut net, &mut opt, &data.train, None, None, &c, &|_| {});
            traj.push(net.param_values());
        }
        let theta = net.param_values();
        r.progress((ci as f64 + 0.6) / 3.0, &format!("{name}: surface"));
        let (d1, d2) = (
            filter_normalized_direction(&theta, r.seed() ^ 31),
            filter_normalized_direction(&theta, r.seed() ^ 32),
        );
        let cell = std::cell::RefCell::new(&mut net);
        let eval = |q: &[Array]| {
            let mut m = cell.borrow_mut();
            m.set_param_values(q.to_vec());
            let e = evaluate(&mut **m, &data.train, None, 0.0);
            (e.loss, e.accuracy)
        };
        let z: Vec<f64> = slice_2d(&eval, &theta, &d1, &d2, &grid, &grid).into_iter().map(|v| v.0).collect();
        let nc = nonconvex_fraction(&z, n_grid);
        nonconvex.insert(name.to_string(), nc);
        out.figure(
            &format!("surface-{}", ci),
            Heatmap {
                title: format!("{name}, depth {depth}: loss on a filter-normalized plane"),
                x_label: "α".into(),
                y_label: "β".into(),
                x: grid.clone(),
                y: grid.clone(),
                z: z.clone(),
                log_z: true,
                z_label: "loss".into(),
                contours: 12,
                overlay: vec![],
            },
        )
        .caption("Compare the contours across the three nets: nested, convex-looking level sets with skip connections, a rougher surface without.");
        if ci == 0 {
            // the trajectory on the PCA plane of its iterates, and the surface there
            let plane = pca_plane(&traj).map_err(anyhow::Error::msg)?;
            pca_explained = plane.explained.0 + plane.explained.1;
            let (xs, ys): (Vec<f64>, Vec<f64>) = plane.coords.iter().copied().unzip();
            let span = xs.iter().chain(&ys).fold(0.0f64, |m, v| m.max(v.abs())) * 1.2;
            let g: Vec<f64> =
                (0..n_grid).map(|i| -span + 2.0 * span * i as f64 / (n_grid - 1) as f64).collect();
            r.progress((ci as f64 + 0.8) / 3.0, "PCA plane");
            let zp: Vec<f64> =
                slice_2d(&eval, &theta, &plane.d1, &plane.d2, &g, &g).into_iter().map(|v| v.0).collect();
            out.metric(
                "trajectory_pca",
                Metric::map([
                    (
                        "coords",
                        Metric::from(
                            plane.coords.iter().map(|c| Metric::from([c.0, c.1])).collect::<Vec<_>>(),
                        ),
                    ),
                    ("explained", Metric::from([plane.explained.0, plane.explained.1])),
                    ("loss_grid", Metric::from(zp.clone())),
                ]),
            );
            out.figure(
                "trajectory-pca",
                Heatmap {
                    title: format!(
                        "Training trajectory on its PCA plane ({}% + {}% of the variance)",
                        (plane.explained.0 * 100.0).round(),
                        (plane.explained.1 * 100.0).round()
                    ),
                    x_label: "1st principal direction".into(),
                    y_label: "2nd principal direction".into(),
                    x: g.clone(),
                    y: g,
                    z: zp,
                    log_z: true,
                    z_label: "loss".into(),
                    contours: 12,
                    overlay: vec![Series::line_points("trajectory", xs, ys)],
                },
            )
    .caption("The training trajectory (red) descends across the loss surface within the plane of its two principal directions.");
        }
    }
    out.metric("nonconvex_fraction", nonconvex.clone());
    let nc = |k: &str| nonconvex.get(k).copied().unwrap_or(f64::NAN);
    out.claim(Claim::check(
        "skip_connections_smooth_the_surface",
        &format!(
            "Without skip connections a deep net's surface is markedly less convex than with them (a 4× wider plain net: {})",
            g3(nc("plain, 4× wider"))
        ),
        Check::greater_than(("non-convex fraction of the plain net", nc("plain")), 1.0, ("of the residual net", nc("residual"))),
    ));
    out.claim(Claim::greater(
        "trajectory_is_low_dimensional",
        "The optimization trajectory lies close to a 2-D plane: two principal directions explain most of its variance",
        "fraction of the variance the first two PCA components explain",
        pca_explained,
        0.8,
    ));
    Ok(out)
}
