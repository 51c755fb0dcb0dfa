//! A variational autoencoder over rest-frame quasar spectra (Kingma & Welling
//! 2014, "Auto-Encoding Variational Bayes", ICLR, arXiv:1312.6114).
//!
//! The architecture follows the spectrum autoencoders of the field (Portillo
//! et al. 2020, AJ 160, 45; "spender": Melchior et al. 2023, AJ 166, 74, and
//! its use for outlier detection, Liang et al. 2023, AJ 166, 75): a 1-D
//! convolutional encoder and a fully connected decoder.
//!
//! - **Encoder.** Two input channels, the flux (0 where missing) and the
//!   observed-pixel mask (1 where `ivar > 0`), so a masked stretch does not
//!   read as an absorption trough. Then `conv_channels.len()` 1-D convolutions
//!   of odd `kernel_size`, stride 2, padding `kernel_size / 2` (each halves
//!   the length, rounding up), each followed by a leaky ReLU (slope
//!   [`LEAKY_SLOPE`]); the feature map is flattened into a linear layer of
//!   `enc_hidden` units (leaky ReLU), and two linear heads give the latent
//!   mean `mu` and log-variance `logvar` of the diagonal Gaussian posterior
//!   q(z|x) (Kingma & Welling 2014, §3 and appendix C.2). `logvar` is clamped
//!   to ±[`LOGVAR_LIMIT`] so `exp(logvar)` never overflows on a bad batch.
//!   The convolutions are computed as matrix products ([`StridedConv1d`],
//!   channels-last): the same function as a strided `Conv1d`, but burn
//!   0.20's ndarray convolutions and their transposed-convolution backward
//!   are scalar loops that took 90 % of a training step (measured with
//!   `perf`), while the products run in the GEMM kernels. Each layer, and
//!   every matrix product, goes through [`crate::ops::VaeBackend`], which
//!   fuses them on the CPU backend (same bits, about 3.6x faster a step).
//! - **Decoder.** A multilayer perceptron `latent_dim -> dec_hidden... -> len`
//!   with leaky ReLUs between layers and a linear output (normalised flux can
//!   take any sign).
//! - **Loss** (the negative ELBO, Kingma & Welling 2014 eq. 10, with a weight
//!   `beta` on the KL term, Higgins et al. 2017): per spectrum
//!   `0.5 * sum_j ivar_j (f_j - r_j)^2 + beta * KL(q(z|x) || N(0, I))`, where
//!   `r = decode(z)`, `z = mu + exp(logvar / 2) * eps` (the reparameterisation
//!   trick, eq. 4; `eps ~ N(0, I)` drawn on the host from a seeded ChaCha8
//!   stream) and `KL = -0.5 * sum_k (1 + logvar_k - mu_k^2 - exp(logvar_k))`
//!   (appendix B). Only observed pixels contribute: `ivar = 0` zeroes a pixel's
//!   term. The batch loss is the mean over spectra.
//!
//! **Initialisation** is done on the host, from a ChaCha8 stream seeded by
//! the caller, with PyTorch's default for these layers (He et al. 2015 uniform
//! with `a = sqrt(5)`, i.e. weights and biases `U(-1/sqrt(fan_in),
//! 1/sqrt(fan_in))`, which is also burn's default). burn's own backend seed
//! (`Backend::seed`) is process-global on the ndarray backend (one mutex-held
//! RNG shared by every thread, and a compile-time random seed when never set),
//! so two models initialised at once in one process (parallel tests, two
//! pipeline jobs) would interleave their draws. Host-side initialisation makes
//! the initial weights a function of the seed alone, the same on every backend
//! (CPU or CUDA). Parameter ids are numbered in construction order for the same
//! reason: they key the optimiser state in a checkpoint.

use burn::module::{Ignored, Module, ModuleVisitor, Param, ParamId};
use burn::nn::Linear;
use burn::tensor::activation::leaky_relu;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

use std::sync::Arc;

use crate::ops::{conv_layer, encoder_input, gather_features, linear, ConvSpec, VaeBackend};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Negative slope of the leaky ReLUs between layers.
pub const LEAKY_SLOPE: f64 = 0.01;

