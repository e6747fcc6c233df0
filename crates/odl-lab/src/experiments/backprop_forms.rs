//! L4 · Back-propagation in its two textbook forms. The gradient of
//! ½‖f(x) − y‖² with respect to each weight matrix, computed from the
//! standard form (an explicit product of layer Jacobians) and from the
//! recursive δ form, agrees with autodiff and with finite differences; the
//! recursive form costs a constant multiple of a forward pass at every depth,
//! while forming the Jacobian products does not.

use std::time::Instant;

use odl_autodiff::{grad, Tensor};
use odl_nn::{Activation, Ctx, Init, MlpConfig, Module};
use odl_tensor::{Array, DType, Rng};

use super::prelude::*;
use crate::fit::median;

/// The experiment.
pub static EXPERIMENT: Experiment = Experiment {
    id: "backprop-forms",
    lecture: "L4",
    title: "Back-propagation: the standard (Jacobian product) and recursive (δ) forms agree; backward costs a constant times forward",
    source: "D. Rumelhart, G. Hinton, R. Williams, \"Learning representations by back-propagating errors\", Nature 1986; the course's Lecture 4",
    setup: "A tanh network f(x) = W_L σ(W_{L−1} ⋯ σ(W₁x)) of depth `depth` and width `width`, loss ½‖f(x) − y‖² on one example (f64). \
            Gradients ∂L/∂W_l = δ_l h_{l−1}ᵀ with δ_l from the explicit product W_L D_{L−1} ⋯ W_{l+1} D_l (standard form) and from \
            δ_l = D_l W_{l+1}ᵀ δ_{l+1} (recursive form), against odl's autodiff and central finite differences. Then, over \
            `depths`, the time of forward + backward over the forward pass alone (autodiff, recording the graph as training \
            does; width `time_width`, batch 64, f32; fastest of `repeats` alternating timings) and of the product form over \
            the recursive form.",
    params: |s| {
        vec![
            int("depth", 6, 1, 200, "layers of the checked network"),
            int("width", 16, 1, 512, "units per layer of the checked network"),
            ints("depths", &s.pick(vec![2, 4, 8], vec![2, 4, 8, 16, 32], vec![2, 4, 8, 16, 32, 64]), 1, 512, "depths for the cost measurement").distinct(2),
            int("time_width", s.pick(64, 256, 512), 1, 4096, "width of the timed networks"),
            int("repeats", s.pick(15, 30, 100), 1, 100000, "timing repeats (the median is reported)"),
        ]
    },
    run,
};

struct Net {
    w: Vec<Array>,
}

impl Net {
    /// Pre-activations z_l and activations h_l (h_0 = x), f = z_L.
    fn forward(&self, x: &Array) -> (Vec<Array>, Vec<Array>) {
        let (mut zs, mut hs) = (Vec::new(), vec![x.clone()]);
        for (l, w) in self.w.iter().enumerate() {
            let z = Array::matmul(w, hs.last().unwrap(), false, false);
            if l + 1 < self.w.len() {
                hs.push(z.unary(odl_tensor::UnaryOp::Tanh));
            }
            zs.push(z);
        }
        (zs, hs)
    }

    /// D_l = diag(1 − tanh²(z_l)) as a full matrix.
    fn d(z: &Array) -> Array {
        let v: Vec<f64> = z.to_vec_f64().iter().map(|a| 1.0 - a.tanh().powi(2)).collect();
        let n = v.len();
        let mut m = vec![0.0; n * n];
        for i in 0..n {
            m[i * n + i] = v[i];
        }
        Array::from_vec(m, &[n, n])
    }

    /// Standard form: δ_l = (W_L D_{L−1} W_{L−1} ⋯ W_{l+1} D_l)ᵀ e, each product formed explicitly.
    fn grads_product(&self, x: &Array, y: &Array) -> Vec<Array> {
        let (zs, hs) = self.forward(x);
        let l_count = self.w.len();
        let e = zs[l_count - 1].binary(odl_tensor::BinaryOp::Sub, y);
        (0..l_count)
            .map(|l| {
                let delta = if l + 1 == l_count {
                    e.clone()
                } else {
                    // M = W_L D_{L−1} ⋯ W_{l+1} D_l
                    let mut m = self.w[l_count - 1].clone();
                    for k in (l..l_count - 1).rev() {
                        m = Array::matmul(&m, &Net::d(&zs[k]), false, false);
                        if k > l {
                            m = Array::matmul(&m, &self.w[k], false, false);
                        }
                    }
                    Array::matmul(&m, &e, true, false)
                };
                Array::matmul(&delta, &hs[l], false, true)
            })
            .collect()
    }

