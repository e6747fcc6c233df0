//! Layers: linear, convolution, pooling, flatten, activations, normalization,
//! dropout, residual blocks and sequential containers.

use odl_autodiff::{no_grad, Tensor};
use odl_tensor::{Array, DType, Rng};

use crate::init::Init;
use crate::module::{prefixed, Ctx, LayerKind, Module, Traced};

/// `weight` and, if present, `bias`, named as PyTorch names them.
fn weight_and_bias<'a>(w: &'a Tensor, b: Option<&'a Tensor>) -> Vec<(String, &'a Tensor)> {
    std::iter::once(("weight".to_string(), w)).chain(b.map(|b| ("bias".to_string(), b))).collect()
}

/// `y = x Wᵀ + b`, `W: [out, in]` (PyTorch's layout).
#[derive(Clone)]
pub struct Linear {
    /// `[out, in]`
    pub weight: Tensor,
    /// `[out]`
    pub bias: Option<Tensor>,
}

impl Linear {
    /// A layer `inp → out` with the weight drawn from `init` and the bias
    /// from PyTorch's default `U(±1/√in)` (or `bias_init` when given).
    pub fn new(
        inp: usize,
        out: usize,
        bias: bool,
        init: &Init,
        bias_init: Option<&Init>,
        rng: &mut Rng,
        dtype: DType,
    ) -> Linear {
        let weight = Tensor::param(init.sample(rng, &[out, inp], dtype));
        let bias = bias.then(|| {
            let b = match bias_init {
                Some(i) => i.sample(rng, &[out, 1], dtype).reshape(&[out]),
                None => {
                    let a = 1.0 / (inp as f64).sqrt();
                    rng.uniform(&[out], -a, a, dtype)
                }
            };
            Tensor::param(b)
        });
        Linear { weight, bias }
    }
}

impl Module for Linear {
    fn kind(&self) -> LayerKind {
        LayerKind::Affine
    }
    fn forward(&mut self, x: &Tensor, _: &mut Ctx) -> Tensor {
        x.linear(&self.weight, self.bias.as_ref())
    }
    fn named_params(&self) -> Vec<(String, &Tensor)> {
        weight_and_bias(&self.weight, self.bias.as_ref())
    }
    fn params_mut(&mut self) -> Vec<&mut Tensor> {
        std::iter::once(&mut self.weight).chain(self.bias.as_mut()).collect()
    }
}

/// 2-d convolution (cross-correlation), NCHW, weight `[out, in, k, k]`.
#[derive(Clone)]
pub struct Conv2d {
    /// `[out, in, k, k]`
    pub weight: Tensor,
    /// `[out]`
    pub bias: Option<Tensor>,
    /// stride and zero padding
    pub geom: odl_tensor::Conv2dGeom,
}

impl Conv2d {
    /// A `k×k` convolution `cin → cout`; bias from PyTorch's default.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        cin: usize,
        cout: usize,
        k: usize,
        stride: usize,
        padding: usize,
        bias: bool,
        init: &Init,
        rng: &mut Rng,
        dtype: DType,
    ) -> Conv2d {
        let weight = Tensor::param(init.sample(rng, &[cout, cin, k, k], dtype));
        let a = 1.0 / ((cin * k * k) as f64).sqrt();
        let bias = bias.then(|| Tensor::param(rng.uniform(&[cout], -a, a, dtype)));
        Conv2d { weight, bias, geom: odl_tensor::Conv2dGeom::square(stride, padding) }
    }

    /// A 1-d convolution `cin → cout` with kernel length `k` and "same" zero
    /// padding, for signals stored as `[n, c, 1, length]` (weight `[cout, cin, 1, k]`).
    pub fn new_1d(
        cin: usize,
        cout: usize,
        k: usize,
        bias: bool,
        init: &Init,
        rng: &mut Rng,
        dtype: DType,
    ) -> Conv2d {
        let weight = Tensor::param(init.sample(rng, &[cout, cin, 1, k], dtype));
        let a = 1.0 / ((cin * k) as f64).sqrt();
        let bias = bias.then(|| Tensor::param(rng.uniform(&[cout], -a, a, dtype)));
        Conv2d { weight, bias, geom: odl_tensor::Conv2dGeom { stride: 1, padding: (0, k / 2) } }
    }
}

