//! The runs pages: the list with a submit form, and one run with live
//! progress and logs (app.js polls the JSON API every second).

use std::collections::HashMap;

use astrolab_store::{Role, RunState};
use axum::extract::{Path, Query, State};
use axum::Form;

use super::data::{run_row, state_badge, RUNS_HEAD};
use super::{
    check_csrf, csrf_field, error_page, escape, layout, need, or_page, redirect, when_ms,
    PageResult, PageUser,
};
use crate::api::runs::{submit_run, SubmitBody};
use crate::auth::{Authed, RESEARCHER};
use crate::error::ApiError;
use crate::pipelines;
use crate::state::AppState;

const PER_PAGE: i64 = 50;

/// The submit form (researchers): every pipeline of the catalog with its
/// parameters, and a JSON textarea for the values.
fn submit_form(
    p: &crate::auth::Principal,
    chosen: &str,
    params: &str,
    error: Option<&ApiError>,
) -> String {
    let catalog = pipelines::catalog();
    let mut options = String::new();
    let mut docs = String::new();
    for spec in &catalog {
        let sel = if spec.name == chosen { " selected" } else { "" };
        options += &format!(
            r#"<option value="{0}"{sel}>{0}</option>"#,
            escape(spec.name)
        );
        docs += &format!(
            r#"<dt><code>{}</code>: {}</dt><dd><ul>"#,
            escape(spec.name),
            escape(spec.summary)
        );
        for prm in &spec.params {
            docs += &format!(
                "<li><code>{}</code> ({}{}): {}</li>",
                escape(&prm.name),
                escape(
                    &format!("{}{:?}", if prm.list { "list of " } else { "" }, prm.kind)
                        .to_lowercase()
                ),
                if prm.required { ", required" } else { "" },
                escape(&prm.doc)
            );
        }
        docs += "</ul></dd>";
    }
    let err = error
        .map(|e| {
            format!(
                r#"<p class="error" role="alert" id="submit-error">{}{}</p>"#,
                escape(&e.message),
                e.field
                    .as_ref()
                    .map(|f| format!(" (field <code>{}</code>)", escape(f)))
                    .unwrap_or_default()
            )
        })
        .unwrap_or_default();
    format!(
        r#"<section aria-labelledby="submit"><h2 id="submit">Submit a run</h2>{err}
<form method="post" action="/runs" class="stack">{csrf}
<label for="pipeline">Pipeline</label>
<select id="pipeline" name="pipeline" required>{options}</select>
<label for="params">Parameters (JSON object)</label>
<textarea id="params" name="params" rows="5" spellcheck="false" aria-describedby="params-help">{params}</textarea>
<p id="params-help" class="help">For example <code>{{"ra": 150.1, "dec": 2.2, "radius": "0.5deg"}}</code> for <code>query-cone</code>. Paths must lie in the data home or a configured data root; outputs go to the run's own directory.</p>
<button type="submit">Submit</button>
</form>
<details><summary>Pipelines and their parameters</summary><dl class="pipelines">{docs}</dl></details></section>"#,
        csrf = csrf_field(p),
        params = escape(params),
    )
}

/// `GET /runs?state=&offset=`: runs newest first; the submit form for
/// researchers.
pub async fn list(
    State(s): State<AppState>,
    PageUser(p): PageUser,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let state = match q.get("state").filter(|v| !v.is_empty()) {
        Some(v) => Some(or_page(&p, v.parse::<RunState>().map_err(ApiError::from))?),
        None => None,
    };
    let offset: i64 = q
        .get("offset")
        .and_then(|o| o.parse().ok())
        .unwrap_or(0)
        .max(0);
    let (runs, total) = or_page(
        &p,
        crate::api::runs::visible_runs(&s, &p, state, PER_PAGE, offset).await,
    )?;
    Ok(render_list(
        &p,
        state,
        offset,
        &runs,
        total,
        None,
        "query-cone",
        "{}",
    ))
}

