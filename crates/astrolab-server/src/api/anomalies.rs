//! Anomalous quasars (issue 17): the model registry, the ranked list with
//! labels, one quasar's reconstruction and residuals, "spectra like this
//! one", labels, and the labelled catalog as CSV or FITS. The functions are
//! `astrolab_pipeline::anomalies`' (the CLI's); here are the parameters,
//! the caller's read rules and the restricted-read audit.
//!
//! Access: a score row derives from one spectrum; rows whose raw file the
//! caller may not read are left out of every list, count, neighbour set
//! and export, and such a quasar answers 404 (as if it were not scored).

use std::collections::HashMap;
use std::sync::Arc;

use astrolab_pipeline::anomalies::{
    self, inspect::threshold_of, LatentTable, RankedRow, Reconstruction, SimilarRow,
};
use astrolab_pipeline::PipelineError;
use astrolab_store::{AnomalyFilter, AnomalyLabel, AnomalyLabelRow, AnomalyModel, Store};
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Jv};

use crate::auth::{Authed, Principal, RESEARCHER, VIEWER};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

use super::science::{blocking, bool_param, int_param, page, path_id, Params};

/// A pipeline error as the API's: the user's mistake is a 400 naming
/// `field`, anything else a 500 whose detail stays in the log.
fn pipeline_error(field: &str, e: PipelineError) -> ApiError {
    if e.is_usage() {
        ApiError::bad_request(field, format!("{e:#}"))
    } else {
        ApiError::internal(format!("{e:#}"))
    }
}

/// The raw files the caller may not read, sorted.
fn forbidden_ids(store: &mut Store, p: &Principal) -> ApiResult<Vec<i64>> {
    let mut ids: Vec<i64> = super::science::forbidden(store, p)?.into_iter().collect();
    ids.sort_unstable();
    Ok(ids)
}

/// The model `?model=` names (id or unique prefix), else the newest.
fn model_param(store: &mut Store, q: &HashMap<String, String>) -> ApiResult<AnomalyModel> {
    let id = q.get("model").map(|s| s.trim()).filter(|s| !s.is_empty());
    anomalies::score::pick_model(store, id).map_err(|e| pipeline_error("model", e))
}

fn float_param(q: &HashMap<String, String>, name: &str) -> ApiResult<Option<f64>> {
    match q.get(name).map(|s| s.trim()) {
        None | Some("") => Ok(None),
        Some(s) => s
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .map(Some)
            .ok_or_else(|| ApiError::bad_request(name, format!("{s:?} is not a finite number"))),
    }
}

fn label_param(q: &HashMap<String, String>) -> ApiResult<Option<AnomalyLabel>> {
    match q.get("label").map(|s| s.trim()) {
        None | Some("") => Ok(None),
        Some(s) => Ok(Some(s.parse::<AnomalyLabel>()?)),
    }
}

/// The list filters of `GET /api/v1/anomalies` (and the page's form).
pub fn filter_params(s: &AppState, q: &HashMap<String, String>) -> ApiResult<AnomalyFilter> {
    let pg = page(s, q)?;
    Ok(AnomalyFilter {
        min_score: float_param(q, "min_score")?,
        z_min: float_param(q, "z_min")?,
        z_max: float_param(q, "z_max")?,
        label: label_param(q)?,
        target_ids: None,
        limit: Some(pg.limit as usize),
        offset: pg.offset as usize,
    })
}

/// A registered model as the API lists it.
#[derive(Debug, Clone, Serialize)]
pub struct ModelSummary {
    /// Model id.
    pub model_id: String,
    /// When it was registered.
    pub created_at: String,
    /// Latent dimension.
    pub latent_dim: i64,
    /// ANOMALY_SCORE above which a quasar is called anomalous.
    pub threshold: f64,
    /// The false-positive rate the threshold was set for.
    pub target_fpr: Option<f64>,
    /// Scored quasars the caller may read.
    pub scored: i64,
    /// Spectra the model could not score, by reason.
    pub skipped: std::collections::BTreeMap<String, i64>,
}

