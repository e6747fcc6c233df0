//! Composite functions: each is a few primitive ops, so its derivatives of
//! every order come from the VJP table with no rule of its own.

use crate::tensor::Tensor;

impl Tensor {
    /// `x` where `x > 0`, else `slope·x`.
    pub fn leaky_relu(&self, slope: f64) -> Tensor {
        let pos = self.gt_mask(&self.scalar_like(0.0));
        Tensor::where_(&pos, self, &self.mul_scalar(slope))
    }

    /// The logistic function, as `(1 + tanh(x/2)) / 2` (stable for all x).
    pub fn sigmoid(&self) -> Tensor {
        self.mul_scalar(0.5).tanh().mul_scalar(0.5).add_scalar(0.5)
    }

    /// `log(1 + eˣ)`, computed stably as `m + log(e^{−m} + e^{x−m})` with the
    /// shift `m = max(x, 0)` a constant: exact to every order everywhere,
    /// `x = 0` included (through `max` and `|x|` its derivative there
    /// would come out 0 instead of ½).
    pub fn softplus(&self) -> Tensor {
        let m = self.relu().detach();
        m.add(&m.neg().exp().add(&self.sub(&m).exp()).log())
    }

    /// GELU with the tanh approximation (as `torch.nn.GELU(approximate="tanh")`).
    pub fn gelu(&self) -> Tensor {
        let c = (2.0 / std::f64::consts::PI).sqrt();
        let inner = self.add(&self.powf(3.0).mul_scalar(0.044715)).mul_scalar(c);
        self.mul(&inner.tanh().add_scalar(1.0)).mul_scalar(0.5)
    }

    /// `log Σ exp(x)` along `axis`, shifted by the (constant) maximum for
    /// stability; exact to every order since the shift cancels.
    #[track_caller]
    pub fn logsumexp(&self, axis: isize, keepdim: bool) -> Tensor {
        let m = self.max(&[axis], true).detach();
        let s = self.sub(&m).exp().sum(&[axis], true).log().add(&m);
        if keepdim {
            s
        } else {
            let mut shape = self.shape().to_vec();
            shape.remove(odl_tensor::shape::norm_axis(axis, self.ndim(), "logsumexp"));
            s.reshape(&shape)
        }
    }

    /// `x - logsumexp(x)` along `axis`.
    #[track_caller]
    pub fn log_softmax(&self, axis: isize) -> Tensor {
        self.sub(&self.logsumexp(axis, true))
    }

    /// `exp(log_softmax(x))` along `axis`.
    #[track_caller]
    pub fn softmax(&self, axis: isize) -> Tensor {
        self.log_softmax(axis).exp()
    }

    /// Mean cross-entropy of `logits` `[n, k]` against integer labels (each `< k`):
    /// `mean_i (logsumexp(logits_i) − logits_i[y_i])`.
    #[track_caller]
    pub fn cross_entropy(&self, labels: &[usize]) -> Tensor {
        assert!(
            self.ndim() == 2 && self.shape()[0] == labels.len(),
            "cross_entropy: logits {:?} do not fit {} labels",
            self.shape(),
            labels.len()
        );
        let picked = self.gather(1, labels, &[labels.len(), 1]);
        self.logsumexp(1, true).sub(&picked).mean_all()
    }

    /// Mean cross-entropy of `logits` `[n, k]` against target distributions
    /// `targets` `[n, k]` (each row sums to 1; one-hot rows are labels):
    /// `mean_i (logsumexp(logits_i) − Σ_j targets_ij · logits_ij)`. With
    /// one-hot rows it equals [`Tensor::cross_entropy`] bit for bit, value and
    /// gradient, and since the labels are a tensor rather than indices fixed
    /// in the graph, a compiled step ([`crate::Compiled`]) can take them as an
    /// input. No gradient flows into `targets` unless it requires one.
    #[track_caller]
    pub fn cross_entropy_targets(&self, targets: &Tensor) -> Tensor {
        assert!(
            self.ndim() == 2 && targets.shape() == self.shape(),
            "cross_entropy_targets: logits {:?} and targets {:?} differ in shape",
            self.shape(),
            targets.shape()
        );
        let picked = self.mul(targets).sum(&[1], true);
        self.logsumexp(1, true).sub(&picked).mean_all()
    }

    /// Mean squared error `mean((x − target)²)`.
    #[track_caller]
    pub fn mse(&self, target: &Tensor) -> Tensor {
        self.sub(target).square().mean_all()
    }
}
