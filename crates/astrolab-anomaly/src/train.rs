//! Training the VAE ([`crate::model`]): Adam (Kingma & Ba 2015, ICLR,
//! arXiv:1412.6980) on mini-batches, a held-out validation split with early
//! stopping (Prechelt 1998, "Early stopping — but when?"), checkpoints after
//! every epoch, and resumption.
//!
//! **Step size.** Adam at a fixed step size keeps jumping out of the
//! minimum it has found: on 20,000 benchmark quasars at 1e-3 the
//! validation loss rose by 40 to 120 % every few epochs (bench/RESULTS.md,
//! issue 17), and early stopping kept an early epoch. The step size is
//! therefore annealed by a half cosine (Loshchilov & Hutter 2017, "SGDR:
//! Stochastic Gradient Descent with Warm Restarts", ICLR, arXiv:1608.03983,
//! eq. 5, one cycle without restarts) from [`TrainConfig::learning_rate`]
//! down to [`TrainConfig::lr_min`] over [`TrainConfig::lr_anneal_epochs`]
//! epochs, mini-batch by mini-batch, and stays at the floor after that. The
//! horizon is a number of epochs of its own, not `max_epochs`, so asking a
//! finished run for more epochs does not rewrite the schedule of the
//! epochs already run (see resumption below).
//!
//! **Gradient clipping.** Annealing alone did not stop the blow-ups on the
//! 20,000-quasar benchmark: from epoch 15 on (step size 5e-4 and less) the
//! mean training loss of an epoch jumped from 600 to 4,000-38,000 while
//! the validation loss spiked by up to 140 %. A single mini-batch with an
//! extreme gradient moves Adam's first moment far more than its second
//! (by `(1 - beta_1) g` against `sqrt((1 - beta_2) g^2)`), so one bad batch
//! makes a step about three times the usual length in one direction for
//! the whole network. The gradient's global L2 norm is therefore clipped
//! (Pascanu, Mikolov & Bengio 2013, ICML, arXiv:1211.5063) at
//! [`TrainConfig::grad_clip`] times a running mean of the norms so far
//! (an exponential moving average of the clipped norms, weight
//! [`GRAD_NORM_EMA_WEIGHT`] per step): a threshold relative to the
//! network's own gradient scale, which changes by orders of magnitude
//! during training, in the spirit of AutoClip (Seetharaman et al. 2020,
//! IEEE MLSP, arXiv:2007.14469), which clips at a percentile of the past
//! norms. The running mean is part of the checkpoint.
//!
//! **Determinism.** Every random choice comes from ChaCha8 streams seeded by
//! [`TrainConfig::seed`]: the weight initialisation ([`Vae::new`]), the
//! train/validation split (stream 1), and one training stream (stream 2) that
//! shuffles each epoch's batches and draws the reparameterisation noise. On
//! the CPU backend every operation runs single-threaded in a fixed order, so
//! a seed gives the same weights bit for bit, on any machine's thread count.
//!
//! **Resumption.** A checkpoint (written atomically after each epoch)
//! holds the weights, the Adam moments, the epoch count, the training
//! stream's exact position (seed, stream, word position), the best weights
//! so far with their validation loss, the early-stopping counter, the loss
//! history and both configs. The step-size schedule is a function of the
//! epoch count and the mini-batch index alone, so it needs no state beyond
//! them. Resuming from epoch k therefore replays epochs
//! k+1... exactly as an uninterrupted run would: the final weights are the
//! same bits. The checkpoint also records the data set (rows, grid length
//! and a hash of the ids): resuming with another model shape, another
//! trajectory (seed, batch size, learning rate and its schedule, gradient
//! clipping, beta, validation fraction) or other data is an error that names the field. `max_epochs` and
//! `patience` may change between runs: a finished run asked for more epochs
//! or more patience continues exactly as an uninterrupted run with the new
//! settings would have.
//!
//! The pinned weight fingerprints in the tests hold on x86-64 with AVX2 and
//! FMA: matrixmultiply picks its GEMM kernel at run time, and a CPU without
//! them (or another architecture) rounds differently in the last bits.
//! Determinism across thread counts holds because nothing runs in parallel:
//! burn's ndarray backend is built without its `multi-threads` feature, so
//! neither rayon nor matrixmultiply's threading is linked (check with
//! `cargo tree -i rayon -p astrolab-anomaly`: nothing). Enabling it would
//! speed training up on many cores but make reductions order-dependent.
//!
//! **Losses** are per spectrum (the mean over spectra of
//! `0.5 * chi2 + beta * KL`): the training loss averages the batch losses
//! (weighted by batch size) with sampled `z`; the validation loss decodes
//! the posterior mean, so it does not depend on the noise.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use burn::module::{AutodiffModule, Module, ModuleVisitor, Param};
use burn::optim::{GradientsParams, Optimizer};
use burn::tensor::backend::Backend;

use crate::ops::adam::train_optimizer;
use crate::ops::{TrainBackend, VaeBackend};
use burn::tensor::{ElementConversion, Tensor, TensorData};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::checkpoint::{self, CheckpointError, Kind};
use crate::dataset::Dataset;
use crate::model::{observed, Batch, ConfigError, Vae, VaeConfig};

