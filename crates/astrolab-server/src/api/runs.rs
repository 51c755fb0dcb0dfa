//! Runs: the pipeline catalog, submitting runs to the queue, following
//! their state, progress and logs, and cancelling queued runs.
//!
//! Who sees what: a run, its parameters, logs and outputs are visible to
//! its submitter, to members of the projects whose restricted data it read
//! (the pipeline records that on the run as it reads,
//! `astrolab_store::acting`), and to admins; to anyone else it does not
//! exist (404, and it is left out of lists). Reading a run that read
//! restricted data is audited. Submitting needs the researcher role;
//! cancelling, the submitter or an admin; pipelines that change the lab's
//! shared state (the spectra index, void membership, replacing stored
//! data) need an admin.
//!
//! Parameters are checked by [`crate::pipelines::build_args`] before a run
//! is queued (and again by the worker before it runs), so a bad path or a
//! mistyped value is a 400 naming `params.NAME`, never a failed run.

use astrolab_store::{NewRun, RunRecord, RunState};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::page::{PageParams, Paged};
use crate::auth::{Authed, Principal, RESEARCHER, VIEWER};
use crate::clock::now_ms;
use crate::error::{ApiError, ApiResult};
use crate::pipelines::{build_args, canonical_name, catalog};
use crate::state::AppState;

/// Attempts a run gets unless the submitter says otherwise.
pub const DEFAULT_MAX_ATTEMPTS: i64 = 3;
/// Most attempts a submitter may ask for.
pub const MAX_ATTEMPTS: i64 = 10;

/// A run as the API shows it (to a caller who may see it).
pub fn run_json(r: &RunRecord) -> Value {
    json!({
        "run_id": r.run_id,
        "pipeline": r.pipeline,
        "submitted_by": r.submitted_by,
        "submitted_at_ms": r.submitted_at_ms,
        "state": r.state,
        "attempts": r.attempts,
        "max_attempts": r.max_attempts,
        "worker_id": r.worker_id,
        "started_at_ms": r.started_at_ms,
        "finished_at_ms": r.finished_at_ms,
        "progress": r.progress,
        "exit_code": r.exit_code,
        "params": r.params,
        "message": r.message,
        "result": r.result,
        "restricted_projects": r.restricted_projects,
    })
}

/// Whether `p` may see run `r` ([`RunRecord::visible_to`]).
pub fn may_see(r: &RunRecord, p: &Principal) -> bool {
    r.visible_to(p.username(), &p.projects, p.is_admin())
}

/// Run `id` when `p` may see it (404 otherwise: a run one may not see is
/// not disclosed). Seeing a run that read restricted data is audited.
pub async fn visible_run(s: &AppState, p: &Principal, id: i64, what: &str) -> ApiResult<RunRecord> {
    let run = s.pool.run(move |store| Ok(store.get_run(id)?)).await?;
    let Some(run) = run.filter(|r| may_see(r, p)) else {
        return Err(ApiError::not_found(format!("no run {id}")));
    };
    if let Some(projects) = &run.restricted_projects {
        audit(
            s,
            p,
            "dataset.read",
            format!("run {id}"),
            "ok",
            json!({ "read": what, "restricted_projects": projects }),
        )
        .await;
    }
    Ok(run)
}

/// The runs `p` may see, newest first, with their total: the API's run
/// list and the runs pages.
pub async fn visible_runs(
    s: &AppState,
    p: &Principal,
    state: Option<RunState>,
    limit: i64,
    offset: i64,
) -> ApiResult<(Vec<RunRecord>, i64)> {
    let who = p.clone();
    s.pool
        .run(move |store| {
            Ok(store.list_runs_visible(
                state,
                who.username(),
                &who.projects,
                who.is_admin(),
                limit,
                offset,
            )?)
        })
        .await
}

/// Whether a run's parameters name input files (`paths`, non-empty).
fn has_files(params: &Value) -> bool {
    params
        .get("paths")
        .and_then(Value::as_array)
        .is_some_and(|f| !f.is_empty())
}

/// The admin-only reason of a pipeline run, when it has one: pipelines
/// that change the lab's shared state rather than write into the run's
/// own directory.
pub fn needs_admin(pipeline: &str, params: &Value) -> Option<&'static str> {
    let on = |k: &str| params.get(k).and_then(Value::as_bool).unwrap_or(false);
    match pipeline {
        "spectra-build" => Some("spectra-build indexes spectra in the lab's spectra index"),
        "voids-classify" => Some("voids-classify replaces the lab's void membership"),
        "hline-process" if on("force") => {
            Some("hline-process with force replaces a stored recording")
        }
        "ingest" if on("new_version") => Some("ingest with new_version replaces a catalog's rows"),
        "anomalies-train" if !on("no_register") => {
            Some("anomalies-train registers a model in the lab's model registry")
        }
        "anomalies-score" if !on("no_store") => {
            Some("anomalies-score replaces a model's scores in the store")
        }
        // Without files they measure the store's quasars into its catalog
        // tables (refused inside the run too; here before any shard runs).
        "outflows-bal" | "qso-fit" if !on("no_store") && !has_files(params) => Some(
            "without files, outflows-bal and qso-fit write the lab's catalogs in the store (set no_store or give files)",
        ),
        _ => None,
    }
}