    /// Recursive form: δ_L = e, δ_l = D_l W_{l+1}ᵀ δ_{l+1}.
    fn grads_recursive(&self, x: &Array, y: &Array) -> Vec<Array> {
        let (zs, hs) = self.forward(x);
        let l_count = self.w.len();
        let mut delta = zs[l_count - 1].binary(odl_tensor::BinaryOp::Sub, y);
        let mut out = vec![Array::zeros(&[1], DType::F64); l_count];
        for l in (0..l_count).rev() {
            out[l] = Array::matmul(&delta, &hs[l], false, true);
            if l > 0 {
                let back = Array::matmul(&self.w[l], &delta, true, false);
                let dv: Vec<f64> = zs[l - 1].to_vec_f64().iter().map(|a| 1.0 - a.tanh().powi(2)).collect();
                let bv = back.to_vec_f64();
                delta = Array::from_vec(bv.iter().zip(&dv).map(|(a, b)| a * b).collect(), back.shape());
            }
        }
        out
    }

    fn loss(&self, x: &Array, y: &Array) -> f64 {
        let (zs, _) = self.forward(x);
        0.5 * zs
            .last()
            .unwrap()
            .to_vec_f64()
            .iter()
            .zip(y.to_vec_f64())
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
    }

    fn grads_autodiff(&self, x: &Array, y: &Array) -> Vec<Array> {
        let ps: Vec<Tensor> = self.w.iter().map(|w| Tensor::param(w.clone())).collect();
        let mut h = Tensor::constant(x.clone());
        for (l, w) in ps.iter().enumerate() {
            h = w.matmul(&h);
            if l + 1 < ps.len() {
                h = h.tanh();
            }
        }
        let loss = h.sub(&Tensor::constant(y.clone())).square().sum_all() * 0.5;
        let refs: Vec<&Tensor> = ps.iter().collect();
        grad(&loss, &refs).into_iter().map(|t| t.value().clone()).collect()
    }

    fn grads_fd(&self, x: &Array, y: &Array) -> Vec<Array> {
        let h = 1e-6;
        (0..self.w.len())
            .map(|l| {
                let base = self.w[l].to_vec_f64();
                let g = (0..base.len())
                    .map(|i| {
                        let at = |d: f64| {
                            let mut v = base.clone();
                            v[i] += d;
                            let mut w = self.w.clone();
                            w[l] = Array::from_vec(v, self.w[l].shape());
                            Net { w }.loss(x, y)
                        };
                        (at(h) - at(-h)) / (2.0 * h)
                    })
                    .collect();
                Array::from_vec(g, self.w[l].shape())
            })
            .collect()
    }
}

fn rel_err(a: &[Array], b: &[Array]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            let (xv, yv) = (x.to_vec_f64(), y.to_vec_f64());
            let d: f64 = xv.iter().zip(&yv).map(|(p, q)| (p - q).powi(2)).sum::<f64>().sqrt();
            d / yv.iter().map(|q| q * q).sum::<f64>().sqrt().max(1e-300)
        })
        .fold(0.0, f64::max)
}

/// The fastest of `repeats` timings of `f` and of `g`, taken alternately so
/// that both see the same machine load (the minimum is the least disturbed).
fn time_pair(repeats: usize, mut f: impl FnMut(), mut g: impl FnMut()) -> (f64, f64) {
    f();
    g();
    let (mut a, mut b) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..repeats {
        let t = Instant::now();
        f();
        a = a.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        g();
        b = b.min(t.elapsed().as_secs_f64());
    }
    (a, b)
}

fn time_median(repeats: usize, mut f: impl FnMut()) -> f64 {
    f();
    let ts: Vec<f64> = (0..repeats)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    median(&ts)
}

