//! Inter-op parallelism: the two products of a matmul's VJP and the terms of
//! a sharded Hessian run side by side on two threads. Results must not depend
//! on the number of threads, and graph recording must follow the caller's
//! mode on every thread. (Its own test binary: it changes the global thread
//! count.)

use odl_autodiff::{grad, grad_graph, no_grad, par_map, value_and_grad_of_sum, Hessian, Tensor};
use odl_tensor::{Array, DType, Rng};

fn bits(ts: &[Tensor]) -> Vec<u64> {
    ts.iter().flat_map(|t| t.to_vec_f64()).map(f64::to_bits).collect()
}

// one test function, so that nothing else changes the thread count meanwhile
#[test]
fn parallel_parts() {
    results_do_not_depend_on_the_thread_count();
    par_map_keeps_order_and_the_callers_recording_mode();
    list_sums_split_over_threads_match_the_formula();
    par_map_reaches_every_thread_of_a_bigger_pool();
}

fn results_do_not_depend_on_the_thread_count() {
    // a [160, 192] · [192, 160] product is above the threshold for two threads
    let mut rng = Rng::seed(11);
    let a = Tensor::param(rng.normal(&[160, 192], 0.0, 1.0, DType::F32));
    let b = Tensor::param(rng.normal(&[192, 160], 0.0, 1.0, DType::F32));
    let run = |threads: usize| {
        odl_tensor::set_num_threads(threads);
        // first and second order: the HVP's backward pairs products too
        let loss = a.matmul(&b).tanh().square().mean_all();
        let g = grad_graph(&loss, &[&a, &b]);
        let v = [
            Tensor::constant(Array::ones(&[160, 192], DType::F32)),
            Tensor::constant(Array::ones(&[192, 160], DType::F32)),
        ];
        let hv = grad(&g[0].dot(&v[0]).add(&g[1].dot(&v[1])), &[&a, &b]);
        let shards = [
            (0.25, a.slice(0, 0, 40, 1).matmul(&b).tanh().square().mean_all()),
            (0.75, a.slice(0, 40, 160, 1).matmul(&b).tanh().square().mean_all()),
        ];
        let h = Hessian::sum(&shards, &[a.clone(), b.clone()])
            .apply_arrays(&[v[0].value().clone(), v[1].value().clone()]);
        let data = [(0.5, (0, 80)), (0.5, (80, 160))];
        let (_, dg) = value_and_grad_of_sum(&data, &[&a, &b], &|&(lo, hi): &(usize, usize)| {
            a.slice(0, lo, hi, 1).matmul(&b).tanh().square().mean_all()
        });
        let flat =
            |xs: &[Array]| xs.iter().flat_map(|x| x.to_vec_f64()).map(f64::to_bits).collect::<Vec<u64>>();
        (bits(&g), bits(&hv), flat(&h), flat(&dg))
    };
    let one = run(1);
    let two = run(2);
    assert!(one.0 == two.0, "gradients differ between 1 and 2 threads");
    assert!(one.1 == two.1, "HVPs differ between 1 and 2 threads");
    assert!(one.2 == two.2, "sharded HVPs differ between 1 and 2 threads");
    assert!(one.3 == two.3, "sharded gradients differ between 1 and 2 threads");
}

fn par_map_keeps_order_and_the_callers_recording_mode() {
    odl_tensor::set_num_threads(2);
    let x = Tensor::param(Array::from_vec(vec![1.0f64, 2.0, 3.0], &[3]));
    let items: Vec<f64> = (0..7).map(f64::from).collect();
    let f = |k: &f64| x.mul_scalar(*k).sum_all();
    let recorded = par_map(&items, &f);
    for (k, t) in items.iter().zip(&recorded) {
        assert_eq!(t.item(), 6.0 * k);
        assert!(t.requires_grad(), "a graph was not recorded on a worker thread");
        assert_eq!(grad(t, &[&x])[0].to_vec_f64(), vec![*k; 3]);
    }
    let plain = no_grad(|| par_map(&items, &f));
    assert!(plain.iter().all(|t| !t.requires_grad()), "no_grad did not reach a worker thread");
}

fn list_sums_split_over_threads_match_the_formula() {
    // y ← a·y + b·x over lists far above the size where the pass is split
    // between the two threads, with both element types and odd lengths
    let mut rng = Rng::seed(12);
    let shapes: [(&[usize], DType); 4] =
        [(&[300, 301], DType::F32), (&[7], DType::F64), (&[211, 333], DType::F64), (&[1], DType::F32)];
    let ys: Vec<Array> = shapes.iter().map(|(s, d)| rng.normal(s, 0.0, 1.0, *d)).collect();
    let xs: Vec<Array> = shapes.iter().map(|(s, d)| rng.normal(s, 0.0, 1.0, *d)).collect();
    let (a, b) = (0.75, -1.5);
    let before: Vec<Vec<f64>> = ys.iter().map(Array::to_vec_f64).collect();
    let run = |threads: usize| {
        odl_tensor::set_num_threads(threads);
        let mut out = ys.clone();
        Array::scale_add_all(&mut out, a, &xs, b);
        out
    };
    let (one, two) = (run(1), run(2));
    for ((y, x), (o1, o2)) in ys.iter().zip(&xs).zip(one.iter().zip(&two)) {
        let (y, x, o2) = (y.to_vec_f64(), x.to_vec_f64(), o2.to_vec_f64());
        assert_eq!(o1.to_vec_f64(), o2, "the split pass differs from the one-thread pass");
        for i in 0..y.len() {
            let want = match o1.dtype() {
                DType::F32 => (a as f32 * y[i] as f32 + b as f32 * x[i] as f32) as f64,
                DType::F64 => a * y[i] + b * x[i],
            };
            assert_eq!(o2[i], want, "element {i} of a {:?} array", o1.shape());
        }
    }
    // `out` shared its buffers with `ys` (cheap clones): the pass copied them first
    assert!(ys.iter().map(Array::to_vec_f64).eq(before), "scale_add_all wrote into shared data");
}

fn par_map_reaches_every_thread_of_a_bigger_pool() {
    // four items on four compute threads must all run at once (nested
    // halving splits the threads, it does not fall back to two): each item
    // waits until one of them has seen all four running (at most 20 s)
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};
    let pool = rayon::ThreadPoolBuilder::new().num_threads(4).build().unwrap();
    odl_tensor::set_num_threads(4);
    let (active, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let items = [0, 1, 2, 3];
    pool.install(|| {
        par_map(&items, &|_: &i32| {
            active.fetch_add(1, Ordering::SeqCst);
            let t0 = Instant::now();
            // until some item has seen all four running at once
            while most.fetch_max(active.load(Ordering::SeqCst), Ordering::SeqCst) < 4
                && t0.elapsed() < Duration::from_secs(20)
            {
                std::thread::yield_now();
            }
            active.fetch_sub(1, Ordering::SeqCst);
        })
    });
    odl_tensor::set_num_threads(2);
    assert_eq!(
        most.load(Ordering::SeqCst),
        4,
        "par_map ran at most {} of 4 items at once",
        most.load(Ordering::SeqCst)
    );
}
