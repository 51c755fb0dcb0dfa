//! [`VaeBackend`] on [`crate::CpuBackend`]: `matrixmultiply::sgemm` called
//! on strided views, and the encoder layer fused into three or four products
//! and one pass over its output, forward and backward.
//!
//! Every sum is the reference's ([`super::composed_conv_layer`] and burn's
//! `matmul`): sgemm packs its operands before its kernels, so the strides
//! it reads them with do not change any sum; a tap's product added into the
//! output by sgemm (`beta = 1`, `alpha = 1`: `c = a·b + c` rounded once) is
//! the reference's `acc + term`; the shifted products skip the rows that
//! are zero padding in the reference, whose terms are `±0`.

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::Autodiff;
use burn::backend::ndarray::{NdArray, NdArrayTensor};
use burn::tensor::ops::{FloatTensor, FloatTensorOps};
use ndarray::{Array2, ArrayView2, Ix2, IxDyn};

use super::adam::{AdamHyper, AdamUpdate};
use super::{ConvSpec, VaeBackend};

type Cpu = NdArray<f32>;

/// The f32 array of a CPU tensor, if it is one.
fn f32_view(t: &NdArrayTensor) -> Option<ndarray::ArrayView<'_, f32, IxDyn>> {
    match t {
        NdArrayTensor::F32(s) => Some(s.view()),
        _ => None,
    }
}

fn view2<'a>(t: &'a NdArrayTensor, what: &str) -> ArrayView2<'a, f32> {
    f32_view(t)
        .unwrap_or_else(|| panic!("{what}: an f32 tensor"))
        .into_dimensionality::<Ix2>()
        .unwrap_or_else(|_| panic!("{what}: a 2-D tensor"))
}

fn tensor(a: Array2<f32>) -> NdArrayTensor {
    NdArrayTensor::from(a.into_dyn().into_shared())
}

/// `c[m x n] = a[m x k] · b[k x n] + beta c` with element strides.
///
/// # Safety
/// The pointers must address `m x k`, `k x n` and `m x n` valid elements at
/// the given strides, and `c` must not overlap `a` or `b`.
#[allow(clippy::too_many_arguments)]
unsafe fn sgemm(
    (m, k, n): (usize, usize, usize),
    a: (*const f32, isize, isize),
    b: (*const f32, isize, isize),
    beta: f32,
    c: (*mut f32, isize, isize),
) {
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: forwarded from the caller.
    unsafe {
        matrixmultiply::sgemm(
            m, k, n, 1.0, a.0, a.1, a.2, b.0, b.1, b.2, beta, c.0, c.1, c.2,
        )
    }
}

/// An array of `shape` whose every value `fill` writes through the pointer
/// (row-major, `shape.0 * shape.1` values): no zero-filling pass first.
///
/// # Safety
/// `fill` must write every value (sgemm with `beta = 0` over the whole
/// output does; it never reads C then).
unsafe fn filled(shape: (usize, usize), fill: impl FnOnce(*mut f32)) -> Array2<f32> {
    let mut a = Array2::<f32>::uninit(shape);
    fill(a.as_mut_ptr().cast::<f32>());
    // SAFETY: every value was written (the caller's promise).
    unsafe { a.assume_init() }
}

/// The product of two 2-D views of any strides (the call burn-ndarray's
/// `matmul` ends in, so the same bits).
fn strided_product(a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>) -> Array2<f32> {
    let ((m, k), (k2, n)) = (a.dim(), b.dim());
    assert_eq!(
        k, k2,
        "matrix product of [{m}, {k}] and [{k2}, {n}]: inner sizes differ"
    );
    if k == 0 {
        return Array2::zeros((m, n));
    }
    let (sa, sb) = (a.strides(), b.strides());
    // SAFETY: views of m x k and k x n elements at their strides, and an
    // owned standard-layout m x n output that sgemm (beta 0, k > 0) writes
    // whole.
    unsafe {
        filled((m, n), |out| {
            sgemm(
                (m, k, n),
                (a.as_ptr(), sa[0], sa[1]),
                (b.as_ptr(), sb[0], sb[1]),
                0.0,
                (out, n as isize, 1),
            )
        })
    }
}