/// The models with what the caller may read of each, newest first.
pub async fn model_summaries(s: &AppState, p: &Principal) -> ApiResult<Vec<ModelSummary>> {
    let p = p.clone();
    s.pool
        .run(move |store| {
            let denied = forbidden_ids(store, &p)?;
            let mut models = store.anomaly_models()?;
            models.reverse();
            models
                .into_iter()
                .map(|m| {
                    Ok(ModelSummary {
                        scored: store.anomaly_score_count(&m.model_id, &denied)?,
                        skipped: store.anomaly_skip_counts(&m.model_id)?,
                        threshold: threshold_of(&m),
                        target_fpr: m.calibration.get("target_fpr").and_then(|v| v.as_f64()),
                        model_id: m.model_id,
                        created_at: m.created_at,
                        latent_dim: m.latent_dim,
                    })
                })
                .collect()
        })
        .await
}

/// `GET /api/v1/anomalies/models`.
pub async fn models(State(s): State<AppState>, Authed(p): Authed<VIEWER>) -> ApiResult<Json<Jv>> {
    let items = model_summaries(&s, &p).await?;
    Ok(Json(json!({ "count": items.len(), "items": items })))
}

/// One page of the ranked list.
#[derive(Debug, Clone, Serialize)]
pub struct RankedPage {
    /// The model.
    pub model_id: String,
    /// Its threshold.
    pub threshold: f64,
    /// Scored quasars the caller may read (all, before the filters).
    pub scored: i64,
    /// The rows, rank order.
    pub items: Vec<RankedRow>,
}

/// The ranked rows `q` asks for, as the caller may read them, with the
/// restricted-read audit; the API route and the page share it.
pub async fn ranked_for(
    s: &AppState,
    p: &Principal,
    q: &HashMap<String, String>,
) -> ApiResult<RankedPage> {
    let filter = filter_params(s, q)?;
    let (who, q) = (p.clone(), q.clone());
    let (out, restricted) = s
        .pool
        .run(move |store| {
            let model = model_param(store, &q)?;
            let denied = forbidden_ids(store, &who)?;
            let items = anomalies::ranked(store, &model, &filter, &denied)
                .map_err(|e| pipeline_error("model", e))?;
            let restricted = crate::audit::restricted_datasets(
                store,
                &who,
                items.iter().filter_map(|r| r.score.file_id),
            )?;
            Ok((
                RankedPage {
                    scored: store.anomaly_score_count(&model.model_id, &denied)?,
                    threshold: threshold_of(&model),
                    model_id: model.model_id,
                    items,
                },
                restricted,
            ))
        })
        .await?;
    crate::audit::restricted_read(s, p, "/api/v1/anomalies", restricted).await;
    Ok(out)
}

/// `GET /api/v1/anomalies`.
pub async fn list(
    State(s): State<AppState>,
    Authed(p): Authed<VIEWER>,
    Query(q): Params,
) -> ApiResult<Json<RankedPage>> {
    Ok(Json(ranked_for(&s, &p, &q).await?))
}

/// One scored quasar: its scores, labels and reconstruction.
#[derive(Debug, Clone, Serialize)]
pub struct AnomalyDetail {
    /// Scores, threshold flag and labels.
    #[serde(flatten)]
    pub row: RankedRow,
    /// The model's threshold.
    pub threshold: f64,
    /// Rest-frame spectrum, reconstruction and residuals.
    pub reconstruction: Reconstruction,
}

/// One quasar's row under the model `q` names, 404 when the caller may
/// not read it or it is not scored.
async fn one_row(
    s: &AppState,
    p: &Principal,
    q: &HashMap<String, String>,
    target: i64,
) -> ApiResult<(AnomalyModel, RankedRow, Vec<i64>)> {
    let (who, q) = (p.clone(), q.clone());
    let (model, row, denied, restricted) = s
        .pool
        .run(move |store| {
            let model = model_param(store, &q)?;
            let denied = forbidden_ids(store, &who)?;
            let filter = AnomalyFilter {
                target_ids: Some(vec![target]),
                ..AnomalyFilter::default()
            };
            let row = anomalies::ranked(store, &model, &filter, &denied)
                .map_err(|e| pipeline_error("model", e))?
                .into_iter()
                .next();
            let restricted = match &row {
                Some(r) => crate::audit::restricted_datasets(store, &who, r.score.file_id)?,
                None => Vec::new(),
            };
            Ok((model, row, denied, restricted))
        })
        .await?;
    let Some(row) = row else {
        return Err(ApiError::not_found(format!(
            "TARGETID {target} has no anomaly score under model {}",
            model.model_id
        )));
    };
    crate::audit::restricted_read(s, p, &format!("anomaly {target}"), restricted).await;
    Ok((model, row, denied))
}