async fn audit(
    s: &AppState,
    p: &Principal,
    action: &'static str,
    target: String,
    outcome: &'static str,
    details: Value,
) {
    s.audit
        .record_by(&s.pool, p, action, target, outcome, details)
        .await;
}

/// `GET /api/v1/pipelines`.
pub async fn pipelines(Authed(_): Authed<VIEWER>) -> Json<Value> {
    Json(json!({ "items": catalog() }))
}

/// `?state=&limit=&offset=` of the run list.
#[derive(Debug, Deserialize)]
pub struct ListParams {
    /// Only runs in this state.
    pub state: Option<String>,
    /// Page size.
    pub limit: Option<i64>,
    /// Rows to skip.
    pub offset: Option<i64>,
}

/// `GET /api/v1/runs`: newest first.
pub async fn list(
    State(s): State<AppState>,
    Authed(p): Authed<VIEWER>,
    Query(q): Query<ListParams>,
) -> ApiResult<Json<Value>> {
    let page = PageParams {
        limit: q.limit,
        offset: q.offset,
    }
    .check(50, s.config.max_rows)?;
    let state = match q.state.as_deref().filter(|v| !v.is_empty()) {
        Some(v) => Some(v.parse::<RunState>()?),
        None => None,
    };
    let (runs, total) = visible_runs(&s, &p, state, page.limit as i64, page.offset as i64).await?;
    let items: Vec<Value> = runs.iter().map(run_json).collect();
    Ok(Json(
        serde_json::to_value(Paged::new(items, page, Some(total))).map_err(ApiError::internal)?,
    ))
}

/// The body of `POST /api/v1/runs`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitBody {
    /// Pipeline name (see `GET /api/v1/pipelines`).
    pub pipeline: String,
    /// Its parameters.
    #[serde(default)]
    pub params: Value,
    /// Attempts before a run whose worker keeps dying is failed (1..=10).
    pub max_attempts: Option<i64>,
}

/// Checks and queues a run for `p` (the API route and the runs page both
/// submit through here); audited as `run.submit`, refusals included.
pub async fn submit_run(s: &AppState, p: &Principal, body: SubmitBody) -> ApiResult<RunRecord> {
    let pipeline = canonical_name(&body.pipeline);
    let checked = (|| {
        let max_attempts = body.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS);
        if !(1..=MAX_ATTEMPTS).contains(&max_attempts) {
            return Err(ApiError::bad_request(
                "max_attempts",
                format!("must be 1 to {MAX_ATTEMPTS}"),
            ));
        }
        if let Some(why) = needs_admin(&pipeline, &body.params) {
            if !p.is_admin() {
                return Err(ApiError::forbidden(format!(
                    "{why}, which only an admin may change"
                )));
            }
        }
        let mut roots = vec![s.config.home.clone()];
        roots.extend(s.config.data_roots.iter().cloned());
        // The real run directory is known only once the run has an id; the
        // worker builds the arguments again with it.
        build_args(
            &pipeline,
            &body.params,
            &roots,
            &s.config.home.join("runs").join("pending"),
        )?;
        Ok(max_attempts)
    })();
    let max_attempts = match checked {
        Ok(m) => m,
        Err(e) => {
            let details =
                json!({ "pipeline": body.pipeline, "field": e.field, "error": e.message });
            audit(
                s,
                p,
                "run.submit",
                format!("pipeline {}", body.pipeline),
                "denied",
                details,
            )
            .await;
            return Err(e);
        }
    };
    let new = NewRun {
        pipeline: pipeline.clone(),
        params: if body.params.is_null() {
            json!({})
        } else {
            body.params
        },
        submitted_by: p.username().to_string(),
        max_attempts,
    };
    let run = s
        .pool
        .run(move |store| Ok(store.submit_run(&new, now_ms())?))
        .await?;
    audit(
        s,
        p,
        "run.submit",
        format!("run {}", run.run_id),
        "ok",
        json!({ "pipeline": pipeline, "params": run.params }),
    )
    .await;
    Ok(run)
}

