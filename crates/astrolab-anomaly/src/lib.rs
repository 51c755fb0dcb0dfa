//! Anomalous quasars (issue 17): a pure crate, arrays in and arrays out.
//! It knows nothing of files, databases or servers; the pipeline layer
//! (`astrolab-pipeline`) reads spectra from the store, calls in here and
//! writes the results.
//!
//! Modules are added by topic: rest-frame preprocessing, the synthetic
//! labelled benchmark set, the variational autoencoder (burn), the
//! Isolation Forest on its latents, and score calibration.
//!
//! The model side, in the order a run uses it:
//! [`train::train`] fits a [`model::Vae`] (Kingma & Welling 2014) on a
//! [`dataset::Dataset`], with checkpoints and resumption;
//! [`score::score`] gives each spectrum its reconstruction reduced
//! chi-square and latent mean (or marks it unscorable);
//! [`iforest::IsolationForest`] (Liu, Ting & Zhou 2008) scores the latents;
//! [`calibrate::Calibration`] combines both into the ANOMALY_SCORE and its
//! threshold at a false-positive rate, and [`calibrate::roc_auc`] and
//! friends judge it. [`checkpoint::save_model`] / [`checkpoint::load_model`]
//! keep a trained model. Everything is generic over the burn backend:
//! [`CpuTrainBackend`] here and in CI, `CudaTrainBackend` with the `cuda`
//! feature.
//!
//! ```
//! use astrolab_anomaly::calibrate::Calibration;
//! use astrolab_anomaly::dataset::Dataset;
//! use astrolab_anomaly::iforest::{IForestConfig, IsolationForest};
//! use astrolab_anomaly::model::VaeConfig;
//! use astrolab_anomaly::score::score;
//! use astrolab_anomaly::train::{train, Silent, TrainConfig};
//! use astrolab_anomaly::{CpuBackend, CpuTrainBackend};
//!
//! // 40 spectra of 32 pixels (a real run: DESI quasars on the rest-frame grid).
//! let mut data = Dataset::new(32);
//! for i in 0..40 {
//!     let flux: Vec<f32> = (0..32).map(|j| 1.0 + ((i * j) % 7) as f32 * 0.01).collect();
//!     data.push(i, &flux, &[100.0; 32]);
//! }
//! let device = Default::default();
//! let model_config = VaeConfig::new(32).with_latent_dim(4);
//! let config = TrainConfig { max_epochs: 2, ..TrainConfig::default() };
//! let trained =
//!     train::<CpuTrainBackend>(&data, &model_config, &config, None, &mut Silent, &device)?;
//! let scores = score::<CpuBackend>(&trained.model, &data, 256, &device)?;
//! let forest =
//!     IsolationForest::fit(&scores.latent_mean, scores.latent_dim, &IForestConfig::default())?;
//! let iso = forest.score_all(&scores.latent_mean)?;
//! let chi2 = scores.scorable_chi2();
//! // Ranks and threshold come from held-out normal spectra (two disjoint
//! // sets); halves of the same toy set here, for brevity.
//! let cal = Calibration::fit(&chi2[..20], &iso[..20], &chi2[20..], &iso[20..], 0.05)?;
//! let anomaly_score = cal.score_all(&chi2, &iso);
//! let flagged: Vec<i64> = (0..chi2.len())
//!     .filter(|&k| cal.is_anomalous(anomaly_score[k]))
//!     .map(|k| data.ids[scores.scorable[k]])
//!     .collect();
//! # let _ = flagged;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
pub mod calibrate;
pub mod checkpoint;
pub mod dataset;
pub mod iforest;
pub mod knn;
pub mod model;
pub mod ops;
pub mod preprocess;
pub mod score;
pub mod train;

#[cfg(test)]
pub(crate) mod toy;

/// The CPU backend: burn's pure-Rust ndarray backend, single-threaded (see
/// the crate's `Cargo.toml`), so results are bit-identical run to run.
pub type CpuBackend = burn::backend::NdArray<f32>;

/// [`CpuBackend`] with automatic differentiation, for training.
pub type CpuTrainBackend = burn::backend::Autodiff<CpuBackend>;

/// burn's CUDA backend (feature `cuda`; never built by CI).
#[cfg(feature = "cuda")]
pub type CudaBackend = burn::backend::Cuda<f32>;

/// [`CudaBackend`] with automatic differentiation, for training on a GPU.
#[cfg(feature = "cuda")]
pub type CudaTrainBackend = burn::backend::Autodiff<CudaBackend>;

/// Compile-time check that the CUDA types are training and scoring backends.
#[cfg(feature = "cuda")]
const _: () = {
    fn backends<
        T: burn::tensor::backend::AutodiffBackend<InnerBackend = I>,
        I: burn::tensor::backend::Backend,
    >() {
    }
    let _ = backends::<CudaTrainBackend, CudaBackend>;
    let _ = train::train::<CudaTrainBackend>;
    let _ = score::score::<CudaBackend>;
};