/// The geometry of one layer's products.
struct Geometry {
    c_in: usize,
    c_out: usize,
    /// Rows of the output and of the paired view `[out_rows, 2 c_in]`.
    out_rows: usize,
    m_taps: usize,
    kernel_size: usize,
}

impl Geometry {
    fn new(x: (usize, usize), w: (usize, usize), spec: ConvSpec) -> Self {
        let (rows, c_in) = x;
        let k = spec.kernel_size;
        assert!(
            rows % 2 == 0 && w.0 == k * c_in,
            "encoder layer: input [{rows}, {c_in}], weight [{}, {}], kernel {k}",
            w.0,
            w.1
        );
        Self {
            c_in,
            c_out: w.1,
            out_rows: rows / 2,
            m_taps: k.div_ceil(2),
            kernel_size: k,
        }
    }

    /// Columns of the paired view tap pair `m` reads: both positions, or only
    /// the first for the last tap of an odd kernel.
    fn width(&self, m: usize) -> usize {
        if 2 * m + 1 < self.kernel_size {
            2 * self.c_in
        } else {
            self.c_in
        }
    }

    /// Output rows whose shifted input rows exist (the rest read padding).
    fn avail(&self, m: usize) -> usize {
        self.out_rows.saturating_sub(m)
    }
}

/// Forward: the pre-activation `conv(x) + bias` and the output
/// `leaky(pre) * keep`.
fn conv_forward(
    x: ArrayView2<'_, f32>,
    w: ArrayView2<'_, f32>,
    bias: &[f32],
    keep: &[f32],
    spec: ConvSpec,
) -> (Array2<f32>, Array2<f32>) {
    let g = Geometry::new(x.dim(), w.dim(), spec);
    assert!(
        keep.len() == g.out_rows && bias.len() == g.c_out,
        "encoder layer: {} mask values for {} rows, {} biases for {} channels",
        keep.len(),
        g.out_rows,
        bias.len(),
        g.c_out
    );
    let x = x.as_standard_layout();
    let (rw, cw) = (w.strides()[0], w.strides()[1]);
    let pair = 2 * g.c_in;
    // SAFETY: tap 0 (beta 0) writes every row of `pre` (`avail(0)` is all
    // of them); each tap reads rows m..m + avail of the paired view
    // (contiguous x, row length 2 c_in) and `width` weight rows from row
    // 2 m c_in, and adds into the first `avail` rows of `pre`.
    let mut pre = unsafe {
        filled((g.out_rows, g.c_out), |pre| {
            for m in 0..g.m_taps {
                sgemm(
                    (g.avail(m), g.width(m), g.c_out),
                    (x.as_ptr().add(m * pair), pair as isize, 1),
                    (w.as_ptr().offset((2 * m * g.c_in) as isize * rw), rw, cw),
                    if m == 0 { 0.0 } else { 1.0 },
                    (pre, g.c_out as isize, 1),
                );
            }
        })
    };
    let slope = spec.slope as f32;
    let c = g.c_out;
    let ps = pre.as_slice_mut().expect("owned standard layout");
    // SAFETY: the loop writes every value of `y`, row by row.
    let y = unsafe {
        filled((g.out_rows, c), |y| {
            let ys =
                std::slice::from_raw_parts_mut(y.cast::<std::mem::MaybeUninit<f32>>(), ps.len());
            // Row slices, so the inner loop vectorises (a select, no branch).
            for ((p, o), &k) in ps.chunks_exact_mut(c).zip(ys.chunks_exact_mut(c)).zip(keep) {
                for j in 0..c {
                    let v = p[j] + bias[j];
                    p[j] = v;
                    o[j].write(if v < 0.0 { v * slope } else { v } * k);
                }
            }
        })
    };
    (pre, y)
}

