//! Adam (Kingma & Ba 2015, ICLR, arXiv:1412.6980, Algorithm 1) as one pass
//! per parameter tensor: burn 0.20's `Adam` makes about ten tensor passes
//! per parameter (each moment, each correction, the square root, the
//! division, the step), 17 % of a training step on the CPU backend.
//!
//! [`FusedAdam`] is burn's `Adam` with its defaults (`AdamConfig::new()`:
//! beta1 0.9, beta2 0.999, epsilon 1e-5, no weight decay): the same
//! arithmetic in the same order on each value, so the same bits, and the
//! same state record ([`AdamState`]), so checkpoints keep their layout. The
//! arithmetic is [`VaeBackend::adam_update`]: tensor operations by default,
//! one loop on [`crate::CpuBackend`].

use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{AdamState, AdaptiveMomentumState, LearningRate, SimpleOptimizer};
use burn::tensor::backend::Backend;
use burn::tensor::ops::{FloatElem, FloatTensor};
use burn::tensor::ElementConversion;
use burn::tensor::{Tensor, TensorPrimitive};

use super::{TrainBackend, VaeBackend};
use crate::model::Vae;

/// Adam's constants.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamHyper {
    /// Decay of the first moment.
    pub beta_1: f32,
    /// Decay of the second moment.
    pub beta_2: f32,
    /// Added to the root of the second moment.
    pub epsilon: f32,
}

impl Default for AdamHyper {
    /// burn's `AdamConfig` defaults.
    fn default() -> Self {
        Self {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-5,
        }
    }
}

/// One Adam update of one parameter tensor: the new parameter and moments.
pub struct AdamUpdate<B: Backend> {
    /// The parameter after the step.
    pub param: FloatTensor<B>,
    /// The first moment.
    pub moment_1: FloatTensor<B>,
    /// The second moment.
    pub moment_2: FloatTensor<B>,
}

/// The update in tensor operations, burn's `Adam::step` op for op (on the
/// primitives, so of any rank): `m1 = b1 m1 + (1 - b1) g`,
/// `m2 = b2 m2 + (1 - b2) g²` (or without the first terms at `time` 1),
/// `u = (m1 / (1 - b1^t)) / (sqrt(m2 / (1 - b2^t)) + eps)`, `param - u lr`.
pub fn composed_adam_update<B: Backend>(
    param: FloatTensor<B>,
    grad: FloatTensor<B>,
    moments: Option<(FloatTensor<B>, FloatTensor<B>)>,
    time: usize,
    h: AdamHyper,
    lr: LearningRate,
) -> AdamUpdate<B> {
    let e = |x: f32| x.elem::<FloatElem<B>>();
    let (f1, f2) = (1.0 - h.beta_1, 1.0 - h.beta_2);
    // burn's `square` is `powi_scalar(2)`, which is `x * x`.
    let g1 = B::float_mul_scalar(grad.clone(), e(f1));
    let g2 = B::float_mul_scalar(B::float_mul(grad.clone(), grad), e(f2));
    let (m1, m2) = match moments {
        Some((m1, m2)) => (
            B::float_add(B::float_mul_scalar(m1, e(h.beta_1)), g1),
            B::float_add(B::float_mul_scalar(m2, e(h.beta_2)), g2),
        ),
        None => (g1, g2),
    };
    let time = time as i32;
    let m1c = B::float_div_scalar(m1.clone(), e(1f32 - h.beta_1.powi(time)));
    let m2c = B::float_div_scalar(m2.clone(), e(1f32 - h.beta_2.powi(time)));
    let u = B::float_div(m1c, B::float_add_scalar(B::float_sqrt(m2c), e(h.epsilon)));
    let param = B::float_sub(param, B::float_mul_scalar(u, lr.elem()));
    AdamUpdate {
        param,
        moment_1: m1,
        moment_2: m2,
    }
}

/// burn's Adam with [`AdamHyper::default`], its update through
/// [`VaeBackend::adam_update`].
#[derive(Debug, Clone, Copy, Default)]
pub struct FusedAdam {
    h: AdamHyper,
}

/// The training optimiser: [`FusedAdam`] in burn's adaptor (gradients per
/// parameter, state records).
pub type TrainOptimizer<B> = OptimizerAdaptor<FusedAdam, Vae<B>, B>;