/// The encoder's log-variance is clamped to `[-LOGVAR_LIMIT, LOGVAR_LIMIT]`.
pub const LOGVAR_LIMIT: f64 = 15.0;

/// Shape of the network. Two models are interchangeable (a checkpoint of
/// one loads into the other) exactly when their configs are equal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaeConfig {
    /// Pixels per spectrum (the rest-frame grid's length).
    pub len: usize,
    /// Dimension of the latent space.
    pub latent_dim: usize,
    /// Output channels of each stride-2 convolution of the encoder.
    pub conv_channels: Vec<usize>,
    /// Kernel size of the convolutions (odd).
    pub kernel_size: usize,
    /// Units of the encoder's fully connected layer.
    pub enc_hidden: usize,
    /// Units of the decoder's hidden layers.
    pub dec_hidden: Vec<usize>,
}

impl VaeConfig {
    /// The default architecture for a grid of `len` pixels: convolutions
    /// 2 -> 16 -> 32 -> 64 channels with kernel 5, a 128-unit encoder layer,
    /// a 16-D latent space and a 64 -> 256 -> `len` decoder.
    pub fn new(len: usize) -> Self {
        Self {
            len,
            latent_dim: 16,
            conv_channels: vec![16, 32, 64],
            kernel_size: 5,
            enc_hidden: 128,
            dec_hidden: vec![64, 256],
        }
    }

    /// The same config with another latent dimension.
    pub fn with_latent_dim(mut self, latent_dim: usize) -> Self {
        self.latent_dim = latent_dim;
        self
    }

    /// Length of the feature map after the convolutions (each halves it,
    /// rounding up).
    pub fn conv_out_len(&self) -> usize {
        let mut l = self.len;
        let p = self.kernel_size / 2;
        for _ in &self.conv_channels {
            l = (l + 2 * p - self.kernel_size) / 2 + 1;
        }
        l
    }

    /// Checks that the config describes a network that can be built.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |what: &str| Err(ConfigError(what.to_string()));
        if self.latent_dim == 0 {
            return bad("latent_dim must be at least 1");
        }
        if self.kernel_size.is_multiple_of(2) {
            return bad("kernel_size must be odd");
        }
        if self.conv_channels.contains(&0) || self.dec_hidden.contains(&0) || self.enc_hidden == 0 {
            return bad("every layer needs at least one unit or channel");
        }
        if self.len < self.kernel_size {
            return bad("len must be at least kernel_size");
        }
        Ok(())
    }

    /// Number of trainable parameters.
    pub fn n_params(&self) -> usize {
        let mut n = 0;
        let mut c_in = 2;
        for &c in &self.conv_channels {
            n += c * c_in * self.kernel_size + c;
            c_in = c;
        }
        let flat = c_in * self.conv_out_len();
        n += flat * self.enc_hidden + self.enc_hidden;
        n += 2 * (self.enc_hidden * self.latent_dim + self.latent_dim);
        let mut d_in = self.latent_dim;
        for &h in self.dec_hidden.iter().chain(std::iter::once(&self.len)) {
            n += d_in * h + h;
            d_in = h;
        }
        n
    }
}

/// A [`VaeConfig`] that describes no buildable network.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid VAE config: {0}")]
pub struct ConfigError(pub String);

/// The variational autoencoder (see the module docs).
#[derive(Module, Debug)]
pub struct Vae<B: Backend> {
    convs: Vec<StridedConv1d<B>>,
    enc_fc: Linear<B>,
    enc_mu: Linear<B>,
    enc_logvar: Linear<B>,
    dec: Vec<Linear<B>>,
    config: Ignored<VaeConfig>,
}

