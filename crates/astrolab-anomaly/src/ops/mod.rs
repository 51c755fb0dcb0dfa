//! The VAE's two heavy operations as a burn backend extension: matrix
//! products of possibly transposed or sliced views, and a whole encoder
//! layer (strided convolution, bias, leaky ReLU, row mask) as one step.
//!
//! Why: on burn-ndarray 0.20 a training step spent most of its time outside
//! arithmetic (perf on 64 x 3000, bench/RESULTS.md):
//! - its `matmul` first reshapes each operand to a standard-layout 3-D
//!   array, which copies every transposed or sliced view element by element
//!   through dynamic indexing, and the backward pass of every product
//!   multiplies by a transposed operand (`grad · rhsᵀ`, `lhsᵀ · grad`):
//!   about 38 % of a step;
//! - an encoder layer written with tensor operations (a product per pair of
//!   taps on shifted row blocks, their sum, the bias, the activation, the
//!   mask) makes about twenty passes over activations of 1.5 M values, and
//!   the backward pass of each shifted block allocates and zero-fills a
//!   gradient the size of the whole input.
//!
//! [`VaeBackend`] names the two operations. Its default bodies are the
//! tensor-operation versions (the CUDA backend keeps them, and they are the
//! reference the tests compare with); [`crate::CpuBackend`] overrides them
//! with direct calls of `matrixmultiply::sgemm` (which burn-ndarray's
//! `matmul` ends in) on strided views and fused loops ([`cpu`]), and
//! [`Autodiff`] over it records each as one operation with a hand-written
//! backward pass. This is burn's extension pattern for custom kernels (the
//! burn book's "Custom WGPU kernel": a trait over the backend, implemented
//! for `Autodiff<B>` with a `Backward` step).
//!
//! The fused versions compute the same sums in the same order as the
//! reference, so weights and scores are the same bits (tests below and in
//! [`cpu`]); where they skip a product with rows that are all zero, only
//! the sign of a zero could differ, which no later value depends on.

pub mod adam;
pub mod alloc;
pub(crate) mod cpu;

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{binary, Backward, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::tensor::activation::leaky_relu;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::ops::FloatTensor;
use burn::tensor::{Tensor, TensorData, TensorPrimitive};

/// The shape of one encoder layer computed as matrix products (see
/// [`crate::model::StridedConv1d`]): input `[rows, c_in]`, two positions per
/// row of the paired view `[rows / 2, 2 c_in]`, output `[rows / 2, c_out]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConvSpec {
    /// Odd kernel size `k`; the weight is `[k * c_in, c_out]`, tap-major.
    pub kernel_size: usize,
    /// The leaky ReLU's slope for negative inputs.
    pub slope: f64,
}

/// A backend with the VAE's matrix product and encoder layer.
pub trait VaeBackend: Backend {
    /// `lhs [m, k] · rhs [k, n]`. The default is the backend's `matmul`.
    fn mm(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::float_matmul(lhs, rhs)
    }

    /// One encoder layer, `leaky(conv(x) + bias) * keep` (`keep` one value
    /// per output row). The default composes tensor operations.
    fn conv_layer(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        keep: Arc<[f32]>,
        spec: ConvSpec,
    ) -> FloatTensor<Self> {
        composed_conv_layer::<Self>(x, weight, bias, keep, spec)
    }

    /// [`VaeBackend::conv_layer`] under [`Autodiff`] over this backend. The
    /// default composes differentiable tensor operations; a backend with a
    /// fused layer records it as one operation with its own backward pass.
    fn conv_layer_autodiff<C: CheckpointStrategy>(
        x: FloatTensor<Autodiff<Self, C>>,
        weight: FloatTensor<Autodiff<Self, C>>,
        bias: FloatTensor<Autodiff<Self, C>>,
        keep: Arc<[f32]>,
        spec: ConvSpec,
    ) -> FloatTensor<Autodiff<Self, C>> {
        composed_conv_layer::<Autodiff<Self, C>>(x, weight, bias, keep, spec)
    }

    /// The encoder's input `[batch * stride, 2]`: per spectrum `stride` rows,
    /// `pad` zero rows, then the `len` pixels as (flux, mask) pairs, then
    /// zero rows. `flux` and `mask` are `[batch, len]`. The default composes
    /// tensor operations.
    fn encoder_input(
        flux: FloatTensor<Self>,
        mask: FloatTensor<Self>,
        stride: usize,
        pad: usize,
    ) -> FloatTensor<Self> {
        composed_encoder_input::<Self>(flux, mask, stride, pad)
    }

