//! A public gradient checker, in the manner of JAX's `check_grads`: in f64,
//! along random directions, to any order.
//!
//! For a function `F` of several tensors and a random cotangent `c`, order 1
//! checks
//! * the VJP against central differences: `⟨vjp(c), d⟩ ≈ (φ(x+εd) − φ(x−εd)) / 2ε`
//!   with `φ = ⟨c, F⟩`;
//! * the JVP against central differences of `F` itself, element by element;
//! * the dot-product identity `⟨c, J d⟩ = ⟨Jᵀc, d⟩` between the two.
//!
//! Order `k > 1` applies the same checks to `x ↦ vjp(c)(x)`, built with a
//! differentiable backward pass — i.e. it checks Hessian-vector products and
//! beyond.
//!
//! ```
//! use odl_autodiff::{check_grads, CheckOptions, Tensor};
//! use odl_tensor::{Array, Rng, DType};
//! let x = Rng::seed(0).normal(&[3, 4], 0.0, 1.0, DType::F64);
//! let report = check_grads(|t| t[0].tanh().mul(&t[0]).sum(&[1], false), &[x], &CheckOptions::order(2)).unwrap();
//! assert!(report.max_rel_err < 1e-6);
//! ```

use odl_tensor::{Array, DType, Rng};

use crate::backward::backward;
use crate::functional::grad;
use crate::tensor::Tensor;

/// Settings of [`check_grads`].
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// highest derivative order to check (1 = gradients, 2 = Hessian-vector products)
    pub order: usize,
    /// finite-difference step
    pub eps: f64,
    /// relative tolerance
    pub rtol: f64,
    /// absolute tolerance
    pub atol: f64,
    /// random directions per order
    pub directions: usize,
    /// seed of the random directions and cotangents
    pub seed: u64,
}

impl CheckOptions {
    /// Defaults for checking up to `order`.
    pub fn order(order: usize) -> CheckOptions {
        CheckOptions { order, eps: 1e-6, rtol: 1e-5, atol: 1e-7, directions: 2, seed: 0 }
    }
}

/// What a passing check measured.
#[derive(Clone, Debug)]
pub struct CheckReport {
    /// the largest relative error seen over all orders and checks
    pub max_rel_err: f64,
    /// number of scalar comparisons made
    pub comparisons: usize,
}

/// A failed check: which order, which test, and the two numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckError(pub String);

impl std::fmt::Display for CheckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CheckError {}

type Fun<'a> = Box<dyn Fn(&[Tensor]) -> Tensor + 'a>;

/// Checks the derivatives of `f` at `inputs` (all f64) up to `opts.order`.
pub fn check_grads(
    f: impl Fn(&[Tensor]) -> Tensor,
    inputs: &[Array],
    opts: &CheckOptions,
) -> Result<CheckReport, CheckError> {
    if let Some(i) = inputs.iter().position(|a| a.dtype() != DType::F64) {
        return Err(CheckError(format!("input {i} is {}; the checker needs float64", inputs[i].dtype())));
    }
    let mut rng = Rng::seed(opts.seed);
    let mut report = CheckReport { max_rel_err: 0.0, comparisons: 0 };
    let mut fun: Fun = Box::new(f);
    for order in 1..=opts.order.max(1) {
        let out_shape =
            fun(&inputs.iter().map(|a| Tensor::constant(a.clone())).collect::<Vec<_>>()).shape().to_vec();
        let c = rng.normal(&out_shape, 0.0, 1.0, DType::F64);
        for _ in 0..opts.directions {
            let d: Vec<Array> = inputs.iter().map(|a| rng.normal(a.shape(), 0.0, 1.0, DType::F64)).collect();
            check_once(&fun, inputs, &c, &d, order, opts, &mut report)?;
        }
        if order < opts.order {
            // next order: the map x ↦ Jᵀc at x, as one flat vector
            let prev = fun;
            let cc = c.clone();
            fun = Box::new(move |xs: &[Tensor]| {
                // constants (finite-difference probes) become leaves so that the
                // inner gradient exists; parameters keep their graph
                let xs: Vec<Tensor> = xs
                    .iter()
                    .map(|x| if x.requires_grad() { x.clone() } else { Tensor::param(x.value().clone()) })
                    .collect();
                let y = prev(&xs);
                let refs: Vec<&Tensor> = xs.iter().collect();
                let gs = backward(&[(&y, Tensor::constant(cc.clone()))], &refs, true);
                let flat: Vec<Tensor> = gs.iter().map(|g| g.reshape(&[g.numel()])).collect();
                Tensor::concat(&flat, 0)
            });
        }
    }
    Ok(report)
}

