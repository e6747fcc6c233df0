//! The benchmark workloads compute what docs/workloads.md defines: their `check`
//! values are reproduced from known starting values (a committed fixture for
//! W1, whose check PyTorch and JAX agree on to the last bit) or against
//! independent f64 computations on odl's own random inputs.

use std::path::PathBuf;

use odl_autodiff::{grad, jacobian, power_iteration, Hessian, Tensor};
use odl_bench::data::Source;
use odl_bench::workloads::{forward, prepare, MlpSpec};
use odl_nn::Activation;
use odl_tensor::{Array, DType, Rng};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The network and batch of an MLP workload, as docs/workloads.md defines them
/// (written out here, independently of the workload files).
fn spec(wl: &str) -> MlpSpec {
    match wl {
        "W2" => MlpSpec {
            dumps: &["W2"],
            sizes: &[784, 256, 256, 256, 10],
            seed: 2,
            batch: 128,
            direction: false,
        },
        "W3" => MlpSpec { dumps: &["W3"], sizes: &W3_SIZES, seed: 3, batch: 64, direction: false },
        _ => {
            MlpSpec { dumps: &["W4"], sizes: &[784, 256, 256, 256, 10], seed: 2, batch: 128, direction: true }
        }
    }
}

/// 64 inputs, 32 hidden layers of 64, 10 outputs.
const W3_SIZES: [usize; 34] = {
    let mut s = [64; 34];
    s[33] = 10;
    s
};

fn first_check(wl: &str, src: &Source) -> f64 {
    let mut p = prepare(wl, src).unwrap();
    (p.step)(true).expect("check on the first call")
}

#[test]
fn w1_matches_pytorch_and_jax_exactly() {
    // peer_checks.json: torch and jax both give 0.5199858101853667 on W1.npz
    let checks: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("peer_checks.json")).unwrap()).unwrap();
    let want = checks["checks"]["W1"]["torch"].as_f64().unwrap();
    assert_eq!(want, checks["checks"]["W1"]["jax"].as_f64().unwrap());
    let got = first_check("W1", &Source::Dump(&fixtures()));
    assert!((got - want).abs() <= 1e-12 * want, "{got} vs {want}");
    // and it is ½(∏w − 2)² computed directly
    let npz = odl_tensor::npy::Npz::open(fixtures().join("W1.npz")).unwrap();
    let w = npz.array("w", DType::F64, Some(&[50])).unwrap().to_vec_f64();
    let direct = 0.5 * (w.iter().product::<f64>() - 2.0).powi(2);
    assert!((got - direct).abs() < 1e-13);
}

/// Mean cross-entropy of the MLP in plain f64 loops, independent of the engine.
fn naive_mlp_loss(params: &[Array], x: &Array, y: &[usize], relu: bool) -> f64 {
    let mut h: Vec<Vec<f64>> =
        (0..x.shape()[0]).map(|i| (0..x.shape()[1]).map(|j| x.get(i * x.shape()[1] + j)).collect()).collect();
    let layers = params.len() / 2;
    for l in 0..layers {
        let (w, b) = (params[2 * l].to_vec_f64(), params[2 * l + 1].to_vec_f64());
        let (out, inp) = (params[2 * l].shape()[0], params[2 * l].shape()[1]);
        h = h
            .iter()
            .map(|row| {
                (0..out)
                    .map(|o| {
                        let z = b[o] + (0..inp).map(|i| w[o * inp + i] * row[i]).sum::<f64>();
                        match (l + 1 < layers, relu) {
                            (false, _) => z,
                            (true, true) => z.max(0.0),
                            (true, false) => z.tanh(),
                        }
                    })
                    .collect()
            })
            .collect();
    }
    h.iter()
        .zip(y)
        .map(|(row, &c)| {
            let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln() - row[c]
        })
        .sum::<f64>()
        / y.len() as f64
}

