//! W8: the input–output Jacobian of a 32-layer tanh network of width 256
//! at one input, by forward accumulation, and its singular values (the top
//! one is the check).

use anyhow::Result;
use odl_autodiff::Tensor;
use odl_tensor::{Array, DType, Rng};

use super::{Prepared, Workload};
use crate::data::{maybe_open, Source};

/// The workload.
pub static WORKLOAD: Workload = Workload { id: "W8", name: "jacspec", prepare };

fn prepare(src: &Source) -> Result<Prepared> {
    let npz = maybe_open(src, "W8")?;
    let n = 256;
    let (ws, x) = match &npz {
        None => {
            let mut rng = Rng::seed(8);
            let ws: Vec<Array> = (0..32).map(|_| rng.normal(&[n, n], 0.0, 1.0 / 16.0, DType::F32)).collect();
            (ws, rng.normal(&[n], 0.0, 1.0, DType::F32))
        }
        Some(npz) => {
            let mut ws = Vec::new();
            for l in 0..32 {
                ws.push(npz.array(&format!("Ws.{l}"), DType::F32, Some(&[n, n]))?);
            }
            (ws, npz.array("x", DType::F32, Some(&[n]))?)
        }
    };
    let ws: Vec<Tensor> = ws.into_iter().map(Tensor::constant).collect();
    let x = Tensor::constant(x.reshape(&[n, 1]));
    let step = move |_want: bool| {
        // Forward-mode accumulation of J = D_32 W_32 ⋯ D_1 W_1 in engine ops:
        // the tangent of h_l for all 256 input directions at once.
        let mut h = x.clone();
        let mut jac: Option<Tensor> = None;
        for w in &ws {
            h = w.matmul(&h).tanh();
            let d = h.square().neg().add_scalar(1.0); // tanh' = 1 − tanh², [n,1]
            let wj = match &jac {
                None => w.clone(),
                Some(j) => w.matmul(j),
            };
            jac = Some(wj.mul(&d));
        }
        let j = jac.expect("32 layers");
        let sv = singular_values(j.value());
        Some(sv[0])
    };
    Ok(Prepared {
        step: Box::new(step),
        extra: vec![(
            "jacobian_method".into(),
            serde_json::json!("forward accumulation D_l W_l J_{l-1} (exact)"),
        )],
    })
}

/// All singular values (descending) of a square f32 matrix, through faer.
fn singular_values(a: &Array) -> Vec<f64> {
    let (m, n) = (a.shape()[0], a.shape()[1]);
    let mat = faer::MatRef::from_row_major_slice(a.as_slice::<f32>(), m, n);
    let mut s: Vec<f64> =
        mat.singular_values().expect("SVD converges").into_iter().map(|v| v as f64).collect();
    s.sort_by(|a, b| b.total_cmp(a));
    s
}
