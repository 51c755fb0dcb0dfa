//! `anomalies score`: every selected quasar through a registered model, in
//! shards of `--shard-size` TARGETIDs (read, rest-framed, encoded and
//! scored together, then dropped, so memory follows the shard): the
//! reconstruction's reduced chi-square, the latent mean, the Isolation
//! Forest score, the combined ANOMALY_SCORE and whether it is above the
//! model's threshold. Ranked over all scored spectra (1 = most anomalous,
//! ties by TARGETID), written as a CSV catalog and into the store's
//! `quasar_anomalies`; spectra that cannot be scored are counted by
//! reason (and kept in `anomaly_skips`), never given a score.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::anyhow;
use astrolab_anomaly::preprocess::Preprocessor;
use astrolab_anomaly::CpuBackend;
use astrolab_store::{AnomalyScore, AnomalySkip, Progress};
use serde::{Deserialize, Serialize};

use super::model_dir::ModelDir;
use super::read::read_rest_frame_threads;
use crate::context::Ctx;
use crate::error::{PipelineError, UsageError};
use crate::params::defs::AnomaliesScoreArgs;
use crate::pipeline::Pipeline;

/// Spectra per inference batch.
const SCORE_BATCH: usize = 256;

/// The `anomalies-score` pipeline.
#[derive(Debug, Default, Clone, Copy)]
pub struct AnomaliesScore;

/// What scoring made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreOutput {
    /// The model.
    pub model_id: String,
    /// Spectra scored.
    pub scored: usize,
    /// Spectra not scored, by reason.
    pub skipped: BTreeMap<String, usize>,
    /// Selected targets without a spectrum in the store.
    pub without_spectrum: usize,
    /// Scored spectra above the model's threshold.
    pub anomalous: usize,
    /// The model's threshold.
    pub threshold: f64,
    /// The ten most anomalous TARGETIDs, rank 1 first.
    pub top: Vec<i64>,
    /// The catalog.
    pub output: PathBuf,
    /// Whether the scores went into the store.
    pub stored: bool,
}

fn usage(msg: String) -> PipelineError {
    PipelineError::Failed(anyhow::Error::new(UsageError(msg)))
}

/// The model directory a registry entry points to.
pub fn model_dir_of(m: &astrolab_store::AnomalyModel) -> Result<ModelDir, PipelineError> {
    m.config
        .get("model_dir")
        .and_then(|v| v.as_str())
        .map(|p| ModelDir(PathBuf::from(p)))
        .ok_or_else(|| {
            usage(format!(
                "the registry entry of model {} names no model directory",
                m.model_id
            ))
        })
}

/// The model `--model` names, else the newest.
pub fn pick_model(
    store: &mut astrolab_store::Store,
    id: Option<&str>,
) -> Result<astrolab_store::AnomalyModel, PipelineError> {
    let err = |e| PipelineError::Store("reading the anomaly model registry".into(), Box::new(e));
    match id {
        Some(id) => store.anomaly_model(id).map_err(|e| match e {
            astrolab_store::StoreError::BadRequest { .. } => usage(e.to_string()),
            e => err(e),
        }),
        None => store.latest_anomaly_model().map_err(err)?.ok_or_else(|| {
            usage(
                "no anomaly model is registered: train one with `astrolab anomalies train`".into(),
            )
        }),
    }
}

/// One scored spectrum.
#[derive(Debug, Clone, PartialEq)]
pub struct RowScore {
    /// Reduced chi-square of the reconstruction (noise model included).
    pub recon_chi2: f64,
    /// The local scan statistic.
    pub local: f64,
    /// Isolation Forest score of the latent mean.
    pub iso_score: f64,
    /// The calibrated ANOMALY_SCORE.
    pub anomaly_score: f64,
    /// The latent mean.
    pub latent: Vec<f32>,
}

/// A model loaded for scoring: its registry entry, directory, card,
/// forest and network.
pub struct LoadedModel {
    /// The registry entry.
    pub entry: astrolab_store::AnomalyModel,
    /// Its directory.
    pub dir: ModelDir,
    /// `model.json`.
    pub card: super::model_dir::ModelCard,
    /// The forest on the training latents.
    pub forest: astrolab_anomaly::iforest::IsolationForest,
    /// The network.
    pub vae: astrolab_anomaly::model::Vae<CpuBackend>,
}

/// The model `--model-dir` (checked whole and registered) or `--model`
/// (else the newest) names, loaded.
pub fn load_model(
    store: &mut astrolab_store::Store,
    model: Option<&str>,
    model_dir: Option<&std::path::Path>,
) -> Result<LoadedModel, PipelineError> {
    let entry = match model_dir {
        Some(d) => {
            // A directory from elsewhere: checked whole, then registered
            // (a no-op when its weights already are).
            let dir = ModelDir(d.to_path_buf());
            let (card, _, _) = dir.load()?;
            super::train::register(store, &dir, &card)?;
            pick_model(store, Some(&card.model_id))?
        }
        None => pick_model(store, model)?,
    };
    let dir = match model_dir {
        Some(d) => ModelDir(d.to_path_buf()),
        None => model_dir_of(&entry)?,
    };
    open_model(entry, dir)
}

