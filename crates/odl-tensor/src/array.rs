//! [`Array`]: an immutable n-dimensional array, row-major and contiguous, whose
//! data is shared (cloning is cheap). All kernels are reached from here.

use std::fmt;
use std::sync::Arc;

use crate::cpu::{self, conv::ConvDims};
use crate::dtype::{DType, Element};
use crate::ops::{BinaryOp, CmpOp, Conv2dGeom, ReduceOp, UnaryOp};
use crate::shape::{broadcast_shapes, broadcast_strides, numel, strides, Shape};
use crate::storage::{dtype_of, CpuStorage, Storage};
use crate::{map_cpu, zip_cpu};

/// An immutable, contiguous, row-major n-dimensional array of `f32` or `f64`.
#[derive(Clone)]
pub struct Array {
    storage: Arc<Storage>,
    shape: Shape,
}

impl Array {
    fn new(data: CpuStorage, shape: Shape) -> Array {
        debug_assert_eq!(data.len(), numel(&shape));
        Array { storage: Arc::new(Storage::Cpu(data)), shape }
    }

    /// Builds an array from a vector of elements in row-major order.
    #[track_caller]
    pub fn from_vec<T: Element>(data: Vec<T>, shape: &[usize]) -> Array {
        assert_eq!(
            data.len(),
            numel(shape),
            "from_vec: {} elements do not fill shape {:?}",
            data.len(),
            shape
        );
        Array::new(T::wrap(data), Shape::from_slice(shape))
    }

    /// Builds an array of the given dtype from `f64` values.
    #[track_caller]
    pub fn from_f64(data: &[f64], shape: &[usize], dtype: DType) -> Array {
        match dtype {
            DType::F32 => Array::from_vec(data.iter().map(|&v| v as f32).collect(), shape),
            DType::F64 => Array::from_vec(data.to_vec(), shape),
        }
    }

    /// A 0-d array holding `v`.
    pub fn scalar(v: f64, dtype: DType) -> Array {
        Array::full(&[], v, dtype)
    }

    /// An array filled with `v`.
    pub fn full(shape: &[usize], v: f64, dtype: DType) -> Array {
        let n = numel(shape);
        let data = match dtype {
            DType::F32 => CpuStorage::F32(vec![v as f32; n]),
            DType::F64 => CpuStorage::F64(vec![v; n]),
        };
        Array::new(data, Shape::from_slice(shape))
    }

    /// An array of zeros.
    pub fn zeros(shape: &[usize], dtype: DType) -> Array {
        Array::full(shape, 0.0, dtype)
    }

    /// An array of ones.
    pub fn ones(shape: &[usize], dtype: DType) -> Array {
        Array::full(shape, 1.0, dtype)
    }

    /// The `n×n` identity matrix.
    pub fn eye(n: usize, dtype: DType) -> Array {
        let mut v = vec![0.0; n * n];
        for i in 0..n {
            v[i * n + i] = 1.0;
        }
        Array::from_f64(&v, &[n, n], dtype)
    }

