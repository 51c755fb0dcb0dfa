//! `anomalies train`: the store's selected quasars -> rest-frame grid ->
//! a VAE (resumable, early-stopped) -> an Isolation Forest on the training
//! latents -> score ranks and a threshold from two held-out sets of
//! spectra the model never saw -> a model directory and a registry entry.
//!
//! Splits, all seeded by `--seed`: the selected spectra (a seeded sample
//! of `--max-spectra` when given) are read in TARGETID order; a seeded
//! permutation puts `--calibration-fraction` of them aside, half for the
//! reference ranks of the two detectors and half for the threshold at
//! `--fpr` (astrolab_anomaly::calibrate); the VAE's own validation split
//! for early stopping is taken from the rest. The held-out spectra are the
//! catalog's own, so its real rarities are among them: the threshold is a
//! false-positive rate over the population, as a catalog user meets it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{anyhow, Context};
use astrolab_anomaly::calibrate::{Calibration, Channels};
use astrolab_anomaly::dataset::Dataset;
use astrolab_anomaly::iforest::{IForestConfig, IsolationForest};
use astrolab_anomaly::model::VaeConfig;
use astrolab_anomaly::preprocess::{Preprocessor, REST_DLOGLAM, REST_LOGLAM0, REST_NPIX};
use astrolab_anomaly::score::NoiseModel;
use astrolab_anomaly::train::{train, EpochReport, TrainConfig, TrainError, TrainObserver};
use astrolab_anomaly::{CpuBackend, CpuTrainBackend};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::model_dir::{write_json, ModelCard, ModelDir};
use super::read::read_rest_frame;
use crate::context::Ctx;
use crate::error::{PipelineError, UsageError};
use crate::params::defs::AnomaliesTrainArgs;
use crate::pipeline::SinglePipeline;

/// Window of the local statistic, grid pixels (5 x 5e-4 dex: about
/// 3,500 km/s, a narrow absorber or a line peak).
const LOCAL_WINDOW: usize = 5;
/// Highest Legendre order of the broad statistic
/// (astrolab_anomaly::score): order 4 separated the benchmark's rarities
/// better than 3 on both its sets (AUC 0.933 and 0.924 against 0.931
/// and 0.921; bench/RESULTS.md, 2026-12-06).
const BROAD_ORDER: usize = 4;

/// TARGETIDs per read shard.
const READ_SHARD: usize = 5000;
/// Spectra per inference batch when scoring the held-out sets.
const SCORE_BATCH: usize = 256;

/// The `anomalies-train` pipeline.
#[derive(Debug, Default, Clone, Copy)]
pub struct AnomaliesTrain;

/// What training made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainOutput {
    /// The model's id.
    pub model_id: String,
    /// The model directory.
    pub model_dir: PathBuf,
    /// Counts (see [`ModelCard::counts`]).
    pub counts: BTreeMap<String, usize>,
    /// Epochs run, and the one kept.
    pub epochs: usize,
    /// The epoch whose weights were kept.
    pub best_epoch: usize,
    /// The threshold on ANOMALY_SCORE.
    pub threshold: f64,
    /// The false-positive rate asked for, and the one reached on the
    /// threshold's held-out spectra.
    pub target_fpr: f64,
    /// Measured on the threshold's held-out spectra.
    pub calibration_fpr: f64,
    /// Whether the model was registered in the store.
    pub registered: bool,
}

fn usage(msg: String) -> PipelineError {
    PipelineError::Failed(anyhow::Error::new(UsageError(msg)))
}

struct Observer<'a> {
    ctx: &'a Ctx,
    max_epochs: usize,
}

impl TrainObserver for Observer<'_> {
    fn on_epoch(&mut self, r: &EpochReport) {
        self.ctx.info(format!(
            "epoch {:>3}: train loss {:.4}{}{}",
            r.epoch,
            r.train_loss,
            r.val_loss
                .map(|v| format!(", validation loss {v:.4}"))
                .unwrap_or_default(),
            if r.best { " (best)" } else { "" }
        ));
        self.ctx
            .progress("training", r.epoch as u64, self.max_epochs as u64);
    }
    fn cancelled(&self) -> bool {
        self.ctx.cancel.is_cancelled()
    }
}