impl Module for Conv2d {
    fn kind(&self) -> LayerKind {
        LayerKind::Affine
    }
    fn forward(&mut self, x: &Tensor, _: &mut Ctx) -> Tensor {
        let y = x.conv2d_geom(&self.weight, self.geom);
        match &self.bias {
            Some(b) => y.add(&b.reshape(&[1, b.numel(), 1, 1])),
            None => y,
        }
    }
    fn named_params(&self) -> Vec<(String, &Tensor)> {
        weight_and_bias(&self.weight, self.bias.as_ref())
    }
    fn params_mut(&mut self) -> Vec<&mut Tensor> {
        std::iter::once(&mut self.weight).chain(self.bias.as_mut()).collect()
    }
}

/// Pooling over `k×k` windows with a stride (no padding).
#[derive(Clone)]
pub enum Pool2d {
    /// maximum of each window
    Max(usize, usize),
    /// mean of each window
    Avg(usize, usize),
    /// maximum over `1×k` windows with stride `k` (1-d signals as `[n, c, 1, length]`)
    Max1d(usize),
}

/// Mean over `k×k` windows with `stride` of `[n,c,h,w]`, as a gather of the
/// windows and a mean (so it is differentiable to any order).
pub fn avg_pool2d(x: &Tensor, k: usize, stride: usize) -> Tensor {
    let s = x.shape().to_vec();
    assert!(
        s.len() == 4 && s[2] >= k && s[3] >= k && stride > 0,
        "avg_pool2d: window {k} stride {stride} does not fit {s:?}"
    );
    let (n, c, h, w) = (s[0], s[1], s[2], s[3]);
    let (oh, ow) = ((h - k) / stride + 1, (w - k) / stride + 1);
    let mut idx = Vec::with_capacity(n * c * oh * ow * k * k);
    for plane in 0..n * c {
        for i in 0..oh {
            for j in 0..ow {
                for a in 0..k {
                    for b in 0..k {
                        idx.push(plane * h * w + (i * stride + a) * w + j * stride + b);
                    }
                }
            }
        }
    }
    x.take(idx.into(), &[n, c, oh, ow, k * k]).mean(&[-1], false)
}

impl Module for Pool2d {
    fn kind(&self) -> LayerKind {
        match *self {
            Pool2d::Max(k, s) => LayerKind::Pool { max: true, window: (k, k), stride: (s, s) },
            Pool2d::Avg(k, s) => LayerKind::Pool { max: false, window: (k, k), stride: (s, s) },
            Pool2d::Max1d(k) => LayerKind::Pool { max: true, window: (1, k), stride: (1, k) },
        }
    }
    fn forward(&mut self, x: &Tensor, _: &mut Ctx) -> Tensor {
        match *self {
            Pool2d::Max(k, s) => x.max_pool2d(k, s),
            Pool2d::Avg(k, s) => avg_pool2d(x, k, s),
            Pool2d::Max1d(k) => x.max_pool2d_rect((1, k), (1, k)),
        }
    }
    fn named_params(&self) -> Vec<(String, &Tensor)> {
        Vec::new()
    }
    fn params_mut(&mut self) -> Vec<&mut Tensor> {
        Vec::new()
    }
}

/// `[n, …] → [n, rest]`.
#[derive(Clone)]
pub struct Flatten;

impl Module for Flatten {
    fn kind(&self) -> LayerKind {
        LayerKind::LinearMap
    }
    fn forward(&mut self, x: &Tensor, _: &mut Ctx) -> Tensor {
        x.flatten()
    }
    fn named_params(&self) -> Vec<(String, &Tensor)> {
        Vec::new()
    }
    fn params_mut(&mut self) -> Vec<&mut Tensor> {
        Vec::new()
    }
}

/// `[n, rest] → [n, shape…]`: the inverse of [`Flatten`] (a generator's
/// vector turned into feature maps).
#[derive(Clone)]
pub struct Unflatten(pub Vec<usize>);

impl Module for Unflatten {
    fn kind(&self) -> LayerKind {
        LayerKind::LinearMap
    }
    fn forward(&mut self, x: &Tensor, _: &mut Ctx) -> Tensor {
        let mut s = vec![x.shape()[0]];
        s.extend(&self.0);
        x.reshape(&s)
    }
    fn named_params(&self) -> Vec<(String, &Tensor)> {
        Vec::new()
    }
    fn params_mut(&mut self) -> Vec<&mut Tensor> {
        Vec::new()
    }
}