/// File name of the checkpoint inside the checkpoint directory.
pub const CHECKPOINT_FILE: &str = "checkpoint.bin";

/// Weight of each new gradient norm in the running mean that
/// [`TrainConfig::grad_clip`] scales (a memory of about 50 mini-batches).
pub const GRAD_NORM_EMA_WEIGHT: f64 = 0.02;

/// How to train.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Seed of every random choice (initialisation, split, shuffles, noise).
    pub seed: u64,
    /// Epochs at most.
    pub max_epochs: usize,
    /// Spectra per mini-batch.
    pub batch_size: usize,
    /// Adam's step size (at the start, with annealing).
    pub learning_rate: f64,
    /// Epochs over which the step size is annealed by a half cosine from
    /// `learning_rate` to `lr_min` (module docs); 0 = a constant
    /// `learning_rate`. Files from before annealing read as 0.
    #[serde(default)]
    pub lr_anneal_epochs: usize,
    /// The step size at the end of the annealing and after it.
    #[serde(default)]
    pub lr_min: f64,
    /// Gradient clipping (module docs): a mini-batch's gradient, all
    /// weights together, is scaled down to at most this many times the
    /// running mean of the norms so far (at least 1); `None` = no
    /// clipping. Files from before clipping read as `None`.
    #[serde(default)]
    pub grad_clip: Option<f64>,
    /// Weight of the KL term (1 = the plain VAE).
    pub beta: f64,
    /// Fraction of the (scorable) spectra held out for validation, `[0, 1)`.
    /// With 0 there is no early stopping and the final weights are returned.
    pub val_fraction: f64,
    /// Early stopping: stop after this many epochs without a better
    /// validation loss.
    pub patience: usize,
}

impl Default for TrainConfig {
    /// Seed 0, 200 epochs at most, batches of 64, learning rate 1e-3
    /// annealed to 1e-5 over 30 epochs, gradients clipped at twice their
    /// running mean norm, beta 1, 10 % validation, patience 10.
    fn default() -> Self {
        Self {
            seed: 0,
            max_epochs: 200,
            batch_size: 64,
            learning_rate: 1e-3,
            lr_anneal_epochs: 30,
            lr_min: 1e-5,
            grad_clip: Some(2.0),
            beta: 1.0,
            val_fraction: 0.1,
            patience: 10,
        }
    }
}

impl TrainConfig {
    /// The step size of mini-batch `batch` of `n_batches` in the epoch
    /// after `epochs_done` completed ones: the half cosine of the module
    /// docs at `t = (epochs_done + batch / n_batches) / lr_anneal_epochs`,
    /// `lr_min` from `t = 1` on, `learning_rate` without annealing.
    pub fn learning_rate_at(&self, epochs_done: usize, batch: usize, n_batches: usize) -> f64 {
        if self.lr_anneal_epochs == 0 {
            return self.learning_rate;
        }
        let t = (epochs_done as f64 + batch as f64 / n_batches.max(1) as f64)
            / self.lr_anneal_epochs as f64;
        if t >= 1.0 {
            return self.lr_min;
        }
        let cos = (std::f64::consts::PI * t).cos();
        self.lr_min + 0.5 * (self.learning_rate - self.lr_min) * (1.0 + cos)
    }
}

/// Progress after one epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochReport {
    /// Epochs completed (1 after the first).
    pub epoch: usize,
    /// Mean training loss per spectrum over the epoch.
    pub train_loss: f64,
    /// Mean validation loss per spectrum (`None` without a validation set).
    pub val_loss: Option<f64>,
    /// Whether this epoch's weights are the best so far.
    pub best: bool,
}

/// Why training ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StopReason {
    /// `max_epochs` reached.
    MaxEpochs,
    /// `patience` epochs without improvement.
    EarlyStopped,
}

/// Receives progress and may cancel. Both methods have no-op defaults.
pub trait TrainObserver {
    /// Called after every epoch (after its checkpoint is written).
    fn on_epoch(&mut self, _report: &EpochReport) {}
    /// Polled before every mini-batch; `true` stops training with
    /// [`TrainError::Cancelled`]. The last checkpoint (end of the previous
    /// epoch) stays, so a later call resumes from it.
    fn cancelled(&self) -> bool {
        false
    }
}

/// An observer that ignores progress and never cancels.
pub struct Silent;

impl TrainObserver for Silent {}

/// An observer from a progress closure and a cancellation flag (set it from
/// another thread, e.g. a job's cancel request, to stop before the next
/// mini-batch).
pub struct Hooks<'a, F: FnMut(&EpochReport)> {
    /// Called after every epoch.
    pub on_epoch: F,
    /// Training stops when this becomes `true`.
    pub cancel: Option<&'a AtomicBool>,
}

impl<F: FnMut(&EpochReport)> TrainObserver for Hooks<'_, F> {
    fn on_epoch(&mut self, report: &EpochReport) {
        (self.on_epoch)(report)
    }
    fn cancelled(&self) -> bool {
        self.cancel.is_some_and(|c| c.load(Ordering::Relaxed))
    }
}

