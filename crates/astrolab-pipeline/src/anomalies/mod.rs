//! Anomalous quasars (issue 17) as pipelines: `anomalies train` (a VAE,
//! its Isolation Forest and calibration, from the store's quasar spectra),
//! `anomalies score` (every selected quasar ranked, written to the store
//! and as a catalog), `anomalies score-files` (spectrum files outside the
//! store, ranked into a catalog with figures) and `anomalies similar` (exact nearest neighbours in
//! latent space), and what the validation page shows (`inspect`). The science is `astrolab-anomaly`'s; here are the
//! reading of spectra from the store in shards, the model directory, the
//! registry and the progress events.

pub mod files;
pub mod inspect;
pub mod model_dir;
pub mod read;
pub mod score;
pub mod score_files;
pub mod similar;
pub mod train;

pub use inspect::{
    labelled_catalog, ranked, reconstruct, reconstruct_row, reconstruction_plots, RankedRow,
    Reconstruction,
};
pub use model_dir::ModelDir;
pub use score::{AnomaliesScore, ScoreOutput};
pub use score_files::{AnomaliesScoreFiles, ScoreFilesOutput};
pub use similar::{similar, similar_table, LatentTable, SimilarRow};
pub use train::{AnomaliesTrain, TrainOutput};
