//! Anomalous quasars (issue 17): a pure crate, arrays in and arrays out.
//! It knows nothing of files, databases or servers; the pipeline layer
//! (`astrolab-pipeline`) reads spectra from the store, calls in here and
//! writes the results.
//!
//! Modules are added by topic: rest-frame preprocessing, the synthetic
//! labelled benchmark set, the variational autoencoder (burn), the
//! Isolation Forest on its latents, and score calibration.
pub mod calibrate;
pub mod checkpoint;
pub mod dataset;
pub mod iforest;
pub mod knn;
pub mod model;
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