/// Training failed or was cancelled.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The model config is not buildable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The data or the training config cannot be trained on.
    #[error("cannot train: {0}")]
    Input(String),
    /// A checkpoint could not be read, written, or belongs to another run.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The observer cancelled; `completed_epochs` are in the checkpoint.
    #[error("training cancelled after {completed_epochs} completed epochs")]
    Cancelled {
        /// Epochs completed (and checkpointed, with a checkpoint directory).
        completed_epochs: usize,
    },
}

/// The result of training.
#[derive(Debug)]
pub struct Trained<B: Backend> {
    /// The weights with the best validation loss (the final weights without
    /// a validation set), ready for scoring.
    pub model: Vae<B>,
    /// The epoch of those weights.
    pub best_epoch: usize,
    /// One report per completed epoch, resumed runs included.
    pub history: Vec<EpochReport>,
    /// Why training ended.
    pub stop: StopReason,
    /// Spectra trained on.
    pub n_train: usize,
    /// Spectra held out for validation.
    pub n_val: usize,
}

/// The parts of a data set a checkpoint checks on resumption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct DataFingerprint {
    n: usize,
    len: usize,
    ids_fnv: u64,
}

impl DataFingerprint {
    fn of(data: &Dataset) -> Self {
        let bytes: Vec<u8> = data.ids.iter().flat_map(|i| i.to_le_bytes()).collect();
        Self {
            n: data.n(),
            len: data.len,
            ids_fnv: checkpoint::fnv1a64(&bytes),
        }
    }
}

/// The exact position of a ChaCha8 stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct RngState {
    seed: [u8; 32],
    stream: u64,
    /// `u128` as a decimal string (JSON numbers stop at 64 bits).
    word_pos: String,
}

impl RngState {
    fn of(rng: &ChaCha8Rng) -> Self {
        Self {
            seed: rng.get_seed(),
            stream: rng.get_stream(),
            word_pos: rng.get_word_pos().to_string(),
        }
    }

    fn restore(&self) -> Option<ChaCha8Rng> {
        let mut rng = ChaCha8Rng::from_seed(self.seed);
        rng.set_stream(self.stream);
        rng.set_word_pos(self.word_pos.parse().ok()?);
        Some(rng)
    }
}

/// The JSON header of a checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CheckpointHeader {
    crate_version: String,
    burn_version: String,
    model: VaeConfig,
    train: TrainConfig,
    data: DataFingerprint,
    epochs_done: usize,
    rng: RngState,
    best_epoch: usize,
    best_val_loss: Option<f64>,
    epochs_since_best: usize,
    stop: Option<StopReason>,
    history: Vec<EpochReport>,
    /// The running mean of the gradient norms (with clipping; `None`
    /// before the first step or without clipping).
    #[serde(default)]
    grad_norm_ema: Option<f64>,
}

/// Mutable state of a run between epochs.
struct State<B: TrainBackend, O> {
    model: Vae<B>,
    optim: O,
    best: Vae<B::InnerBackend>,
    rng: ChaCha8Rng,
    epochs_done: usize,
    best_epoch: usize,
    best_val_loss: Option<f64>,
    epochs_since_best: usize,
    stop: Option<StopReason>,
    history: Vec<EpochReport>,
    grad_norm_ema: Option<f64>,
}

