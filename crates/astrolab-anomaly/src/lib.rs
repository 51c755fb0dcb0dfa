//! Anomalous quasars (issue 17): a pure crate, arrays in and arrays out.
//! It knows nothing of files, databases or servers; the pipeline layer
//! (`astrolab-pipeline`) reads spectra from the store, calls in here and
//! writes the results.
//!
//! Modules are added by topic: rest-frame preprocessing, the synthetic
//! labelled benchmark set, the variational autoencoder (burn), the
//! Isolation Forest on its latents, and score calibration.
pub mod dataset;
pub mod preprocess;