/// Nearest-neighbour upsampling of feature maps by an integer factor.
#[derive(Clone)]
pub struct Upsample(pub usize);

impl Module for Upsample {
    fn kind(&self) -> LayerKind {
        LayerKind::LinearMap
    }
    fn forward(&mut self, x: &Tensor, _: &mut Ctx) -> Tensor {
        x.upsample_nearest(self.0)
    }
    fn named_params(&self) -> Vec<(String, &Tensor)> {
        Vec::new()
    }
    fn params_mut(&mut self) -> Vec<&mut Tensor> {
        Vec::new()
    }
}

/// Noise injected after normalization (Santurkar et al. 2018's "noisy BN"):
/// per channel and step, `y ← y·(1 + scale_std·ξ) + shift_std·ζ`, ξ, ζ ~ N(0, 1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BnNoise {
    /// standard deviation of the multiplicative noise
    pub scale_std: f64,
    /// standard deviation of the additive noise
    pub shift_std: f64,
}

/// Batch normalization (Ioffe & Szegedy 2015) over every axis but the channel
/// axis 1: `[n, c]` (1-d) or `[n, c, h, w]` (2-d). Training uses the batch
/// statistics (biased variance) and updates running ones with PyTorch's
/// momentum convention (unbiased variance); evaluation uses the running ones.
#[derive(Clone)]
pub struct BatchNorm {
    /// scale γ `[c]`
    pub gamma: Tensor,
    /// shift β `[c]`
    pub beta: Tensor,
    /// running mean `[c]`
    pub running_mean: Array,
    /// running variance `[c]`
    pub running_var: Array,
    /// weight of the new batch in the running statistics
    pub momentum: f64,
    /// added to the variance
    pub eps: f64,
    /// optional noise after normalization (training only)
    pub noise: Option<BnNoise>,
}

impl BatchNorm {
    /// BatchNorm over `c` channels (γ = 1, β = 0, momentum 0.1, ε = 1e-5).
    pub fn new(c: usize, dtype: DType) -> BatchNorm {
        BatchNorm {
            gamma: Tensor::param(Array::ones(&[c], dtype)),
            beta: Tensor::param(Array::zeros(&[c], dtype)),
            running_mean: Array::zeros(&[c], dtype),
            running_var: Array::ones(&[c], dtype),
            momentum: 0.1,
            eps: 1e-5,
            noise: None,
        }
    }

    fn channel_shape(x: &Tensor) -> Vec<usize> {
        let mut s = vec![1; x.ndim()];
        s[1] = x.shape()[1];
        s
    }
}

