//! Matrix products of 2-D tensors whose operands may be transposed or sliced
//! views, without copying them.
//!
//! Why: burn-ndarray 0.20's `matmul` first reshapes each operand to a
//! standard-layout 3-D array, which copies every transposed or sliced view
//! element by element through dynamic indexing. The backward pass of every
//! product multiplies by a transposed operand (`grad · rhsᵀ`, `lhsᵀ · grad`),
//! so a training step of the VAE spent more time in those copies than in
//! arithmetic (perf on 64 x 3000: about 38 % of a step, bench/RESULTS.md).
//! `matrixmultiply::sgemm`, which burn-ndarray calls underneath, takes any
//! row and column strides and packs its operands itself; calling it on the
//! views directly gives the same products bit for bit (the packing does not
//! change the order of any sum) without the copies.
//!
//! [`MatmulBackend::mm`] is that product. Its default body is the backend's
//! own `matmul` (the CUDA backend keeps it); [`crate::CpuBackend`] overrides
//! it with the strided call, and [`Autodiff`] over such a backend records it
//! as one operation whose backward pass multiplies by transposed views
//! through the same call. A burn backend extension in the way burn's book
//! describes for custom kernels ("Custom WGPU kernel": a trait over the
//! backend, implemented for `Autodiff<B>` with a `Backward` step).

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{binary, Backward, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::backend::ndarray::{NdArray, NdArrayTensor};
use burn::tensor::backend::Backend;
use burn::tensor::ops::{FloatTensor, FloatTensorOps};
use burn::tensor::{Tensor, TensorPrimitive};

/// A backend with a matrix product of 2-D tensors that accepts strided views.
pub trait MatmulBackend: Backend {
    /// `lhs [m, k] · rhs [k, n]`. The default is the backend's `matmul`.
    fn mm(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::float_matmul(lhs, rhs)
    }
}

/// A training backend: differentiable, with [`MatmulBackend`] products on
/// both itself and the backend underneath (validation runs there).
pub trait TrainBackend:
    burn::tensor::backend::AutodiffBackend<InnerBackend: MatmulBackend> + MatmulBackend
{
}

impl<T> TrainBackend for T where
    T: burn::tensor::backend::AutodiffBackend<InnerBackend: MatmulBackend> + MatmulBackend
{
}

/// `lhs [m, k] · rhs [k, n]` through [`MatmulBackend::mm`].
pub fn mm<B: MatmulBackend>(lhs: Tensor<B, 2>, rhs: Tensor<B, 2>) -> Tensor<B, 2> {
    Tensor::from_primitive(TensorPrimitive::Float(B::mm(
        lhs.into_primitive().tensor(),
        rhs.into_primitive().tensor(),
    )))
}

/// `x [batch, d_in] · weight [d_in, d_out] + bias`: burn's `Linear::forward`
/// for 2-D input, with the product through [`mm`].
pub fn linear<B: MatmulBackend>(x: Tensor<B, 2>, layer: &burn::nn::Linear<B>) -> Tensor<B, 2> {
    let out = mm(x, layer.weight.val());
    match &layer.bias {
        Some(bias) => out + bias.val().unsqueeze::<2>(),
        None => out,
    }
}

impl MatmulBackend for NdArray<f32> {
    fn mm(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        match (&lhs, &rhs) {
            (NdArrayTensor::F32(a), NdArrayTensor::F32(b)) if a.ndim() == 2 && b.ndim() == 2 => {
                strided_sgemm(&a.view(), &b.view())
            }
            _ => Self::float_matmul(lhs, rhs),
        }
    }
}

/// The product of two 2-D f32 views of any strides, by `matrixmultiply::sgemm`
/// (the call burn-ndarray's `matmul` ends in, so the same bits).
fn strided_sgemm(
    a: &ndarray::ArrayView<'_, f32, ndarray::IxDyn>,
    b: &ndarray::ArrayView<'_, f32, ndarray::IxDyn>,
) -> NdArrayTensor {
    let (m, k) = (a.shape()[0], a.shape()[1]);
    let (k2, n) = (b.shape()[0], b.shape()[1]);
    assert_eq!(
        k, k2,
        "matrix product of [{m}, {k}] and [{k2}, {n}]: inner sizes differ"
    );
    let mut out = ndarray::Array2::<f32>::zeros((m, n));
    if m > 0 && n > 0 && k > 0 {
        let (sa, sb) = (a.strides(), b.strides());
        // SAFETY: the pointers are the first elements of views that hold
        // m x k and k x n elements at the given (element) strides, and of an
        // owned standard-layout m x n array; matrixmultiply reads and writes
        // only those elements.
        unsafe {
            matrixmultiply::sgemm(
                m,
                k,
                n,
                1.0,
                a.as_ptr(),
                sa[0],
                sa[1],
                b.as_ptr(),
                sb[0],
                sb[1],
                0.0,
                out.as_mut_ptr(),
                n as isize,
                1,
            );
        }
    }
    NdArrayTensor::from(out.into_dyn().into_shared())
}

#[cfg(feature = "cuda")]
impl MatmulBackend for crate::CudaBackend {}

/// The backward step of [`MatmulBackend::mm`] under [`Autodiff`]: the
/// gradients `grad · rhsᵀ` and `lhsᵀ · grad`, with the transposes as views.
#[derive(Debug)]
struct Mm;

impl<B: MatmulBackend> Backward<B, 2> for Mm {
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

impl<B: MatmulBackend, C: CheckpointStrategy> MatmulBackend for Autodiff<B, C> {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CpuBackend, CpuTrainBackend};
    use burn::tensor::TensorData;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn random<B: Backend>(rng: &mut ChaCha8Rng, shape: [usize; 2]) -> Tensor<B, 2> {
        let v: Vec<f32> = (0..shape[0] * shape[1])
            .map(|_| rng.gen::<f32>() * 2.0 - 1.0)
            .collect();
        Tensor::from_data(TensorData::new(v, shape), &Default::default())
    }

    fn bits<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<u32> {
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
        let a = random::<CpuBackend>(&mut rng, [37, 53]);
        let b = random::<CpuBackend>(&mut rng, [29, 37]);
        let c = random::<CpuBackend>(&mut rng, [53, 70]);
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
        let a0 = random::<CpuTrainBackend>(&mut rng, [31, 45]);
        let b0 = random::<CpuTrainBackend>(&mut rng, [45, 22]);
        let w = random::<CpuTrainBackend>(&mut rng, [31, 22]);
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
