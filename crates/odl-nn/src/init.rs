//! Initializations: every scheme the course compares, as functions from a
//! seeded [`Rng`] and a weight shape to an [`Array`]. Fans follow PyTorch:
//! for a weight `[out, in, k…]`, `fan_in = in·Πk`, `fan_out = out·Πk`.

use odl_tensor::{Array, DType, Rng};

/// An initialization scheme for a weight tensor.
#[derive(Clone, Debug, PartialEq)]
pub enum Init {
    /// every entry `c`
    Constant(f64),
    /// the identity (for square matrices; `gain·I`), as in Saxe-style deep linear nets
    Identity(f64),
    /// `N(0, σ²)`
    Normal(f64),
    /// `U(−a, a)`
    Uniform(f64),
    /// LeCun normal: `N(0, 1/fan_in)`
    LecunNormal,
    /// Xavier/Glorot uniform: `U(±gain·√(6/(fan_in+fan_out)))`
    XavierUniform(f64),
    /// Xavier/Glorot normal: `N(0, gain²·2/(fan_in+fan_out))`
    XavierNormal(f64),
    /// He/Kaiming normal, fan-in mode: `N(0, gain²/fan_in)`
    KaimingNormal(f64),
    /// He/Kaiming normal, fan-out mode: `N(0, gain²/fan_out)`
    KaimingNormalFanOut(f64),
    /// He/Kaiming uniform, fan-in mode: `U(±gain·√(3/fan_in))`
    KaimingUniform(f64),
    /// scaled orthogonal (Saxe et al. 2014): rows or columns orthonormal, times `gain`
    Orthogonal(f64),
    /// delta-orthogonal for convolutions (Xiao et al. 2018): an orthogonal
    /// `[out, in]` matrix at the kernel centre, zeros elsewhere
    DeltaOrthogonal(f64),
    /// PyTorch's default for `Linear`/`Conv2d` weights: `U(±1/√fan_in)`
    TorchDefault,
    /// Gaussian `N(0, σ_w²/fan_in)` — the mean-field parameterization used with
    /// critical `(σ_w, σ_b)` (see [`critical_tanh`])
    MeanField(f64),
}

/// PyTorch's `calculate_gain` for an activation.
pub fn gain(activation: &str, slope: f64) -> f64 {
    match activation {
        "relu" => 2f64.sqrt(),
        "leaky_relu" => (2.0 / (1.0 + slope * slope)).sqrt(),
        "tanh" => 5.0 / 3.0,
        "selu" => 0.75,
        _ => 1.0, // linear, identity, sigmoid, conv
    }
}

/// `(fan_in, fan_out)` of a weight shape `[out, in, k…]`.
#[track_caller]
pub fn fans(shape: &[usize]) -> (usize, usize) {
    assert!(shape.len() >= 2, "fans: weight shape {shape:?} needs at least 2 axes");
    let rf: usize = shape[2..].iter().product();
    (shape[1] * rf, shape[0] * rf)
}

impl Init {
    /// Draws a weight of `shape`.
    #[track_caller]
    pub fn sample(&self, rng: &mut Rng, shape: &[usize], dtype: DType) -> Array {
        let n: usize = shape.iter().product();
        let fan = || fans(shape);
        match *self {
            Init::Constant(c) => Array::full(shape, c, dtype),
            Init::Identity(g) => {
                assert!(
                    shape.len() == 2 && shape[0] == shape[1],
                    "identity init needs a square matrix, got {shape:?}"
                );
                let mut v = vec![0.0; n];
                for i in 0..shape[0] {
                    v[i * shape[0] + i] = g;
                }
                Array::from_f64(&v, shape, dtype)
            }
            Init::Normal(s) => rng.normal(shape, 0.0, s, dtype),
            Init::Uniform(a) => rng.uniform(shape, -a, a, dtype),
            Init::LecunNormal => rng.normal(shape, 0.0, (1.0 / fan().0 as f64).sqrt(), dtype),
            Init::XavierUniform(g) => {
                let (i, o) = fan();
                let a = g * (6.0 / (i + o) as f64).sqrt();
                rng.uniform(shape, -a, a, dtype)
            }
            Init::XavierNormal(g) => {
                let (i, o) = fan();
                rng.normal(shape, 0.0, g * (2.0 / (i + o) as f64).sqrt(), dtype)
            }
            Init::KaimingNormal(g) => rng.normal(shape, 0.0, g / (fan().0 as f64).sqrt(), dtype),
            Init::KaimingNormalFanOut(g) => rng.normal(shape, 0.0, g / (fan().1 as f64).sqrt(), dtype),
            Init::KaimingUniform(g) => {
                let a = g * (3.0 / fan().0 as f64).sqrt();
                rng.uniform(shape, -a, a, dtype)
            }
            Init::Orthogonal(g) => {
                let rows = shape[0];
                let cols = n / rows.max(1);
                Array::from_f64(&orthogonal(rng, rows, cols, g), shape, dtype)
            }
            Init::DeltaOrthogonal(g) => {
                assert!(
                    shape.len() == 4 && shape[2] % 2 == 1 && shape[3] % 2 == 1,
                    "delta-orthogonal needs an odd conv kernel [o,c,k,k], got {shape:?}"
                );
                assert!(shape[0] >= shape[1], "delta-orthogonal needs out ≥ in channels, got {shape:?}");
                let (o, c, kh, kw) = (shape[0], shape[1], shape[2], shape[3]);
                let q = orthogonal(rng, o, c, g);
                let mut v = vec![0.0; n];
                for a in 0..o {
                    for b in 0..c {
                        v[((a * c + b) * kh + kh / 2) * kw + kw / 2] = q[a * c + b];
                    }
                }
                Array::from_f64(&v, shape, dtype)
            }
            Init::TorchDefault => {
                let a = 1.0 / (fan().0 as f64).sqrt();
                rng.uniform(shape, -a, a, dtype)
            }
            Init::MeanField(sw) => rng.normal(shape, 0.0, sw / (fan().0 as f64).sqrt(), dtype),
        }
    }
}

