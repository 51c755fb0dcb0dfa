//! `astrolab anomalies train|score|similar|export|models`: anomalous quasars
//! (issue 17), through `astrolab_pipeline::anomalies`.

use anyhow::Result;
use astrolab_pipeline::anomalies::{
    self, similar_table, AnomaliesScore, AnomaliesScoreFiles, AnomaliesTrain,
};
use astrolab_pipeline::params::defs::{
    AnomaliesExportArgs, AnomaliesScoreArgs, AnomaliesScoreFilesArgs, AnomaliesSimilarArgs,
    AnomaliesTrainArgs, OutputArgs,
};
use astrolab_pipeline::run_in_process;
use astrolab_store::{ResultTable, Value};
use clap::Subcommand;

use crate::config::Config;

/// Anomaly commands.
#[derive(Debug, Subcommand)]
pub enum AnomaliesCommand {
    /// Train a variational autoencoder on the store's quasar spectra (rest
    /// frame, 16-D latent), an Isolation Forest on its latents, and the
    /// score ranks and threshold on held-out spectra; resumes an
    /// interrupted training in the same --output.
    Train(AnomaliesTrainArgs),
    /// Score the selected quasars with a registered model: reduced
    /// chi-square, latent vector, forest score, ANOMALY_SCORE and rank,
    /// into the store and a CSV catalog.
    Score(AnomaliesScoreArgs),
    /// Score spectrum files outside the store (SDSS/BOSS spec-*.fits, DESI
    /// coadds with a redshift table) with a registered model: a ranked
    /// CSV catalog, and figures of the spectra over their reconstructions.
    ScoreFiles(AnomaliesScoreFilesArgs),
    /// Quasars like this one: exact nearest neighbours in latent space.
    Similar(AnomaliesSimilarArgs),
    /// The labelled anomaly catalog (labels from the validation page):
    /// scores, rank, threshold flag, latest label, who and when.
    Export(AnomaliesExportArgs),
    /// The registered models.
    Models {
        #[command(flatten)]
        out: OutputArgs,
    },
}

pub fn run(cfg: &Config, cmd: &AnomaliesCommand) -> Result<()> {
    let ctx = crate::progress::ctx(cfg)?;
    match cmd {
        AnomaliesCommand::Train(a) => {
            run_in_process(&AnomaliesTrain, &ctx, a)?;
        }
        AnomaliesCommand::Score(a) => {
            run_in_process(&AnomaliesScore, &ctx, a)?;
        }
        AnomaliesCommand::ScoreFiles(a) => {
            run_in_process(&AnomaliesScoreFiles, &ctx, a)?;
        }
        AnomaliesCommand::Similar(a) => {
            let threads = ctx.threads.unwrap_or(1);
            let (_, rows) = anomalies::similar(
                &mut ctx.open_store()?,
                a.model.as_deref(),
                a.target_id,
                a.k,
                &[],
                threads,
            )?;
            crate::output::emit(&similar_table(&rows), &a.out, "SIMILAR")?;
        }
        AnomaliesCommand::Export(a) => {
            let mut store = ctx.open_store()?;
            let model = anomalies::score::pick_model(&mut store, a.model.as_deref())?;
            let table = anomalies::labelled_catalog(&mut store, &model, &[], a.all)?;
            crate::output::emit(&table, &a.out, "ANOMALIES")?;
        }
        AnomaliesCommand::Models { out } => {
            let models = ctx.open_store()?.anomaly_models()?;
            let table = ResultTable {
                columns: [
                    "model_id",
                    "created_at",
                    "latent_dim",
                    "threshold",
                    "target_fpr",
                    "model_dir",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect(),
                rows: models
                    .iter()
                    .map(|m| {
                        let f = |k: &str| m.calibration.get(k).and_then(|v| v.as_f64());
                        vec![
                            Value::Text(m.model_id.clone()),
                            Value::Text(m.created_at.clone()),
                            Value::Int(m.latent_dim),
                            f("threshold").map_or(Value::Null, Value::Float),
                            f("target_fpr").map_or(Value::Null, Value::Float),
                            m.config
                                .get("model_dir")
                                .and_then(|v| v.as_str())
                                .map_or(Value::Null, |s| Value::Text(s.into())),
                        ]
                    })
                    .collect(),
            };
            crate::output::emit(&table, out, "ANOMALY_MODELS")?;
        }
    }
    Ok(())
}
