//! 01 — Autodiff: gradients, gradients of gradients, and checking them.
//!
//! `cargo run --release --example 01_autodiff`

use odl_autodiff::{check_grads, grad, grad_graph, CheckOptions, Hessian, LinOp, Tensor};
use odl_tensor::{Array, DType};

fn main() {
    // f(x) = Σ sin(x_i) · x_i²
    let x = Tensor::param(Array::from_f64(&[0.5, -1.0, 2.0], &[3], DType::F64));
    let f = x.sin().mul(&x.square()).sum_all();
    // first derivative, kept differentiable
    let g = grad_graph(&f, &[&x]).remove(0);
    println!("f(x)   = {:.6}", f.item());
    println!("∇f(x)  = {:?}", g.to_vec_f64());
    // a Hessian-vector product: differentiate ⟨∇f, v⟩
    let v = Tensor::from_f64(&[1.0, 0.0, 0.0], &[3], DType::F64);
    let hv = grad(&g.dot(&v), &[&x]).remove(0);
    println!("H e₁   = {:?}  (f is separable, so only the first entry is nonzero)", hv.to_vec_f64());
    // the Hessian as an operator, materialized column by column
    let h = Hessian::new(&f, std::slice::from_ref(&x));
    let diag: Vec<f64> = (0..3)
        .map(|i| {
            let mut e = vec![0.0; 3];
            e[i] = 1.0;
            h.apply(&e)[i]
        })
        .collect();
    println!("diag H = {diag:?}");
    // check the derivatives of any function to second order by finite differences
    let report = check_grads(
        |t| t[0].sin().mul(&t[0].square()).sum_all(),
        &[x.value().clone()],
        &CheckOptions::order(2),
    )
    .expect("derivatives agree with finite differences");
    println!(
        "gradient check: {} comparisons, worst relative error {:.1e}",
        report.comparisons, report.max_rel_err
    );
}
