//! G1024, G256: one square f32 GEMM through the kernel odl's matmul uses
//! (faer), the calibration of odl's own peak rate on this machine.

use odl_tensor::cpu::matmul::gemm;
use odl_tensor::{DType, Rng};

use super::{Prepared, Workload};

/// 1024 × 1024 × 1024.
pub static G1024: Workload = Workload { id: "G1024", name: "gemm1024", prepare: |_| Ok(gemm_step(1024)) };
/// 256 × 256 × 256.
pub static G256: Workload = Workload { id: "G256", name: "gemm256", prepare: |_| Ok(gemm_step(256)) };

fn gemm_step(n: usize) -> Prepared {
    let mut rng = Rng::seed(100 + n as u64);
    let a = rng.normal(&[n, n], 0.0, 1.0, DType::F32).to_vec_f32();
    let b = rng.normal(&[n, n], 0.0, 1.0, DType::F32).to_vec_f32();
    let mut c = vec![0.0f32; n * n];
    Prepared {
        step: Box::new(move |_| {
            gemm(n, n, n, &a, false, &b, false, &mut c, false);
            Some(c[0] as f64)
        }),
        extra: vec![],
    }
}