#[allow(clippy::too_many_arguments)]
fn render_list(
    p: &crate::auth::Principal,
    state: Option<RunState>,
    offset: i64,
    runs: &[astrolab_store::RunRecord],
    total: i64,
    error: Option<&ApiError>,
    chosen: &str,
    params: &str,
) -> axum::response::Response {
    let mut body = String::new();
    if p.role >= Role::Researcher {
        body += &submit_form(p, chosen, params, error);
    }
    let mut filter = String::from(r#"<option value="">any</option>"#);
    for st in RunState::ALL {
        let sel = if Some(st) == state { " selected" } else { "" };
        filter += &format!(r#"<option value="{0}"{sel}>{0}</option>"#, st.as_str());
    }
    body += &format!(
        r#"<section aria-labelledby="all"><h2 id="all">Runs</h2>
<form method="get" action="/runs" class="inline"><label for="state">State</label><select id="state" name="state">{filter}</select><button type="submit">Show</button></form>
<p>{total} runs{}.</p>"#,
        state.map(|s| format!(" {s}")).unwrap_or_default()
    );
    if !runs.is_empty() {
        body += &format!(r#"<div class="scroll"><table id="runs">{RUNS_HEAD}<tbody>"#);
        for r in runs {
            body += &run_row(r);
        }
        body += "</tbody></table></div>";
    }
    if offset + (runs.len() as i64) < total {
        body += &format!(
            r#"<p><a href="/runs?state={}&amp;offset={}">Older runs</a></p>"#,
            state.map(|s| s.as_str()).unwrap_or(""),
            offset + PER_PAGE
        );
    }
    body += "</section>";
    let mut r = layout("Runs", Some(p), "/runs", &body);
    if let Some(e) = error {
        *r.status_mut() = e.status;
    }
    r
}

/// `POST /runs` (researchers; CSRF): validates and queues through the
/// API's own `submit_run` (same checks, same audit event), then shows the
/// run's page.
pub async fn submit(
    State(s): State<AppState>,
    PageUser(p): PageUser,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    super::need_login(&p, "/runs")?;
    check_csrf(&p, &f)?;
    need(&p, Role::Researcher)?;
    let pipeline = f.get("pipeline").cloned().unwrap_or_default();
    let raw = f.get("params").cloned().unwrap_or_default();
    let parsed: Result<serde_json::Value, ApiError> = if raw.trim().is_empty() {
        Ok(serde_json::json!({}))
    } else {
        serde_json::from_str(&raw)
            .map_err(|e| ApiError::bad_request("params", format!("not JSON: {e}")))
    };
    let outcome = match parsed {
        Ok(params) => {
            submit_run(
                &s,
                &p,
                SubmitBody {
                    pipeline: pipeline.clone(),
                    params,
                    max_attempts: None,
                },
            )
            .await
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(run) => Ok(redirect(&format!("/runs/{}", run.run_id))),
        Err(e) => {
            let (runs, total) = or_page(
                &p,
                crate::api::runs::visible_runs(&s, &p, None, PER_PAGE, 0).await,
            )?;
            Err(render_list(
                &p,
                None,
                0,
                &runs,
                total,
                Some(&e),
                &pipeline,
                &raw,
            ))
        }
    }
}

/// `GET /runs/{id}`: state, progress, parameters, result and the log,
/// kept live by app.js.
pub async fn one(
    State(s): State<AppState>,
    PageUser(p): PageUser,
    Path(id): Path<String>,
) -> PageResult {
    let Some(id) = id.parse::<i64>().ok().filter(|n| *n > 0) else {
        return Err(error_page(
            &p,
            &ApiError::bad_request("id", "a run id is a positive integer"),
        ));
    };
    let run = or_page(
        &p,
        crate::api::runs::visible_run(&s, &p, id, "the run page").await,
    )?;
    let logs = or_page(
        &p,
        s.pool
            .run(move |store| Ok(store.run_logs(id, 0, 1000)?))
            .await,
    )?;
    // Whoever reaches this page may see the whole run (visible_run).
    let details = true;
    let progress = run.progress.unwrap_or(if run.state == RunState::Succeeded {
        1.0
    } else {
        0.0
    });
    let mut body = format!(
        r#"<section id="run" data-run-id="{id}" data-after="{after}" data-done="{done}" data-details="{details}" aria-labelledby="status-h">
<h2 id="status-h">Status</h2>
<dl class="facts">
<div><dt>Pipeline</dt><dd>{pipeline}</dd></div>
<div><dt>State</dt><dd id="run-state" aria-live="polite">{state}</dd></div>
<div><dt>Progress</dt><dd><progress id="run-progress" max="1" value="{progress}">{pct:.0} %</progress> <span id="run-pct">{pct:.0} %</span></dd></div>
<div><dt>Message</dt><dd id="run-message">{message}</dd></div>
<div><dt>Submitted</dt><dd>{who}, {at} UTC</dd></div>
<div><dt>Attempts</dt><dd id="run-attempts">{attempts} of {max}</dd></div>
<div><dt>Finished</dt><dd id="run-finished">{finished}</dd></div>
</dl>"#,
        after = logs.last().map_or(0, |l| l.seq),
        done = run.state.is_terminal(),
        pipeline = escape(&run.pipeline),
        state = state_badge(run.state),
        pct = progress * 100.0,
        message = escape(run.message.as_deref().filter(|_| details).unwrap_or("")),
        who = escape(&run.submitted_by),
        at = escape(&when_ms(Some(run.submitted_at_ms))),
        attempts = run.attempts,
        max = run.max_attempts,
        finished = escape(&when_ms(run.finished_at_ms)),
    );
    if run.state == RunState::Queued
        && (p.is_admin() || (p.role >= Role::Researcher && p.username() == run.submitted_by))
    {
        body += &format!(
            r#"<form method="post" action="/runs/{id}/cancel" id="cancel-form">{}<button type="submit">Cancel this run</button></form>"#,
            csrf_field(&p)
        );
    }
    body += "</section>";
    if details {
        let params = serde_json::to_string_pretty(&run.params).unwrap_or_default();
        body += &format!(
            r#"<section aria-labelledby="params-h"><h2 id="params-h">Parameters</h2><pre>{}</pre></section>"#,
            escape(&params)
        );
        body += r#"<section aria-labelledby="result-h"><h2 id="result-h">Result</h2><pre id="run-result">"#;
        if let Some(r) = &run.result {
            body += &escape(&serde_json::to_string_pretty(r).unwrap_or_default());
        }
        body += "</pre></section>";
        body += r#"<section aria-labelledby="log-h"><h2 id="log-h">Log</h2><pre id="run-log" class="log" tabindex="0" aria-label="Run log">"#;
        for l in &logs {
            body += &format!(
                r#"<span class="{}">{}</span>"#,
                if l.stream == "stderr" { "err" } else { "out" },
                escape(&l.line)
            );
            body += "\n";
        }
        body += "</pre></section>";
    }
    Ok(layout(&format!("Run #{id}"), Some(&p), "/runs", &body))
}

/// `POST /runs/{id}/cancel` (CSRF): the API's cancel (submitter or admin,
/// queued runs only, audited).
pub async fn cancel(
    State(s): State<AppState>,
    PageUser(p): PageUser,
    Path(id): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    super::need_login(&p, "/runs")?;
    check_csrf(&p, &f)?;
    need(&p, Role::Researcher)?;
    let done =
        crate::api::runs::cancel(State(s), Authed::<RESEARCHER>(p.clone()), Path(id.clone())).await;
    let _ = or_page(&p, done)?;
    Ok(redirect(&format!(
        "/runs/{}",
        id.parse::<i64>().unwrap_or(0)
    )))
}