/// Relative error and agreement of two numbers. A NaN or ∞ on either side
/// never agrees (two NaNs are two failures, not a match): a derivative that
/// cannot be evaluated has not been checked.
fn rel_err(a: f64, b: f64, opts: &CheckOptions) -> (f64, bool) {
    let diff = (a - b).abs();
    let scale = a.abs().max(b.abs());
    let rel = if scale > 0.0 { diff / scale } else { 0.0 };
    (rel, a.is_finite() && b.is_finite() && diff <= opts.atol + opts.rtol * scale)
}

fn shifted(inputs: &[Array], d: &[Array], h: f64) -> Vec<Tensor> {
    inputs
        .iter()
        .zip(d)
        .map(|(x, di)| {
            let v: Vec<f64> =
                x.as_slice::<f64>().iter().zip(di.as_slice::<f64>()).map(|(a, b)| a + h * b).collect();
            Tensor::constant(Array::from_vec(v, x.shape()))
        })
        .collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn check_once(
    fun: &Fun,
    inputs: &[Array],
    c: &Array,
    d: &[Array],
    order: usize,
    opts: &CheckOptions,
    report: &mut CheckReport,
) -> Result<(), CheckError> {
    let mut note = |what: &str, a: f64, b: f64| -> Result<(), CheckError> {
        let (rel, ok) = rel_err(a, b, opts);
        report.comparisons += 1;
        report.max_rel_err = report.max_rel_err.max(rel);
        if ok {
            Ok(())
        } else {
            Err(CheckError(format!(
                "order {order}: {what}: analytic {a:.12e} vs {b:.12e} (rel. error {rel:.2e})"
            )))
        }
    };
    // analytic VJP
    let xs: Vec<Tensor> = inputs.iter().map(|a| Tensor::param(a.clone())).collect();
    let y = fun(&xs);
    let refs: Vec<&Tensor> = xs.iter().collect();
    let ct = Tensor::constant(c.clone());
    let vjps: Vec<Vec<f64>> =
        backward(&[(&y, ct.clone())], &refs, false).iter().map(|g| g.to_vec_f64()).collect();
    let vjp_d: f64 = vjps.iter().zip(d).map(|(g, di)| dot(g, di.as_slice())).sum();

    // central differences of F along d
    let yp = fun(&shifted(inputs, d, opts.eps)).to_vec_f64();
    let ym = fun(&shifted(inputs, d, -opts.eps)).to_vec_f64();
    let fd: Vec<f64> = yp.iter().zip(&ym).map(|(p, m)| (p - m) / (2.0 * opts.eps)).collect();
    note("⟨vjp(c), d⟩ vs finite differences", vjp_d, dot(c.as_slice(), &fd))?;

    // analytic JVP by double VJP, element by element against the differences
    let u = Tensor::param(Array::zeros(y.shape(), DType::F64));
    let xs2: Vec<Tensor> = inputs.iter().map(|a| Tensor::param(a.clone())).collect();
    let y2 = fun(&xs2);
    let refs2: Vec<&Tensor> = xs2.iter().collect();
    let gu = backward(&[(&y2, u.clone())], &refs2, true);
    let mut s: Option<Tensor> = None;
    for (g, di) in gu.iter().zip(d) {
        let term = g.dot(&Tensor::constant(di.clone()));
        s = Some(match s {
            None => term,
            Some(acc) => acc.add(&term),
        });
    }
    let jd = grad(&s.expect("at least one input"), &[&u]).remove(0).to_vec_f64();
    for (i, (a, b)) in jd.iter().zip(&fd).enumerate() {
        note(&format!("(J d)[{i}] vs finite differences"), *a, *b)?;
    }
    note("dot-product test ⟨c, J d⟩ vs ⟨Jᵀc, d⟩", dot(c.as_slice(), &jd), vjp_d)
}