/// Trains a VAE of shape `model_config` on `data`.
///
/// With `checkpoint_dir`, a checkpoint is written there after every epoch,
/// and if one is already there training resumes from it (see the module
/// docs); a finished run's checkpoint returns its result at once. Spectra
/// without any observed pixel are left out (they carry no information).
pub fn train<B: TrainBackend>(
    data: &Dataset,
    model_config: &VaeConfig,
    config: &TrainConfig,
    checkpoint_dir: Option<&Path>,
    observer: &mut dyn TrainObserver,
    device: &B::Device,
) -> Result<Trained<B::InnerBackend>, TrainError> {
    model_config.validate()?;
    crate::ops::alloc::retain_freed_memory();
    check_inputs(data, model_config, config)?;
    let (train_rows, val_rows) = split(data, config);
    if train_rows.is_empty() {
        return Err(TrainError::Input(
            "no spectrum with an observed pixel is left for training".into(),
        ));
    }
    let ckpt_path: Option<PathBuf> = checkpoint_dir.map(|d| d.join(CHECKPOINT_FILE));
    let mut st = match &ckpt_path {
        Some(p) if p.exists() => {
            load_state::<B, _>(p, data, model_config, config, train_optimizer(), device)?
        }
        _ => {
            let model = Vae::<B>::new(model_config, config.seed, device)?;
            let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
            rng.set_stream(2);
            State {
                best: model.valid(),
                model,
                optim: train_optimizer(),
                rng,
                epochs_done: 0,
                best_epoch: 0,
                best_val_loss: None,
                epochs_since_best: 0,
                stop: None,
                history: Vec::new(),
                grad_norm_ema: None,
            }
        }
    };
    if let Some(dir) = checkpoint_dir {
        std::fs::create_dir_all(dir).map_err(|source| CheckpointError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    // Whether the run is over follows from its state and the config asked
    // for now (a resumed run may ask for more epochs or more patience).
    st.stop = stop_reason(&st, !val_rows.is_empty(), config);
    while st.stop.is_none() {
        let train_loss = run_epoch(&mut st, data, &train_rows, config, observer, device)?;
        st.epochs_done += 1;
        let val_loss = (!val_rows.is_empty())
            .then(|| mean_loss(&st.model.valid(), data, &val_rows, config, device));
        let best = match (val_loss, st.best_val_loss) {
            (None, _) => true,
            (Some(_), None) => true,
            (Some(v), Some(b)) => v < b,
        };
        if best {
            st.best = st.model.valid();
            st.best_epoch = st.epochs_done;
            st.best_val_loss = val_loss;
            st.epochs_since_best = 0;
        } else {
            st.epochs_since_best += 1;
        }
        st.stop = stop_reason(&st, val_loss.is_some(), config);
        let report = EpochReport {
            epoch: st.epochs_done,
            train_loss,
            val_loss,
            best,
        };
        st.history.push(report.clone());
        if let Some(p) = &ckpt_path {
            save_state(p, &st, data, model_config, config)?;
        }
        observer.on_epoch(&report);
    }
    Ok(Trained {
        model: st.best,
        best_epoch: st.best_epoch,
        history: st.history,
        stop: st.stop.expect("the loop ends with a stop reason"),
        n_train: train_rows.len(),
        n_val: val_rows.len(),
    })
}

/// Early stopping (with a validation set) or the epoch limit, or neither.
fn stop_reason<B: TrainBackend, O>(
    st: &State<B, O>,
    has_val: bool,
    c: &TrainConfig,
) -> Option<StopReason> {
    if has_val && st.epochs_done > 0 && st.epochs_since_best >= c.patience {
        Some(StopReason::EarlyStopped)
    } else if st.epochs_done >= c.max_epochs {
        Some(StopReason::MaxEpochs)
    } else {
        None
    }
}

fn check_inputs(data: &Dataset, m: &VaeConfig, c: &TrainConfig) -> Result<(), TrainError> {
    let bad = |s: String| Err(TrainError::Input(s));
    if data.len != m.len {
        return bad(format!(
            "the spectra have {} pixels but the model expects {}",
            data.len, m.len
        ));
    }
    if data.flux.len() != data.n() * data.len || data.ivar.len() != data.flux.len() {
        return bad("flux/ivar lengths do not match ids × len".into());
    }
    if c.batch_size == 0 {
        return bad("batch_size must be at least 1".into());
    }
    if !(0.0..1.0).contains(&c.val_fraction) {
        return bad(format!("val_fraction {} is not in [0, 1)", c.val_fraction));
    }
    let lr_ok = c.learning_rate > 0.0 && c.learning_rate.is_finite();
    let beta_ok = c.beta >= 0.0 && c.beta.is_finite();
    if !(lr_ok && beta_ok) {
        return bad("learning_rate must be > 0 and beta >= 0, both finite".into());
    }
    if c.lr_anneal_epochs > 0 && !(c.lr_min >= 0.0 && c.lr_min <= c.learning_rate) {
        return bad(format!(
            "lr_min {} must be in [0, learning_rate {}]",
            c.lr_min, c.learning_rate
        ));
    }
    if c.grad_clip.is_some_and(|g| !(g >= 1.0 && g.is_finite())) {
        return bad("grad_clip must be >= 1 and finite".into());
    }
    Ok(())
}

/// Row indices of the scorable spectra, split by a seeded shuffle (stream 1):
/// the first `round(val_fraction * n)` go to validation.
fn split(data: &Dataset, c: &TrainConfig) -> (Vec<usize>, Vec<usize>) {
    let mut rows: Vec<usize> = (0..data.n())
        .filter(|&i| {
            let (f, v) = data.row(i);
            f.iter().zip(v).any(|(&f, &v)| observed(f, v))
        })
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(c.seed);
    rng.set_stream(1);
    rows.shuffle(&mut rng);
    let n_val = (c.val_fraction * rows.len() as f64).round() as usize;
    let train = rows.split_off(n_val);
    (train, rows)
}

/// One pass over the shuffled training rows; returns the mean loss.
fn run_epoch<B: TrainBackend, O: Optimizer<Vae<B>, B>>(
    st: &mut State<B, O>,
    data: &Dataset,
    train_rows: &[usize],
    c: &TrainConfig,
    observer: &dyn TrainObserver,
    device: &B::Device,
) -> Result<f64, TrainError> {
    let mut order = train_rows.to_vec();
    order.shuffle(&mut st.rng);
    let latent = st.model.config().latent_dim;
    let (mut sum, mut n) = (0.0f64, 0usize);
    let mut model = st.model.clone();
    let n_batches = order.len().div_ceil(c.batch_size);
    for (k, rows) in order.chunks(c.batch_size).enumerate() {
        if observer.cancelled() {
            return Err(TrainError::Cancelled {
                completed_epochs: st.epochs_done,
            });
        }
        let batch = Batch::<B>::from_rows(data, rows, device);
        let eps: Vec<f32> = (0..rows.len() * latent)
            .map(|_| StandardNormal.sample(&mut st.rng))
            .collect();
        let eps = Tensor::from_data(TensorData::new(eps, [rows.len(), latent]), device);
        let loss = model.loss(&batch, Some(eps), c.beta);
        sum += loss.clone().into_scalar().elem::<f64>() * rows.len() as f64;
        n += rows.len();
        let mut grads = GradientsParams::from_grads(loss.backward(), &model);
        if let Some(factor) = c.grad_clip {
            st.grad_norm_ema = Some(clip_gradient(&model, &mut grads, factor, st.grad_norm_ema));
        }
        let lr = c.learning_rate_at(st.epochs_done, k, n_batches);
        model = st.optim.step(lr, model, grads);
    }
    st.model = model;
    Ok(sum / n as f64)
}

/// Clips `grads` at `factor` times the running mean `ema` of the norms
/// (module docs) and returns the updated running mean; the first step
/// only starts it.
fn clip_gradient<B: TrainBackend>(
    model: &Vae<B>,
    grads: &mut GradientsParams,
    factor: f64,
    ema: Option<f64>,
) -> f64 {
    let mut sq = SquaredNorm::<B> {
        grads,
        sum: 0.0,
        _b: std::marker::PhantomData,
    };
    model.visit(&mut sq);
    let norm = sq.sum.sqrt();
    let Some(mean) = ema else { return norm };
    let limit = factor * mean;
    let kept = if norm > limit {
        let mut scale = Scale::<B> {
            grads,
            factor: (limit / norm) as f32,
            _b: std::marker::PhantomData,
        };
        model.visit(&mut scale);
        limit
    } else {
        norm
    };
    mean + GRAD_NORM_EMA_WEIGHT * (kept - mean)
}

/// Sums the squares of every gradient of a module's float weights, in the
/// module's fixed visiting order (so the sum is the same on every run).
struct SquaredNorm<'a, B> {
    grads: &'a GradientsParams,
    sum: f64,
    _b: std::marker::PhantomData<B>,
}

impl<B: TrainBackend> ModuleVisitor<B> for SquaredNorm<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(g) = self.grads.get::<B::InnerBackend, D>(param.id) {
            self.sum += g.square().sum().into_scalar().elem::<f64>();
        }
    }
}

