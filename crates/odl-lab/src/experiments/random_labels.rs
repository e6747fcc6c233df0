//! L2–3 · Zhang et al. 2017, "Understanding deep learning requires rethinking
//! generalization", at small scale: an MLP memorizes random labels and
//! shuffled pixels; and the lecture's error decomposition over model widths.

use std::collections::BTreeMap;

use odl_nn::{Activation, MlpConfig};
use odl_optim::adam;
use odl_tensor::{DType, Rng};

use super::prelude::*;
use crate::trainer::{train_classifier, History, TrainConfig};

const SETTINGS: &[&str] = &["true", "corrupted", "random", "shuffled-pixels"];

/// The experiment.
pub static EXPERIMENT: Experiment = Experiment {
    id: "random-labels",
    lecture: "L2–3",
    title: "Networks memorize random labels; generalization is not explained by capacity alone",
    source: "C. Zhang, S. Bengio, M. Hardt, B. Recht, O. Vinyals, \"Understanding deep learning requires rethinking generalization\", ICLR 2017",
    setup: "A ReLU MLP (two hidden layers of `hidden` units) trained with Adam on `n_train` examples with true labels, \
            a fraction `corruption` of labels replaced at random, completely random labels, and a fixed random permutation of \
            the pixels; each until it fits the training set (training accuracy `fit_acc`) or `epochs` run out. Then a family of one-hidden-layer MLPs of \
            widths `family_widths` on true labels: representation error (training error after long training), optimization \
            error (short minus long training error) and generalization error (test minus training error).",
    params: |s| {
        vec![
            int("n_train", s.pick(500, 1000, 5000), 50, 60000, "training examples"),
            int("n_test", s.pick(300, 2000, 10000), 50, 10000, "test examples"),
            int("hidden", s.pick(256, 512, 1024), 1, 8192, "units per hidden layer"),
            int("epochs", s.pick(100, 150, 400), 1, 100000, "epoch budget per setting"),
            int("batch", 100, 1, 60000, "mini-batch size"),
            int(
                "test_every",
                s.pick(1, 1, 5),
                0,
                100000,
                "test-set evaluation every this many epochs (and where a run ends; 0: only there); \
                 the training set is evaluated after every epoch, for the stop at `fit_acc`",
            ),
            float(
                "fit_acc",
                s.pick(1.0, 1.0, 0.99),
                0.5,
                1.0,
                "training accuracy that counts as fitted (training stops there); at full scale 99 %: at 100 % the \
                 last few ambiguous images of 5000 decided how long true labels took (82 epochs, random labels 66)",
            ),
            float("lr", 1e-3, 1e-6, 1.0, "Adam step size"),
            float("corruption", 0.5, 0.0, 1.0, "fraction of corrupted labels in the 'corrupted' setting"),
            choices("settings", SETTINGS, SETTINGS, "label/pixel settings to run"),
            ints("family_widths", &[4, 16, 64, 256], 1, 8192, "hidden widths of the error-decomposition family").distinct(2),
            int("family_short", s.pick(2, 3, 5), 1, 10000, "short training budget (epochs)"),
            int("family_long", s.pick(20, 60, 200), 1, 100000, "long training budget (epochs)"),
        ]
    },
    run,
};