/// What the backward pass of a layer needs.
#[derive(Debug, Clone)]
struct ConvState {
    /// The input, when the weight needs its gradient.
    x: Option<NdArrayTensor>,
    /// The weight, when the input needs its gradient.
    w: Option<NdArrayTensor>,
    /// The pre-activation (its sign picks the leaky ReLU's branch).
    pre: NdArrayTensor,
    keep: Arc<[f32]>,
    spec: ConvSpec,
}

#[derive(Debug)]
struct ConvLayer;

impl Backward<Cpu, 3> for ConvLayer {
    type State = ConvState;

    fn backward(self, ops: Ops<ConvState, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let s = ops.state;
        let grad = grads.consume::<Cpu>(&ops.node);
        let grad = view2(&grad, "encoder layer gradient");
        let pre = view2(&s.pre, "encoder layer pre-activation");
        let slope = s.spec.slope as f32;
        // Through the mask and the leaky ReLU, and the bias gradient: the
        // sum over rows in row order, as burn's broadcast reduction (ndarray's
        // `sum_axis` over the outer axis: `res + row`, row after row) adds
        // them, without its per-row overhead.
        let c = pre.dim().1;
        let mut gb = vec![0f32; c];
        let (grad, pre) = (grad.as_standard_layout(), pre.as_standard_layout());
        let gs = grad.as_slice().expect("standard layout");
        let ps = pre.as_slice().expect("standard layout");
        assert!(gs.len() == ps.len() && s.keep.len() * c == ps.len());
        // SAFETY: the loop writes every value of `gp` (one row per mask
        // value, as many as the rows of `pre`, checked above).
        let gp = unsafe {
            filled(pre.dim(), |gp| {
                let os = std::slice::from_raw_parts_mut(
                    gp.cast::<std::mem::MaybeUninit<f32>>(),
                    ps.len(),
                );
                let rows = os.chunks_exact_mut(c).zip(gs.chunks_exact(c));
                for ((o, g), (p, &k)) in rows.zip(ps.chunks_exact(c).zip(s.keep.iter())) {
                    for j in 0..c {
                        let gk = g[j] * k;
                        let v = if p[j] < 0.0 { gk * slope } else { gk };
                        o[j].write(v);
                        gb[j] += v;
                    }
                }
            })
        };
        let [px, pw, pb] = ops.parents;
        if let Some(node) = pb {
            let gb = ndarray::Array1::from_vec(gb);
            grads.register::<Cpu>(node.id, NdArrayTensor::from(gb.into_dyn().into_shared()));
        }
        if let Some(node) = pw {
            let x = s.x.as_ref().expect("input kept for the weight gradient");
            let x = view2(x, "encoder layer input");
            let x = x.as_standard_layout();
            let g = Geometry::new(
                x.dim(),
                (s.spec.kernel_size * x.dim().1, gp.dim().1),
                s.spec,
            );
            let pair = 2 * g.c_in;
            let mut gw = Array2::<f32>::zeros((g.kernel_size * g.c_in, g.c_out));
            for m in 0..g.m_taps {
                // SAFETY: the paired rows m..m + avail, first `width` columns,
                // read transposed; rows 0..avail of `gp`; the weight rows of
                // tap pair m in `gw`.
                unsafe {
                    sgemm(
                        (g.width(m), g.avail(m), g.c_out),
                        (x.as_ptr().add(m * pair), 1, pair as isize),
                        (gp.as_ptr(), g.c_out as isize, 1),
                        0.0,
                        (
                            gw.as_mut_ptr().add(2 * m * g.c_in * g.c_out),
                            g.c_out as isize,
                            1,
                        ),
                    );
                }
            }
            grads.register::<Cpu>(node.id, tensor(gw));
        }
        if let Some(node) = px {
            let w = s.w.as_ref().expect("weight kept for the input gradient");
            let w = view2(w, "encoder layer weight");
            let (rw, cw) = (w.strides()[0], w.strides()[1]);
            let c_in = w.dim().0 / s.spec.kernel_size;
            let g = Geometry::new((2 * gp.dim().0, c_in), w.dim(), s.spec);
            let pair = 2 * g.c_in;
            let mut gx = Array2::<f32>::zeros((2 * g.out_rows, g.c_in));
            // The reference sums the taps' gradients last tap first.
            for (i, m) in (0..g.m_taps).rev().enumerate() {
                // SAFETY: rows 0..avail of `gp`, the weight rows of tap pair
                // m read transposed, and the paired rows m..m + avail of `gx`.
                unsafe {
                    sgemm(
                        (g.avail(m), g.c_out, g.width(m)),
                        (gp.as_ptr(), g.c_out as isize, 1),
                        (w.as_ptr().offset((2 * m * g.c_in) as isize * rw), cw, rw),
                        if i == 0 { 0.0 } else { 1.0 },
                        (gx.as_mut_ptr().add(m * pair), pair as isize, 1),
                    );
                }
            }
            grads.register::<Cpu>(node.id, tensor(gx));
        }
    }
}