fn run(r: &Run) -> Result<Outcome> {
    let p = r.params;
    let mut rng = Rng::seed(r.seed());
    let (depth, width) = (p.usize("depth"), p.usize("width"));
    let w: Vec<Array> = (0..depth)
        .map(|_| rng.normal(&[width, width], 0.0, (1.0 / width as f64).sqrt(), DType::F64))
        .collect();
    let net = Net { w };
    let x = rng.normal(&[width, 1], 0.0, 1.0, DType::F64);
    let y = rng.normal(&[width, 1], 0.0, 1.0, DType::F64);
    r.progress(0.05, "gradients in both forms");
    let ad = net.grads_autodiff(&x, &y);
    let prod = net.grads_product(&x, &y);
    let rec = net.grads_recursive(&x, &y);
    r.progress(0.1, "finite differences");
    let fd = net.grads_fd(&x, &y);
    let (e_prod, e_rec, e_fd) = (rel_err(&prod, &ad), rel_err(&rec, &ad), rel_err(&fd, &ad));
    let mut out = Outcome::default();
    out.metric("max_rel_err", e_prod.max(e_rec));
    out.metric(
        "rel_err",
        Metric::map([
            ("standard_vs_autodiff", Metric::from(e_prod)),
            ("recursive_vs_autodiff", Metric::from(e_rec)),
            ("finite_differences_vs_autodiff", Metric::from(e_fd)),
        ]),
    );
    out.claim(Claim::all(
        "forms_agree",
        "The standard (Jacobian product) and recursive (δ) forms give the same gradient as autodiff",
        vec![
            Check::less("relative error of the standard form", e_prod, 1e-10),
            Check::less("of the recursive form", e_rec, 1e-10),
        ],
    ));
    out.claim(Claim::less(
        "matches_finite_differences",
        "The gradient matches central finite differences (h = 1e-6)",
        "relative error",
        e_fd,
        1e-6,
    ));
    // cost versus depth
    let depths = p.usizes("depths");
    let (tw, reps) = (p.usize("time_width"), p.usize("repeats"));
    let (mut ratio_bwd, mut ratio_prod) = (Vec::new(), Vec::new());
    for (i, &l) in depths.iter().enumerate() {
        r.progress(0.15 + 0.85 * i as f64 / depths.len() as f64, &format!("timing depth {l}"));
        let mut cfg = MlpConfig::new(&vec![tw; l + 1], Activation::Tanh);
        cfg.bias = false;
        cfg.init = Init::LecunNormal;
        let mut m = cfg.build(&mut rng, DType::F32);
        let xb = Tensor::constant(rng.normal(&[64, tw], 0.0, 1.0, DType::F32));
        // the forward pass as training runs it (recording the graph), and then with its backward pass
        let cell = std::cell::RefCell::new(&mut m);
        let (t_fwd, t_both) = time_pair(
            reps,
            || {
                let _ = cell.borrow_mut().forward(&xb, &mut Ctx::eval()).square().sum_all();
            },
            || {
                let mut net = cell.borrow_mut();
                let y = net.forward(&xb, &mut Ctx::eval()).square().sum_all();
                let _ = grad(&y, &net.params());
            },
        );
        ratio_bwd.push(t_both / t_fwd);
        // the two forms on one example (f64, width 32 so the products stay affordable)
        let wl: Vec<Array> =
            (0..l).map(|_| rng.normal(&[32, 32], 0.0, (1.0f64 / 32.0).sqrt(), DType::F64)).collect();
        let small = Net { w: wl };
        let (x1, y1) =
            (rng.normal(&[32, 1], 0.0, 1.0, DType::F64), rng.normal(&[32, 1], 0.0, 1.0, DType::F64));
        let reps_small = (reps / 5).max(3);
        let t_prod = time_median(reps_small, || {
            small.grads_product(&x1, &y1);
        });
        let t_rec = time_median(reps_small, || {
            small.grads_recursive(&x1, &y1);
        });
        ratio_prod.push(t_prod / t_rec);
    }
    let df: Vec<f64> = depths.iter().map(|d| *d as f64).collect();
    out.metric("depths", depths.clone());
    out.metric("fwd_bwd_over_fwd", ratio_bwd.clone());
    out.metric("product_over_recursive", ratio_prod.clone());
    out.figure(
        "cost-vs-depth",
        LinePlot::new("Cost of a gradient relative to a forward pass", "depth L", "time ratio")
            .log_x()
            .log_y()
            .with([
                Series::line_points(
                    "(forward + backward) / forward, autodiff",
                    df.clone(),
                    ratio_bwd.clone(),
                ),
                Series::line_points("Jacobian-product form / recursive form", df.clone(), ratio_prod.clone()),
            ]),
    )
    .caption("The autodiff backward pass stays a small constant multiple of the forward pass at every depth (flat blue line); forming the Jacobian products explicitly grows with depth (orange).");
    let (lo, hi) = ratio_bwd.iter().fold((f64::INFINITY, 0.0f64), |(a, b), v| (a.min(*v), b.max(*v)));
    out.claim(
        Claim::all(
            "backward_is_constant_factor",
            "A backward pass costs a small constant multiple of a forward pass, whatever the depth",
            vec![
                Check::at_least("the smallest (forward + backward)/forward time ratio", lo, 1.0),
                Check::at_most("the largest", hi, 6.0),
                Check::less("largest / smallest across depths", hi / lo, 2.0),
            ],
        )
        .timing(),
    );
    let (first, last) = (ratio_prod[0], *ratio_prod.last().unwrap());
    out.claim(
        Claim::check(
            "products_grow_with_depth",
            "Forming the Jacobian products explicitly costs more and more relative to the recursion as depth grows (O(L²n³) vs O(Ln²))",
            Check::greater_than(
                (&format!("product/recursive time ratio at L = {}", depths[depths.len() - 1]), last),
                2.0,
                (&format!("at L = {}", depths[0]), first),
            ),
        )
        .timing(),
    );
    Ok(out)
}