#[test]
fn w2_and_w3_check_is_the_cross_entropy_of_the_defined_network() {
    for (wl, relu) in [("W2", true), ("W3", false)] {
        let pr = spec(wl).problem(&Source::Random).unwrap();
        assert_eq!(pr.params.len(), if wl == "W2" { 8 } else { 66 });
        let want = naive_mlp_loss(&pr.params, &pr.x, &pr.y, relu);
        let got = first_check(wl, &Source::Random);
        assert!((got - want).abs() < 1e-5 * want, "{wl}: {got} vs {want}");
    }
}

#[test]
fn w2c_and_w3c_the_compiled_steps_train_exactly_as_w2_and_w3() {
    // the same losses, step after step (momentum carries every gradient on)
    for (wl, c) in [("W2", "W2C"), ("W3", "W3C")] {
        let (mut eager, mut compiled) =
            (prepare(wl, &Source::Random).unwrap(), prepare(c, &Source::Random).unwrap());
        for step in 0..4 {
            let (e, c) = ((eager.step)(true).unwrap(), (compiled.step)(true).unwrap());
            assert_eq!(e.to_bits(), c.to_bits(), "{wl} step {step}: {e} vs {c}");
        }
    }
}

fn to_f64(a: &[Array]) -> Vec<Array> {
    a.iter().map(|p| p.cast(DType::F64)).collect()
}

fn dot(a: &[Array], b: &[Array]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| x.to_vec_f64().iter().zip(y.to_vec_f64()).map(|(p, q)| p * q).sum::<f64>())
        .sum()
}

#[test]
fn w4_check_is_v_hessian_v_by_gradient_differences() {
    let pr = spec("W4").problem(&Source::Random).unwrap();
    let got = first_check("W4", &Source::Random);
    // f64: ⟨v, Hv⟩ ≈ ⟨v, ∇L(θ+εv) − ∇L(θ−εv)⟩ / 2ε, with no second-order autodiff
    let x = Tensor::constant(pr.x.cast(DType::F64));
    let (p64, v64) = (to_f64(&pr.params), to_f64(&pr.v));
    let grad_at = |sign: f64, eps: f64| -> Vec<Array> {
        let ps: Vec<Tensor> = p64
            .iter()
            .zip(&v64)
            .map(|(p, v)| {
                let shifted: Vec<f64> =
                    p.to_vec_f64().iter().zip(v.to_vec_f64()).map(|(a, b)| a + sign * eps * b).collect();
                Tensor::param(Array::from_vec(shifted, p.shape()))
            })
            .collect();
        let refs: Vec<&Tensor> = ps.iter().collect();
        grad(&forward(&ps, &x, Activation::Relu).cross_entropy(&pr.y), &refs)
            .iter()
            .map(|g| g.value().clone())
            .collect()
    };
    // small enough that no ReLU changes side along the step (the HVP is the
    // derivative of the piecewise-linear network where it is differentiable)
    let eps = 1e-8;
    let fd = (dot(&v64, &grad_at(1.0, eps)) - dot(&v64, &grad_at(-1.0, eps))) / (2.0 * eps);
    // the same quantity by the f64 engine HVP
    let ps: Vec<Tensor> = p64.iter().map(|p| Tensor::param(p.clone())).collect();
    let hv = Hessian::new(&forward(&ps, &x, Activation::Relu).cross_entropy(&pr.y), &ps).apply_arrays(&v64);
    let exact = dot(&v64, &hv);
    assert!((exact - fd).abs() < 1e-5 * exact.abs().max(1.0), "f64 HVP {exact} vs differences {fd}");
    assert!((got - exact).abs() < 2e-4 * exact.abs(), "f32 workload {got} vs f64 {exact}");
}