/// A quasar's detail as the caller may read it (API route and page).
pub async fn detail_for(
    s: &AppState,
    p: &Principal,
    q: &HashMap<String, String>,
    target: i64,
) -> ApiResult<AnomalyDetail> {
    let (model, row, _) = one_row(s, p, q, target).await?;
    let score = row.score.clone();
    let m = model.clone();
    let reconstruction = s
        .pool
        .run(move |store| {
            anomalies::reconstruct(store, &m, &score).map_err(|e| pipeline_error("targetid", e))
        })
        .await?;
    Ok(AnomalyDetail {
        threshold: threshold_of(&model),
        row,
        reconstruction,
    })
}

/// `GET /api/v1/anomalies/{targetid}`.
pub async fn one(
    State(s): State<AppState>,
    Authed(p): Authed<VIEWER>,
    UrlPath(targetid): UrlPath<String>,
    Query(q): Params,
) -> ApiResult<Json<AnomalyDetail>> {
    let target = path_id(&targetid, "targetid")?;
    Ok(Json(detail_for(&s, &p, &q, target).await?))
}

/// The `k` nearest neighbours the caller may read (API route and page).
pub async fn similar_for(
    s: &AppState,
    p: &Principal,
    q: &HashMap<String, String>,
    target: i64,
) -> ApiResult<(String, Vec<SimilarRow>)> {
    let k = match int_param(q, "k")? {
        None => 20,
        Some(k) if (1..=1000).contains(&k) => k as usize,
        Some(k) => {
            return Err(ApiError::bad_request(
                "k",
                format!("{k}: ask for 1 to 1000 neighbours"),
            ))
        }
    };
    // 404 for a quasar the caller may not read, before any neighbour.
    let (model, _, denied) = one_row(s, p, q, target).await?;
    let table = latent_table(s, &model).await?;
    let rows = blocking(move || {
        table
            .neighbours(target, k, &denied, 2)
            .map_err(|e| pipeline_error("targetid", e))
    })
    .await?;
    let who = p.clone();
    let files: Vec<i64> = rows.iter().filter_map(|r| r.file_id).collect();
    let restricted = s
        .pool
        .run(move |store| Ok(crate::audit::restricted_datasets(store, &who, files)?))
        .await?;
    let rows = (model.model_id, rows);
    crate::audit::restricted_read(s, p, &format!("anomaly {target} neighbours"), restricted).await;
    Ok(rows)
}

/// The model's latent vectors, from the server's memory while its score
/// generation is unchanged, else read again (seconds at 1.6 M rows, once).
async fn latent_table(s: &AppState, model: &AnomalyModel) -> ApiResult<Arc<LatentTable>> {
    let id = model.model_id.clone();
    let generation = s
        .pool
        .run(move |store| Ok(store.anomaly_scores_generation(&id)?))
        .await?;
    if let Some(t) = s.latents.lock().map_err(ApiError::internal)?.clone() {
        if t.model_id == model.model_id && t.generation == generation {
            return Ok(t);
        }
    }
    let m = model.clone();
    let table = Arc::new(
        s.pool
            .run(move |store| LatentTable::load(store, &m).map_err(|e| pipeline_error("model", e)))
            .await?,
    );
    *s.latents.lock().map_err(ApiError::internal)? = Some(table.clone());
    Ok(table)
}

/// `GET /api/v1/anomalies/{targetid}/similar`.
pub async fn similar(
    State(s): State<AppState>,
    Authed(p): Authed<VIEWER>,
    UrlPath(targetid): UrlPath<String>,
    Query(q): Params,
) -> ApiResult<Json<Jv>> {
    let target = path_id(&targetid, "targetid")?;
    let (model_id, items) = similar_for(&s, &p, &q, target).await?;
    Ok(Json(
        json!({ "model_id": model_id, "targetid": target, "count": items.len(), "items": items }),
    ))
}