impl SinglePipeline for AnomaliesTrain {
    type Params = AnomaliesTrainArgs;
    type Output = TrainOutput;

    fn run(&self, ctx: &Ctx, a: &AnomaliesTrainArgs) -> Result<TrainOutput, PipelineError> {
        if !(a.calibration_fraction > 0.0 && a.calibration_fraction < 1.0) {
            return Err(usage(format!(
                "--calibration-fraction {} must be in (0, 1)",
                a.calibration_fraction
            )));
        }
        if !(a.fpr > 0.0 && a.fpr < 0.5) {
            return Err(usage(format!("--fpr {} must be in (0, 0.5)", a.fpr)));
        }
        let mut store = ctx.open_store()?;
        let mut ids = store
            .select_target_ids(&a.select, &[])
            .map_err(|e| PipelineError::Store(format!("--select {:?}", a.select), Box::new(e)))?;
        let n_selected = ids.len();
        if let Some(max) = a.max_spectra {
            if ids.len() > max {
                ids.shuffle(&mut ChaCha8Rng::seed_from_u64(a.seed ^ 0x5a4d_504c));
                ids.truncate(max);
                ids.sort_unstable();
            }
        }
        if ids.is_empty() && a.with_files.is_empty() {
            return Err(usage(format!(
                "no target of the store's redshift catalogs matches --select {:?}: ingest the redrock files and `astrolab spectra build` the coadds first",
                a.select
            )));
        }
        // Read and rest-frame the spectra, shard by shard.
        let pre = Preprocessor::default();
        let mut data = Dataset::new(REST_NPIX);
        let mut file_ids: Vec<Option<i64>> = Vec::new();
        let mut skips: BTreeMap<String, usize> = BTreeMap::new();
        let mut missing = 0;
        let mut file_skips: BTreeMap<String, usize> = BTreeMap::new();
        let mut file_counts: Option<(usize, usize, usize)> = None;
        let n_shards = ids.len().div_ceil(READ_SHARD);
        for (k, shard) in ids.chunks(READ_SHARD).enumerate() {
            ctx.check_cancelled()?;
            let s = read_rest_frame(&mut store, shard, &pre)?;
            missing += s.missing;
            for (_, _, why) in &s.skipped {
                *skips.entry(why.clone()).or_default() += 1;
            }
            for i in 0..s.dataset.n() {
                let (f, v) = s.dataset.row(i);
                data.push(s.dataset.ids[i], f, v);
            }
            file_ids.extend(s.file_ids);
            ctx.progress("reading spectra", (k + 1) as u64, n_shards as u64);
        }
        // Spectrum files beside the store's (real spectra the store does
        // not hold): their quasars only, on the same grid. Their rows get
        // negative ids, never a TARGETID of the store.
        let mut files_used: Vec<String> = Vec::new();
        if !a.with_files.is_empty() {
            let files = super::files::list_spectrum_files(&a.with_files)?;
            let redshifts = super::files::read_redshift_tables(&a.redshifts)?;
            let set = super::files::read_file_spectra(&files, &redshifts, [pre.z_min, pre.z_max])?;
            let (mut kept, mut not_qso) = (0usize, 0usize);
            for i in 0..set.dataset.n() {
                let k = set.dataset.ids[i] as usize;
                if set.spectra[k].class.as_deref() != Some("QSO") {
                    not_qso += 1;
                    continue;
                }
                let (f, v) = set.dataset.row(i);
                data.push(-(k as i64) - 1, f, v);
                file_ids.push(None);
                kept += 1;
            }
            for (_, why) in &set.skipped {
                *file_skips.entry(why.clone()).or_default() += 1;
            }
            files_used = files.iter().map(|p| p.display().to_string()).collect();
            ctx.info(format!(
                "{kept} quasar spectra from {} files beside the store's ({not_qso} not classed QSO left out, {} not on the grid{})",
                files.len(),
                set.skipped.len(),
                if file_skips.is_empty() { String::new() } else { format!(": {file_skips:?}") }
            ));
            file_counts = Some((set.spectra.len(), kept, not_qso));
        }
        let n = data.n();
        if n == 0 {
            return Err(usage(format!(
                "no spectrum to train on: --select {:?} matches no quasar spectrum of the store{}",
                a.select,
                if a.with_files.is_empty() {
                    ""
                } else {
                    " and --with-files holds no scorable quasar"
                }
            )));
        }
        ctx.info(format!(
            "{n} spectra on the rest-frame grid ({n_selected} selected, {missing} without a spectrum in the store, {} skipped{})",
            skips.values().sum::<usize>(),
            if skips.is_empty() { String::new() } else { format!(": {skips:?}") }
        ));
        // Held-out sets for the ranks and the threshold.
        let mut perm: Vec<usize> = (0..n).collect();
        perm.shuffle(&mut ChaCha8Rng::seed_from_u64(a.seed ^ 0xca11_b8a7));
        let n_cal = ((n as f64) * a.calibration_fraction).round() as usize;
        let n_ref = n_cal / 2;
        if n_ref < 20 || n_cal - n_ref < 20 || n - n_cal < 20 {
            return Err(usage(format!(
                "{n} usable spectra are too few: the ranks and the threshold each need at least 20 held-out spectra and training at least 20 (raise --calibration-fraction or select more spectra)"
            )));
        }
        let mut ref_rows = perm[..n_ref].to_vec();
        let mut cal_rows = perm[n_ref..n_cal].to_vec();
        let mut train_rows = perm[n_cal..].to_vec();
        for v in [&mut ref_rows, &mut cal_rows, &mut train_rows] {
            v.sort_unstable();
        }
        let train_set = data.subset(&train_rows);
        let ref_set = data.subset(&ref_rows);
        let cal_set = data.subset(&cal_rows);
        drop(data);

        // The VAE (resumes from the directory's checkpoint).
        let dir = ModelDir(a.output.clone());
        std::fs::create_dir_all(dir.checkpoint())
            .with_context(|| format!("creating {}", dir.checkpoint().display()))?;
        let vae_cfg = VaeConfig::new(REST_NPIX).with_latent_dim(a.latent);
        let train_cfg = TrainConfig {
            seed: a.seed,
            max_epochs: a.max_epochs,
            batch_size: a.batch_size,
            learning_rate: a.learning_rate,
            lr_anneal_epochs: a.lr_anneal_epochs,
            lr_min: a.lr_min,
            grad_clip: (a.grad_clip != 0.0).then_some(a.grad_clip),
            beta: a.beta,
            val_fraction: a.val_fraction,
            patience: a.patience,
        };
        let mut obs = Observer {
            ctx,
            max_epochs: a.max_epochs,
        };
        let trained = ctx.with_threads(|| {
            train::<CpuTrainBackend>(
                &train_set,
                &vae_cfg,
                &train_cfg,
                Some(&dir.checkpoint()),
                &mut obs,
                &Default::default(),
            )
        })?;
        let trained = match trained {
            Ok(t) => t,
            Err(TrainError::Cancelled { .. }) => return Err(PipelineError::Cancelled),
            Err(e @ TrainError::Checkpoint(_)) => {
                return Err(usage(format!(
                    "{e} (the directory {} holds the training of another model or data: use a new --output)",
                    dir.0.display()
                )))
            }
            Err(e) => return Err(PipelineError::Failed(anyhow!(e))),
        };
        astrolab_anomaly::checkpoint::save_model(&dir.weights(), &trained.model)
            .map_err(|e| anyhow!(e))?;
        let weights_sha256 = crate::hash::sha256_file(&dir.weights())
            .with_context(|| format!("reading {}", dir.weights().display()))?
            .1;

        // The forest on the training latents; ranks and threshold on the
        // held-out sets.
        let device = Default::default();
        // The model's own error beyond the noise, per pixel, measured on
        // the training spectra (score module docs).
        // The local and broad statistics under the per-pixel error, the
        // chi-square under the uniform one, combined by Fisher's method
        // (astrolab_anomaly::calibrate). The local statistic under the
        // uniform 7 % did better on the 20k benchmark (AUC 0.941 against
        // 0.933) and far worse on quickstart's small, briefly trained model
        // (0.79 against 0.87), whose errors are far from uniform.
        let noise = NoiseModel {
            local_floor: false,
            broad_order: Some(BROAD_ORDER),
            ..NoiseModel::estimate::<CpuBackend>(
                &trained.model,
                &train_set,
                SCORE_BATCH,
                &device,
                a.model_error,
                LOCAL_WINDOW,
            )
        };
        let score = |d: &Dataset| {
            astrolab_anomaly::score::score_with::<CpuBackend>(
                &trained.model,
                d,
                SCORE_BATCH,
                &device,
                &noise,
            )
            .map_err(|e| anyhow!(e))
        };
        let train_scores = score(&train_set)?;
        let forest_cfg = IForestConfig {
            seed: a.seed,
            ..IForestConfig::default()
        };
        let forest = IsolationForest::fit(&train_scores.latent_mean, a.latent, &forest_cfg)
            .map_err(|e| anyhow!(e))?;
        type Held = (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>);
        let held = |d: &Dataset| -> anyhow::Result<Held> {
            let s = score(d)?;
            let iso = forest.score_all(&s.latent_mean).map_err(|e| anyhow!(e))?;
            let broad = s
                .scorable_broad()
                .context("the noise model computes the broad statistic")?;
            Ok((s.scorable_chi2(), s.scorable_local(), broad, iso))
        };
        let (ref_chi2, ref_local, ref_broad, ref_iso) = held(&ref_set)?;
        let (cal_chi2, cal_local, cal_broad, cal_iso) = held(&cal_set)?;
        let channels = |chi2, local, broad, iforest| Channels {
            chi2,
            local,
            broad,
            iforest,
        };
        let calibration = Calibration::fit_fisher(
            channels(&ref_chi2, &ref_local, &ref_broad, &ref_iso),
            channels(&cal_chi2, &cal_local, &cal_broad, &cal_iso),
            a.fpr,
            noise.clone(),
        )
        .map_err(|e| anyhow!(e))?;
        let [trim_ref, trim_cal] = calibration.trimmed.unwrap_or([0, 0]);
        ctx.info(format!(
            "threshold {:.6} on ANOMALY_SCORE: {:.2} % of {} held-out spectra above it (asked {:.2} %); gross outliers left out of the ranks and the threshold: {trim_ref} of {} and {trim_cal} of {}",
            calibration.threshold,
            100.0 * calibration.calibration_fpr,
            cal_chi2.len() - trim_cal,
            100.0 * a.fpr,
            ref_chi2.len(),
            cal_chi2.len(),
        ));

        // The id names everything scoring uses: the weights, the forest and
        // the calibration (ranks, threshold, noise model). The same data and
        // seed give the same id; the same weights calibrated otherwise (say
        // another --fpr or --model-error) give another.
        let model_id = model_id_of(&weights_sha256, &forest, &calibration)?;
        let mut training_file_ids: Vec<i64> =
            train_rows.iter().filter_map(|&r| file_ids[r]).collect();
        training_file_ids.sort_unstable();
        training_file_ids.dedup();
        let mut counts = BTreeMap::new();
        counts.insert("selected".to_string(), n_selected);
        counts.insert("read".to_string(), ids.len());
        counts.insert("without_spectrum".to_string(), missing);
        for (k, v) in &skips {
            counts.insert(format!("skipped_{k}"), *v);
        }
        if let Some((read, kept, not_qso)) = file_counts {
            counts.insert("files_spectra".to_string(), read);
            counts.insert("files_quasars".to_string(), kept);
            counts.insert("files_not_qso".to_string(), not_qso);
            for (k, v) in &file_skips {
                counts.insert(format!("files_skipped_{k}"), *v);
            }
        }
        counts.insert("trained".to_string(), trained.n_train);
        counts.insert("validation".to_string(), trained.n_val);
        counts.insert("reference".to_string(), ref_set.n());
        counts.insert("threshold".to_string(), cal_set.n());
        let card = ModelCard {
            model_id: model_id.clone(),
            weights_sha256: weights_sha256.clone(),
            vae: vae_cfg,
            train: train_cfg,
            iforest: forest_cfg,
            grid_loglam0: REST_LOGLAM0,
            grid_dloglam: REST_DLOGLAM,
            z_range: [pre.z_min, pre.z_max],
            select: a.select.clone(),
            counts: counts.clone(),
            calibration: calibration.clone(),
            history: trained.history.clone(),
            best_epoch: trained.best_epoch,
            stop: trained.stop,
            training_file_ids: training_file_ids.clone(),
            training_files: files_used,
        };
        write_json(&dir.forest(), &forest)?;
        write_json(&dir.card(), &card)?;
        // The checkpoint served an interrupted training; a finished model
        // does not need it, and its optimiser state is stored in an order
        // that varies between processes (burn keeps it in a hash map), so
        // it would be the one output that does not reproduce byte for byte.
        std::fs::remove_dir_all(dir.checkpoint())
            .with_context(|| format!("removing {}", dir.checkpoint().display()))?;

        let mut registered = false;
        if !a.no_register {
            registered = register(&mut store, &dir, &card)?;
        }
        ctx.info(format!(
            "model {model_id} in {} ({} epochs, best {}){}",
            dir.0.display(),
            trained.history.len(),
            trained.best_epoch,
            if registered { ", registered" } else { "" }
        ));
        Ok(TrainOutput {
            model_id,
            model_dir: dir.0.clone(),
            counts,
            epochs: trained.history.len(),
            best_epoch: trained.best_epoch,
            threshold: calibration.threshold,
            target_fpr: calibration.target_fpr,
            calibration_fpr: calibration.calibration_fpr,
            registered,
        })
    }
}

