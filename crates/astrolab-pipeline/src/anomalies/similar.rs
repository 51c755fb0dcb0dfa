//! `anomalies similar`: the quasars whose latent vectors lie nearest to
//! one quasar's, exact, over every scored spectrum of a model the caller
//! may read (astrolab_anomaly::knn).

use astrolab_store::{AnomalyFilter, ResultTable, Store, Value};
use serde::{Deserialize, Serialize};

use super::score::pick_model;
use crate::error::{PipelineError, UsageError};

/// One neighbour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimilarRow {
    /// TARGETID.
    pub target_id: i64,
    /// Redshift.
    pub z: f64,
    /// Euclidean distance in latent space.
    pub distance: f64,
    /// Its ANOMALY_SCORE and rank under the model.
    pub anomaly_score: f64,
    /// Rank (1 = most anomalous).
    pub rank: i64,
}

/// The `k` nearest neighbours of `target_id` under `model` (default the
/// newest), nearest first; `forbidden` as in
/// [`Store::anomaly_scores`]. Returns the model id too.
pub fn similar(
    store: &mut Store,
    model: Option<&str>,
    target_id: i64,
    k: usize,
    forbidden: &[i64],
    threads: usize,
) -> Result<(String, Vec<SimilarRow>), PipelineError> {
    let m = pick_model(store, model)?;
    let rows = store
        .anomaly_scores(&m.model_id, &AnomalyFilter::default(), forbidden)
        .map_err(|e| PipelineError::Store("reading the latent vectors".into(), Box::new(e)))?;
    let Some(me) = rows.iter().position(|r| r.target_id == target_id) else {
        return Err(PipelineError::Failed(anyhow::Error::new(UsageError(format!(
            "TARGETID {target_id} has no score under model {} (score it with `astrolab anomalies score`)",
            m.model_id
        )))));
    };
    let dim = m.latent_dim as usize;
    let mut latents = Vec::with_capacity(rows.len() * dim);
    for r in &rows {
        latents.extend_from_slice(&r.latent);
    }
    let query = rows[me].latent.clone();
    let nn = astrolab_anomaly::knn::nearest(&latents, dim, &query, k, Some(me), threads);
    Ok((
        m.model_id,
        nn.iter()
            .map(|n| {
                let r = &rows[n.row];
                SimilarRow {
                    target_id: r.target_id,
                    z: r.z,
                    distance: n.distance,
                    anomaly_score: r.anomaly_score,
                    rank: r.rank,
                }
            })
            .collect(),
    ))
}

/// The neighbours as a table (`--format table|csv|json|fits`).
pub fn similar_table(rows: &[SimilarRow]) -> ResultTable {
    ResultTable {
        columns: ["target_id", "z", "distance", "anomaly_score", "rank"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    Value::Int(r.target_id),
                    Value::Float(r.z),
                    Value::Float(r.distance),
                    Value::Float(r.anomaly_score),
                    Value::Int(r.rank),
                ]
            })
            .collect(),
    }
}
