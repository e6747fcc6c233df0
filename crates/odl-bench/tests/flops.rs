//! The matrix-product work of the W2 and W4 steps, counted while they run.
//! Its own test binary: the FLOP counter is process-wide, and other tests
//! running at the same time would add to it.

use odl_bench::data::Source;
use odl_bench::workloads::prepare;

#[test]
fn training_and_hvp_steps_run_only_the_products_they_need() {
    // F = the forward products of the 784-256-256-256-10 MLP on 128 rows,
    // F1 its first layer's (whose input, the data, needs no gradient).
    // Training step: forward F, weight gradients F, input gradients F − F1.
    // HVP from scratch (gradient graph with lazy weight gradients, then one
    // reverse pass through it): forward F; backward's input gradients
    // F − F1; the second pass goes back through the lazy weight-gradient
    // products (F + (F − F1)), the backward's input-gradient products
    // (2(F − F1)) and the forward products (F + (F − F1)): 3F + 5(F − F1).
    let sizes = [784usize, 256, 256, 256, 10];
    let macs: Vec<u64> = sizes.windows(2).map(|w| (128 * w[0] * w[1]) as u64).collect();
    let f: u64 = 2 * macs.iter().sum::<u64>();
    let f1 = 2 * macs[0];
    let count = |wl: &str| {
        let mut p = prepare(wl, &Source::Random).unwrap();
        (p.step)(false);
        odl_tensor::cpu::matmul::count_flops(|| (p.step)(false)).1
    };
    assert_eq!(count("W2"), 3 * f - f1);
    assert_eq!(count("W4"), 3 * f + 5 * (f - f1));
}