/// The encoder's convolutions (stride 2, zero padding `kernel_size / 2`):
/// `out[b, i, o] = bias[o] + sum_{t, c} x_pad[b, 2 i + t, c] * weight[t * c_in + c, o]`,
/// the same function as a strided `Conv1d` with weight `[o, c, t]`.
///
/// Computed as GEMMs on the whole batch laid end to end (see [`ConvLayout`]):
/// with two positions per row, taps `2 m` and `2 m + 1` of every output
/// position are one contiguous row block, so a layer is `ceil(k / 2)` matrix
/// products of shifted row blocks, no copies of strided views. Rows that
/// straddle two spectra are computed and then zeroed by a mask.
#[derive(Module, Debug)]
pub struct StridedConv1d<B: Backend> {
    /// `[kernel_size * c_in, c_out]`, tap-major.
    weight: Param<Tensor<B, 2>>,
    /// `[c_out]`.
    bias: Param<Tensor<B, 1>>,
    kernel_size: usize,
}

/// Where each spectrum sits, layer by layer, in the flattened activations
/// `[batch * stride[l], channels]` of the convolution stack: spectrum `b`'s
/// `len[l]` positions are rows `b * stride[l] + pad[l]..`, every other row
/// is zero. `pad[n] = 0` and `pad[l] = k / 2 + 2 pad[l + 1]`, so the left
/// padding of every layer is already there and the outputs of layer `l`
/// land where layer `l + 1` expects them; `stride[l] = stride[0] / 2^l` is
/// the smallest that holds every tap of every output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConvLayout {
    /// Positions per spectrum at the input of layer `l` (`len[n]`: the output).
    pub len: Vec<usize>,
    /// Zero rows before each spectrum.
    pub pad: Vec<usize>,
    /// Rows per spectrum.
    pub stride: Vec<usize>,
}

impl ConvLayout {
    /// The layout of `n_layers` convolutions of kernel `k` on `len` pixels.
    pub(crate) fn new(len: usize, k: usize, n_layers: usize) -> Self {
        let h = k / 2;
        let mut lens = vec![len];
        for _ in 0..n_layers {
            let l = *lens.last().expect("non-empty");
            lens.push((l + 2 * h - k) / 2 + 1);
        }
        let mut pad = vec![0; n_layers + 1];
        for l in (0..n_layers).rev() {
            pad[l] = h + 2 * pad[l + 1];
        }
        let unit = 1usize << n_layers;
        let mut s0 = unit;
        for l in 0..n_layers {
            let need = (pad[l] + lens[l]).max(pad[l] - h + 2 * (lens[l + 1] - 1) + k);
            s0 = s0.max((need << l).div_ceil(unit) * unit);
        }
        s0 = s0.max((lens[n_layers] << n_layers).div_ceil(unit) * unit);
        let stride = (0..=n_layers).map(|l| s0 >> l).collect();
        Self {
            len: lens,
            pad,
            stride,
        }
    }

    /// 1 on the rows of layer `l` that hold a spectrum's positions, 0 elsewhere.
    pub(crate) fn mask(&self, l: usize, batch: usize) -> Vec<f32> {
        let (s, p, n) = (self.stride[l], self.pad[l], self.len[l]);
        (0..batch * s)
            .map(|r| f32::from(u8::from((p..p + n).contains(&(r % s)))))
            .collect()
    }
}

/// Host-side initialiser: `U(-1/sqrt(fan_in), 1/sqrt(fan_in))` values from
/// one ChaCha8 stream, parameter ids numbered in order.
struct Init<'a, B: Backend> {
    rng: ChaCha8Rng,
    next_id: u64,
    device: &'a B::Device,
}

impl<B: Backend> Init<'_, B> {
    fn param<const D: usize>(&mut self, shape: [usize; D], fan_in: usize) -> Param<Tensor<B, D>> {
        let bound = 1.0 / (fan_in as f64).sqrt();
        let n: usize = shape.iter().product();
        let values: Vec<f32> = (0..n)
            .map(|_| (self.rng.gen::<f64>() * 2.0 - 1.0) * bound)
            .map(|v| v as f32)
            .collect();
        let tensor = Tensor::from_data(TensorData::new(values, shape), self.device);
        let id = ParamId::from(self.next_id);
        self.next_id += 1;
        Param::initialized(id, tensor.require_grad())
    }

    fn conv(&mut self, c_in: usize, c_out: usize, k: usize) -> StridedConv1d<B> {
        let fan_in = c_in * k;
        StridedConv1d {
            weight: self.param([k * c_in, c_out], fan_in),
            bias: self.param([c_out], fan_in),
            kernel_size: k,
        }
    }

    fn linear(&mut self, d_in: usize, d_out: usize) -> Linear<B> {
        Linear {
            weight: self.param([d_in, d_out], d_in),
            bias: Some(self.param([d_out], d_in)),
        }
    }
}