    /// The encoder's features `[batch, len * c]` from the last layer's rows
    /// `[batch * stride, c]`: the first `len` rows of each spectrum's block.
    /// The default composes tensor operations.
    fn gather_features(
        x: FloatTensor<Self>,
        batch: usize,
        stride: usize,
        len: usize,
    ) -> FloatTensor<Self> {
        composed_gather_features::<Self>(x, batch, stride, len)
    }

    /// [`VaeBackend::gather_features`] under [`Autodiff`] over this backend;
    /// the default composes differentiable tensor operations.
    fn gather_features_autodiff<C: CheckpointStrategy>(
        x: FloatTensor<Autodiff<Self, C>>,
        batch: usize,
        stride: usize,
        len: usize,
    ) -> FloatTensor<Autodiff<Self, C>> {
        composed_gather_features::<Autodiff<Self, C>>(x, batch, stride, len)
    }

    /// One Adam update of a flattened parameter tensor (see [`adam`]); `time`
    /// counts this step (1 for the first, when `moments` is `None`). The
    /// default is burn's `Adam` in tensor operations.
    fn adam_update(
        param: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        moments: Option<(FloatTensor<Self>, FloatTensor<Self>)>,
        time: usize,
        h: adam::AdamHyper,
        lr: f64,
    ) -> adam::AdamUpdate<Self> {
        adam::composed_adam_update::<Self>(param, grad, moments, time, h, lr)
    }
}

/// A training backend: differentiable, with [`VaeBackend`] operations on
/// both itself and the backend underneath (validation runs there).
pub trait TrainBackend: AutodiffBackend<InnerBackend: VaeBackend> + VaeBackend {}

impl<T> TrainBackend for T where T: AutodiffBackend<InnerBackend: VaeBackend> + VaeBackend {}

fn float<B: Backend, const D: usize>(t: FloatTensor<B>) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(t))
}

/// `lhs [m, k] · rhs [k, n]` through [`VaeBackend::mm`].
pub fn mm<B: VaeBackend>(lhs: Tensor<B, 2>, rhs: Tensor<B, 2>) -> Tensor<B, 2> {
    float(B::mm(
        lhs.into_primitive().tensor(),
        rhs.into_primitive().tensor(),
    ))
}

/// `x [batch, d_in] · weight [d_in, d_out] + bias`: burn's `Linear::forward`
/// for 2-D input, with the product through [`mm`].
pub fn linear<B: VaeBackend>(x: Tensor<B, 2>, layer: &burn::nn::Linear<B>) -> Tensor<B, 2> {
    let out = mm(x, layer.weight.val());
    match &layer.bias {
        Some(bias) => out + bias.val().unsqueeze::<2>(),
        None => out,
    }
}

/// One encoder layer through [`VaeBackend::conv_layer`]: `x [rows, c_in]`,
/// `weight [k c_in, c_out]`, `bias [c_out]`, `keep` of `rows / 2` values;
/// returns `[rows / 2, c_out]`.
pub fn conv_layer<B: VaeBackend>(
    x: Tensor<B, 2>,
    weight: Tensor<B, 2>,
    bias: Tensor<B, 1>,
    keep: Arc<[f32]>,
    spec: ConvSpec,
) -> Tensor<B, 2> {
    float(B::conv_layer(
        x.into_primitive().tensor(),
        weight.into_primitive().tensor(),
        bias.into_primitive().tensor(),
        keep,
        spec,
    ))
}