/// `POST /api/v1/runs` with a JSON body `{pipeline, params, max_attempts?}`:
/// 201 with the queued run.
pub async fn submit(
    State(s): State<AppState>,
    Authed(p): Authed<RESEARCHER>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    // JSON only: a cross-site form cannot send it, and forms skip the
    // CSRF header check that JSON calls from a session must pass.
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ctype
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("application/json")
    {
        return Err(ApiError::bad_request(
            "content-type",
            "send the run as application/json",
        ));
    }
    let body: SubmitBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request("body", format!("not a run: {e}")))?;
    let run = submit_run(&s, &p, body).await?;
    Ok((StatusCode::CREATED, Json(run_json(&run))))
}

async fn get(s: &AppState, id: i64) -> ApiResult<RunRecord> {
    s.pool
        .run(move |store| Ok(store.get_run(id)?))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no run {id}")))
}

fn run_id(raw: &str) -> ApiResult<i64> {
    raw.parse::<i64>()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| ApiError::bad_request("id", "a run id is a positive integer"))
}

/// `GET /api/v1/runs/{id}`.
pub async fn one(
    State(s): State<AppState>,
    Authed(p): Authed<VIEWER>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let run = visible_run(&s, &p, run_id(&id)?, "the run").await?;
    Ok(Json(run_json(&run)))
}

/// `?after=&limit=` of the log route.
#[derive(Debug, Deserialize)]
pub struct LogParams {
    /// Last sequence number already seen (default 0: from the start).
    pub after: Option<i64>,
    /// Most lines (default 1000, at most the server's max_rows).
    pub limit: Option<i64>,
}

/// `GET /api/v1/runs/{id}/logs?after=SEQ`: the lines after `after`, the
/// run's state and progress, and `next_after` to poll with.
pub async fn logs(
    State(s): State<AppState>,
    Authed(p): Authed<VIEWER>,
    Path(id): Path<String>,
    Query(q): Query<LogParams>,
) -> ApiResult<Json<Value>> {
    let id = run_id(&id)?;
    let after = q.after.unwrap_or(0);
    if after < 0 {
        return Err(ApiError::bad_request("after", "must be 0 or more"));
    }
    let page = PageParams {
        limit: q.limit,
        offset: None,
    }
    .check(1000, s.config.max_rows)?;
    let run = visible_run(&s, &p, id, "the run's log").await?;
    let lines = s
        .pool
        .run(move |store| Ok(store.run_logs(id, after, page.limit as i64)?))
        .await?;
    let next_after = lines.last().map_or(after, |l| l.seq);
    Ok(Json(json!({
        "run_id": id,
        "state": run.state,
        "progress": run.progress,
        "done": run.state.is_terminal(),
        "count": lines.len(),
        "next_after": next_after,
        "items": lines,
    })))
}

/// `POST /api/v1/runs/{id}/cancel`: a queued run, by its submitter or an
/// admin (running runs finish; 409 names the state).
pub async fn cancel(
    State(s): State<AppState>,
    Authed(p): Authed<RESEARCHER>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = run_id(&id)?;
    let run = visible_run(&s, &p, id, "the run (to cancel it)").await?;
    if !(p.is_admin() || p.username() == run.submitted_by) {
        audit(
            &s,
            &p,
            "run.cancel",
            format!("run {id}"),
            "denied",
            json!({ "submitted_by": run.submitted_by }),
        )
        .await;
        return Err(ApiError::forbidden(
            "only the run's submitter or an admin may cancel it",
        ));
    }
    let done = s.pool.run(move |store| Ok(store.cancel_run(id)?)).await?;
    if !done {
        let now = get(&s, id).await?;
        return Err(ApiError::conflict(format!(
            "run {id} is {}; only queued runs can be cancelled",
            now.state
        )));
    }
    audit(
        &s,
        &p,
        "run.cancel",
        format!("run {id}"),
        "ok",
        json!({ "pipeline": run.pipeline }),
    )
    .await;
    let run = get(&s, id).await?;
    Ok(Json(run_json(&run)))
}

#[cfg(test)]
mod tests {
    use super::needs_admin;
    use serde_json::json;

    #[test]
    fn catalog_writers_need_an_admin_unless_they_read_files_or_keep_out_of_the_store() {
        for p in ["outflows-bal", "qso-fit"] {
            assert!(needs_admin(p, &json!({"output": "o.csv"})).is_some(), "{p}");
            assert!(
                needs_admin(p, &json!({"output": "o.csv", "no_store": true})).is_none(),
                "{p}"
            );
            assert!(
                needs_admin(p, &json!({"output": "o.csv", "paths": ["spec.fits"]})).is_none(),
                "{p}"
            );
        }
        assert!(needs_admin("spectra-build", &json!({})).is_some());
        assert!(needs_admin("query-cone", &json!({})).is_none());
    }
}