    /// The size of each axis.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of axes.
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        numel(&self.shape)
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        dtype_of(self.cpu())
    }

    /// The backing storage (the backend seam).
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    fn cpu(&self) -> &CpuStorage {
        match &*self.storage {
            Storage::Cpu(s) => s,
        }
    }

    /// The elements as a slice of `T`; panics if the dtype is not `T`.
    #[track_caller]
    pub fn as_slice<T: Element>(&self) -> &[T] {
        T::view(self.cpu())
            .unwrap_or_else(|| panic!("as_slice: array holds {}, asked for {}", self.dtype(), T::DTYPE))
    }

    /// Mutable access to the elements as `T`, copying the data first if it is
    /// shared (copy-on-write). Used for in-place optimizer updates.
    #[track_caller]
    pub fn as_mut_slice<T: Element>(&mut self) -> &mut [T] {
        let dtype = self.dtype();
        let Storage::Cpu(s) = Arc::make_mut(&mut self.storage);
        match T::view_mut(s) {
            Some(v) => v,
            None => panic!("as_mut_slice: array holds {dtype}, asked for {}", T::DTYPE),
        }
    }

    /// The elements converted to `f64`.
    pub fn to_vec_f64(&self) -> Vec<f64> {
        match self.cpu() {
            CpuStorage::F32(v) => v.iter().map(|&x| x as f64).collect(),
            CpuStorage::F64(v) => v.clone(),
        }
    }

    /// The elements converted to `f32`.
    pub fn to_vec_f32(&self) -> Vec<f32> {
        match self.cpu() {
            CpuStorage::F32(v) => v.clone(),
            CpuStorage::F64(v) => v.iter().map(|&x| x as f32).collect(),
        }
    }

    /// The single element of a one-element array, as `f64`.
    #[track_caller]
    pub fn item(&self) -> f64 {
        assert_eq!(self.numel(), 1, "item: array of shape {:?} has {} elements", self.shape, self.numel());
        self.get(0)
    }

    /// Element at flat (row-major) index `i`, as `f64`.
    pub fn get(&self, i: usize) -> f64 {
        match self.cpu() {
            CpuStorage::F32(v) => v[i] as f64,
            CpuStorage::F64(v) => v[i],
        }
    }

    /// Converts to another element type (a cheap clone if it already is).
    pub fn cast(&self, dtype: DType) -> Array {
        if dtype == self.dtype() {
            return self.clone();
        }
        let data = match (self.cpu(), dtype) {
            (CpuStorage::F32(v), DType::F64) => CpuStorage::F64(v.iter().map(|&x| x as f64).collect()),
            (CpuStorage::F64(v), DType::F32) => CpuStorage::F32(v.iter().map(|&x| x as f32).collect()),
            _ => unreachable!(),
        };
        Array::new(data, self.shape.clone())
    }

    /// The same data with another shape of equal size (no copy).
    #[track_caller]
    pub fn reshape(&self, shape: &[usize]) -> Array {
        assert_eq!(numel(shape), self.numel(), "reshape: cannot view shape {:?} as {:?}", self.shape, shape);
        Array { storage: self.storage.clone(), shape: Shape::from_slice(shape) }
    }

    /// Elementwise function of one argument.
    pub fn unary(&self, op: UnaryOp) -> Array {
        Array::new(map_cpu!(self.cpu(), |x| cpu::elementwise::unary(op, x)), self.shape.clone())
    }

    #[track_caller]
    fn out_shape(&self, other: &Array, op: &dyn fmt::Debug) -> Shape {
        if self.shape == other.shape {
            return self.shape.clone();
        }
        broadcast_shapes(&self.shape, &other.shape).unwrap_or_else(|| {
            panic!("{op:?}: shapes {:?} and {:?} do not broadcast", self.shape, other.shape)
        })
    }

    /// Elementwise function of two arguments, numpy-broadcast.
    #[track_caller]
    pub fn binary(&self, op: BinaryOp, other: &Array) -> Array {
        let out = self.out_shape(other, &op);
        let (ash, bsh) = (&self.shape, &other.shape);
        let data = zip_cpu!(format!("{op:?}"), self.cpu(), other.cpu(), |a, b| {
            cpu::elementwise::binary(op, a, ash, b, bsh, &out)
        });
        Array::new(data, out)
    }

    /// `self ← a op b` in place for `a`, `b` of this array's shape and dtype
    /// (the same arithmetic as [`Array::binary`], without a new buffer;
    /// copying first only if the data is shared). False, and nothing
    /// written, when shapes or dtypes differ.
    #[inline]
    pub fn binary_into(&mut self, op: BinaryOp, a: &Array, b: &Array) -> bool {
        if a.shape != self.shape
            || b.shape != self.shape
            || a.dtype() != self.dtype()
            || b.dtype() != self.dtype()
        {
            return false;
        }
        match self.dtype() {
            DType::F32 => {
                cpu::elementwise::binary_into(op, a.as_slice::<f32>(), b.as_slice(), self.as_mut_slice())
            }
            DType::F64 => {
                cpu::elementwise::binary_into(op, a.as_slice::<f64>(), b.as_slice(), self.as_mut_slice())
            }
        }
        true
    }

    /// Elementwise comparison, numpy-broadcast: 1.0 where it holds, else 0.0.
    #[track_caller]
    pub fn compare(&self, op: CmpOp, other: &Array) -> Array {
        let out = self.out_shape(other, &op);
        let (ash, bsh) = (&self.shape, &other.shape);
        let data = zip_cpu!(format!("{op:?}"), self.cpu(), other.cpu(), |a, b| {
            cpu::elementwise::compare(op, a, ash, b, bsh, &out)
        });
        Array::new(data, out)
    }

    /// `cond != 0 ? a : b`, all three broadcast together.
    #[track_caller]
    pub fn select(cond: &Array, a: &Array, b: &Array) -> Array {
        let s = cond.out_shape(a, &"where");
        let s = broadcast_shapes(&s, &b.shape).unwrap_or_else(|| {
            panic!("where: shapes {:?}, {:?}, {:?} do not broadcast", cond.shape, a.shape, b.shape)
        });
        let (c, a, b) = (cond.expand(&s), a.expand(&s), b.expand(&s));
        let cm = c.cast(a.dtype());
        let data = match (cm.cpu(), a.cpu(), b.cpu()) {
            (CpuStorage::F32(c), CpuStorage::F32(x), CpuStorage::F32(y)) => {
                CpuStorage::F32(cpu::elementwise::select(c, x, y))
            }
            (CpuStorage::F64(c), CpuStorage::F64(x), CpuStorage::F64(y)) => {
                CpuStorage::F64(cpu::elementwise::select(c, x, y))
            }
            _ => panic!("where: element types of the two branches differ ({} and {})", a.dtype(), b.dtype()),
        };
        Array::new(data, s)
    }

    /// Clamps to `[lo, hi]`.
    pub fn clamp(&self, lo: f64, hi: f64) -> Array {
        Array::new(
            map_cpu!(self.cpu(), |x| cpu::elementwise::clamp(x, Element::of(lo), Element::of(hi))),
            self.shape.clone(),
        )
    }

    /// 1.0 where `lo <= x <= hi`, else 0.0.
    pub fn in_range(&self, lo: f64, hi: f64) -> Array {
        Array::new(
            map_cpu!(self.cpu(), |x| cpu::elementwise::in_range(x, Element::of(lo), Element::of(hi))),
            self.shape.clone(),
        )
    }

    /// Reduces over `axes` (each in `0..ndim`); with `keepdim` the reduced axes
    /// stay as size 1.
    #[track_caller]
    pub fn reduce(&self, op: ReduceOp, axes: &[usize], keepdim: bool) -> Array {
        let nd = self.ndim();
        let mut ax: Shape = Shape::from_slice(axes);
        ax.sort_unstable();
        ax.dedup();
        if let Some(&a) = ax.last() {
            assert!(a < nd, "{op:?}: axis {a} out of range for shape {:?}", self.shape);
        }
        let mut kept = self.shape.clone();
        for &a in &ax {
            kept[a] = 1;
        }
        let contiguous = ax.windows(2).all(|w| w[1] == w[0] + 1);
        let result = if ax.is_empty() {
            self.clone()
        } else if contiguous {
            let (lo, hi) = (ax[0], *ax.last().unwrap() + 1);
            let outer = numel(&self.shape[..lo]);
            let red = numel(&self.shape[lo..hi]);
            let inner = numel(&self.shape[hi..]);
            Array::new(map_cpu!(self.cpu(), |x| cpu::reduce::reduce3(op, x, outer, red, inner)), kept.clone())
        } else {
            let mut r = self.clone();
            for &a in ax.iter().rev() {
                r = r.reduce(op, &[a], true);
            }
            r
        };
        if keepdim {
            result
        } else {
            let out: Shape = (0..nd).filter(|a| !ax.contains(a)).map(|a| self.shape[a]).collect();
            result.reshape(&out)
        }
    }

    /// Sum of all elements as `f64`.
    pub fn sum_all(&self) -> f64 {
        match self.cpu() {
            CpuStorage::F32(v) => v.iter().map(|&x| x as f64).sum(),
            CpuStorage::F64(v) => cpu::reduce::sum_slice(v),
        }
    }

    /// Batched matrix product `op(a) · op(b)` over the last two axes, where
    /// `op` transposes when `ta`/`tb` is set. Leading (batch) axes must be equal,
    /// or one operand must be a plain matrix, which is then shared by the batch.
    #[track_caller]
    pub fn matmul(a: &Array, b: &Array, ta: bool, tb: bool) -> Array {
        let (batch, m, ka, n) = matmul_dims(&a.shape, &b.shape, ta, tb);
        let (ra, rb) = (a.ndim(), b.ndim());
        let (ba, bb) = (&a.shape[..ra - 2], &b.shape[..rb - 2]);
        let nb = numel(&batch);
        let (sa, sb) = (if ba.is_empty() { 0 } else { m * ka }, if bb.is_empty() { 0 } else { ka * n });
        let mut out = batch.clone();
        out.push(m);
        out.push(n);
        let data = zip_cpu!("matmul", a.cpu(), b.cpu(), |x, y| {
            if nb == 1 {
                cpu::matmul::gemm_new(m, n, ka, x, ta, y, tb)
            } else {
                let mut c = vec![Default::default(); nb * m * n];
                for i in 0..nb {
                    cpu::matmul::gemm(
                        m,
                        n,
                        ka,
                        &x[i * sa..],
                        ta,
                        &y[i * sb..],
                        tb,
                        &mut c[i * m * n..(i + 1) * m * n],
                        false,
                    );
                }
                c
            }
        });
        Array::new(data, out)
    }

    /// The shape of [`Array::matmul`]`(a, b, ta, tb)` for operands of shapes
    /// `a` and `b`, without computing it (panics as `matmul` would).
    #[track_caller]
    pub fn matmul_shape(a: &[usize], b: &[usize], ta: bool, tb: bool) -> Shape {
        let (mut out, m, _, n) = matmul_dims(a, b, ta, tb);
        out.push(m);
        out.push(n);
        out
    }

    /// Reorders the axes: output axis `i` is input axis `perm[i]`.
    #[track_caller]
    pub fn permute(&self, perm: &[usize]) -> Array {
        let nd = self.ndim();
        let mut seen = vec![false; nd];
        assert!(
            perm.len() == nd && perm.iter().all(|&p| p < nd && !std::mem::replace(&mut seen[p], true)),
            "permute: {perm:?} is not a permutation of the axes of shape {:?}",
            self.shape
        );
        if perm.iter().enumerate().all(|(i, &p)| i == p) {
            return self.clone();
        }
        let st = strides(&self.shape);
        let out: Shape = perm.iter().map(|&p| self.shape[p]).collect();
        let src: Shape = perm.iter().map(|&p| st[p]).collect();
        Array::new(map_cpu!(self.cpu(), |x| cpu::movement::strided_copy(x, &src, &out)), out)
    }

    /// Materializes the numpy broadcast of this array to `shape`.
    #[track_caller]
    pub fn expand(&self, shape: &[usize]) -> Array {
        if self.shape.as_slice() == shape {
            return self.clone();
        }
        let ok = broadcast_shapes(&self.shape, shape).is_some_and(|s| s.as_slice() == shape);
        assert!(ok, "expand: shape {:?} cannot broadcast to {:?}", self.shape, shape);
        if self.numel() == numel(shape) {
            return self.reshape(shape);
        }
        let src = broadcast_strides(&self.shape, shape);
        Array::new(
            map_cpu!(self.cpu(), |x| cpu::movement::strided_copy(x, &src, shape)),
            Shape::from_slice(shape),
        )
    }

    /// Gathers by flat index: `out.flat[i] = self.flat[idx[i]]`, shaped `shape`.
    #[track_caller]
    pub fn take(&self, idx: &[usize], shape: &[usize]) -> Array {
        assert_eq!(idx.len(), numel(shape), "take: {} indices for shape {:?}", idx.len(), shape);
        let n = self.numel();
        if let Some(&bad) = idx.iter().find(|&&i| i >= n) {
            panic!("take: index {bad} out of range for {n} elements");
        }
        Array::new(map_cpu!(self.cpu(), |x| cpu::movement::take(x, idx)), Shape::from_slice(shape))
    }

    /// The sub-arrays `self[i]` for `i` in `idx`, in that order, stacked along
    /// the first axis (a gather of whole rows: `[idx.len(), rest of the shape]`).
    #[track_caller]
    pub fn take_rows(&self, idx: &[usize]) -> Array {
        assert!(!self.shape.is_empty(), "take_rows: a scalar has no rows");
        let n = self.shape[0];
        if let Some(&bad) = idx.iter().find(|&&i| i >= n) {
            panic!("take_rows: row {bad} out of range for {n} rows");
        }
        let row: usize = self.shape[1..].iter().product();
        let mut shape = self.shape.to_vec();
        shape[0] = idx.len();
        Array::new(map_cpu!(self.cpu(), |x| cpu::movement::take_rows(x, idx, row)), Shape::from_slice(&shape))
    }

    /// Scatter-adds by flat index into zeros of `shape`: `out.flat[idx[i]] += self.flat[i]`.
    #[track_caller]
    pub fn scatter_add(&self, idx: &[usize], shape: &[usize]) -> Array {
        assert_eq!(idx.len(), self.numel(), "scatter_add: {} indices for {} values", idx.len(), self.numel());
        let n = numel(shape);
        if let Some(&bad) = idx.iter().find(|&&i| i >= n) {
            panic!("scatter_add: index {bad} out of range for shape {shape:?}");
        }
        Array::new(map_cpu!(self.cpu(), |g| cpu::movement::scatter_add(g, idx, n)), Shape::from_slice(shape))
    }

    #[track_caller]
    fn conv_dims(x: &[usize], w: &[usize], geom: Conv2dGeom) -> ConvDims {
        assert!(
            x.len() == 4 && w.len() == 4 && x[1] == w[1],
            "conv2d: input {x:?} (NCHW) and weight {w:?} (OIHW) do not fit"
        );
        assert!(
            x[2] + 2 * geom.padding.0 >= w[2] && x[3] + 2 * geom.padding.1 >= w[3] && geom.stride > 0,
            "conv2d: kernel {w:?} larger than padded input {x:?} (or zero stride)"
        );
        ConvDims {
            n: x[0],
            c: x[1],
            h: x[2],
            w: x[3],
            o: w[0],
            kh: w[2],
            kw: w[3],
            oh: geom.out_len(x[2], w[2], geom.padding.0),
            ow: geom.out_len(x[3], w[3], geom.padding.1),
            geom,
        }
    }

    /// 2-d cross-correlation, `x` `[n,c,h,w]`, `w` `[o,c,kh,kw]` → `[n,o,oh,ow]`.
    #[track_caller]
    pub fn conv2d(x: &Array, w: &Array, geom: Conv2dGeom) -> Array {
        let d = Array::conv_dims(&x.shape, &w.shape, geom);
        let data = zip_cpu!("conv2d", x.cpu(), w.cpu(), |a, b| cpu::conv::conv2d(a, b, &d));
        Array::new(data, Shape::from_slice(&[d.n, d.o, d.oh, d.ow]))
    }

    /// The adjoint of [`Array::conv2d`] in its input: `g` `[n,o,oh,ow]` → `x_shape`.
    #[track_caller]
    pub fn conv2d_input_grad(g: &Array, w: &Array, x_shape: &[usize], geom: Conv2dGeom) -> Array {
        let d = Array::conv_dims(x_shape, &w.shape, geom);
        assert_eq!(g.shape(), &[d.n, d.o, d.oh, d.ow], "conv2d_input_grad: cotangent shape");
        let data = zip_cpu!("conv2d_input_grad", g.cpu(), w.cpu(), |a, b| {
            cpu::conv::conv2d_input_grad(a, b, &d)
        });
        Array::new(data, Shape::from_slice(x_shape))
    }

    /// The adjoint of [`Array::conv2d`] in its weight: `x`, `g` → `w_shape`.
    #[track_caller]
    pub fn conv2d_weight_grad(x: &Array, g: &Array, w_shape: &[usize], geom: Conv2dGeom) -> Array {
        let d = Array::conv_dims(&x.shape, w_shape, geom);
        assert_eq!(g.shape(), &[d.n, d.o, d.oh, d.ow], "conv2d_weight_grad: cotangent shape");
        let data = zip_cpu!("conv2d_weight_grad", x.cpu(), g.cpu(), |a, b| {
            cpu::conv::conv2d_weight_grad(a, b, &d)
        });
        Array::new(data, Shape::from_slice(w_shape))
    }

    /// The maxima of `kh×kw` windows with strides `(sh, sw)` over `[n,c,h,w]`
    /// (the values at [`Array::maxpool2d_argmax`]'s indices).
    #[track_caller]
    pub fn maxpool2d(&self, k: (usize, usize), stride: (usize, usize)) -> Array {
        let s = &self.shape;
        let [n, c, h, w, oh, ow] = pool_dims(s, k, stride);
        let out = Shape::from_slice(&[n, c, oh, ow]);
        let data = match self.cpu() {
            CpuStorage::F32(x) => CpuStorage::F32(cpu::conv::maxpool2d_values(x, n, c, h, w, k, stride)),
            CpuStorage::F64(x) => CpuStorage::F64(cpu::conv::maxpool2d_values(x, n, c, h, w, k, stride)),
        };
        Array::new(data, out)
    }

    /// Max pooling's gather: for each `kh×kw` window (strides `(sh, sw)`) of
    /// `x` `[n,c,h,w]`, the element of `self` (same shape) at the window's
    /// maximum in `x` — [`Array::maxpool2d`] when `self` is `x`.
    #[track_caller]
    pub fn maxpool2d_gather(&self, x: &Array, k: (usize, usize), stride: (usize, usize)) -> Array {
        assert_eq!(self.shape, x.shape, "maxpool2d_gather: values and keys differ in shape");
        if Arc::ptr_eq(&self.storage, &x.storage) {
            return x.maxpool2d(k, stride);
        }
        let (idx, shape) = x.maxpool2d_argmax(k, stride);
        self.take(&idx, &shape)
    }

    /// Max pooling's VJP: zeros of `x`'s shape with each window's entry of
    /// `self` (the pooled shape) added at the window's maximum in `x`.
    #[track_caller]
    pub fn maxpool2d_scatter(&self, x: &Array, k: (usize, usize), stride: (usize, usize)) -> Array {
        let s = &x.shape;
        let [n, c, h, w, oh, ow] = pool_dims(s, k, stride);
        let pooled = [n, c, oh, ow];
        assert_eq!(self.shape(), &pooled, "maxpool2d_scatter: cotangent shape for input {s:?}");
        let data = zip_cpu!("maxpool2d_scatter", self.cpu(), x.cpu(), |g, xs| {
            cpu::conv::maxpool2d_scatter(g, xs, n, c, h, w, k, stride)
        });
        Array::new(data, x.shape.clone())
    }

    /// Flat indices of the maxima of `kh×kw` windows with strides `(sh, sw)` over
    /// `[n,c,h,w]`, and the pooled shape.
    #[track_caller]
    pub fn maxpool2d_argmax(&self, k: (usize, usize), stride: (usize, usize)) -> (Vec<usize>, Shape) {
        let s = &self.shape;
        let [n, c, h, w, oh, ow] = pool_dims(s, k, stride);
        let idx = match self.cpu() {
            CpuStorage::F32(x) => cpu::conv::maxpool2d_argmax(x, n, c, h, w, k, stride),
            CpuStorage::F64(x) => cpu::conv::maxpool2d_argmax(x, n, c, h, w, k, stride),
        };
        let out = Shape::from_slice(&[n, c, oh, ow]);
        (idx, out)
    }

    /// `self ← a·self + b·x` in place (same shape and dtype), copying first
    /// only if the data is shared: accumulating sums without a new buffer per
    /// term.
    #[track_caller]
    pub fn scale_add(&mut self, a: f64, x: &Array, b: f64) {
        Array::scale_add_all(std::slice::from_mut(self), a, std::slice::from_ref(x), b);
    }

    /// [`Array::scale_add`] over two lists, `ys[i] ← a·ys[i] + b·xs[i]`: one
    /// memory-bound pass, split over the compute threads when the lists hold
    /// many elements (a sum of per-shard gradients).
    #[track_caller]
    pub fn scale_add_all(ys: &mut [Array], a: f64, xs: &[Array], b: f64) {
        assert_eq!(ys.len(), xs.len(), "scale_add: {} arrays and {} arrays", ys.len(), xs.len());
        enum Piece<'a> {
            F32(&'a mut [f32], &'a [f32]),
            F64(&'a mut [f64], &'a [f64]),
        }
        fn pieces<'a, T: Element>(
            y: &'a mut [T],
            x: &'a [T],
            wrap: fn(&'a mut [T], &'a [T]) -> Piece<'a>,
        ) -> Vec<Piece<'a>> {
            y.chunks_mut(cpu::PIECE).zip(x.chunks(cpu::PIECE)).map(|(y, x)| wrap(y, x)).collect()
        }
        #[inline(always)]
        fn run<T: Element>(ys: &mut [T], a: f64, xs: &[T], b: f64) {
            let (a, b) = (T::of(a), T::of(b));
            cpu::simd(
                #[inline(always)]
                || {
                    for (yi, &xi) in ys.iter_mut().zip(xs) {
                        *yi = a * *yi + b * xi;
                    }
                },
            );
        }
        let mut all = Vec::new();
        for (y, x) in ys.iter_mut().zip(xs) {
            assert_eq!(y.shape, x.shape, "scale_add: shapes {:?} and {:?} differ", y.shape, x.shape);
            match (y.dtype(), x.dtype()) {
                (DType::F32, DType::F32) => all.extend(pieces(y.as_mut_slice(), x.as_slice(), Piece::F32)),
                (DType::F64, DType::F64) => all.extend(pieces(y.as_mut_slice(), x.as_slice(), Piece::F64)),
                (p, q) => panic!("scale_add: element types differ ({p} and {q}); cast one first"),
            }
        }
        let len = |p: &Piece| match p {
            Piece::F32(_, x) => x.len(),
            Piece::F64(_, x) => x.len(),
        };
        cpu::par_for_each(all, len, cpu::PAR_MIN_ELEMENTS, &|p| match p {
            Piece::F32(y, x) => run(y, a, x, b),
            Piece::F64(y, x) => run(y, a, x, b),
        });
    }

    /// Largest absolute elementwise difference to `other` (same shape).
    #[track_caller]
    pub fn max_abs_diff(&self, other: &Array) -> f64 {
        assert_eq!(self.shape, other.shape, "max_abs_diff: shapes differ");
        self.to_vec_f64().iter().zip(other.to_vec_f64()).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max)
    }
}