/// The encoder layer in tensor operations: with two positions per row, taps
/// `2 m` and `2 m + 1` of every output position are one contiguous row block
/// of the paired view shifted by `m` rows, so the layer is `ceil(k / 2)`
/// matrix products (the last one on the first `c_in` columns when `k` is
/// odd), summed in tap order, plus the bias; then the leaky ReLU and the mask.
pub fn composed_conv_layer<B: VaeBackend>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    bias: FloatTensor<B>,
    keep: Arc<[f32]>,
    spec: ConvSpec,
) -> FloatTensor<B> {
    let x: Tensor<B, 2> = float(x);
    let weight: Tensor<B, 2> = float(weight);
    let bias: Tensor<B, 1> = float(bias);
    let [rows, c_in] = x.dims();
    let out_rows = rows / 2;
    let k = spec.kernel_size;
    let m_taps = k.div_ceil(2);
    let device = x.device();
    let mut paired = x.reshape([out_rows, 2 * c_in]);
    if m_taps > 1 {
        let zeros = Tensor::zeros([m_taps - 1, 2 * c_in], &device);
        paired = Tensor::cat(vec![paired, zeros], 0);
    }
    let c_out = bias.dims()[0];
    let mut out: Option<Tensor<B, 2>> = None;
    for m in 0..m_taps {
        let width = if 2 * m + 1 < k { 2 * c_in } else { c_in };
        let rows_in = paired.clone().slice([m..m + out_rows, 0..width]);
        let w = weight
            .clone()
            .slice([2 * m * c_in..2 * m * c_in + width, 0..c_out]);
        let term = mm(rows_in, w);
        out = Some(match out {
            None => term,
            Some(acc) => acc + term,
        });
    }
    let pre = out.expect("k >= 1") + bias.unsqueeze::<2>();
    let keep = Tensor::<B, 1>::from_data(TensorData::new(keep.to_vec(), [out_rows]), &device)
        .unsqueeze_dim::<2>(1);
    (leaky_relu(pre, spec.slope) * keep)
        .into_primitive()
        .tensor()
}

/// [`VaeBackend::encoder_input`] in tensor operations: zero padding by
/// concatenation, the two channels stacked last, rows by reshaping.
pub fn composed_encoder_input<B: Backend>(
    flux: FloatTensor<B>,
    mask: FloatTensor<B>,
    stride: usize,
    pad: usize,
) -> FloatTensor<B> {
    let (flux, mask): (Tensor<B, 2>, Tensor<B, 2>) = (float(flux), float(mask));
    let [batch, len] = flux.dims();
    let device = flux.device();
    let place = |t: Tensor<B, 2>| {
        Tensor::cat(
            vec![
                Tensor::zeros([batch, pad], &device),
                t,
                Tensor::zeros([batch, stride - pad - len], &device),
            ],
            1,
        )
    };
    let x: Tensor<B, 3> = Tensor::stack(vec![place(flux), place(mask)], 2);
    x.reshape([batch * stride, 2]).into_primitive().tensor()
}

/// [`VaeBackend::gather_features`] in tensor operations.
pub fn composed_gather_features<B: Backend>(
    x: FloatTensor<B>,
    batch: usize,
    stride: usize,
    len: usize,
) -> FloatTensor<B> {
    let x: Tensor<B, 2> = float(x);
    let c = x.dims()[1];
    let x = x.reshape([batch, stride, c]);
    let x = if stride == len {
        x
    } else {
        x.slice([0..batch, 0..len, 0..c])
    };
    x.reshape([batch, len * c]).into_primitive().tensor()
}

/// The encoder's input through [`VaeBackend::encoder_input`].
pub fn encoder_input<B: VaeBackend>(
    flux: Tensor<B, 2>,
    mask: Tensor<B, 2>,
    stride: usize,
    pad: usize,
) -> Tensor<B, 2> {
    float(B::encoder_input(
        flux.into_primitive().tensor(),
        mask.into_primitive().tensor(),
        stride,
        pad,
    ))
}

/// The encoder's features through [`VaeBackend::gather_features`].
pub fn gather_features<B: VaeBackend>(
    x: Tensor<B, 2>,
    batch: usize,
    stride: usize,
    len: usize,
) -> Tensor<B, 2> {
    float(B::gather_features(
        x.into_primitive().tensor(),
        batch,
        stride,
        len,
    ))
}

#[cfg(feature = "cuda")]
impl VaeBackend for crate::CudaBackend {}

/// The backward step of [`VaeBackend::mm`] under [`Autodiff`]: the
/// gradients `grad · rhsᵀ` and `lhsᵀ · grad`, with the transposes as views.
#[derive(Debug)]
struct Mm;

impl<B: VaeBackend> Backward<B, 2> for Mm {
    type State = (Option<NodeId>, Option<NodeId>);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let (lhs, rhs) = ops.state;
        let lhs: Option<FloatTensor<B>> = lhs.map(|id| checkpointer.retrieve_node_output(id));
        let rhs: Option<FloatTensor<B>> = rhs.map(|id| checkpointer.retrieve_node_output(id));
        binary::<B, _, _>(
            ops.parents,
            ops.node,
            grads,
            |grad| {
                B::mm(
                    grad,
                    B::float_transpose(rhs.expect("rhs kept for lhs grad")),
                )
            },
            |grad| {
                B::mm(
                    B::float_transpose(lhs.expect("lhs kept for rhs grad")),
                    grad,
                )
            },
        );
    }
}