/// A `rows×cols` matrix with orthonormal rows (if rows ≤ cols) or columns,
/// times `gain`: the Q factor of a Gaussian matrix with signs fixed by R's
/// diagonal, so that it is Haar-distributed (as PyTorch's `orthogonal_`).
pub fn orthogonal(rng: &mut Rng, rows: usize, cols: usize, gain: f64) -> Vec<f64> {
    let (m, n) = if rows < cols { (cols, rows) } else { (rows, cols) };
    let a: Vec<f64> = (0..m * n).map(|_| rng.normal_f64()).collect();
    let mat = faer::MatRef::from_row_major_slice(&a, m, n);
    let qr = mat.qr();
    let q = qr.compute_thin_Q();
    let r = qr.thin_R();
    let mut out = vec![0.0; rows * cols];
    for i in 0..m {
        for j in 0..n {
            let s = if r[(j, j)] < 0.0 { -1.0 } else { 1.0 };
            let v = gain * s * q[(i, j)];
            if rows < cols {
                out[j * cols + i] = v; // transpose: rows orthonormal
            } else {
                out[i * cols + j] = v;
            }
        }
    }
    out
}

/// The critical initialization of a tanh network on the edge of chaos
/// (Poole et al. 2016; Schoenholz et al. 2017): for a bias variance `σ_b²`,
/// the weight scale `σ_w` at which the mean-field map has `χ₁ = 1`, i.e.
/// `σ_w² E[tanh′(√q* z)²] = 1` at the fixed point `q* = σ_w² E[tanh(√q* z)²] + σ_b²`.
/// Returns `(σ_w, q*)`. Use it with [`Init::MeanField`]`(σ_w)` and biases
/// `N(0, σ_b²)`.
pub fn critical_tanh(sigma_b: f64) -> (f64, f64) {
    // Gaussian expectations by Gauss–Hermite-like dense quadrature on [−8, 8]
    let expect = |f: &dyn Fn(f64) -> f64| -> f64 {
        let n = 1601;
        let h = 16.0 / (n - 1) as f64;
        (0..n)
            .map(|i| {
                let z = -8.0 + i as f64 * h;
                let w = if i == 0 || i == n - 1 { 0.5 } else { 1.0 };
                w * h * f(z) * (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
            })
            .sum()
    };
    let fixed_point = |sw2: f64| -> f64 {
        let mut q: f64 = 1.0;
        for _ in 0..2000 {
            let next = sw2 * expect(&|z| (q.sqrt() * z).tanh().powi(2)) + sigma_b * sigma_b;
            let done = (next - q).abs() < 1e-13;
            q = next;
            if done {
                break;
            }
        }
        q
    };
    let chi = |sw2: f64| -> f64 {
        let q = fixed_point(sw2);
        sw2 * expect(&|z| (1.0 - (q.sqrt() * z).tanh().powi(2)).powi(2))
    };
    // χ₁ increases with σ_w² through 1: bisection
    let (mut lo, mut hi) = (0.5f64, 4.0f64);
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if chi(mid) < 1.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let sw2 = 0.5 * (lo + hi);
    (sw2.sqrt(), fixed_point(sw2))
}