/// Salt mixed into the seed of the weight initialisation, so the init stream
/// differs from the training streams derived from the same user seed.
const INIT_SALT: u64 = 0x5641_455f_494e_4954; // "VAE_INIT"

impl<B: Backend> Vae<B> {
    /// A freshly initialised network; the weights depend only on `config`
    /// and `seed` (see the module docs).
    pub fn new(config: &VaeConfig, seed: u64, device: &B::Device) -> Result<Self, ConfigError> {
        config.validate()?;
        let mut init = Init::<B> {
            rng: ChaCha8Rng::seed_from_u64(seed ^ INIT_SALT),
            next_id: 1,
            device,
        };
        let mut convs = Vec::new();
        let mut c_in = 2;
        for &c in &config.conv_channels {
            convs.push(init.conv(c_in, c, config.kernel_size));
            c_in = c;
        }
        let flat = c_in * config.conv_out_len();
        let enc_fc = init.linear(flat, config.enc_hidden);
        let enc_mu = init.linear(config.enc_hidden, config.latent_dim);
        let enc_logvar = init.linear(config.enc_hidden, config.latent_dim);
        let mut dec = Vec::new();
        let mut d_in = config.latent_dim;
        for &h in config.dec_hidden.iter().chain(std::iter::once(&config.len)) {
            dec.push(init.linear(d_in, h));
            d_in = h;
        }
        Ok(Self {
            convs,
            enc_fc,
            enc_mu,
            enc_logvar,
            dec,
            config: Ignored(config.clone()),
        })
    }

    /// The network's shape.
    pub fn config(&self) -> &VaeConfig {
        &self.config.0
    }

    /// Every trainable parameter, flattened in module order (convolutions,
    /// encoder layers, decoder layers; weight before bias).
    pub fn weights(&self) -> Vec<f32> {
        struct Collect(Vec<f32>);
        impl<B: Backend> ModuleVisitor<B> for Collect {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
                let data = param.val().into_data().convert::<f32>();
                self.0.extend(data.iter::<f32>());
            }
        }
        let mut c = Collect(Vec::new());
        self.visit(&mut c);
        c.0
    }

    /// FNV-1a 64 of the bits of [`Self::weights`]: equal exactly when the
    /// weights are bit-identical.
    pub fn weights_fingerprint(&self) -> u64 {
        let bytes: Vec<u8> = self
            .weights()
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect();
        crate::checkpoint::fnv1a64(&bytes)
    }
}

/// The forward pass and the loss: the products through [`VaeBackend`].
impl<B: VaeBackend> Vae<B> {
    /// The convolution stack's output (after its leaky ReLUs) for `flux` and
    /// `mask` `[batch, len]`, flattened position-major to `[batch, len_out *
    /// channels]`.
    fn conv_features(&self, flux: Tensor<B, 2>, mask: Tensor<B, 2>) -> Tensor<B, 2> {
        let cfg = self.config();
        let [batch, len] = flux.dims();
        let n = self.convs.len();
        let layout = ConvLayout::new(len, cfg.kernel_size, n);
        let (s0, p0) = (layout.stride[0], layout.pad[0]);
        let mut x = encoder_input(flux, mask, s0, p0);
        for (l, conv) in self.convs.iter().enumerate() {
            let spec = ConvSpec {
                kernel_size: conv.kernel_size,
                slope: LEAKY_SLOPE,
            };
            let keep: Arc<[f32]> = layout.mask(l + 1, batch).into();
            x = conv_layer(x, conv.weight.val(), conv.bias.val(), keep, spec);
        }
        gather_features(x, batch, layout.stride[n], layout.len[n])
    }