impl<B: VaeBackend, C: CheckpointStrategy> VaeBackend for Autodiff<B, C> {
    fn mm(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        let (lhs_tracked, rhs_tracked) = (lhs.is_tracked(), rhs.is_tracked());
        match Mm
            .prepare::<C>([lhs.node.clone(), rhs.node.clone()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                // Each side's gradient needs the other side's value.
                let lhs_state = rhs_tracked.then(|| prep.checkpoint(&lhs));
                let rhs_state = lhs_tracked.then(|| prep.checkpoint(&rhs));
                prep.finish((lhs_state, rhs_state), B::mm(lhs.primitive, rhs.primitive))
            }
            OpsKind::UnTracked(prep) => prep.finish(B::mm(lhs.primitive, rhs.primitive)),
        }
    }

    fn conv_layer(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        keep: Arc<[f32]>,
        spec: ConvSpec,
    ) -> FloatTensor<Self> {
        B::conv_layer_autodiff::<C>(x, weight, bias, keep, spec)
    }

    fn encoder_input(
        flux: FloatTensor<Self>,
        mask: FloatTensor<Self>,
        stride: usize,
        pad: usize,
    ) -> FloatTensor<Self> {
        if flux.is_tracked() || mask.is_tracked() {
            composed_encoder_input::<Self>(flux, mask, stride, pad)
        } else {
            // Data, not parameters: built underneath, outside the graph.
            <Self as AutodiffBackend>::from_inner(B::encoder_input(
                flux.primitive,
                mask.primitive,
                stride,
                pad,
            ))
        }
    }

    fn gather_features(
        x: FloatTensor<Self>,
        batch: usize,
        stride: usize,
        len: usize,
    ) -> FloatTensor<Self> {
        B::gather_features_autodiff::<C>(x, batch, stride, len)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::{CpuBackend, CpuTrainBackend};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    pub(crate) fn random<B: Backend, const D: usize>(
        rng: &mut ChaCha8Rng,
        shape: [usize; D],
    ) -> Tensor<B, D> {
        let n = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|_| rng.gen::<f32>() * 2.0 - 1.0).collect();
        Tensor::from_data(TensorData::new(v, shape), &Default::default())
    }

    pub(crate) fn bits<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<u32> {
        t.into_data()
            .convert::<f32>()
            .iter::<f32>()
            .map(f32::to_bits)
            .collect()
    }

    /// Transposed and sliced operands give burn's own products, bit for bit.
    #[test]
    fn strided_products_equal_burns_matmul() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let a = random::<CpuBackend, 2>(&mut rng, [37, 53]);
        let b = random::<CpuBackend, 2>(&mut rng, [29, 37]);
        let c = random::<CpuBackend, 2>(&mut rng, [53, 70]);
        // aᵀ · bᵀ: two transposed views.
        let ours = mm(a.clone().transpose(), b.clone().transpose());
        assert_eq!(ours.dims(), [53, 29]);
        let theirs = a.clone().transpose().matmul(b.clone().transpose());
        assert_eq!(bits(ours), bits(theirs));
        // A column slice times a row slice.
        let ours = mm(
            a.clone().slice([0..37, 5..25]),
            c.clone().slice([10..30, 0..70]),
        );
        let theirs = a.slice([0..37, 5..25]).matmul(c.slice([10..30, 0..70]));
        assert_eq!(bits(ours), bits(theirs));
    }

    /// Under autodiff, the gradients equal those of burn's matmul bit for bit.
    #[test]
    fn gradients_equal_burns_matmul() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let a0 = random::<CpuTrainBackend, 2>(&mut rng, [31, 45]);
        let b0 = random::<CpuTrainBackend, 2>(&mut rng, [45, 22]);
        let w = random::<CpuTrainBackend, 2>(&mut rng, [31, 22]);
        let run = |ours: bool| {
            let a = a0.clone().require_grad();
            let b = b0.clone().require_grad();
            let p = if ours {
                mm(a.clone(), b.clone())
            } else {
                a.clone().matmul(b.clone())
            };
            let loss = (p * w.clone()).sum();
            let g = loss.backward();
            (
                bits(a.grad(&g).expect("a grad")),
                bits(b.grad(&g).expect("b grad")),
            )
        };
        assert_eq!(run(true), run(false));
    }
}
