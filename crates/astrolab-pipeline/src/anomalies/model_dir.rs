//! A trained model on disk: one directory holding the weights
//! (`model.bin`), the Isolation Forest on the training latents
//! (`iforest.json`) and the model card (`model.json`: architecture, grid,
//! training settings and history, calibration, counts); while training
//! runs, also its checkpoint (`checkpoint/`, from which an interrupted
//! training resumes; removed once the model is complete).
//! Every file is written atomically; the card is written last, so a
//! directory with a card is a complete model.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use astrolab_anomaly::calibrate::Calibration;
use astrolab_anomaly::iforest::{IForestConfig, IsolationForest};
use astrolab_anomaly::model::{Vae, VaeConfig};
use astrolab_anomaly::train::{EpochReport, StopReason, TrainConfig};
use astrolab_anomaly::CpuBackend;
use serde::{Deserialize, Serialize};

/// What `model.json` says: everything needed to score with the model and
/// to judge how it was made. No clock times, so the same inputs and seed
/// give the same bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    /// `vae-` and 16 hex digits of a SHA-256 over the weights' SHA-256,
    /// the forest and the calibration (`train::model_id_of`): everything
    /// scoring uses.
    pub model_id: String,
    /// SHA-256 of `model.bin`.
    pub weights_sha256: String,
    /// The network.
    pub vae: VaeConfig,
    /// How it was trained.
    pub train: TrainConfig,
    /// The forest on the training latents.
    pub iforest: IForestConfig,
    /// The rest-frame grid: log10 of the first pixel's wavelength (A).
    pub grid_loglam0: f64,
    /// The grid's log10 step.
    pub grid_dloglam: f64,
    /// Redshift range the model accepts.
    pub z_range: [f64; 2],
    /// The `--select` the spectra were chosen by.
    pub select: String,
    /// Spectra: selected, without a spectrum in the store, skipped (by
    /// reason), trained on, held out for early stopping, held out for the
    /// score ranks, held out for the threshold.
    pub counts: BTreeMap<String, usize>,
    /// Ranks, threshold and false-positive rates.
    pub calibration: Calibration,
    /// One report per epoch.
    pub history: Vec<EpochReport>,
    /// The epoch whose weights were kept.
    pub best_epoch: usize,
    /// Why training stopped.
    pub stop: StopReason,
    /// Raw files of the training spectra.
    pub training_file_ids: Vec<i64>,
    /// Spectrum files outside the store trained on too (`--with-files`),
    /// as given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub training_files: Vec<String>,
}

/// A model directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelDir(pub PathBuf);

impl ModelDir {
    /// The weights.
    pub fn weights(&self) -> PathBuf {
        self.0.join("model.bin")
    }
    /// The forest.
    pub fn forest(&self) -> PathBuf {
        self.0.join("iforest.json")
    }
    /// The card.
    pub fn card(&self) -> PathBuf {
        self.0.join("model.json")
    }
    /// The training checkpoint's directory.
    pub fn checkpoint(&self) -> PathBuf {
        self.0.join("checkpoint")
    }

    /// Reads the card, the forest and the weights, checking the weights
    /// against the card's checksum and shape.
    pub fn load(&self) -> Result<(ModelCard, IsolationForest, Vae<CpuBackend>)> {
        let card: ModelCard = read_json(&self.card())?;
        let forest: IsolationForest = read_json(&self.forest())?;
        let sha = crate::hash::sha256_file(&self.weights())
            .with_context(|| format!("reading {}", self.weights().display()))?
            .1;
        if sha != card.weights_sha256 {
            bail!(
                "{} does not match its card {} (SHA-256 {sha}, the card says {}): the model directory was changed; train again",
                self.weights().display(),
                self.card().display(),
                card.weights_sha256
            );
        }
        let vae = astrolab_anomaly::checkpoint::load_model::<CpuBackend>(
            &self.weights(),
            Some(&card.vae),
            &Default::default(),
        )?;
        if forest.dim() != card.vae.latent_dim {
            bail!(
                "{}: a forest of {}-D points for a {}-D latent space",
                self.forest().display(),
                forest.dim(),
                card.vae.latent_dim
            );
        }
        Ok((card, forest, vae))
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read(path)
        .with_context(|| format!("reading {} (a model directory's file)", path.display()))?;
    serde_json::from_slice(&text)
        .with_context(|| format!("{} is not a model file of this version", path.display()))
}

/// Writes `value` as pretty JSON with a final newline, atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut text = serde_json::to_vec_pretty(value)?;
    text.push(b'\n');
    crate::output::write_file(path, &text)
}