/// Multiplies every gradient of a module's float weights by `factor`.
struct Scale<'a, B> {
    grads: &'a mut GradientsParams,
    factor: f32,
    _b: std::marker::PhantomData<B>,
}

impl<B: TrainBackend> ModuleVisitor<B> for Scale<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(g) = self.grads.remove::<B::InnerBackend, D>(param.id) {
            self.grads.register(param.id, g.mul_scalar(self.factor));
        }
    }
}

/// Mean per-spectrum loss (posterior mean decoded) over `rows`.
fn mean_loss<B: VaeBackend>(
    model: &Vae<B>,
    data: &Dataset,
    rows: &[usize],
    c: &TrainConfig,
    device: &B::Device,
) -> f64 {
    let mut sum = 0.0f64;
    for chunk in rows.chunks(c.batch_size) {
        let batch = Batch::<B>::from_rows(data, chunk, device);
        let (half_chi2, kl) = model.loss_terms(&batch, None);
        let per: Vec<f32> = (half_chi2 + kl * c.beta)
            .into_data()
            .convert::<f32>()
            .to_vec()
            .expect("f32 data");
        sum += per.iter().map(|&v| f64::from(v)).sum::<f64>();
    }
    sum / rows.len() as f64
}

fn save_state<B: TrainBackend, O: Optimizer<Vae<B>, B>>(
    path: &Path,
    st: &State<B, O>,
    data: &Dataset,
    model_config: &VaeConfig,
    config: &TrainConfig,
) -> Result<(), TrainError> {
    let header = CheckpointHeader {
        crate_version: env!("CARGO_PKG_VERSION").to_string(),
        burn_version: checkpoint::BURN_VERSION.to_string(),
        model: model_config.clone(),
        train: config.clone(),
        data: DataFingerprint::of(data),
        epochs_done: st.epochs_done,
        rng: RngState::of(&st.rng),
        best_epoch: st.best_epoch,
        best_val_loss: st.best_val_loss,
        epochs_since_best: st.epochs_since_best,
        stop: st.stop,
        history: st.history.clone(),
        grad_norm_ema: st.grad_norm_ema,
    };
    let model = checkpoint::record_bytes::<B, _>(st.model.clone().into_record());
    let optim = checkpoint::record_bytes::<B, _>(st.optim.to_record());
    let best = checkpoint::record_bytes::<B::InnerBackend, _>(st.best.clone().into_record());
    let bytes = checkpoint::encode(Kind::Checkpoint, &header, &[&model, &optim, &best]);
    checkpoint::write_atomic(path, &bytes)?;
    Ok(())
}