fn run(r: &Run) -> Result<Outcome> {
    let p = r.params;
    let seed = r.seed();
    let mut out = Outcome::default();
    let data = LabData::load(r, &mut out, p.usize("n_train"), p.usize("n_test"))?;
    let (d, classes) = (data.d, data.classes);
    let (epochs, batch, lr) = (p.usize("epochs"), p.usize("batch"), p.float("lr"));
    let settings = p.strs("settings");
    let n_jobs = settings.len() + 2 * p.usizes("family_widths").len();
    let mut histories: Vec<(String, History)> = Vec::new();
    let (mut tr_acc, mut te_acc, mut to_fit) = (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    for (k, s) in settings.iter().enumerate() {
        let (mut train, mut test) = (data.train.clone(), data.test.clone());
        match s.as_str() {
            "corrupted" => {
                train.corrupt_labels(p.float("corruption"), seed ^ 0xc0de);
            }
            "random" => {
                train.corrupt_labels(1.0, seed ^ 0xc0de);
            }
            "shuffled-pixels" => {
                train.shuffle_pixels(seed ^ 0x5eed);
                test.shuffle_pixels(seed ^ 0x5eed);
            }
            _ => {}
        }
        let h_units = p.usize("hidden");
        let mut net = MlpConfig::new(&[d, h_units, h_units, classes], Activation::Relu)
            .build(&mut Rng::seed(seed ^ 1), DType::F32);
        let cfg = TrainConfig::new(epochs, batch, seed)
            .stop_at(p.float("fit_acc"))
            .test_every(p.usize("test_every"));
        let base = k as f64 / n_jobs as f64;
        let h = train_classifier(
            &mut net,
            &mut adam(lr, 0.9, 0.999, 1e-8),
            &train,
            Some(&test),
            None,
            &cfg,
            &|f| r.progress(base + f / n_jobs as f64, &format!("{s} labels")),
        );
        tr_acc.insert(s.clone(), *h.train_acc.last().unwrap());
        te_acc.insert(s.clone(), *h.test_acc.last().unwrap());
        to_fit.insert(s.clone(), h.epochs_to_fit.map_or(Metric::Num(f64::NAN), Metric::from));
        histories.push((s.clone(), h));
    }
    out.metric("train_acc", tr_acc.clone());
    out.metric("test_acc", te_acc.clone());
    out.metric("epochs_to_fit", to_fit);
    let curve = |f: &dyn Fn(&History) -> Vec<f64>| -> Vec<Series> {
        histories.iter().map(|(s, h)| Series::indexed(s.clone(), f(h))).collect()
    };
    out.figure(
        "train-accuracy",
        LinePlot::new("Training accuracy: every setting is memorized", "epoch", "training accuracy")
            .with(curve(&|h| h.train_acc.clone())),
    )
    .caption("Every setting reaches (nearly) 100 % training accuracy — random labels and shuffled pixels later than true labels.");
    let test_curves: Vec<Series> = histories
        .iter()
        .map(|(s, h)| {
            Series::line(s.clone(), h.test_epochs.iter().map(|e| *e as f64).collect(), h.test_acc.clone())
        })
        .collect();
    out.figure(
        "test-accuracy",
        LinePlot::new("Test accuracy: only true structure generalizes", "epoch", "test accuracy").with(test_curves),
    )
    .caption("Only true labels generalize; with random labels test accuracy stays at chance, and corrupted labels sit in between.");
    let get = |m: &BTreeMap<String, f64>, k: &str| m.get(k).copied();
    let fit_epochs =
        |k: &str| histories.iter().find(|h| h.0 == k).map(|h| h.1.epochs_to_fit.unwrap_or(epochs + 1));
    for s in ["random", "shuffled-pixels"] {
        if let Some(a) = get(&tr_acc, s) {
            let fit = fit_epochs(s).map_or("—".into(), |e| {
                if e > epochs {
                    format!("> {epochs}")
                } else {
                    e.to_string()
                }
            });
            out.claim(Claim::check(
                &format!("memorizes_{s}"),
                &format!(
                    "The network fits the training set with {} (Zhang et al.: 100%)",
                    s.replace('-', " ")
                ),
                Check::that(
                    "training accuracy ≥ 0.95",
                    format!("training accuracy = {} (epochs to fit: {fit})", g3(a)),
                    a >= 0.95,
                ),
            ));
        }
    }
    if let Some(t) = get(&te_acc, "random") {
        let chance = 1.0 / classes as f64;
        out.claim(Claim::less(
            "random_test_is_chance",
            "With random labels, test accuracy is at chance (a random label is right by chance 1/k of the time, so slightly above)",
            "test accuracy (chance + 0.08 as the bound)",
            t,
            chance + 0.08,
        ));
    }
    if let (Some(a), Some(b)) = (fit_epochs("true"), fit_epochs("random")) {
        out.claim(Claim::check(
            "random_fits_slower",
            &format!(
                "Random labels take longer to fit than true labels (to {} training accuracy)",
                g3(p.float("fit_acc"))
            ),
            Check::greater_than(("epochs to fit random labels", b as f64), 1.0, ("true labels", a as f64)),
        ));
    }
    if let (Some(t), Some(c), Some(rn)) =
        (get(&te_acc, "true"), get(&te_acc, "corrupted"), get(&te_acc, "random"))
    {
        out.claim(Claim::all(
            "corruption_degrades_gracefully",
            "Test accuracy falls as the label noise grows",
            vec![
                Check::greater_than(("test accuracy with true labels", t), 1.0, ("with corrupted labels", c)),
                Check::greater_than(("with corrupted labels", c), 1.0, ("with random labels", rn)),
            ],
        ));
    }
    // the error decomposition over a family of widths
    let widths = p.usizes("family_widths");
    let (mut rep, mut opt_e, mut gen) = (Vec::new(), Vec::new(), Vec::new());
    for (i, &w) in widths.iter().enumerate() {
        let mut errs = Vec::new();
        for (j, budget) in [p.usize("family_short"), p.usize("family_long")].into_iter().enumerate() {
            let mut net = MlpConfig::new(&[d, w, classes], Activation::Relu)
                .build(&mut Rng::seed(seed ^ 2), DType::F32);
            let cfg = TrainConfig::new(budget, batch, seed).ends_only();
            let base = (settings.len() + 2 * i + j) as f64 / n_jobs as f64;
            let h = train_classifier(
                &mut net,
                &mut adam(lr, 0.9, 0.999, 1e-8),
                &data.train,
                Some(&data.test),
                None,
                &cfg,
                &|f| r.progress(base + f / n_jobs as f64, &format!("family width {w}")),
            );
            errs.push((1.0 - h.train_acc.last().unwrap(), 1.0 - h.test_acc.last().unwrap()));
        }
        let (short, long) = (errs[0], errs[1]);
        rep.push(long.0);
        opt_e.push((short.0 - long.0).max(0.0));
        gen.push(long.1 - long.0);
    }
    let wf: Vec<f64> = widths.iter().map(|w| *w as f64).collect();
    out.metric(
        "error_decomposition",
        Metric::map([
            ("widths", Metric::from(widths.clone())),
            ("representation", Metric::from(rep.clone())),
            ("optimization", Metric::from(opt_e.clone())),
            ("generalization", Metric::from(gen.clone())),
        ]),
    );
    out.figure(
        "error-decomposition",
        LinePlot::new(
            "Error decomposition over model width (true labels)",
            "hidden width",
            "error (fraction misclassified)",
        )
        .log_x()
        .with([
            Series::line_points("representation (train error, long run)", wf.clone(), rep.clone()),
            Series::line_points("optimization (short − long train error)", wf.clone(), opt_e.clone()),
            Series::line_points("generalization (test − train error)", wf.clone(), gen.clone()),
        ]),
    )
    .caption("The representation error falls as the model grows; the generalization gap is what remains at the widest models.");
    if rep.len() >= 2 {
        out.claim(Claim::check(
            "representation_error_falls_with_width",
            "A larger model class has a smaller representation (approximation) error",
            Check::less_than(
                (
                    &format!("train error after long training at width {}", widths[widths.len() - 1]),
                    rep[rep.len() - 1],
                ),
                1.0,
                (&format!("at width {}", widths[0]), rep[0]),
            ),
        ));
    }
    let rows: Vec<Vec<String>> = histories
        .iter()
        .flat_map(|(s, h)| {
            (0..h.train_acc.len()).map(move |i| {
                let epoch = h.eval_epochs[i];
                // empty where the test set was not evaluated (`test_every`)
                let test = h
                    .test_epochs
                    .iter()
                    .position(|t| *t == epoch)
                    .map_or(String::new(), |j| h.test_acc[j].to_string());
                vec![
                    s.clone(),
                    epoch.to_string(),
                    h.train_loss[i].to_string(),
                    h.train_acc[i].to_string(),
                    test,
                ]
            })
        })
        .collect();
    r.csv("curves.csv", &["setting", "epoch", "train_loss", "train_acc", "test_acc"], &rows)?;
    Ok(out)
}
