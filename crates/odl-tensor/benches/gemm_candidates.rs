//! Measures the GEMM candidates on this machine — `faer` (odl's choice), the
//! `gemm` crate and `matrixmultiply` — for f32 and f64, square sizes
//! 64–1024, on 1 and 2 threads, and prints a markdown table of median GFLOP/s.
//!
//! `cargo bench -p odl-tensor --bench gemm_candidates` (results: docs/gemm.md).
//! `matrixmultiply` reads its thread count once per process, so the program
//! re-runs itself once per thread count.

use std::process::Command;
use std::time::Instant;

use odl_tensor::{DType, Element, Rng};

const SIZES: [usize; 5] = [64, 128, 256, 512, 1024];

fn time_median(mut f: impl FnMut(), flops: f64) -> f64 {
    for _ in 0..3 {
        f();
    }
    let t = Instant::now();
    f();
    let est = t.elapsed().as_secs_f64().max(1e-7);
    let iters = ((0.4 / est) as usize).clamp(5, 2000);
    let mut ts: Vec<f64> = (0..iters)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    ts.sort_by(f64::total_cmp);
    flops / ts[ts.len() / 2] / 1e9
}

fn with_gemm<T: Element>(n: usize, threads: usize, a: &[T], b: &[T], c: &mut [T]) {
    let par = if threads > 1 { gemm::Parallelism::Rayon(threads) } else { gemm::Parallelism::None };
    // SAFETY: a, b, c are n×n row-major slices, c does not alias a or b.
    unsafe {
        gemm::gemm(
            n,
            n,
            n,
            c.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            1,
            n as isize,
            b.as_ptr(),
            1,
            n as isize,
            T::zero(),
            T::one(),
            false,
            false,
            false,
            par,
        )
    }
}

fn with_faer<T: Element + faer::traits::ComplexField>(
    n: usize,
    threads: usize,
    a: &[T],
    b: &[T],
    c: &mut [T],
) {
    let par = if threads > 1 { faer::Par::rayon(threads) } else { faer::Par::Seq };
    let am = faer::MatRef::from_row_major_slice(a, n, n);
    let bm = faer::MatRef::from_row_major_slice(b, n, n);
    let cm = faer::MatMut::from_row_major_slice_mut(c, n, n);
    faer::linalg::matmul::matmul(cm, faer::Accum::Replace, am, bm, T::one(), par);
}

fn row<T: Element + faer::traits::ComplexField>(
    n: usize,
    threads: usize,
    mm: fn(usize, &[T], &[T], &mut [T]),
) -> [f64; 3] {
    let mut rng = Rng::seed(n as u64);
    let a: Vec<T> = rng.normal(&[n * n], 0.0, 1.0, T::DTYPE).to_vec_f64().iter().map(|&v| T::of(v)).collect();
    let b: Vec<T> = rng.normal(&[n * n], 0.0, 1.0, T::DTYPE).to_vec_f64().iter().map(|&v| T::of(v)).collect();
    let mut c = vec![T::zero(); n * n];
    let flops = 2.0 * (n as f64).powi(3);
    let g = time_median(|| with_gemm(n, threads, &a, &b, &mut c), flops);
    let m = time_median(|| mm(n, &a, &b, &mut c), flops);
    let f = time_median(|| with_faer(n, threads, &a, &b, &mut c), flops);
    [g, m, f]
}

fn mm_f32(n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    // SAFETY: n×n row-major slices, c does not alias a or b.
    unsafe {
        matrixmultiply::sgemm(
            n,
            n,
            n,
            1.0,
            a.as_ptr(),
            n as isize,
            1,
            b.as_ptr(),
            n as isize,
            1,
            0.0,
            c.as_mut_ptr(),
            n as isize,
            1,
        )
    }
}

fn mm_f64(n: usize, a: &[f64], b: &[f64], c: &mut [f64]) {
    // SAFETY: as above.
    unsafe {
        matrixmultiply::dgemm(
            n,
            n,
            n,
            1.0,
            a.as_ptr(),
            n as isize,
            1,
            b.as_ptr(),
            n as isize,
            1,
            0.0,
            c.as_mut_ptr(),
            n as isize,
            1,
        )
    }
}

/// GEMM shapes of the W2/W4 MLP step (m, n, k): forward, weight and input
/// gradients; used to pick the size above which GEMMs go parallel.
const MLP_SHAPES: [(usize, usize, usize); 6] =
    [(128, 256, 784), (128, 256, 256), (256, 784, 128), (256, 256, 128), (128, 784, 256), (128, 10, 256)];