/// A fresh [`TrainOptimizer`].
pub fn train_optimizer<B: TrainBackend>() -> TrainOptimizer<B> {
    OptimizerAdaptor::from(FusedAdam::default())
}

impl<B: VaeBackend> SimpleOptimizer<B> for FusedAdam {
    type State<const D: usize> = AdamState<B, D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<B, D>, Option<Self::State<D>>) {
        let p = |x: Tensor<B, D>| x.into_primitive().tensor();
        let (time, moments) = match state {
            Some(s) => (
                s.momentum.time + 1,
                Some((p(s.momentum.moment_1), p(s.momentum.moment_2))),
            ),
            None => (1, None),
        };
        let u = B::adam_update(p(tensor), p(grad), moments, time, self.h, lr);
        let t = |x: FloatTensor<B>| Tensor::<B, D>::from_primitive(TensorPrimitive::Float(x));
        let state = AdamState::new(AdaptiveMomentumState::new(
            time,
            t(u.moment_1),
            t(u.moment_2),
        ));
        (t(u.param), Some(state))
    }

    fn to_device<const D: usize>(mut state: Self::State<D>, device: &B::Device) -> Self::State<D> {
        state.momentum = state.momentum.to_device(device);
        state
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{bits, random};
    use super::*;
    use crate::model::VaeConfig;
    use crate::CpuTrainBackend;
    use burn::module::AutodiffModule;
    use burn::optim::{AdamConfig, GradientsParams, Optimizer};
    use burn::tensor::ops::FloatTensorOps;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// Five steps of [`FusedAdam`] on the VAE give burn's `Adam`'s weights
    /// and moments, bit for bit.
    #[test]
    fn fused_adam_equals_burns_adam() {
        type B = CpuTrainBackend;
        let device = Default::default();
        let cfg = VaeConfig::new(64);
        let model = Vae::<B>::new(&cfg, 7, &device).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let flux = random::<B, 2>(&mut rng, [4, 64]);
        let mut ours = (model.clone(), train_optimizer::<B>());
        let mut theirs = (model, AdamConfig::new().init::<B, Vae<B>>());
        for step in 0..5 {
            let lr = 1e-3 / (step + 1) as f64;
            let loss = |m: &Vae<B>| {
                let (mu, logvar) = m.encode(flux.clone(), flux.clone().abs());
                (m.decode(mu) - flux.clone()).square().sum() + logvar.sum()
            };
            let g = GradientsParams::from_grads(loss(&ours.0).backward(), &ours.0);
            ours.0 = ours.1.step(lr, ours.0.clone(), g);
            let g = GradientsParams::from_grads(loss(&theirs.0).backward(), &theirs.0);
            theirs.0 = theirs.1.step(lr, theirs.0.clone(), g);
            assert_eq!(
                ours.0.valid().weights_fingerprint(),
                theirs.0.valid().weights_fingerprint(),
                "weights after step {step}"
            );
        }
    }

    /// The tensor-operation update (the CUDA path) equals the fused loop.
    #[test]
    fn composed_update_equals_the_fused_one() {
        type C = crate::CpuBackend;
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let t = |rng: &mut ChaCha8Rng| random::<C, 2>(rng, [13, 7]).into_primitive().tensor();
        let (p, g, a, b) = (t(&mut rng), t(&mut rng), t(&mut rng), t(&mut rng));
        let b = C::float_abs(b);
        let h = AdamHyper::default();
        let f = |x: FloatTensor<C>| bits(Tensor::<C, 2>::from_primitive(TensorPrimitive::Float(x)));
        for (moments, time) in [(None, 1), (Some((a, b)), 4)] {
            let ours = C::adam_update(p.clone(), g.clone(), moments.clone(), time, h, 3e-4);
            let theirs = composed_adam_update::<C>(p.clone(), g.clone(), moments, time, h, 3e-4);
            assert_eq!(f(ours.param), f(theirs.param), "time {time}");
            assert_eq!(f(ours.moment_1), f(theirs.moment_1), "time {time}");
            assert_eq!(f(ours.moment_2), f(theirs.moment_2), "time {time}");
        }
    }
}