    /// Encodes a batch: `flux` and `mask` are `[batch, len]` (flux 0 and mask
    /// 0 on missing pixels); returns the posterior mean and log-variance, each
    /// `[batch, latent_dim]`.
    pub fn encode(&self, flux: Tensor<B, 2>, mask: Tensor<B, 2>) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let features = self.conv_features(flux, mask);
        let h = leaky_relu(linear(features, &self.enc_fc), LEAKY_SLOPE);
        let mu = linear(h.clone(), &self.enc_mu);
        let logvar = linear(h, &self.enc_logvar).clamp(-LOGVAR_LIMIT, LOGVAR_LIMIT);
        (mu, logvar)
    }

    /// Decodes latent vectors `[batch, latent_dim]` into spectra `[batch, len]`.
    pub fn decode(&self, z: Tensor<B, 2>) -> Tensor<B, 2> {
        let last = self.dec.len() - 1;
        let mut x = z;
        for (i, layer) in self.dec.iter().enumerate() {
            x = linear(x, layer);
            if i < last {
                x = leaky_relu(x, LEAKY_SLOPE);
            }
        }
        x
    }

    /// Per-spectrum negative ELBO terms for a batch: returns
    /// `(0.5 * chi2, kl)`, each `[batch]`, where `chi2 = sum ivar (f - r)^2`
    /// over the reconstruction `r = decode(mu + exp(logvar / 2) * eps)`.
    /// `eps` is `[batch, latent_dim]`; pass `None` to decode the posterior
    /// mean (validation, scoring).
    pub fn loss_terms(
        &self,
        batch: &Batch<B>,
        eps: Option<Tensor<B, 2>>,
    ) -> (Tensor<B, 1>, Tensor<B, 1>) {
        let (mu, logvar) = self.encode(batch.flux.clone(), batch.mask.clone());
        let z = match eps {
            Some(eps) => mu.clone() + (logvar.clone() * 0.5).exp() * eps,
            None => mu.clone(),
        };
        let recon = self.decode(z);
        let resid = batch.flux.clone() - recon;
        let half_chi2 = (batch.ivar.clone() * resid.square()).sum_dim(1) * 0.5;
        let kl = ((logvar.clone() + 1.0) - mu.square() - logvar.exp()).sum_dim(1) * -0.5;
        (half_chi2.squeeze_dim(1), kl.squeeze_dim(1))
    }

    /// The batch loss: mean over spectra of `0.5 * chi2 + beta * kl`.
    pub fn loss(&self, batch: &Batch<B>, eps: Option<Tensor<B, 2>>, beta: f64) -> Tensor<B, 1> {
        let (half_chi2, kl) = self.loss_terms(batch, eps);
        (half_chi2 + kl * beta).mean()
    }
}

/// One mini-batch on the device: flux, inverse variance and observed-pixel
/// mask, each `[batch, len]`, sanitised by [`Batch::from_rows`].
#[derive(Debug, Clone)]
pub struct Batch<B: Backend> {
    /// Flux, 0 on missing pixels.
    pub flux: Tensor<B, 2>,
    /// Inverse variance, 0 on missing pixels.
    pub ivar: Tensor<B, 2>,
    /// 1 on observed pixels, 0 on missing ones.
    pub mask: Tensor<B, 2>,
}

/// Whether a pixel counts as observed: `ivar > 0` with finite flux and ivar.
/// Every consumer (loss, scores) uses this one rule.
pub fn observed(flux: f32, ivar: f32) -> bool {
    ivar > 0.0 && ivar.is_finite() && flux.is_finite()
}