impl Module for BatchNorm {
    fn couples_examples(&self) -> bool {
        true
    }
    fn kind(&self) -> LayerKind {
        LayerKind::Norm
    }
    fn forward(&mut self, x: &Tensor, ctx: &mut Ctx) -> Tensor {
        assert!(
            x.ndim() >= 2 && x.shape()[1] == self.gamma.numel(),
            "BatchNorm: input {:?} does not have {} channels on axis 1",
            x.shape(),
            self.gamma.numel()
        );
        let cs = BatchNorm::channel_shape(x);
        let axes: Vec<isize> = (0..x.ndim() as isize).filter(|&a| a != 1).collect();
        let count = x.numel() / x.shape()[1];
        let (y, mean, var) = if ctx.train {
            let mean = x.mean(&axes, true);
            let centered = x.sub(&mean);
            let var = centered.square().mean(&axes, true);
            let y = centered.div(&var.add_scalar(self.eps).sqrt());
            (y, Some(mean), Some(var))
        } else {
            let m = Tensor::constant(self.running_mean.reshape(&cs));
            let v = Tensor::constant(self.running_var.reshape(&cs));
            (x.sub(&m).div(&v.add_scalar(self.eps).sqrt()), None, None)
        };
        if let (Some(mean), Some(var)) = (mean, var) {
            let mom = self.momentum;
            let unbias = count as f64 / (count as f64 - 1.0).max(1.0);
            no_grad(|| {
                let c = self.gamma.numel();
                let upd = |run: &Array, batch: &Tensor, scale: f64| -> Array {
                    let b = batch.value().reshape(&[c]).to_vec_f64();
                    let r = run.to_vec_f64();
                    let v: Vec<f64> =
                        r.iter().zip(b).map(|(r, b)| (1.0 - mom) * r + mom * scale * b).collect();
                    Array::from_f64(&v, &[c], run.dtype())
                };
                self.running_mean = upd(&self.running_mean, &mean, 1.0);
                self.running_var = upd(&self.running_var, &var, unbias);
            });
        }
        let mut y = y;
        if let (true, Some(noise)) = (ctx.train, self.noise) {
            let c = self.gamma.numel();
            let scale = ctx.rng.normal(&[c], 1.0, noise.scale_std, x.dtype()).reshape(&cs);
            let shift = ctx.rng.normal(&[c], 0.0, noise.shift_std, x.dtype()).reshape(&cs);
            y = y.mul(&Tensor::constant(scale)).add(&Tensor::constant(shift));
        }
        y.mul(&self.gamma.reshape(&cs)).add(&self.beta.reshape(&cs))
    }
    fn named_params(&self) -> Vec<(String, &Tensor)> {
        vec![("weight".into(), &self.gamma), ("bias".into(), &self.beta)]
    }
    fn params_mut(&mut self) -> Vec<&mut Tensor> {
        vec![&mut self.gamma, &mut self.beta]
    }
    fn named_buffers(&self) -> Vec<(String, &Array)> {
        vec![("running_mean".into(), &self.running_mean), ("running_var".into(), &self.running_var)]
    }
    fn buffers_mut(&mut self) -> Vec<&mut Array> {
        vec![&mut self.running_mean, &mut self.running_var]
    }
}

/// Layer normalization (Ba et al. 2016) over the last axis, with γ and β.
#[derive(Clone)]
pub struct LayerNorm {
    /// scale γ `[d]`
    pub gamma: Tensor,
    /// shift β `[d]`
    pub beta: Tensor,
    /// added to the variance
    pub eps: f64,
}

impl LayerNorm {
    /// LayerNorm over a last axis of size `d`.
    pub fn new(d: usize, dtype: DType) -> LayerNorm {
        LayerNorm {
            gamma: Tensor::param(Array::ones(&[d], dtype)),
            beta: Tensor::param(Array::zeros(&[d], dtype)),
            eps: 1e-5,
        }
    }
}

impl Module for LayerNorm {
    fn kind(&self) -> LayerKind {
        LayerKind::Norm
    }
    fn forward(&mut self, x: &Tensor, _: &mut Ctx) -> Tensor {
        let centered = x.sub(&x.mean(&[-1], true));
        let var = centered.square().mean(&[-1], true);
        centered.div(&var.add_scalar(self.eps).sqrt()).mul(&self.gamma).add(&self.beta)
    }
    fn named_params(&self) -> Vec<(String, &Tensor)> {
        vec![("weight".into(), &self.gamma), ("bias".into(), &self.beta)]
    }
    fn params_mut(&mut self) -> Vec<&mut Tensor> {
        vec![&mut self.gamma, &mut self.beta]
    }
}

/// Dropout with drop probability `p`: in training, each unit is zeroed with
/// probability `p` and the rest scaled by `1/(1−p)`; identity in evaluation.
#[derive(Clone)]
pub struct Dropout(pub f64);

impl Module for Dropout {
    fn kind(&self) -> LayerKind {
        LayerKind::LinearMap
    }
    fn forward(&mut self, x: &Tensor, ctx: &mut Ctx) -> Tensor {
        let p = self.0;
        if !ctx.train || p == 0.0 {
            return x.clone();
        }
        assert!((0.0..1.0).contains(&p), "Dropout: p = {p} must be in [0, 1)");
        let keep: Vec<f64> =
            (0..x.numel()).map(|_| if ctx.rng.uniform_f64() < p { 0.0 } else { 1.0 / (1.0 - p) }).collect();
        x.mul(&Tensor::from_f64(&keep, x.shape(), x.dtype()))
    }
    fn named_params(&self) -> Vec<(String, &Tensor)> {
        Vec::new()
    }
    fn params_mut(&mut self) -> Vec<&mut Tensor> {
        Vec::new()
    }
}