/// The features' rows: row `b` of the output is rows `b * stride..b * stride
/// + len` of `x [batch * stride, c]`, laid end to end.
fn gather(x: ArrayView2<'_, f32>, batch: usize, stride: usize, len: usize) -> Array2<f32> {
    let c = x.dim().1;
    let x = x.as_standard_layout();
    let x = x.as_slice().expect("standard layout");
    let mut out = Vec::with_capacity(batch * len * c);
    for b in 0..batch {
        let from = b * stride * c;
        out.extend_from_slice(&x[from..from + len * c]);
    }
    Array2::from_shape_vec((batch, len * c), out).expect("batch x len * c values")
}

/// The backward step of the features' gather: each spectrum's gradient
/// back into its block's first `len` rows, zeros elsewhere.
#[derive(Debug)]
struct Gather;

impl Backward<Cpu, 1> for Gather {
    /// (batch, stride, len, c)
    type State = (usize, usize, usize, usize);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (batch, stride, len, c) = ops.state;
        let grad = grads.consume::<Cpu>(&ops.node);
        let [parent] = ops.parents;
        let Some(node) = parent else { return };
        let grad = view2(&grad, "features gradient");
        let grad = grad.as_standard_layout();
        let mut gx = Array2::<f32>::zeros((batch * stride, c));
        {
            let dst = gx.as_slice_mut().expect("standard layout");
            for (b, row) in grad.rows().into_iter().enumerate() {
                let to = b * stride * c;
                dst[to..to + len * c].copy_from_slice(row.as_slice().expect("standard layout"));
            }
        }
        grads.register::<Cpu>(node.id, tensor(gx));
    }
}

fn bias_values(b: &NdArrayTensor) -> Vec<f32> {
    f32_view(b)
        .expect("encoder layer bias: an f32 tensor")
        .iter()
        .copied()
        .collect()
}

/// The f32 values of a CPU tensor as an owned array (copied only if shared).
fn owned_f32(t: NdArrayTensor, what: &str) -> ndarray::ArcArray<f32, IxDyn> {
    match t {
        NdArrayTensor::F32(s) => s.into_owned(),
        _ => panic!("{what}: an f32 tensor"),
    }
}