fn load_state<B: TrainBackend, O: Optimizer<Vae<B>, B>>(
    path: &Path,
    data: &Dataset,
    model_config: &VaeConfig,
    config: &TrainConfig,
    optim: O,
    device: &B::Device,
) -> Result<State<B, O>, TrainError> {
    let bytes = checkpoint::read(path)?;
    let (h, blobs): (CheckpointHeader, _) = checkpoint::decode(path, Kind::Checkpoint, &bytes)?;
    checkpoint::check_model_config(path, &h.model, model_config)?;
    let fp = DataFingerprint::of(data);
    checkpoint::mismatch(
        path,
        "training run",
        [
            ("seed", h.train.seed.to_string(), config.seed.to_string()),
            (
                "batch_size",
                h.train.batch_size.to_string(),
                config.batch_size.to_string(),
            ),
            (
                "learning_rate",
                h.train.learning_rate.to_string(),
                config.learning_rate.to_string(),
            ),
            (
                "lr_anneal_epochs",
                h.train.lr_anneal_epochs.to_string(),
                config.lr_anneal_epochs.to_string(),
            ),
            (
                "lr_min",
                h.train.lr_min.to_string(),
                config.lr_min.to_string(),
            ),
            (
                "grad_clip",
                format!("{:?}", h.train.grad_clip),
                format!("{:?}", config.grad_clip),
            ),
            ("beta", h.train.beta.to_string(), config.beta.to_string()),
            (
                "val_fraction",
                h.train.val_fraction.to_string(),
                config.val_fraction.to_string(),
            ),
            ("number of spectra", h.data.n.to_string(), fp.n.to_string()),
            (
                "spectrum ids (FNV-1a)",
                format!("{:016x}", h.data.ids_fnv),
                format!("{:016x}", fp.ids_fnv),
            ),
        ],
    )?;
    let invalid = |why: String| CheckpointError::Invalid {
        path: path.to_path_buf(),
        why,
    };
    let [model_b, optim_b, best_b]: [Vec<u8>; 3] = blobs
        .try_into()
        .map_err(|b: Vec<Vec<u8>>| invalid(format!("{} blobs, a checkpoint has 3", b.len())))?;
    let rng = h
        .rng
        .restore()
        .ok_or_else(|| invalid("unreadable RNG state".into()))?;
    let model = Vae::<B>::new(model_config, 0, device)?;
    let model = model.load_record(checkpoint::record_from::<B, _>(path, model_b, device)?);
    let optim = optim.load_record(checkpoint::record_from::<B, _>(path, optim_b, device)?);
    let best = Vae::<B::InnerBackend>::new(model_config, 0, device)?;
    let best = best.load_record(checkpoint::record_from::<B::InnerBackend, _>(
        path, best_b, device,
    )?);
    Ok(State {
        model,
        optim,
        best,
        rng,
        epochs_done: h.epochs_done,
        best_epoch: h.best_epoch,
        best_val_loss: h.best_val_loss,
        epochs_since_best: h.epochs_since_best,
        stop: h.stop,
        history: h.history,
        grad_norm_ema: h.grad_norm_ema,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{toy::toy_set, CpuBackend, CpuTrainBackend};
    use std::cell::Cell;

    fn small() -> VaeConfig {
        VaeConfig {
            len: 64,
            latent_dim: 3,
            conv_channels: vec![4, 8],
            kernel_size: 5,
            enc_hidden: 16,
            dec_hidden: vec![16],
        }
    }

    fn cfg() -> TrainConfig {
        TrainConfig {
            seed: 42,
            max_epochs: 6,
            batch_size: 16,
            learning_rate: 3e-3,
            // Annealed over 4 of the 6 epochs: the resumption below (after
            // epoch 3) restarts mid-cosine and ends on the floor, with the
            // clipping's running mean read back from the checkpoint.
            lr_anneal_epochs: 4,
            lr_min: 3e-4,
            grad_clip: Some(2.0),
            beta: 1.0,
            val_fraction: 0.2,
            patience: 100,
        }
    }

    fn tmp(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("astrolab-anomaly-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    /// Records reports; cancels once `cancel_after` epochs are done.
    struct Watch {
        reports: Vec<EpochReport>,
        cancel_after: Option<usize>,
        stop: Cell<bool>,
    }

    impl TrainObserver for Watch {
        fn on_epoch(&mut self, r: &EpochReport) {
            self.reports.push(r.clone());
            if Some(r.epoch) == self.cancel_after {
                self.stop.set(true);
            }
        }
        fn cancelled(&self) -> bool {
            self.stop.get()
        }
    }

    fn watch(cancel_after: Option<usize>) -> Watch {
        Watch {
            reports: Vec::new(),
            cancel_after,
            stop: Cell::new(false),
        }
    }

    #[test]
    fn seeded_training_is_bit_reproducible_and_resumable() {
        let (data, _) = toy_set(120, 0, 64, 1);
        let device = Default::default();
        let (dir_a, dir_b) = (tmp("resume-a"), tmp("resume-b"));

        let mut w = watch(None);
        let a = train::<CpuTrainBackend>(&data, &small(), &cfg(), Some(&dir_a), &mut w, &device)
            .unwrap();
        assert_eq!(
            w.reports.iter().map(|r| r.epoch).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5, 6]
        );
        assert_eq!(
            (a.n_train, a.n_val, a.stop),
            (96, 24, StopReason::MaxEpochs)
        );
        // The same bits on every run and thread count (the test runs under
        // RAYON_NUM_THREADS=1 and =2 alike: the CPU backend never spawns).
        let fp = a.model.weights_fingerprint();
        assert_eq!(fp, PINNED_FINGERPRINT, "{fp:#018x}");
        let without_ckpt =
            train::<CpuTrainBackend>(&data, &small(), &cfg(), None, &mut Silent, &device).unwrap();
        assert_eq!(without_ckpt.model.weights(), a.model.weights());

        // Cancelled after epoch 3, then resumed: the same final weights.
        let mut w = watch(Some(3));
        let e = train::<CpuTrainBackend>(&data, &small(), &cfg(), Some(&dir_b), &mut w, &device)
            .unwrap_err();
        assert!(
            matches!(
                e,
                TrainError::Cancelled {
                    completed_epochs: 3
                }
            ),
            "{e}"
        );
        let mut w = watch(None);
        let b = train::<CpuTrainBackend>(&data, &small(), &cfg(), Some(&dir_b), &mut w, &device)
            .unwrap();
        assert_eq!(
            w.reports.iter().map(|r| r.epoch).collect::<Vec<_>>(),
            [4, 5, 6]
        );
        assert_eq!(b.model.weights(), a.model.weights());
        assert_eq!(b.history, a.history);
        assert_eq!(b.best_epoch, a.best_epoch);

        // A finished run's checkpoint returns its result without training.
        let mut w = watch(None);
        let again =
            train::<CpuTrainBackend>(&data, &small(), &cfg(), Some(&dir_b), &mut w, &device)
                .unwrap();
        assert!(w.reports.is_empty());
        assert_eq!(again.model.weights(), a.model.weights());

        // Asking for more epochs continues the finished run from epoch 6.
        let longer = TrainConfig {
            max_epochs: 7,
            ..cfg()
        };
        let mut w = watch(None);
        train::<CpuTrainBackend>(&data, &small(), &longer, Some(&dir_b), &mut w, &device).unwrap();
        assert_eq!(w.reports.iter().map(|r| r.epoch).collect::<Vec<_>>(), [7]);

        // Another model shape, another trajectory or other data: clear errors.
        let other = small().with_latent_dim(4);
        let e = train::<CpuTrainBackend>(&data, &other, &cfg(), Some(&dir_a), &mut Silent, &device)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{}: written for a different model: latent_dim is 3 in the file but 4 here; \
                 use the config the file was written with, or a fresh checkpoint directory",
                dir_a.join(CHECKPOINT_FILE).display()
            )
        );
        let (wide, _) = toy_set(120, 0, 80, 1);
        let wide_cfg = VaeConfig { len: 80, ..small() };
        let e =
            train::<CpuTrainBackend>(&wide, &wide_cfg, &cfg(), Some(&dir_a), &mut Silent, &device)
                .unwrap_err();
        assert!(
            matches!(
                &e,
                TrainError::Checkpoint(CheckpointError::Mismatch { field: "len", .. })
            ),
            "{e}"
        );
        let reseeded = TrainConfig { seed: 43, ..cfg() };
        let e = train::<CpuTrainBackend>(
            &data,
            &small(),
            &reseeded,
            Some(&dir_a),
            &mut Silent,
            &device,
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("seed is 42 in the file but 43 here"),
            "{e}"
        );
        let fewer = data.subset(&(0..100).collect::<Vec<_>>());
        let e =
            train::<CpuTrainBackend>(&fewer, &small(), &cfg(), Some(&dir_a), &mut Silent, &device)
                .unwrap_err();
        assert!(
            e.to_string()
                .contains("number of spectra is 120 in the file but 100"),
            "{e}"
        );
        // A damaged checkpoint is an error, not a crash.
        let p = dir_a.join(CHECKPOINT_FILE);
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
        let e =
            train::<CpuTrainBackend>(&data, &small(), &cfg(), Some(&dir_a), &mut Silent, &device)
                .unwrap_err();
        assert!(e.to_string().contains("checksum mismatch"), "{e}");

        std::fs::remove_dir_all(&dir_a).unwrap();
        std::fs::remove_dir_all(&dir_b).unwrap();
    }

    /// The fingerprint of the weights after 6 epochs of the test above
    /// (x86-64; matrixmultiply picks its AVX2/FMA kernels at run time, so a
    /// CPU without them would give other last bits).
    const PINNED_FINGERPRINT: u64 = 0xc208_a7d5_164e_e31b;

    #[test]
    fn early_stopping_keeps_the_best_weights() {
        let (data, _) = toy_set(80, 0, 64, 2);
        let device = Default::default();
        // A constant, too large step size, unclipped: the validation loss
        // soon stops improving.
        let c = TrainConfig {
            max_epochs: 50,
            learning_rate: 0.05,
            lr_anneal_epochs: 0,
            grad_clip: None,
            patience: 2,
            ..cfg()
        };
        let dir = tmp("early");
        let mut w = watch(None);
        let t = train::<CpuTrainBackend>(&data, &small(), &c, Some(&dir), &mut w, &device).unwrap();
        assert_eq!(t.stop, StopReason::EarlyStopped);
        let epochs = t.history.len();
        assert_eq!((t.best_epoch, epochs), (5, 7));
        let best = t.history[t.best_epoch - 1].val_loss.unwrap();
        assert_eq!(best, 365.6552314758301);
        assert!(t.history.iter().all(|r| r.val_loss.unwrap() >= best));
        assert_eq!(w.reports, t.history);
        // The returned model is the best epoch's: its validation loss is the
        // recorded one.
        let (_, val_rows) = split(&data, &c);
        let v = mean_loss::<CpuBackend>(&t.model, &data, &val_rows, &c, &device);
        assert_eq!(v, best);

        // More patience on the finished run continues it exactly as an
        // uninterrupted run with that patience.
        let patient = TrainConfig { patience: 4, ..c };
        let resumed =
            train::<CpuTrainBackend>(&data, &small(), &patient, Some(&dir), &mut Silent, &device)
                .unwrap();
        let straight =
            train::<CpuTrainBackend>(&data, &small(), &patient, None, &mut Silent, &device)
                .unwrap();
        assert!(resumed.history.len() > 7);
        assert_eq!(resumed.history, straight.history);
        assert_eq!(resumed.model.weights(), straight.model.weights());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_step_size_follows_a_half_cosine_to_its_floor() {
        let c = TrainConfig {
            learning_rate: 1e-3,
            lr_anneal_epochs: 10,
            lr_min: 1e-5,
            ..cfg()
        };
        assert_eq!(c.learning_rate_at(0, 0, 100), 1e-3);
        // Half way (epoch 5 of 10): the mean of the two. A quarter of the
        // way (half of epoch 2 done after 2): cos(pi / 4) = sqrt(1/2).
        let mid = (1e-3 + 1e-5) / 2.0;
        assert!((c.learning_rate_at(5, 0, 100) - mid).abs() < 1e-18);
        let quarter = 1e-5 + 0.5 * (1e-3 - 1e-5) * (1.0 + 0.5f64.sqrt());
        assert!((c.learning_rate_at(2, 50, 100) - quarter).abs() < 1e-18);
        let lrs: Vec<f64> = (0..12).map(|e| c.learning_rate_at(e, 0, 1)).collect();
        assert!(lrs.windows(2).all(|w| w[1] <= w[0]), "{lrs:?}");
        assert_eq!((lrs[10], lrs[11]), (1e-5, 1e-5));
        let constant = TrainConfig {
            lr_anneal_epochs: 0,
            ..c
        };
        assert_eq!(constant.learning_rate_at(7, 3, 9), 1e-3);
    }

    #[test]
    fn clipped_training_is_reproducible_and_checked_on_resumption() {
        let (data, _) = toy_set(60, 0, 64, 4);
        let device = Default::default();
        // Clipped at the running mean itself: every step above it is cut.
        // Batches of 4, so the norms scatter from step to step (with a few
        // large batches they only fall, and nothing is clipped).
        let clipped = TrainConfig {
            max_epochs: 2,
            batch_size: 4,
            grad_clip: Some(1.0),
            ..cfg()
        };
        let run = |c: &TrainConfig, dir: Option<&Path>| {
            train::<CpuTrainBackend>(&data, &small(), c, dir, &mut Silent, &device)
        };
        let a = run(&clipped, None).unwrap();
        assert_eq!(
            a.model.weights(),
            run(&clipped, None).unwrap().model.weights()
        );
        let plain = TrainConfig {
            grad_clip: None,
            ..clipped.clone()
        };
        assert_ne!(
            a.model.weights(),
            run(&plain, None).unwrap().model.weights()
        );
        let dir = tmp("clip");
        run(&clipped, Some(&dir)).unwrap();
        let e = run(&plain, Some(&dir)).unwrap_err();
        assert!(
            e.to_string()
                .contains("grad_clip is Some(1.0) in the file but None here"),
            "{e}"
        );
        let e = run(
            &TrainConfig {
                lr_anneal_epochs: 5,
                ..clipped.clone()
            },
            Some(&dir),
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("lr_anneal_epochs is 4 in the file but 5 here"),
            "{e}"
        );
        let e = run(
            &TrainConfig {
                grad_clip: Some(0.5),
                ..clipped
            },
            None,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot train: grad_clip must be >= 1 and finite"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn hooks_forward_progress_and_cancel() {
        let (data, _) = toy_set(40, 0, 64, 5);
        let device = Default::default();
        let c = TrainConfig {
            max_epochs: 2,
            ..cfg()
        };
        let mut seen = Vec::new();
        let flag = AtomicBool::new(false);
        let mut hooks = Hooks {
            on_epoch: |r: &EpochReport| seen.push(r.epoch),
            cancel: Some(&flag),
        };
        train::<CpuTrainBackend>(&data, &small(), &c, None, &mut hooks, &device).unwrap();
        assert_eq!(seen, [1, 2]);
        flag.store(true, Ordering::Relaxed);
        let mut hooks = Hooks {
            on_epoch: |_: &EpochReport| {},
            cancel: Some(&flag),
        };
        let e =
            train::<CpuTrainBackend>(&data, &small(), &c, None, &mut hooks, &device).unwrap_err();
        assert_eq!(e.to_string(), "training cancelled after 0 completed epochs");
    }

    #[test]
    fn bad_inputs_are_refused() {
        let (data, _) = toy_set(10, 0, 64, 3);
        let device = Default::default();
        let e = train::<CpuTrainBackend>(
            &data,
            &VaeConfig { len: 65, ..small() },
            &cfg(),
            None,
            &mut Silent,
            &device,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot train: the spectra have 64 pixels but the model expects 65"
        );
        let mut empty = Dataset::new(64);
        empty.push(1, &[0.0; 64], &[0.0; 64]);
        let e = train::<CpuTrainBackend>(&empty, &small(), &cfg(), None, &mut Silent, &device)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot train: no spectrum with an observed pixel is left for training"
        );
    }
}