/// Layers applied in order; parameters named `i.name` as in `nn.Sequential`.
#[derive(Clone, Default)]
pub struct Sequential(pub Vec<Box<dyn Module>>);

impl Sequential {
    /// An empty container.
    pub fn new() -> Sequential {
        Sequential(Vec::new())
    }

    /// Appends a layer.
    pub fn push(&mut self, m: impl Module + 'static) -> &mut Sequential {
        self.0.push(Box::new(m));
        self
    }
}

impl Module for Sequential {
    fn couples_examples(&self) -> bool {
        self.0.iter().any(|m| m.couples_examples())
    }
    fn forward(&mut self, x: &Tensor, ctx: &mut Ctx) -> Tensor {
        let mut h = x.clone();
        for m in &mut self.0 {
            h = m.forward(&h, ctx);
        }
        h
    }
    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module)> {
        self.0.iter_mut().enumerate().map(|(i, m)| (i.to_string(), &mut **m as &mut dyn Module)).collect()
    }
    fn forward_traced(&mut self, x: &Tensor, ctx: &mut Ctx, name: &str, rec: &mut Vec<Traced>) -> Tensor {
        let mut h = x.clone();
        for (i, m) in self.0.iter_mut().enumerate() {
            let child = if name.is_empty() { i.to_string() } else { format!("{name}.{i}") };
            h = m.forward_traced(&h, ctx, &child, rec);
        }
        h
    }
    fn named_params(&self) -> Vec<(String, &Tensor)> {
        self.0.iter().enumerate().flat_map(|(i, m)| prefixed(&i.to_string(), m.named_params())).collect()
    }
    fn params_mut(&mut self) -> Vec<&mut Tensor> {
        self.0.iter_mut().flat_map(|m| m.params_mut()).collect()
    }
    fn named_buffers(&self) -> Vec<(String, &Array)> {
        self.0.iter().enumerate().flat_map(|(i, m)| prefixed(&i.to_string(), m.named_buffers())).collect()
    }
    fn buffers_mut(&mut self) -> Vec<&mut Array> {
        self.0.iter_mut().flat_map(|m| m.buffers_mut()).collect()
    }
}

/// `y = x + α·block(x)` (He et al. 2016; the optional scale α on the residual
/// branch is the one used to keep deep residual nets trainable).
#[derive(Clone)]
pub struct Residual {
    /// the residual branch
    pub block: Sequential,
    /// scale α of the branch
    pub scale: f64,
}

impl Residual {
    fn combine(&self, x: &Tensor, r: Tensor) -> Tensor {
        assert_eq!(
            r.shape(),
            x.shape(),
            "Residual: branch output {:?} differs from input {:?}",
            r.shape(),
            x.shape()
        );
        if self.scale == 1.0 {
            x.add(&r)
        } else {
            x.add(&r.mul_scalar(self.scale))
        }
    }
}

impl Module for Residual {
    fn couples_examples(&self) -> bool {
        self.block.couples_examples()
    }
    fn kind(&self) -> LayerKind {
        LayerKind::Residual
    }
    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module)> {
        vec![("block".to_string(), &mut self.block as &mut dyn Module)]
    }
    fn forward_traced(&mut self, x: &Tensor, ctx: &mut Ctx, name: &str, rec: &mut Vec<Traced>) -> Tensor {
        let r = self.block.forward_traced(x, ctx, &format!("{name}.block"), rec);
        let y = self.combine(x, r);
        rec.push(Traced { name: name.to_string(), kind: LayerKind::Residual, output: y.clone() });
        y
    }
    fn forward(&mut self, x: &Tensor, ctx: &mut Ctx) -> Tensor {
        let r = self.block.forward(x, ctx);
        self.combine(x, r)
    }
    fn named_params(&self) -> Vec<(String, &Tensor)> {
        prefixed("block", self.block.named_params())
    }
    fn params_mut(&mut self) -> Vec<&mut Tensor> {
        self.block.params_mut()
    }
    fn named_buffers(&self) -> Vec<(String, &Array)> {
        prefixed("block", self.block.named_buffers())
    }
    fn buffers_mut(&mut self) -> Vec<&mut Array> {
        self.block.buffers_mut()
    }
}