/// burn's Adam (see [`super::adam`]) in one loop: every value goes through
/// the same f32 operations in the same order as in the tensor version.
fn fused_adam(
    param: NdArrayTensor,
    grad: NdArrayTensor,
    moments: Option<(NdArrayTensor, NdArrayTensor)>,
    time: usize,
    h: AdamHyper,
    lr: f64,
) -> AdamUpdate<Cpu> {
    let mut p = owned_f32(param, "Adam parameter");
    let g = f32_view(&grad).expect("Adam gradient: an f32 tensor");
    let n = p.len();
    let (mut m1, mut m2, first) = match moments {
        Some((a, b)) => (
            owned_f32(a, "Adam moment"),
            owned_f32(b, "Adam moment"),
            false,
        ),
        None => {
            let z = || ndarray::ArcArray::<f32, IxDyn>::zeros(p.raw_dim());
            (z(), z(), true)
        }
    };
    let (b1, b2, eps) = (h.beta_1, h.beta_2, h.epsilon);
    let (f1, f2) = (1.0 - b1, 1.0 - b2);
    let t = time as i32;
    let (c1, c2) = (1f32 - b1.powi(t), 1f32 - b2.powi(t));
    let lr = lr as f32;
    let g = g.as_standard_layout();
    let slice = |a: &mut ndarray::ArcArray<f32, IxDyn>| -> *mut f32 {
        a.as_slice_mut()
            .expect("a standard-layout tensor")
            .as_mut_ptr()
    };
    let (pp, p1, p2) = (slice(&mut p), slice(&mut m1), slice(&mut m2));
    // SAFETY: three distinct owned arrays of `n` values each.
    let (p_s, m1_s, m2_s) = unsafe {
        (
            std::slice::from_raw_parts_mut(pp, n),
            std::slice::from_raw_parts_mut(p1, n),
            std::slice::from_raw_parts_mut(p2, n),
        )
    };
    let g_s = g.as_slice().expect("standard layout");
    // Plain slices in one counted loop, so the compiler vectorises it (the
    // SIMD division and square root round exactly as the scalar ones); one
    // pass over the four arrays.
    let step = |p: &mut f32, m1: f32, m2: f32| {
        let u = (m1 / c1) / ((m2 / c2).sqrt() + eps);
        *p -= u * lr;
    };
    if first {
        for i in 0..n {
            let g = g_s[i];
            m1_s[i] = g * f1;
            m2_s[i] = (g * g) * f2;
            step(&mut p_s[i], m1_s[i], m2_s[i]);
        }
    } else {
        for i in 0..n {
            let g = g_s[i];
            m1_s[i] = m1_s[i] * b1 + g * f1;
            m2_s[i] = m2_s[i] * b2 + (g * g) * f2;
            step(&mut p_s[i], m1_s[i], m2_s[i]);
        }
    }
    AdamUpdate {
        param: NdArrayTensor::from(p),
        moment_1: NdArrayTensor::from(m1),
        moment_2: NdArrayTensor::from(m2),
    }
}

impl VaeBackend for Cpu {
    fn encoder_input(
        flux: FloatTensor<Self>,
        mask: FloatTensor<Self>,
        stride: usize,
        pad: usize,
    ) -> FloatTensor<Self> {
        let flux = view2(&flux, "encoder flux");
        let mask = view2(&mask, "encoder mask");
        let batch = flux.dim().0;
        let mut x = Array2::<f32>::zeros((batch * stride, 2));
        for (b, (f, m)) in flux.rows().into_iter().zip(mask.rows()).enumerate() {
            let first = b * stride + pad;
            for (i, (&f, &m)) in f.iter().zip(m).enumerate() {
                x[[first + i, 0]] = f;
                x[[first + i, 1]] = m;
            }
        }
        tensor(x)
    }

    fn gather_features(
        x: FloatTensor<Self>,
        batch: usize,
        stride: usize,
        len: usize,
    ) -> FloatTensor<Self> {
        tensor(gather(view2(&x, "encoder rows"), batch, stride, len))
    }