impl<B: Backend> Batch<B> {
    /// Builds the batch of rows `rows` of `data`. Pixels that are not
    /// [`observed`] get flux 0, ivar 0 and mask 0 (so a NaN flux on a masked
    /// pixel cannot poison the loss).
    pub fn from_rows(data: &crate::dataset::Dataset, rows: &[usize], device: &B::Device) -> Self {
        let len = data.len;
        let n = rows.len() * len;
        let (mut flux, mut ivar, mut mask) = (vec![0f32; n], vec![0f32; n], vec![0f32; n]);
        for (b, &row) in rows.iter().enumerate() {
            let (f, v) = data.row(row);
            for j in 0..len {
                if observed(f[j], v[j]) {
                    flux[b * len + j] = f[j];
                    ivar[b * len + j] = v[j];
                    mask[b * len + j] = 1.0;
                }
            }
        }
        let t = |v: Vec<f32>| Tensor::from_data(TensorData::new(v, [rows.len(), len]), device);
        Self {
            flux: t(flux),
            ivar: t(ivar),
            mask: t(mask),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CpuBackend;

    #[test]
    fn default_config_shapes_and_parameter_count() {
        let c = VaeConfig::new(3000);
        assert_eq!(c.conv_out_len(), 375);
        // 2*16*5+16 + 16*32*5+32 + 32*64*5+64 = 176 + 2592 + 10304
        // + 64*375*128+128 + 2*(128*16+16) + (16*64+64) + (64*256+256) + (256*3000+3000)
        assert_eq!(
            c.n_params(),
            13_072 + 3_072_128 + 4_128 + 1_088 + 16_640 + 771_000
        );
        let c = VaeConfig::new(257);
        assert_eq!(c.conv_out_len(), 33);
    }

    /// The convolution stack of `model` recomputed with burn's own `conv1d`.
    fn reference_features(
        model: &Vae<CpuBackend>,
        flux: Tensor<CpuBackend, 2>,
        mask: Tensor<CpuBackend, 2>,
    ) -> Tensor<CpuBackend, 2> {
        use burn::tensor::module::conv1d;
        use burn::tensor::ops::ConvOptions;
        let mut x: Tensor<CpuBackend, 3> = Tensor::stack(vec![flux, mask], 1);
        for conv in &model.convs {
            let k = conv.kernel_size;
            let [kc, c_out] = conv.weight.dims();
            let c_in = kc / k;
            // Ours [t * c_in + c, o] is burn's [o, c, t].
            let w = conv
                .weight
                .val()
                .reshape([k, c_in, c_out])
                .permute([2, 1, 0]);
            let out = conv1d(
                x,
                w,
                Some(conv.bias.val()),
                ConvOptions::new([2], [k / 2], [1], 1),
            );
            x = leaky_relu(out, LEAKY_SLOPE);
        }
        let x = x.swap_dims(1, 2);
        let [b, l, c] = x.dims();
        x.reshape([b, l * c])
    }

    /// Replaces every convolution parameter by integers drawn from `range`.
    fn integer_convs(
        model: Vae<CpuBackend>,
        range: std::ops::RangeInclusive<i8>,
    ) -> Vae<CpuBackend> {
        let device = Default::default();
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let mut ints = |dims: Vec<usize>| {
            let n = dims.iter().product();
            let v: Vec<f32> = (0..n)
                .map(|_| f32::from(rng.gen_range(range.clone())))
                .collect();
            TensorData::new(v, dims)
        };
        let convs = model
            .convs
            .iter()
            .map(|c| StridedConv1d {
                weight: Param::from_data(ints(c.weight.dims().to_vec()), &device),
                bias: Param::from_data(ints(c.bias.dims().to_vec()), &device),
                kernel_size: c.kernel_size,
            })
            .collect();
        Vae { convs, ..model }
    }

    #[test]
    fn strided_convolutions_equal_burns_conv1d() {
        let device = Default::default();
        let input = |batch: usize, len: usize, range: std::ops::RangeInclusive<i8>| {
            let mut rng = ChaCha8Rng::seed_from_u64(len as u64);
            let mut t = || {
                let v: Vec<f32> = (0..batch * len)
                    .map(|_| f32::from(rng.gen_range(range.clone())))
                    .collect();
                Tensor::<CpuBackend, 2>::from_data(TensorData::new(v, [batch, len]), &device)
            };
            (t(), t())
        };
        // Small integers: every sum is exact in f32, so the two must agree
        // bit for bit. One layer with signed values (both ReLU branches)...
        for (len, k) in [(9, 5), (10, 5), (8, 3), (7, 1), (5, 5), (64, 7)] {
            let cfg = VaeConfig {
                conv_channels: vec![3],
                kernel_size: k,
                ..VaeConfig::new(len)
            };
            let m = integer_convs(Vae::new(&cfg, 0, &device).unwrap(), -3..=3);
            let (f, mk) = input(3, len, -3..=3);
            let ours = m.conv_features(f.clone(), mk.clone()).into_data();
            let theirs = reference_features(&m, f, mk).into_data();
            assert_eq!(ours, theirs, "len {len} k {k}");
        }
        // ...and stacks of layers with non-negative values (the leaky ReLU is
        // then the identity, and the sums stay exact integers).
        for (len, k, channels) in [
            (100, 5, vec![4, 3, 2]),
            (37, 3, vec![2, 2]),
            (256, 5, vec![3, 3, 3, 2]),
        ] {
            let cfg = VaeConfig {
                conv_channels: channels.clone(),
                kernel_size: k,
                ..VaeConfig::new(len)
            };
            let m = integer_convs(Vae::new(&cfg, 0, &device).unwrap(), 0..=2);
            let (f, mk) = input(2, len, 0..=2);
            let ours = m.conv_features(f.clone(), mk.clone());
            assert_eq!(
                ours.dims(),
                [2, cfg.conv_out_len() * *channels.last().unwrap()]
            );
            let theirs = reference_features(&m, f, mk);
            assert_eq!(ours.into_data(), theirs.into_data(), "len {len} k {k}");
        }
    }

    #[test]
    fn conv_layout_of_the_default_stack() {
        // k = 5: pads 2 + 2 (2 + 2 * 2) = 14, 6, 2, 0.
        let l = ConvLayout::new(3000, 5, 3);
        assert_eq!(l.len, vec![3000, 1500, 750, 375]);
        assert_eq!(l.pad, vec![14, 6, 2, 0]);
        assert_eq!(l.stride, vec![3016, 1508, 754, 377]);
        assert_eq!(
            &l.mask(3, 2)[370..380],
            &[1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0]
        );
    }

    #[test]
    fn invalid_configs_are_refused() {
        let mut c = VaeConfig::new(256);
        c.kernel_size = 4;
        assert!(c.validate().is_err());
        let c = VaeConfig::new(256).with_latent_dim(0);
        assert_eq!(
            c.validate().unwrap_err().to_string(),
            "invalid VAE config: latent_dim must be at least 1"
        );
    }

    #[test]
    fn forward_shapes_and_seeded_init() {
        let device = Default::default();
        let c = VaeConfig::new(100).with_latent_dim(4);
        let m = Vae::<CpuBackend>::new(&c, 7, &device).unwrap();
        let n: usize = m.num_params();
        assert_eq!(n, c.n_params());
        let data = {
            let mut d = crate::dataset::Dataset::new(100);
            d.push(1, &[1.0; 100], &[1.0; 100]);
            d.push(2, &[f32::NAN; 100], &[0.0; 100]);
            d
        };
        let batch = Batch::<CpuBackend>::from_rows(&data, &[0, 1], &device);
        let (mu, logvar) = m.encode(batch.flux.clone(), batch.mask.clone());
        assert_eq!(mu.dims(), [2, 4]);
        assert_eq!(logvar.dims(), [2, 4]);
        assert_eq!(m.decode(mu).dims(), [2, 100]);
        let (half_chi2, kl) = m.loss_terms(&batch, None);
        let half_chi2: Vec<f32> = half_chi2.into_data().to_vec().unwrap();
        // The all-missing row contributes no chi-square at all.
        assert_eq!(half_chi2[1], 0.0);
        assert!(kl.into_data().to_vec::<f32>().unwrap()[1].is_finite());
        // Same seed, same weights; another seed, other weights.
        let again = Vae::<CpuBackend>::new(&c, 7, &device).unwrap();
        let other = Vae::<CpuBackend>::new(&c, 8, &device).unwrap();
        let w = |m: &Vae<CpuBackend>| m.dec[0].weight.val().into_data().to_vec::<f32>().unwrap();
        assert_eq!(w(&m), w(&again));
        assert_ne!(w(&m), w(&other));
    }
}