/// The body of `PUT /api/v1/anomalies/{targetid}/label`.
#[derive(Debug, Deserialize)]
pub struct LabelBody {
    /// anomaly, artefact, normal or unsure.
    pub label: String,
    /// Model id (or prefix); default the newest.
    #[serde(default)]
    pub model: Option<String>,
}

/// Stores `p`'s label of a quasar it may read (API route and page).
pub async fn set_label(
    s: &AppState,
    p: &Principal,
    target: i64,
    label: &str,
    model: Option<String>,
) -> ApiResult<AnomalyLabelRow> {
    let label: AnomalyLabel = label.trim().parse()?;
    let username = p
        .user
        .as_ref()
        .map(|u| u.username.clone())
        .ok_or_else(|| ApiError::unauthorized("labels need an account: log in"))?;
    let mut q = HashMap::new();
    if let Some(m) = model {
        q.insert("model".to_string(), m);
    }
    let (model, _, denied) = one_row(s, p, &q, target).await?;
    s.pool
        .run(move |store| {
            Ok(store.set_anomaly_label(&model.model_id, target, label, &username, &denied)?)
        })
        .await
}

/// `PUT /api/v1/anomalies/{targetid}/label`.
pub async fn label(
    State(s): State<AppState>,
    Authed(p): Authed<RESEARCHER>,
    UrlPath(targetid): UrlPath<String>,
    body: Result<Json<LabelBody>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<AnomalyLabelRow>> {
    let target = path_id(&targetid, "targetid")?;
    let Json(b) =
        body.map_err(|e| ApiError::bad_request("body", format!("{e}: send {{\"label\": ..}}")))?;
    Ok(Json(set_label(&s, &p, target, &b.label, b.model).await?))
}

/// `GET /api/v1/anomalies/export?format=csv|fits&all=`: the labelled
/// catalog (`astrolab anomalies export`), as a download.
pub async fn export(
    State(s): State<AppState>,
    Authed(p): Authed<VIEWER>,
    Query(q): Params,
) -> ApiResult<Response> {
    let fits = match q
        .get("format")
        .map(|f| f.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("") | Some("csv") => false,
        Some("fits") => true,
        Some(f) => {
            return Err(ApiError::bad_request(
                "format",
                format!("{f:?}: use csv or fits"),
            ))
        }
    };
    let all = bool_param(&q, "all")?;
    let who = p.clone();
    let (model_id, table, restricted) = s
        .pool
        .run(move |store| {
            let model = model_param(store, &q)?;
            let denied = forbidden_ids(store, &who)?;
            let table = anomalies::labelled_catalog(store, &model, &denied, all)
                .map_err(|e| pipeline_error("model", e))?;
            let ids: Vec<i64> = table.rows.iter().filter_map(|r| r[0].as_i64()).collect();
            let files = store.anomaly_scores(
                &model.model_id,
                &AnomalyFilter {
                    target_ids: Some(ids),
                    ..AnomalyFilter::default()
                },
                &denied,
            )?;
            let restricted = crate::audit::restricted_datasets(
                store,
                &who,
                files.iter().filter_map(|f| f.file_id),
            )?;
            Ok((model.model_id, table, restricted))
        })
        .await?;
    crate::audit::restricted_read(&s, &p, "/api/v1/anomalies/export", restricted).await;
    let name = format!(
        "anomalies-{model_id}{}.{}",
        if all { "-all" } else { "-labelled" },
        if fits { "fits" } else { "csv" }
    );
    let body = blocking(move || {
        if fits {
            let dir = tempfile::tempdir().map_err(ApiError::internal)?;
            let path = dir.path().join("catalog.fits");
            astrolab_pipeline::output::write_fits_table(&table, &path, "ANOMALIES")
                .map_err(ApiError::internal)?;
            std::fs::read(&path).map_err(ApiError::internal)
        } else {
            let mut out = Vec::new();
            astrolab_pipeline::output::write_text(
                &table,
                astrolab_pipeline::params::defs::OutputFormat::Csv,
                &mut out,
            )
            .map_err(ApiError::internal)?;
            Ok(out)
        }
    })
    .await?;
    let ctype = if fits {
        "application/fits"
    } else {
        "text/csv; charset=utf-8"
    };
    Ok((
        [
            (header::CONTENT_TYPE, ctype.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response())
}