/// Loads `dir`, which must hold the registered model `entry`.
fn open_model(
    entry: astrolab_store::AnomalyModel,
    dir: ModelDir,
) -> Result<LoadedModel, PipelineError> {
    let (card, forest, vae) = dir.load()?;
    if card.model_id != entry.model_id {
        return Err(usage(format!(
            "{} holds model {}, not the registered {}",
            dir.0.display(),
            card.model_id,
            entry.model_id
        )));
    }
    Ok(LoadedModel {
        entry,
        dir,
        card,
        forest,
        vae,
    })
}

/// Scores every row of `data` with the model: `None` for a row without
/// an observed pixel. The encoding is split over `threads` threads; the
/// scores do not depend on how many (astrolab_anomaly::score::score_threads).
pub fn score_rows(
    card: &super::model_dir::ModelCard,
    forest: &astrolab_anomaly::iforest::IsolationForest,
    vae: &astrolab_anomaly::model::Vae<CpuBackend>,
    data: &astrolab_anomaly::dataset::Dataset,
    threads: usize,
) -> Result<Vec<Option<RowScore>>, PipelineError> {
    let sc = astrolab_anomaly::score::score_threads::<CpuBackend>(
        vae,
        data,
        SCORE_BATCH,
        &Default::default(),
        &card.calibration.noise,
        threads,
    )
    .map_err(|e| anyhow!(e))?;
    let iso = forest.score_all(&sc.latent_mean).map_err(|e| anyhow!(e))?;
    let d = card.vae.latent_dim;
    let mut next = 0;
    let mut out = Vec::with_capacity(data.n());
    for i in 0..data.n() {
        out.push(match sc.chi2_red[i] {
            Some(chi2) => {
                let local = sc.local[i].expect("scorable rows have a local statistic");
                let r = RowScore {
                    recon_chi2: chi2,
                    local,
                    iso_score: iso[next],
                    anomaly_score: card.calibration.score_channels(
                        chi2,
                        iso[next],
                        local,
                        sc.broad[i],
                    ),
                    latent: sc.latent_mean[next * d..(next + 1) * d].to_vec(),
                };
                next += 1;
                Some(r)
            }
            None => None,
        });
    }
    Ok(out)
}

/// One shard of `anomalies score`: up to `--shard-size` TARGETIDs, read,
/// rest-framed and scored together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreShard {
    /// The model (resolved when planning, so every shard uses the same).
    pub model_id: String,
    /// The targets, in selection order.
    pub target_ids: Vec<i64>,
}

/// What one shard gives: its scores (not yet ranked), its skips and how
/// many of its targets had no spectrum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScorePartial {
    /// The model that scored them.
    pub model_id: String,
    /// Scored spectra (rank 0 until the reduce step).
    pub scores: Vec<AnomalyScore>,
    /// Spectra that could not be scored.
    pub skips: Vec<AnomalySkip>,
    /// Targets without a spectrum in the store.
    pub missing: usize,
}

/// The model of a shard, loaded from its registry entry.
fn load_registered(
    store: &mut astrolab_store::Store,
    model_id: &str,
) -> Result<LoadedModel, PipelineError> {
    let entry = pick_model(store, Some(model_id))?;
    let dir = model_dir_of(&entry)?;
    open_model(entry, dir)
}

impl Pipeline for AnomaliesScore {
    type Params = AnomaliesScoreArgs;
    type Shard = ScoreShard;
    type Partial = ScorePartial;
    type Output = ScoreOutput;

    /// Resolves (and, for `--model-dir`, registers) the model once, then
    /// cuts the selection into shards of `--shard-size` TARGETIDs.
    fn plan(&self, ctx: &Ctx, a: &AnomaliesScoreArgs) -> Result<Vec<ScoreShard>, PipelineError> {
        if a.shard_size == 0 {
            return Err(usage("--shard-size must be at least 1".into()));
        }
        let mut store = ctx.open_store()?;
        let model = load_model(&mut store, a.model.as_deref(), a.model_dir.as_deref())?;
        let ids = store
            .select_target_ids(&a.select, &[])
            .map_err(|e| PipelineError::Store(format!("--select {:?}", a.select), Box::new(e)))?;
        Ok(ids
            .chunks(a.shard_size)
            .map(|c| ScoreShard {
                model_id: model.entry.model_id.clone(),
                target_ids: c.to_vec(),
            })
            .collect())
    }

