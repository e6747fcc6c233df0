//! L12 · Data poisoning (Biggio et al. 2012; Gu et al. 2017; Koh & Liang
//! 2017): whoever controls part of the training set controls part of the
//! model. Flipped labels cost test accuracy — far more when the flips are
//! chosen than when they are random; a backdoor trigger on a few percent of
//! the images makes the network answer the target class whenever the
//! trigger is present, with its clean accuracy almost untouched; and
//! influence functions — the engine's second derivatives — find the
//! training inputs whose small changes hurt the test loss most.

use odl_data::Dataset;
use odl_nn::Module;
use odl_optim::adam;
use odl_plot::BarChart;
use odl_robust::poison::backdoor::{self, Trigger};
use odl_robust::poison::flips::{greedy_flips, random_flips};
use odl_robust::poison::influence::{poison_inputs, Problem};
use odl_tensor::{Array, Rng};

use super::prelude::*;
use crate::data::{pool, two_classes};
use crate::trainer::{relu_mlp, train_classifier, TrainConfig};

/// The experiment.
pub static EXPERIMENT: Experiment = Experiment {
    id: "poisoning",
    lecture: "L12",
    title: "Data poisoning: random vs greedy label flips, a BadNets backdoor, influence-function poisoning",
    source: "B. Biggio, B. Nelson, P. Laskov, \"Poisoning attacks against support vector machines\", ICML 2012; T. Gu, \
             B. Dolan-Gavitt, S. Garg, \"BadNets: identifying vulnerabilities in the machine learning model supply chain\", \
             2017; P. W. Koh, P. Liang, \"Understanding black-box predictions via influence functions\", ICML 2017",
    setup: "Label flips: a ReLU MLP 784 → `hidden` → 10 (Adam, lr 10⁻³, batches of 100, `epochs` epochs, `n_train` Fashion-MNIST \
            images) retrained with each fraction of `flip_fractions` of its training labels flipped — at random (to a uniform \
            other class) or greedily (each chosen example to the class the clean model finds least likely, the most surprising \
            flips first). Backdoor: a 3×3 white patch one pixel from the bottom-right corner stamped on each fraction of \
            `backdoor_fractions` of the training images not of class 0 (T-shirt), relabelled 0; success = stamped test images \
            of other classes classified 0. Influence: L2-regularized (λ = `lambda`) logistic regression of T-shirts against \
            shirts, 14×14 pooled pixels, fit by Newton–CG on Hessian-vector products; the `poison_count` training inputs \
            with the largest influence on the test loss take `poison_steps` signed steps of 0.1 (pixels kept in [0, 1]) along \
            −(1/n)∇ₓ[(H⁻¹∇θL_test)ᵀ∇θℓ], refitting after each, against flipping the labels of as many random training points.",
    params: |s| {
        vec![
            int("n_train", s.pick(2000, 4000, 10000), 100, 60000, "training images"),
            int("hidden", 128, 1, 4096, "hidden units"),
            int("epochs", s.pick(5, 8, 10), 1, 1000, "training epochs"),
            floats("flip_fractions", &[0.0, 0.1, 0.2, 0.3, 0.4], 0.0, 0.9, "fractions of labels flipped"),
            floats("backdoor_fractions", &[0.0, 0.005, 0.01, 0.02, 0.05, 0.1], 0.0, 0.5, "fractions of images poisoned"),
            float("lambda", 0.01, 1e-6, 100.0, "logistic regression's L2 weight"),
            int("poison_count", s.pick(10, 20, 30), 1, 10000, "training inputs the influence attack changes"),
            int("poison_steps", 10, 1, 1000, "signed-gradient steps of the influence attack"),
        ]
    },
    run,
};

/// A fresh MLP trained on `train`; returns it.
fn train_mlp(train: &Dataset, hidden: usize, classes: usize, epochs: usize, seed: u64) -> odl_nn::Sequential {
    let cfg = TrainConfig::new(epochs, 100, seed);
    let mut m = relu_mlp(784, hidden, 1, classes, false, seed);
    train_classifier(&mut m, &mut adam(1e-3, 0.9, 0.999, 1e-8), train, None, None, &cfg, &|_| {});
    m
}

/// Predictions of `m` on normalized inputs `x` (`[n, 784]`).
fn predict(m: &mut odl_nn::Sequential, x: &Array) -> Vec<usize> {
    let z = odl_autodiff::no_grad(|| {
        m.forward(&odl_autodiff::Tensor::constant(x.clone()), &mut odl_nn::Ctx::eval())
    });
    let k = z.shape()[1];
    z.value().to_vec_f64().chunks(k).map(|r| (0..k).fold(0, |b, j| if r[j] > r[b] { j } else { b })).collect()
}