/// `(batch axes, m, k, n)` of a batched product of shapes `a` and `b` with
/// transpose flags; panics with both shapes when they do not fit.
#[track_caller]
fn matmul_dims(a: &[usize], b: &[usize], ta: bool, tb: bool) -> (Shape, usize, usize, usize) {
    assert!(a.len() >= 2 && b.len() >= 2, "matmul: operands must have at least 2 axes, got {a:?} and {b:?}");
    let (ra, rb) = (a.len(), b.len());
    let (m, ka) = if ta { (a[ra - 1], a[ra - 2]) } else { (a[ra - 2], a[ra - 1]) };
    let (kb, n) = if tb { (b[rb - 1], b[rb - 2]) } else { (b[rb - 2], b[rb - 1]) };
    assert_eq!(
        ka,
        kb,
        "matmul: inner sizes differ for shapes {a:?}{} and {b:?}{}",
        if ta { "ᵀ" } else { "" },
        if tb { "ᵀ" } else { "" }
    );
    let (ba, bb) = (&a[..ra - 2], &b[..rb - 2]);
    let batch: Shape = if ba == bb || bb.is_empty() {
        Shape::from_slice(ba)
    } else if ba.is_empty() {
        Shape::from_slice(bb)
    } else {
        panic!("matmul: batch axes {ba:?} and {bb:?} differ (equal batch axes or one plain matrix are supported)")
    };
    (batch, m, ka, n)
}

impl fmt::Debug for Array {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.to_vec_f64();
        let shown: Vec<String> = v.iter().take(8).map(|x| format!("{x:.6}")).collect();
        write!(
            f,
            "Array({}{:?}, [{}{}])",
            self.dtype(),
            self.shape.as_slice(),
            shown.join(", "),
            if v.len() > 8 { ", …" } else { "" }
        )
    }
}

/// `[n, c, h, w, oh, ow]` of pooling `kh×kw` windows with strides `(sh, sw)`
/// over an input of shape `s`; panics with the window and shape when the
/// window does not fit.
#[track_caller]
fn pool_dims(s: &[usize], k: (usize, usize), stride: (usize, usize)) -> [usize; 6] {
    assert!(
        s.len() == 4 && k.0 > 0 && k.1 > 0 && stride.0 > 0 && stride.1 > 0 && s[2] >= k.0 && s[3] >= k.1,
        "max_pool2d: window {k:?} stride {stride:?} does not fit input {s:?}"
    );
    let (h, w) = (s[2], s[3]);
    [s[0], s[1], h, w, (h - k.0) / stride.0 + 1, (w - k.1) / stride.1 + 1]
}
