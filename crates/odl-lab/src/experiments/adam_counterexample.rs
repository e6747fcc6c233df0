//! L10 · Reddi, Kale & Kumar 2018, "On the convergence of Adam and beyond":
//! an online convex problem on [−1, 1] where Adam converges to the worst
//! point and AMSGrad to the optimum.

use odl_optim::schedule::InvSqrt;
use odl_optim::{chain, project_box, scale_by_adam, scale_by_learning_rate, AdamConfig, Chain, Transform};
use odl_tensor::{Array, DType, Rng};

use super::prelude::*;

/// The experiment.
pub static EXPERIMENT: Experiment = Experiment {
    id: "adam-counterexample",
    lecture: "L10",
    title: "Adam can converge to the worst point of a convex problem; AMSGrad fixes it",
    source: "S. Reddi, S. Kale, S. Kumar, \"On the convergence of Adam and beyond\", ICLR 2018",
    setup: "Online problem on x ∈ [−1, 1]: f_t(x) = C·x when t mod 3 = 1 and −x otherwise (the optimum is x* = −1), β₁ = `b1` (0), \
            β₂ = `b2` (1/(1+C²)), step α/√t, projection onto the interval; Adam and AMSGrad (odl's scale_by_adam without bias \
            correction, with and without the running maximum). Stochastic variant: f_t(x) = C_s·x with probability \
            (1+δ)/(C_s+1), −x otherwise (optimum −1), with β₁ = `stoch_b1`, β₂ = `stoch_b2`. Average regret \
            (1/T) Σ f_t(x_t) − f_t(x*).",
    params: |s| {
        vec![
            float("C", 3.0, 2.0 + 1e-9, 1e6, "the large gradient (C > 2)"),
            float("lr", 0.5, 1e-9, 100.0, "α of the step α/√t"),
            float("b1", 0.0, 0.0, 0.999999, "β₁ (Reddi et al.: 0)"),
            float("b2", 0.0, 0.0, 0.999999, "β₂; 0 means Reddi et al.'s 1/(1+C²)"),
            int("steps", s.pick(6000, 30000, 300000), 3, 100_000_000, "online rounds (deterministic)"),
            float("stoch_C", 1010.0, 2.0, 1e9, "C of the stochastic variant"),
            float("stoch_delta", 0.1, 1e-6, 1.0, "δ of the stochastic variant"),
            float("stoch_b1", 0.9, 0.0, 0.999999, "β₁ of the stochastic variant"),
            float("stoch_b2", 0.99, 0.0, 0.999999, "β₂ of the stochastic variant"),
            float("stoch_lr", 1e-3, 1e-9, 100.0, "α of the stochastic variant"),
            int("stoch_steps", s.pick(50000, 200000, 2000000), 3, 1_000_000_000, "rounds of the stochastic variant"),
        ]
    },
    run,
};

fn optimizer(b1: f64, b2: f64, lr: f64, amsgrad: bool) -> Chain {
    chain(vec![
        Box::new(scale_by_adam(AdamConfig { b1, b2, eps: 1e-8, bias_correction: false, amsgrad })),
        Box::new(scale_by_learning_rate(InvSqrt { lr })),
        Box::new(project_box(-1.0, 1.0)),
    ])
}

/// Runs the online game; `grad(t)` is the slope of f_t. Returns the iterates
/// x_1 … x_T and the average regret after each round.
fn play(opt: &mut Chain, steps: usize, grad: &mut dyn FnMut(usize) -> f64) -> (Vec<f64>, Vec<f64>) {
    let (mut xs, mut regret, mut total) = (Vec::with_capacity(steps), Vec::with_capacity(steps), 0.0);
    let mut x = vec![Array::scalar(0.0, DType::F64).reshape(&[1])];
    for t in 1..=steps {
        // the learner plays x_t, then f_t is revealed
        let xt = x[0].item();
        let g = grad(t);
        total += g * (xt + 1.0);
        xs.push(xt);
        regret.push(total / t as f64);
        opt.step(&mut x, vec![Array::scalar(g, DType::F64).reshape(&[1])]);
    }
    (xs, regret)
}

