//! `odl probe hessian`.

use anyhow::Result;
use odl_autodiff::{power_iteration, Hessian, LinOp, Tensor};
use odl_plot::{Figure, LinePlot, Series};
use odl_probe::{exact_spectrum, hutchinson, lanczos, leaves, slq, Ggn, ModelLoss, Which};
use odl_tensor::{Array, Rng};
use serde_json::{json, Value};

use super::{stage, Setup};
use odl_train::files::{num, nums};
use odl_train::shards::shards;

pub(super) fn probe(s: &mut Setup) -> Result<(Value, Vec<(String, Figure)>)> {
    let a = s.args.clone();
    let labels = s.labels.clone();
    let ml = ModelLoss::new(&mut s.run.model, s.x.clone(), move |z| z.cross_entropy(&labels));
    let all = ml.theta();
    let names = ml.names();
    // the parameters the Hessian is taken over (all, or those --params names)
    let chosen: Vec<usize> = if a.params.is_empty() {
        (0..names.len()).collect()
    } else {
        (0..names.len())
            .filter(|&i| a.params.iter().any(|p| names[i] == *p || names[i].starts_with(p.as_str())))
            .collect()
    };
    if chosen.is_empty() {
        anyhow::bail!(
            "--params {}: matches no parameter; the parameters are: {}",
            a.params.join(","),
            names.join(", ")
        );
    }
    let theta: Vec<Array> = chosen.iter().map(|&i| all[i].clone()).collect();
    // the full parameter list with the chosen ones replaced by `sel`
    let full = |sel: &[Tensor]| -> Vec<Tensor> {
        let mut v: Vec<Tensor> = all.iter().map(|t| Tensor::constant(t.clone())).collect();
        for (&i, t) in chosen.iter().zip(sel) {
            v[i] = t.clone();
        }
        v
    };
    // the batch's mean loss as a weighted sum over chunks of rows, one graph
    // each, so that every Hessian-vector product runs on all compute threads
    // (a batch as large as the training set is its whole-data Hessian)
    let p = leaves(&theta);
    let chunks = shards(&s.x, &s.labels, odl_tensor::num_threads().max(s.labels.len().div_ceil(2048)));
    let terms: Vec<(f64, Tensor)> = chunks
        .iter()
        .map(|(w, (xk, yk))| (*w, ml.loss_on(&full(&p), xk, &|z| z.cross_entropy(yk))))
        .collect();
    let h = Hessian::sum(&terms, &p);
    drop(terms);
    let n = h.dim();
    let k = (a.k as usize).min(n);
    stage(&format!("Lanczos: {} Hessian-vector products", a.steps));
    let mut rng = Rng::seed(a.seed);
    let v0: Vec<f64> = (0..n).map(|_| rng.normal_f64()).collect();
    let lz = lanczos(&h, &v0, a.steps as usize);
    let (ritz, _, _) = lz.ritz();
    let top: Vec<f64> = ritz.iter().rev().take(k).copied().collect();
    let bottom: Vec<f64> = ritz.iter().take(k).copied().collect();
    stage("power iteration: 20 products");
    let (power, _) = power_iteration(&h, &v0, 20);
    stage(&format!("Hutchinson: {} products", a.samples));
    let trace = hutchinson(&h, a.samples as usize, a.seed ^ 1);
    let vectors = (a.samples as usize / 10).clamp(1, 10);
    stage(&format!("SLQ: {vectors} × {} products", a.steps));
    let dens = slq(&h, vectors, a.steps as usize, a.seed ^ 2);
    let (lo, hi) =
        dens.nodes.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(*v), h.max(*v)));
    let sigma = ((hi - lo) / 100.0).max(1e-12);
    let grid = dens.grid(400, sigma);
    let density = dens.density(&grid, sigma);
    let exact = if a.exact {
        stage(&format!("exact spectrum: {n} products and a {n}×{n} eigendecomposition"));
        Some(exact_spectrum(&h).map_err(anyhow::Error::msg)?.0)
    } else {
        None
    };
    let ggn_top = if a.ggn {
        stage("Gauss–Newton: Lanczos");
        let p = leaves(&theta);
        let ggn = Ggn::new(&p, ml.outputs(&full(&p)), |z| ml.loss_of_outputs(z));
        Some(odl_probe::eigenpairs(&ggn, k, a.steps as usize, Which::Largest, a.seed).0)
    } else {
        None
    };
    let mut figs = Vec::new();
    let idx: Vec<f64> = (1..=k).map(|i| i as f64).collect();
    let mut series = vec![Series::line_points("Lanczos", idx.clone(), top.clone())];
    if let Some(e) = &exact {
        series.push(Series::points("exact", idx.clone(), e.iter().rev().take(k).copied().collect()));
    }
    if let Some(g) = &ggn_top {
        series.push(Series::line_points("Gauss–Newton", idx.clone(), g.clone()));
    }
    series.push(Series::points("power iteration (20 steps)", vec![1.0], vec![power]));
    figs.push((
        "hessian-top".to_string(),
        Figure::Lines(LinePlot {
            title: format!("Top {k} Hessian eigenvalues ({n} parameters)"),
            x_label: "rank".into(),
            y_label: "eigenvalue".into(),
            series,
            ..Default::default()
        }),
    ));
    let mut dens_series =
        vec![Series::line(format!("SLQ density (σ = {:.2e})", sigma), grid.clone(), density.clone())];
    if let Some(e) = &exact {
        // a histogram of the exact eigenvalues on the same grid, as a density
        let bins = 60;
        let w = (hi - lo).max(1e-12) / bins as f64;
        let mut c = vec![0.0; bins];
        for v in e {
            let b = (((v - lo) / w) as isize).clamp(0, bins as isize - 1) as usize;
            c[b] += 1.0 / (e.len() as f64 * w);
        }
        let xs = (0..bins).map(|i| lo + (i as f64 + 0.5) * w).collect();
        dens_series.push(Series::points("exact (histogram)", xs, c));
    }
    figs.push((
        "hessian-density".to_string(),
        Figure::Lines(LinePlot {
            title: "Hessian eigenvalue density".into(),
            x_label: "eigenvalue".into(),
            y_label: "density".into(),
            y_log: true,
            series: dens_series,
            ..Default::default()
        }),
    ));
    let mut tr_series = vec![Series::indexed("Hutchinson estimate", trace.clone())];
    tr_series[0].x.iter_mut().for_each(|x| *x += 1.0);
    if let Some(e) = &exact {
        let t: f64 = e.iter().sum();
        tr_series.push(Series::dashed("exact trace", vec![1.0, trace.len() as f64], vec![t, t]));
    }
    figs.push((
        "hessian-trace".to_string(),
        Figure::Lines(LinePlot {
            title: "Hessian trace by Hutchinson's estimator".into(),
            x_label: "samples".into(),
            y_label: "tr H estimate".into(),
            series: tr_series,
            ..Default::default()
        }),
    ));
    let moments: Vec<f64> = (1..=4).map(|k| dens.moment(k)).collect();
    let result = json!({
        "dim": n,
        "parameters": chosen.iter().map(|&i| names[i].clone()).collect::<Vec<_>>(),
        "loss": num(ml.value_at(&all)),
        "top_eigenvalues": nums(&top),
        "bottom_eigenvalues": nums(&bottom),
        "power_iteration_top": num(power),
        "lanczos_steps": lz.alpha.len(),
        "trace_hutchinson": num(*trace.last().unwrap_or(&f64::NAN)),
        "trace_samples": trace.len(),
        "slq": {"vectors": vectors, "sigma": sigma, "grid": nums(&grid), "density": nums(&density), "moments_1_to_4": nums(&moments)},
        "negative_curvature": bottom.first().is_some_and(|v| *v < 0.0),
        "exact_eigenvalues": exact.as_ref().map(|e| nums(e)),
        "exact_trace": exact.as_ref().map(|e| num(e.iter().sum())),
        "ggn_top_eigenvalues": ggn_top.as_ref().map(|g| nums(g)),
    });
    Ok((result, figs))
}