fn accuracy(pred: &[usize], y: &[usize]) -> f64 {
    pred.iter().zip(y).filter(|(a, b)| a == b).count() as f64 / y.len().max(1) as f64
}

fn run(r: &Run) -> Result<Outcome> {
    let p = r.params;
    let mut out = Outcome::default();
    let data = LabData::load(r, &mut out, p.usize("n_train"), 2000)?;
    let (mean, std, seed) = (data.mean, data.std, r.seed());
    let (h, epochs, k) = (p.usize("hidden"), p.usize("epochs"), data.classes);
    let n = data.train.len();
    let test_x = data.test.x.cast(odl_tensor::DType::F32);
    let test_y = data.test.labels().to_vec();
    // part 1: label flips
    let fr = p.floats("flip_fractions");
    let mut clean = train_mlp(&data.train, h, k, epochs, seed);
    let probs: Vec<f64> = {
        let z = odl_autodiff::no_grad(|| {
            clean
                .forward(&odl_autodiff::Tensor::constant(data.train.x.clone()), &mut odl_nn::Ctx::eval())
                .softmax(1)
        });
        z.value().to_vec_f64()
    };
    let (mut err_random, mut err_greedy) = (Vec::new(), Vec::new());
    for (j, &f) in fr.iter().enumerate() {
        r.progress(0.6 * j as f64 / fr.len() as f64, &format!("label flips, {:.0} %", 100.0 * f));
        let count = (f * n as f64).round() as usize;
        let mut errs = [0.0; 2];
        for (e, labels) in [
            random_flips(data.train.labels(), k, count, &mut Rng::seed(seed ^ 0xF11B)).0,
            greedy_flips(data.train.labels(), &probs, k, count).0,
        ]
        .into_iter()
        .enumerate()
        {
            let tr = Dataset::classification(data.train.x.clone(), labels, k);
            let mut m = train_mlp(&tr, h, k, epochs, seed);
            errs[e] = 1.0 - accuracy(&predict(&mut m, &test_x), &test_y);
        }
        err_random.push(errs[0]);
        err_greedy.push(errs[1]);
    }
    out.metric("flip_fractions", fr.clone());
    out.metric("test_error_random_flips", err_random.clone());
    out.metric("test_error_greedy_flips", err_greedy.clone());
    out.figure(
        "label_flips",
        LinePlot::new("Test error vs fraction of training labels flipped", "fraction flipped", "test error")
            .with([Series::line_points("random flips", fr.clone(), err_random.clone()), Series::line_points("greedy flips (by the clean model's loss)", fr.clone(), err_greedy.clone())]),
    )
    .caption("A network shrugs off random label noise — the wrong labels of one class scatter over the others and mostly cancel — but not flips aimed at the examples it is surest about, each sent to the class it finds least likely.");
    // part 2: the backdoor
    let trigger = Trigger { image: [1, 28, 28], size: 3, margin: 1, value: 1.0 };
    trigger.validate().map_err(anyhow::Error::msg)?;
    let (px, _) = data.pixels(&data.train, n);
    let (tx, ty) = data.pixels(&data.test, data.test.len());
    let mut stamped = tx.clone();
    trigger.stamp(&mut stamped);
    let norm = |v: &[f32]| Array::from_vec(data.scaling().to_model(v), &[v.len() / 784, 784]);
    let (stamped_x, clean_x) = (norm(&stamped), norm(&tx));
    let bf = p.floats("backdoor_fractions");
    let (mut success, mut clean_acc) = (Vec::new(), Vec::new());
    for (j, &f) in bf.iter().enumerate() {
        r.progress(0.6 + 0.3 * j as f64 / bf.len() as f64, &format!("backdoor, {:.1} %", 100.0 * f));
        let count = (f * n as f64).round() as usize;
        let (bx, by, _) =
            backdoor::poison(&px, data.train.labels(), &trigger, 0, count, &mut Rng::seed(seed ^ 0xBAD));
        let tr = Dataset::classification(norm(&bx), by, k);
        let mut m = train_mlp(&tr, h, k, epochs, seed);
        success.push(backdoor::success_rate(&predict(&mut m, &stamped_x), &ty, 0));
        clean_acc.push(accuracy(&predict(&mut m, &clean_x), &ty));
    }
    out.metric("backdoor_fractions", bf.clone());
    out.metric("backdoor_success", success.clone());
    out.metric("backdoor_clean_accuracy", clean_acc.clone());
    out.figure(
        "backdoor",
        LinePlot::new("BadNets: a 3×3 patch relabels to class 0", "fraction of training images poisoned", "rate")
            .with([Series::line_points("attack success (stamped test images → class 0)", bf.clone(), success.clone()), Series::line_points("clean test accuracy", bf.clone(), clean_acc.clone())]),
    )
    .caption("A few dozen stamped, relabelled training images teach the network a rule — patch ⇒ T-shirt — that no clean test image reveals: clean accuracy stays where it was while the patch takes over the prediction.");
    // part 3: influence-function poisoning of logistic regression
    r.progress(0.9, "influence-function poisoning");
    let (tr2, te2) = (pool(&two_classes(&data.train, 0, 6), 2), pool(&two_classes(&data.test, 0, 6), 2));
    let d = 196;
    let to_pixels = |ds: &Dataset| -> (Vec<f64>, Vec<usize>) {
        let x = ds.x.to_vec_f64().iter().map(|&v| (v * std + mean).clamp(0.0, 1.0)).collect();
        (x, ds.labels().to_vec())
    };
    let ((x2, y2), (xt2, yt2)) = (to_pixels(&tr2), to_pixels(&te2));
    let lambda = p.float("lambda");
    let prob = Problem { x: &x2, y: &y2, d, lambda };
    let theta = prob.fit(None);
    let (loss_clean, err_clean) = prob.evaluate(&theta, &xt2, &yt2);
    let count = p.usize("poison_count").min(y2.len());
    let (flipped, _) = random_flips(&y2, 2, count, &mut Rng::seed(seed ^ 0x1F));
    let th_flip = Problem { y: &flipped, ..prob }.fit(Some(&theta));
    let (loss_flip, err_flip) = prob.evaluate(&th_flip, &xt2, &yt2);
    let (xp, _) = poison_inputs(&prob, &xt2, &yt2, count, p.usize("poison_steps"), 0.1, (0.0, 1.0));
    let th_p = Problem { x: &xp, ..prob }.fit(Some(&theta));
    let (loss_p, err_p) = prob.evaluate(&th_p, &xt2, &yt2);
    out.metric("influence_train_size", y2.len() as f64);
    out.metric("influence_test_error", vec![err_clean, err_flip, err_p]);
    out.metric("influence_test_loss", vec![loss_clean, loss_flip, loss_p]);
    let labels =
        ["clean", &format!("{count} random label flips"), &format!("{count} influence-poisoned inputs")];
    out.figure(
        "influence",
        BarChart::new("Logistic regression, T-shirt vs shirt: the same budget of poisoned training points", "training set", "test", &labels)
            .bars("test error", vec![err_clean, err_flip, err_p])
            .bars("test loss", vec![loss_clean, loss_flip, loss_p]),
    )
    .caption("Random flips of a few labels barely move a regularized linear model; the same number of inputs moved along the influence gradient −(1/n)∇ₓ[(H⁻¹∇θL_test)ᵀ∇θℓ] — found with conjugate gradients on Hessian-vector products — raise its test loss and error.");
    // claims
    let mid = (1..fr.len()).map(|j| err_greedy[j] - err_random[j]).fold(f64::INFINITY, f64::min);
    out.claim(Claim::all(
        "greedy_flips_hurt_more",
        "Chosen flips hurt more than random ones: greedy test error is above random at every nonzero fraction, and at the largest fraction by at least 10 points",
        vec![
            Check::greater("min over fractions > 0 of greedy − random test error", mid, 0.0),
            Check::at_least("greedy − random at the largest fraction", err_greedy[fr.len() - 1] - err_random[fr.len() - 1], 0.1),
        ],
    ));
    let last = bf.len() - 1;
    out.claim(Claim::all(
        "backdoor_installs_quietly",
        "The backdoor works and hides: at the largest poison fraction at least 90 % of stamped test images go to class 0 (at 0 %: at most 15 %), while clean accuracy moves by at most 3 points",
        vec![
            Check::at_least("success at the largest fraction", success[last], 0.9),
            Check::at_most("success without poison", success[0], 0.15),
            Check::at_most("|clean accuracy change|", (clean_acc[last] - clean_acc[0]).abs(), 0.03),
        ],
    ));
    out.claim(Claim::all(
        "influence_poison_beats_random_flips",
        "With the same number of poisoned training points, influence-guided inputs raise the test loss more than random label flips do, and raise the test error",
        vec![
            Check::greater_than(("test loss, influence-poisoned", loss_p), 1.0, ("with random flips", loss_flip)),
            Check::greater("test error increase from influence poisoning", err_p - err_clean, 0.0),
        ],
    ));
    Ok(out)
}