    fn run_shard(
        &self,
        ctx: &Ctx,
        _: &AnomaliesScoreArgs,
        shard: &ScoreShard,
    ) -> Result<ScorePartial, PipelineError> {
        let mut store = ctx.open_store()?;
        let LoadedModel {
            card, forest, vae, ..
        } = load_registered(&mut store, &shard.model_id)?;
        let mut pre = Preprocessor::default();
        pre.z_min = card.z_range[0];
        pre.z_max = card.z_range[1];
        // Encoding is split over the shard's threads; the scores do not
        // depend on how many (astrolab_anomaly::score::score_threads).
        let threads = ctx
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let s = read_rest_frame_threads(&mut store, &shard.target_ids, &pre, threads)?;
        let mut skips: Vec<AnomalySkip> = s
            .skipped
            .iter()
            .map(|(t, f, why)| AnomalySkip {
                target_id: *t,
                file_id: *f,
                reason: why.clone(),
            })
            .collect();
        let mut scores = Vec::new();
        let rows = score_rows(&card, &forest, &vae, &s.dataset, threads)?;
        for (i, r) in rows.into_iter().enumerate() {
            let t = s.dataset.ids[i];
            match r {
                None => skips.push(AnomalySkip {
                    target_id: t,
                    file_id: s.file_ids[i],
                    reason: "no_observed_pixels".into(),
                }),
                Some(r) => scores.push(AnomalyScore {
                    target_id: t,
                    file_id: s.file_ids[i],
                    z: s.z[i],
                    latent: r.latent,
                    recon_chi2: r.recon_chi2,
                    iso_score: r.iso_score,
                    anomaly_score: r.anomaly_score,
                    rank: 0,
                }),
            }
        }
        Ok(ScorePartial {
            model_id: shard.model_id.clone(),
            scores,
            skips,
            missing: s.missing,
        })
    }

    /// Ranks over every shard's scores, writes the catalog and the store.
    fn reduce(
        &self,
        ctx: &Ctx,
        a: &AnomaliesScoreArgs,
        partials: Vec<ScorePartial>,
    ) -> Result<ScoreOutput, PipelineError> {
        let mut store = ctx.open_store()?;
        let model = match partials.first() {
            Some(p) => {
                if let Some(q) = partials.iter().find(|q| q.model_id != p.model_id) {
                    return Err(PipelineError::Executor(format!(
                        "shards were scored with two models ({} and {})",
                        p.model_id, q.model_id
                    )));
                }
                load_registered(&mut store, &p.model_id)?
            }
            // Nothing selected: the model the parameters name.
            None => load_model(&mut store, a.model.as_deref(), a.model_dir.as_deref())?,
        };
        let LoadedModel {
            entry: model, card, ..
        } = model;
        let mut scores: Vec<AnomalyScore> = Vec::new();
        let mut skips: Vec<AnomalySkip> = Vec::new();
        let mut missing = 0;
        for p in partials {
            scores.extend(p.scores);
            skips.extend(p.skips);
            missing += p.missing;
        }
        // Rank: highest score first, ties by TARGETID.
        scores.sort_by(|x, y| {
            y.anomaly_score
                .total_cmp(&x.anomaly_score)
                .then(x.target_id.cmp(&y.target_id))
        });
        for (r, s) in scores.iter_mut().enumerate() {
            s.rank = r as i64 + 1;
        }
        skips.sort_by_key(|s| s.target_id);
        let threshold = card.calibration.threshold;
        let anomalous = scores
            .iter()
            .filter(|s| s.anomaly_score > threshold)
            .count();
        crate::output::write_file(
            &a.output,
            catalog_csv(&scores, threshold, card.vae.latent_dim).as_bytes(),
        )?;
        let mut skipped: BTreeMap<String, usize> = BTreeMap::new();
        for s in &skips {
            *skipped.entry(s.reason.clone()).or_default() += 1;
        }
        if !a.no_store {
            store
                .write_anomaly_scores(&model.model_id, &scores, &skips, &mut Progress::none())
                .map_err(|e| PipelineError::Store("writing the scores".into(), Box::new(e)))?;
        }
        ctx.info(format!(
            "{} spectra scored with {}: {} above the threshold {:.6}; {} skipped{}; {} selected without a spectrum; catalog {}",
            scores.len(),
            model.model_id,
            anomalous,
            threshold,
            skips.len(),
            if skipped.is_empty() { String::new() } else { format!(" {skipped:?}") },
            missing,
            a.output.display()
        ));
        Ok(ScoreOutput {
            model_id: model.model_id,
            scored: scores.len(),
            skipped,
            without_spectrum: missing,
            anomalous,
            threshold,
            top: scores.iter().take(10).map(|s| s.target_id).collect(),
            output: a.output.clone(),
            stored: !a.no_store,
        })
    }
}

/// The ranked catalog as CSV, rank 1 first.
fn catalog_csv(scores: &[AnomalyScore], threshold: f64, dim: usize) -> String {
    let mut s = String::from("TARGETID,Z,RECON_CHI2,ISO_SCORE,ANOMALY_SCORE,RANK,ANOMALOUS");
    for j in 0..dim {
        let _ = write!(s, ",LATENT_{j}");
    }
    s.push('\n');
    for r in scores {
        let _ = write!(
            s,
            "{},{},{},{},{},{},{}",
            r.target_id,
            r.z,
            r.recon_chi2,
            r.iso_score,
            r.anomaly_score,
            r.rank,
            u8::from(r.anomaly_score > threshold)
        );
        for v in &r.latent {
            let _ = write!(s, ",{v}");
        }
        s.push('\n');
    }
    s
}