#[test]
fn w4p_lambda_matches_f64_power_iteration() {
    let pr = spec("W4P").problem(&Source::Random).unwrap();
    let got = first_check("W4P", &Source::Random);
    let x = Tensor::constant(pr.x.cast(DType::F64));
    let ps: Vec<Tensor> = to_f64(&pr.params).into_iter().map(Tensor::param).collect();
    let h = Hessian::new(&forward(&ps, &x, Activation::Relu).cross_entropy(&pr.y), &ps);
    let v0: Vec<f64> = pr.v.iter().flat_map(|a| a.to_vec_f64()).collect();
    let (lam, _) = power_iteration(&h, &v0, 20);
    assert!((got - lam).abs() < 1e-4 * lam.abs(), "{got} vs {lam}");
}

#[test]
fn w8_top_singular_value_matches_reverse_mode_jacobian() {
    let got = first_check("W8", &Source::Random);
    // rebuild W8's inputs with the workload's seed, in f64
    let mut rng = Rng::seed(8);
    let ws: Vec<Tensor> = (0..32)
        .map(|_| Tensor::constant(rng.normal(&[256, 256], 0.0, 1.0 / 16.0, DType::F32).cast(DType::F64)))
        .collect();
    let x = rng.normal(&[256], 0.0, 1.0, DType::F32).cast(DType::F64).reshape(&[256, 1]);
    let j = jacobian(
        |x| {
            let mut h = x.clone();
            for w in &ws {
                h = w.matmul(&h).tanh();
            }
            h
        },
        &x,
    );
    // σ_max² = λ_max(JᵀJ), by power iteration on the dense 256×256 matrix
    let jv = j.to_vec_f64();
    let n = 256;
    let mut jtj = vec![0.0; n * n];
    for a in 0..n {
        for b in 0..n {
            jtj[a * n + b] = (0..n).map(|r| jv[r * n + a] * jv[r * n + b]).sum();
        }
    }
    let op = odl_autodiff::DenseOp { n, a: jtj };
    let (lam, _) = power_iteration(&op, &vec![1.0; n], 3000);
    let sigma = lam.sqrt();
    assert!((got - sigma).abs() < 1e-4 * sigma, "{got} vs {sigma}");
}

/// W9 and W10 start from the committed dumps; PyTorch and JAX computed their
/// checks from the same files (peer_checks.json): the unrolled generator loss
/// after five differentiable discriminator steps, and ½‖ξ‖² of the game field.
#[test]
fn w9_and_w10_match_pytorch_and_jax_on_the_same_inputs() {
    let checks: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("peer_checks.json")).unwrap()).unwrap();
    for wl in ["W9", "W10"] {
        let got = first_check(wl, &Source::Dump(&fixtures()));
        for fw in ["torch", "jax"] {
            let want = checks["checks"][wl][fw].as_f64().unwrap();
            assert!((got - want).abs() <= 1e-5 * want.abs(), "{wl}: odl {got} vs {fw} {want}");
        }
    }
    // the unrolled loss is not the plain one: the five steps moved D
    let plain = {
        let npz = odl_tensor::npy::Npz::open(fixtures().join("W9.npz")).unwrap();
        let layer =
            |p: &str, i: usize, j: usize| npz.array(&format!("{p}.{i}.{j}"), DType::F32, None).unwrap();
        let g: Vec<Tensor> =
            (0..3).flat_map(|i| [layer("G", i, 0), layer("G", i, 1)]).map(Tensor::constant).collect();
        let d: Vec<Tensor> =
            (0..3).flat_map(|i| [layer("D", i, 0), layer("D", i, 1)]).map(Tensor::constant).collect();
        let z = Tensor::constant(npz.array("z", DType::F32, Some(&[256, 2])).unwrap());
        forward(&d, &forward(&g, &z, Activation::Relu), Activation::Relu).neg().softplus().mean_all().item()
    };
    let unrolled = first_check("W9", &Source::Dump(&fixtures()));
    assert!((plain - unrolled).abs() > 1e-4, "plain {plain} vs unrolled {unrolled}");
}