fn shapes_table() {
    // measured from inside a 2-thread pool, as `odl bench` runs
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("pool");
    pool.install(shapes_rows);
}

fn shapes_rows() {
    println!("\n| f32 (m, n, k), op | gemm 1 thr | faer 1 thr | gemm 2 thr | faer 2 thr |");
    println!("|---|---|---|---|---|");
    for (m, n, k) in MLP_SHAPES {
        for tb in [false, true] {
            let mut rng = Rng::seed(7);
            let a = rng.normal(&[m * k], 0.0, 1.0, DType::F32).to_vec_f32();
            let b = rng.normal(&[k * n], 0.0, 1.0, DType::F32).to_vec_f32();
            let mut c = vec![0.0f32; m * n];
            let flops = 2.0 * (m * n * k) as f64;
            let (b_rs, b_cs) = if tb { (1, k as isize) } else { (n as isize, 1) };
            let mut g = [0.0; 4];
            for (i, threads) in [1usize, 2].into_iter().enumerate() {
                let par = if threads > 1 { gemm::Parallelism::Rayon(2) } else { gemm::Parallelism::None };
                g[2 * i] = time_median(
                    || {
                        // SAFETY: row-major m×k and m×n slices, b read with the
                        // strides of a row-major k×n or a transposed n×k matrix;
                        // c does not alias a or b.
                        unsafe {
                            gemm::gemm(
                                m,
                                n,
                                k,
                                c.as_mut_ptr(),
                                1,
                                n as isize,
                                false,
                                a.as_ptr(),
                                1,
                                k as isize,
                                b.as_ptr(),
                                b_cs,
                                b_rs,
                                0.0f32,
                                1.0f32,
                                false,
                                false,
                                false,
                                par,
                            )
                        }
                    },
                    flops,
                );
                let fpar = if threads > 1 { faer::Par::rayon(2) } else { faer::Par::Seq };
                g[2 * i + 1] = time_median(
                    || {
                        let am = faer::MatRef::from_row_major_slice(&a, m, k);
                        let bm = if tb {
                            faer::MatRef::from_row_major_slice(&b, n, k).transpose()
                        } else {
                            faer::MatRef::from_row_major_slice(&b, k, n)
                        };
                        let cm = faer::MatMut::from_row_major_slice_mut(&mut c, m, n);
                        faer::linalg::matmul::matmul(cm, faer::Accum::Replace, am, bm, 1.0f32, fpar);
                    },
                    flops,
                );
            }
            let op = if tb { "A·Bᵀ" } else { "A·B" };
            println!("| ({m}, {n}, {k}) {op} | {:.0} | {:.0} | {:.0} | {:.0} |", g[0], g[1], g[2], g[3]);
        }
    }
}

fn main() {
    if std::env::args().any(|a| a == "--shapes") {
        shapes_table();
        return;
    }
    let Ok(t) = std::env::var("MATMUL_NUM_THREADS") else {
        println!("| dtype | n | threads | gemm GFLOP/s | matrixmultiply GFLOP/s | faer GFLOP/s |");
        println!("|---|---|---|---|---|---|");
        let exe = std::env::current_exe().expect("own path");
        for threads in ["1", "2"] {
            let out = Command::new(&exe).env("MATMUL_NUM_THREADS", threads).output().expect("re-run");
            print!("{}", String::from_utf8_lossy(&out.stdout));
        }
        let out = Command::new(&exe).arg("--shapes").env("MATMUL_NUM_THREADS", "2").output().expect("re-run");
        print!("{}", String::from_utf8_lossy(&out.stdout));
        return;
    };
    if std::env::args().any(|a| a == "--shapes") {
        shapes_table();
        return;
    }
    let threads: usize = t.parse().expect("MATMUL_NUM_THREADS");
    rayon::ThreadPoolBuilder::new().num_threads(threads).build_global().ok();
    for dtype in [DType::F32, DType::F64] {
        for n in SIZES {
            let r = match dtype {
                DType::F32 => row::<f32>(n, threads, mm_f32),
                DType::F64 => row::<f64>(n, threads, mm_f64),
            };
            println!("| {dtype} | {n} | {threads} | {:.1} | {:.1} | {:.1} |", r[0], r[1], r[2]);
        }
    }
}