/// `vae-` and the first 16 hex digits of the SHA-256 of the weights'
/// SHA-256, the forest's JSON and the calibration's JSON, one per line.
fn model_id_of(
    weights_sha256: &str,
    forest: &IsolationForest,
    calibration: &Calibration,
) -> Result<String, PipelineError> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(weights_sha256.as_bytes());
    h.update(b"\n");
    h.update(serde_json::to_vec(forest).map_err(|e| anyhow!(e))?);
    h.update(b"\n");
    h.update(serde_json::to_vec(calibration).map_err(|e| anyhow!(e))?);
    Ok(format!("vae-{}", &hex::encode(h.finalize())[..16]))
}

/// Registers the model (its directory's absolute path in the config, so
/// `anomalies score` finds it); a model already registered with the same
/// weights is left as it is.
pub(crate) fn register(
    store: &mut astrolab_store::Store,
    dir: &ModelDir,
    card: &ModelCard,
) -> Result<bool, PipelineError> {
    let err = |e| PipelineError::Store("registering the model".into(), Box::new(e));
    if let Ok(m) = store.anomaly_model(&card.model_id) {
        if m.model_id == card.model_id && m.weights_sha256 == card.weights_sha256 {
            return Ok(true);
        }
    }
    let path = std::path::absolute(&dir.0).unwrap_or_else(|_| dir.0.clone());
    let mut config = serde_json::to_value(card).map_err(|e| anyhow!(e))?;
    if let Some(o) = config.as_object_mut() {
        o.remove("calibration");
        o.insert("model_dir".into(), path.display().to_string().into());
    }
    let m = astrolab_store::AnomalyModel {
        model_id: card.model_id.clone(),
        created_at: astrolab_store::now_rfc3339(),
        latent_dim: card.vae.latent_dim as i64,
        weights_sha256: card.weights_sha256.clone(),
        config,
        calibration: serde_json::json!({
            "threshold": card.calibration.threshold,
            "target_fpr": card.calibration.target_fpr,
            "calibration_fpr": card.calibration.calibration_fpr,
            "n_reference": card.counts.get("reference"),
            "n_threshold": card.counts.get("threshold"),
        }),
        manifest: None,
        training_file_ids: card.training_file_ids.clone(),
    };
    store.register_anomaly_model(&m).map_err(err)?;
    Ok(true)
}
