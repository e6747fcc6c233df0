//! Optional · Keskar et al. 2017, "On large-batch training for deep learning:
//! generalization gap and sharp minima": large-batch training ends in sharper
//! minima than small-batch training — and Dinh et al. 2017, "Sharp minima can
//! generalize for deep nets": reparameterizing a ReLU net changes its
//! sharpness arbitrarily without changing the function.

use odl_autodiff::Tensor;
use odl_nn::{Activation, MlpConfig, Module};
use odl_optim::adam;
use odl_probe::landscape::{filter_normalized_direction, slice_1d};
use odl_probe::objective::value_and_grad;
use odl_probe::sharpness::epsilon_sharpness;
use odl_probe::{eigenpairs, hessian_at, ModelLoss, Which};
use odl_tensor::{Array, DType, Rng};

use super::prelude::*;
use crate::trainer::{train_classifier, TrainConfig};

/// The experiment.
pub static EXPERIMENT: Experiment = Experiment {
    id: "sharp-minima",
    lecture: "optional",
    title: "Large batches find sharper minima — and sharpness is not invariant to reparameterization",
    source: "N. Keskar, D. Mudigere, J. Nocedal, M. Smelyanskiy, P. Tang, ICLR 2017; L. Dinh, R. Pascanu, S. Bengio, Y. Bengio, ICML 2017",
    setup: "A ReLU MLP (two hidden layers of `hidden` units) trained with Adam on `n_train` examples with batch `small_batch` and \
            with batch `large_batch` until 99% training accuracy (or `max_epochs`). At each minimum, on the training set: Keskar's \
            ε-sharpness (box |yᵢ| ≤ ε(|θᵢ|+1), 20 ascent steps), the top Hessian eigenvalue (Lanczos), test accuracy and a \
            filter-normalized 1-D slice. Dinh's rescaling: (αW₁, αb₁, W₂/α) of the small-batch minimum computes the same function.",
    params: |s| {
        vec![
            int("n_train", s.pick(1000, 2000, 10000), 100, 60000, "training examples"),
            int("hidden", s.pick(128, 256, 512), 2, 8192, "hidden units per layer"),
            int("small_batch", 32, 1, 100000, "small batch"),
            int("large_batch", s.pick(500, 1000, 5000), 1, 100000, "large batch"),
            int("max_epochs", s.pick(60, 100, 300), 1, 100000, "epoch cap"),
            float("lr", 1e-3, 1e-7, 1.0, "Adam step size"),
            float("eps", 1e-3, 1e-6, 0.5, "ε of the sharpness box"),
            float("alpha", 8.0, 1.0, 1e3, "Dinh's rescaling factor"),
        ]
    },
    run,
};