    fn gather_features_autodiff<C: CheckpointStrategy>(
        x: FloatTensor<Autodiff<Self, C>>,
        batch: usize,
        stride: usize,
        len: usize,
    ) -> FloatTensor<Autodiff<Self, C>> {
        let v = view2(&x.primitive, "encoder rows");
        let c = v.dim().1;
        let out = tensor(gather(v, batch, stride, len));
        match Gather
            .prepare::<C>([x.node.clone()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish((batch, stride, len, c), out),
            OpsKind::UnTracked(prep) => prep.finish(out),
        }
    }

    fn adam_update(
        param: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        moments: Option<(FloatTensor<Self>, FloatTensor<Self>)>,
        time: usize,
        h: AdamHyper,
        lr: f64,
    ) -> AdamUpdate<Self> {
        fused_adam(param, grad, moments, time, h, lr)
    }

    fn mm(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        match (f32_view(&lhs), f32_view(&rhs)) {
            (Some(a), Some(b)) if a.ndim() == 2 && b.ndim() == 2 => tensor(strided_product(
                a.into_dimensionality().expect("2-D"),
                b.into_dimensionality().expect("2-D"),
            )),
            _ => Self::float_matmul(lhs, rhs),
        }
    }

    fn conv_layer(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        keep: Arc<[f32]>,
        spec: ConvSpec,
    ) -> FloatTensor<Self> {
        let (_, y) = conv_forward(
            view2(&x, "encoder layer input"),
            view2(&weight, "encoder layer weight"),
            &bias_values(&bias),
            &keep,
            spec,
        );
        tensor(y)
    }

    fn conv_layer_autodiff<C: CheckpointStrategy>(
        x: FloatTensor<Autodiff<Self, C>>,
        weight: FloatTensor<Autodiff<Self, C>>,
        bias: FloatTensor<Autodiff<Self, C>>,
        keep: Arc<[f32]>,
        spec: ConvSpec,
    ) -> FloatTensor<Autodiff<Self, C>> {
        let (pre, y) = conv_forward(
            view2(&x.primitive, "encoder layer input"),
            view2(&weight.primitive, "encoder layer weight"),
            &bias_values(&bias.primitive),
            &keep,
            spec,
        );
        let (x_tracked, w_tracked) = (x.is_tracked(), weight.is_tracked());
        match ConvLayer
            .prepare::<C>([x.node.clone(), weight.node.clone(), bias.node.clone()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let state = ConvState {
                    x: w_tracked.then(|| x.primitive.clone()),
                    w: x_tracked.then(|| weight.primitive.clone()),
                    pre: tensor(pre),
                    keep,
                    spec,
                };
                prep.finish(state, tensor(y))
            }
            OpsKind::UnTracked(prep) => prep.finish(tensor(y)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{bits, random};
    use super::super::{composed_conv_layer, conv_layer};
    use super::*;
    use crate::{CpuBackend, CpuTrainBackend};
    use burn::tensor::{Tensor, TensorPrimitive};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn keep(rng: &mut ChaCha8Rng, n: usize) -> Arc<[f32]> {
        (0..n)
            .map(|_| f32::from(u8::from(rng.gen::<f32>() < 0.8)))
            .collect()
    }

    /// The fused layer and its gradients equal the tensor-operation layer's,
    /// bit for bit, for the encoder's shapes (odd kernels 3, 5, 7).
    #[test]
    fn fused_layer_equals_the_composed_one() {
        let spec = |k| ConvSpec {
            kernel_size: k,
            slope: 0.01,
        };
        for (k, rows, c_in, c_out) in [
            (5, 64, 2, 16),
            (5, 96, 16, 32),
            (3, 40, 8, 8),
            (7, 128, 4, 6),
        ] {
            let mut rng = ChaCha8Rng::seed_from_u64(k as u64 * 1000 + rows as u64);
            let keep = keep(&mut rng, rows / 2);
            let x0 = random::<CpuTrainBackend, 2>(&mut rng, [rows, c_in]);
            let w0 = random::<CpuTrainBackend, 2>(&mut rng, [k * c_in, c_out]);
            let b0 = random::<CpuTrainBackend, 1>(&mut rng, [c_out]);
            let up = random::<CpuTrainBackend, 2>(&mut rng, [rows / 2, c_out]);
            let run = |fused: bool| {
                let (x, w, b) = (
                    x0.clone().require_grad(),
                    w0.clone().require_grad(),
                    b0.clone().require_grad(),
                );
                let y: Tensor<CpuTrainBackend, 2> = if fused {
                    conv_layer(x.clone(), w.clone(), b.clone(), keep.clone(), spec(k))
                } else {
                    Tensor::from_primitive(TensorPrimitive::Float(composed_conv_layer::<
                        CpuTrainBackend,
                    >(
                        x.clone().into_primitive().tensor(),
                        w.clone().into_primitive().tensor(),
                        b.clone().into_primitive().tensor(),
                        keep.clone(),
                        spec(k),
                    )))
                };
                let g = (y.clone() * up.clone()).sum().backward();
                (
                    bits(y.inner()),
                    bits(x.grad(&g).expect("x grad")),
                    bits(w.grad(&g).expect("w grad")),
                    bits(b.grad(&g).expect("b grad")),
                )
            };
            let (ours, theirs) = (run(true), run(false));
            assert_eq!(ours.0, theirs.0, "output, k {k}");
            assert_eq!(ours.1, theirs.1, "input gradient, k {k}");
            assert_eq!(ours.2, theirs.2, "weight gradient, k {k}");
            assert_eq!(ours.3, theirs.3, "bias gradient, k {k}");
            // Without autodiff too.
            let x = x0.clone().inner();
            let y: Tensor<CpuBackend, 2> = conv_layer(
                x,
                w0.clone().inner(),
                b0.clone().inner(),
                keep.clone(),
                spec(k),
            );
            assert_eq!(bits(y), ours.0);
        }
    }

    /// The encoder's input and its features' gather equal the tensor
    /// operations they replace, and the gather's gradient is theirs.
    #[test]
    fn input_and_gather_equal_the_composed_ones() {
        use super::super::{
            composed_encoder_input, composed_gather_features, encoder_input, gather_features,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(21);
        let (batch, len, stride, pad) = (3, 11, 16, 2);
        let flux = random::<CpuBackend, 2>(&mut rng, [batch, len]);
        let mask = random::<CpuBackend, 2>(&mut rng, [batch, len]);
        let ours = encoder_input(flux.clone(), mask.clone(), stride, pad);
        let theirs: Tensor<CpuBackend, 2> = Tensor::from_primitive(TensorPrimitive::Float(
            composed_encoder_input::<CpuBackend>(
                flux.into_primitive().tensor(),
                mask.into_primitive().tensor(),
                stride,
                pad,
            ),
        ));
        assert_eq!(ours.dims(), [batch * stride, 2]);
        assert_eq!(bits(ours), bits(theirs));

        let (rows, c, keep_len) = (batch * stride, 5, 7);
        let x0 = random::<CpuTrainBackend, 2>(&mut rng, [rows, c]);
        let up = random::<CpuTrainBackend, 2>(&mut rng, [batch, keep_len * c]);
        for l in [keep_len, stride] {
            let up = if l == stride {
                random::<CpuTrainBackend, 2>(&mut rng, [batch, stride * c])
            } else {
                up.clone()
            };
            let run = |fused: bool| {
                let x = x0.clone().require_grad();
                let y: Tensor<CpuTrainBackend, 2> = if fused {
                    gather_features(x.clone(), batch, stride, l)
                } else {
                    Tensor::from_primitive(TensorPrimitive::Float(composed_gather_features::<
                        CpuTrainBackend,
                    >(
                        x.clone().into_primitive().tensor(),
                        batch,
                        stride,
                        l,
                    )))
                };
                let g = (y.clone() * up.clone()).sum().backward();
                (bits(y.inner()), bits(x.grad(&g).expect("x grad")))
            };
            assert_eq!(run(true), run(false), "len {l}");
        }
    }
}