fn run(r: &Run) -> Result<Outcome> {
    let p = r.params;
    let (c, lr, steps) = (p.float("C"), p.float("lr"), p.usize("steps"));
    let b1 = p.float("b1");
    let b2 = if p.float("b2") == 0.0 { 1.0 / (1.0 + c * c) } else { p.float("b2") };
    let mut out = Outcome::default();
    let det = |t: usize| if t % 3 == 1 { c } else { -1.0 };
    r.progress(0.0, "deterministic: Adam");
    let (x_adam, reg_adam) = play(&mut optimizer(b1, b2, lr, false), steps, &mut |t| det(t));
    r.progress(0.2, "deterministic: AMSGrad");
    let (x_ams, reg_ams) = play(&mut optimizer(b1, b2, lr, true), steps, &mut |t| det(t));
    let (sc, delta) = (p.float("stoch_C"), p.float("stoch_delta"));
    let prob = (1.0 + delta) / (sc + 1.0);
    let (sb1, sb2, slr, ssteps) =
        (p.float("stoch_b1"), p.float("stoch_b2"), p.float("stoch_lr"), p.usize("stoch_steps"));
    let stoch = |amsgrad: bool| {
        let mut rng = Rng::seed(r.seed());
        play(&mut optimizer(sb1, sb2, slr, amsgrad), ssteps, &mut |_| {
            if rng.uniform_f64() < prob {
                sc
            } else {
                -1.0
            }
        })
    };
    r.progress(0.4, "stochastic: Adam");
    let (sx_adam, sreg_adam) = stoch(false);
    r.progress(0.7, "stochastic: AMSGrad");
    let (sx_ams, sreg_ams) = stoch(true);
    let thin = |v: &[f64]| -> (Vec<f64>, Vec<f64>) {
        let step = (v.len() / 2000).max(1);
        (0..v.len()).step_by(step).map(|i| ((i + 1) as f64, v[i])).unzip()
    };
    let line = |name: &str, v: &[f64]| {
        let (x, y) = thin(v);
        Series::line(name, x, y)
    };
    out.figure(
        "iterates",
        LinePlot::new(format!("Iterate x_t (C = {c}; optimum x* = −1)"), "round t", "x_t").log_x().with([
            line("Adam", &x_adam),
            line("AMSGrad", &x_ams),
            line("Adam, stochastic", &sx_adam),
            line("AMSGrad, stochastic", &sx_ams),
        ]),
    )
    .caption("Adam's iterate drifts to +1, the worst point, while AMSGrad's goes to the optimum −1 — in the deterministic game and (more slowly) in the stochastic one.");
    out.figure(
        "regret",
        LinePlot::new("Average regret R_t / t", "round t", "R_t / t").log_x().log_y().with([
            line("Adam", &reg_adam),
            line("AMSGrad", &reg_ams),
            line("Adam, stochastic", &sreg_adam),
            line("AMSGrad, stochastic", &sreg_ams),
        ]),
    )
    .caption("AMSGrad's average regret falls towards 0; Adam's levels off: it does not converge.");
    let last = |v: &[f64]| *v.last().unwrap();
    out.metric("adam_final_x", last(&x_adam));
    out.metric("amsgrad_final_x", last(&x_ams));
    out.metric("adam_avg_regret", last(&reg_adam));
    out.metric("amsgrad_avg_regret", last(&reg_ams));
    out.metric(
        "stochastic",
        Metric::map([
            ("adam_final_x", Metric::from(last(&sx_adam))),
            ("amsgrad_final_x", Metric::from(last(&sx_ams))),
            ("adam_avg_regret", Metric::from(last(&sreg_adam))),
            ("amsgrad_avg_regret", Metric::from(last(&sreg_ams))),
        ]),
    );
    out.claim(Claim::all(
        "adam_goes_to_worst_point",
        "Adam converges to x = +1, the worst point, and its average regret does not vanish",
        vec![
            Check::greater("Adam's final x", last(&x_adam), 0.9),
            Check::greater("its average regret", last(&reg_adam), 0.1),
        ],
    ));
    out.claim(Claim::all(
        "amsgrad_converges",
        "AMSGrad converges to the optimum x* = −1 and its average regret goes to 0",
        vec![
            Check::less("AMSGrad's final x", last(&x_ams), -0.9),
            Check::less("its average regret", last(&reg_ams), 0.05),
        ],
    ));
    out.claim(Claim::all(
        "stochastic_amsgrad_better",
        "In the stochastic variant too, AMSGrad moves towards the optimum while Adam does not",
        vec![
            Check::less_than(("AMSGrad's final x", last(&sx_ams)), 1.0, ("Adam's", last(&sx_adam))),
            Check::less_than(
                ("AMSGrad's average regret", last(&sreg_ams)),
                1.0,
                ("Adam's", last(&sreg_adam)),
            ),
        ],
    ));
    Ok(out)
}