fn run(r: &Run) -> Result<Outcome> {
    let p = r.params;
    let mut out = Outcome::default();
    let data = LabData::load(r, &mut out, p.usize("n_train"), 1000)?;
    let (d, classes) = (data.d, data.classes);
    let h = p.usize("hidden");
    let x = data.train_x();
    let labels = data.train.labels().to_vec();
    let alphas: Vec<f64> = (0..=20).map(|i| -1.0 + 0.1 * i as f64).collect();
    let mut results = Vec::new();
    let mut nets = Vec::new();
    for (bi, batch) in [p.usize("small_batch"), p.usize("large_batch")].into_iter().enumerate() {
        let mut net = MlpConfig::new(&[d, h, h, classes], Activation::Relu)
            .build(&mut Rng::seed(r.seed() ^ 6), DType::F32);
        let cfg = TrainConfig::new(p.usize("max_epochs"), batch, r.seed()).stop_at(0.99).test_every(0);
        let hist = train_classifier(
            &mut net,
            &mut adam(p.float("lr"), 0.9, 0.999, 1e-8),
            &data.train,
            Some(&data.test),
            None,
            &cfg,
            &|f| r.progress((bi as f64 + 0.7 * f) / 2.5, &format!("batch {batch}: training")),
        );
        r.progress((bi as f64 + 0.7) / 2.5, &format!("batch {batch}: sharpness"));
        let lb = labels.clone();
        let ml = ModelLoss::new(&mut net, x.clone(), move |z| z.cross_entropy(&lb));
        let theta = ml.theta();
        let f = |q: &[Tensor]| ml.loss(q);
        let sharp = epsilon_sharpness(&|q: &[Array]| value_and_grad(&f, q), &theta, p.float("eps"), 20);
        let lmax = eigenpairs(&hessian_at(&f, &theta), 1, 20, Which::Largest, r.seed()).0[0];
        let eval = |q: &[Array]| (ml.value_at(q), 0.0);
        let slice: Vec<f64> =
            slice_1d(&eval, &theta, &filter_normalized_direction(&theta, r.seed() ^ 2), &alphas)
                .into_iter()
                .map(|v| v.0)
                .collect();
        results.push((
            batch,
            sharp,
            lmax,
            *hist.train_acc.last().unwrap(),
            *hist.test_acc.last().unwrap(),
            hist.train_loss.len() - 1,
            slice,
        ));
        drop(ml);
        nets.push(net);
    }
    let (small, large) = (&results[0], &results[1]);
    let ratio = large.1 / small.1;
    out.metric("sharpness_ratio", ratio);
    out.metric("lambda_max_ratio", large.2 / small.2);
    out.metric(
        "minima",
        results
            .iter()
            .map(|r| {
                Metric::map([
                    ("batch", Metric::from(r.0)),
                    ("epsilon_sharpness", Metric::from(r.1)),
                    ("lambda_max", Metric::from(r.2)),
                    ("train_acc", Metric::from(r.3)),
                    ("test_acc", Metric::from(r.4)),
                    ("epochs", Metric::from(r.5)),
                ])
            })
            .collect::<Vec<_>>(),
    );
    // Dinh et al.: the same function with a very different Hessian
    r.progress(0.85, "Dinh's rescaling");
    let a = p.float("alpha");
    let theta = nets[0].param_values();
    let scale = |v: &Array, c: f64| {
        Array::from_f64(&v.to_vec_f64().iter().map(|t| t * c).collect::<Vec<_>>(), v.shape(), v.dtype())
    };
    let mut rescaled = theta.clone();
    rescaled[0] = scale(&theta[0], a);
    rescaled[1] = scale(&theta[1], a);
    rescaled[2] = scale(&theta[2], 1.0 / a);
    let lb = labels.clone();
    let ml = ModelLoss::new(&mut nets[0], x.clone(), move |z| z.cross_entropy(&lb));
    let f = |q: &[Tensor]| ml.loss(q);
    let (l1, l2) = (ml.value_at(&theta), ml.value_at(&rescaled));
    // the small-batch minimum's λ_max and filter-normalized slice were measured above
    let lam1 = results[0].2;
    let lam2 = eigenpairs(&hessian_at(&f, &rescaled), 1, 20, Which::Largest, r.seed()).0[0];
    let eval = |q: &[Array]| (ml.value_at(q), 0.0);
    let s1 = &results[0].6;
    let s2: Vec<f64> =
        slice_1d(&eval, &rescaled, &filter_normalized_direction(&rescaled, r.seed() ^ 2), &alphas)
            .into_iter()
            .map(|v| v.0)
            .collect();
    let slice_diff = s1.iter().zip(&s2).map(|(u, v)| (u - v).abs() / u.abs().max(1e-12)).fold(0.0, f64::max);
    out.metric(
        "dinh",
        Metric::map([
            ("alpha", Metric::from(a)),
            ("loss", Metric::from([l1, l2])),
            ("lambda_max", Metric::from([lam1, lam2])),
            ("filter_normalized_slice_max_rel_diff", Metric::from(slice_diff)),
        ]),
    );
    out.metric(
        "slices",
        Metric::map([
            ("alphas", Metric::from(alphas.clone())),
            ("small_batch", Metric::from(small.6.clone())),
            ("large_batch", Metric::from(large.6.clone())),
            ("rescaled_small_batch", Metric::from(s2.clone())),
        ]),
    );
    out.figure(
        "slices",
        LinePlot::new("Filter-normalized 1-D slices through the two minima", "α", "training loss")
            .log_y()
            .with([
                Series::line(format!("batch {}", small.0), alphas.clone(), small.6.clone()),
                Series::line(format!("batch {}", large.0), alphas.clone(), large.6.clone()),
                Series::dashed(format!("batch {} rescaled by α = {a}", small.0), alphas.clone(), s2.clone())
                    .keyed(format!("batch {}", small.0)),
            ]),
    )
    .caption("The large-batch minimum's slice curves up more steeply than the small-batch one's; Dinh's rescaled network (dashed) gives the same filter-normalized slice as the original.");
    out.claim(Claim::all(
        "large_batch_is_sharper",
        &format!(
            "Large-batch training converges to sharper minima than small-batch training (test accuracy {} at batch {} vs {} at batch {})",
            g3(large.4),
            large.0,
            g3(small.4),
            small.0
        ),
        vec![
            Check::greater("ε-sharpness ratio large/small", ratio, 1.0),
            Check::greater_than(("λ_max at the large batch", large.2), 1.0, ("at the small batch", small.2)),
        ],
    ));
    out.claim(Claim::all(
        "rescaling_changes_sharpness_not_function",
        &format!(
            "Rescaling layers of a ReLU net by α = {a} leaves the function (and the filter-normalized plot) unchanged but changes the Hessian's scale arbitrarily"
        ),
        vec![
            Check::less("relative change of the loss", ((l1 - l2) / l1).abs(), 1e-4),
            Check::less("largest relative change of the filter-normalized slice", slice_diff, 1e-3),
            Check::greater_than(("λ_max after rescaling", lam2), 0.5 * a, ("before", lam1)),
        ],
    ));
    Ok(out)
}
