//! The anomaly validation pages (issue 17): the ranked quasars of a model
//! with filters (score, redshift, label) and the export links, and one
//! quasar's page with its rest-frame spectrum over the model's
//! reconstruction, the residuals, its nearest neighbours in latent space
//! and the label buttons. Everything comes from the API's functions
//! (`api::anomalies`), so the page shows what the API answers, with the
//! same read rules.

use std::collections::HashMap;

use astrolab_store::{AnomalyLabel, Role};
use axum::extract::{Form, Path, Query, State};

use super::{
    check_csrf, csrf_field, error_page, escape, fmt_f64, layout, need, need_login, or_page,
    redirect, url_encode, PageResult, PageUser,
};
use crate::api::anomalies::{detail_for, model_summaries, ranked_for, set_label, similar_for};
use crate::error::ApiError;
use crate::state::AppState;

/// Rows per page of the ranked list.
const PER_PAGE: i64 = 50;

fn field(q: &HashMap<String, String>, k: &str) -> String {
    q.get(k).map(|v| v.trim().to_string()).unwrap_or_default()
}

/// `GET /anomalies?model=&min_score=&z_min=&z_max=&label=&offset=`.
pub async fn list(
    State(s): State<AppState>,
    PageUser(p): PageUser,
    Query(mut q): Query<HashMap<String, String>>,
) -> PageResult {
    let models = or_page(&p, model_summaries(&s, &p).await)?;
    if models.is_empty() {
        let body = "<p>No anomaly model is registered yet. Train one with <code>astrolab anomalies train</code> and score the quasars with <code>astrolab anomalies score</code> (the quickstart does both on its demo quasars).</p>";
        return Ok(layout("Anomalous quasars", Some(&p), "/anomalies", body));
    }
    q.insert("limit".into(), PER_PAGE.to_string());
    let offset = field(&q, "offset").parse::<i64>().unwrap_or(0).max(0);
    q.insert("offset".into(), offset.to_string());
    let page = or_page(&p, ranked_for(&s, &p, &q).await)?;
    let mut model_opts = String::new();
    for m in &models {
        let sel = if m.model_id == page.model_id {
            " selected"
        } else {
            ""
        };
        model_opts += &format!(
            r#"<option value="{0}"{sel}>{0} ({1} scored)</option>"#,
            escape(&m.model_id),
            m.scored
        );
    }
    let chosen_label = field(&q, "label");
    let mut label_opts = String::from(r#"<option value="">any</option>"#);
    for l in AnomalyLabel::ALL {
        let sel = if l.as_str() == chosen_label {
            " selected"
        } else {
            ""
        };
        label_opts += &format!(r#"<option value="{0}"{sel}>{0}</option>"#, l.as_str());
    }
    let mut body = format!(
        r#"<form method="get" action="/anomalies" class="grid-form" id="anomaly-filters" aria-label="Filter the ranked quasars">
<div><label for="model">Model</label><select id="model" name="model">{model_opts}</select></div>
<div><label for="min_score">Score at least</label><input id="min_score" name="min_score" inputmode="decimal" value="{}"></div>
<div><label for="z_min">z from</label><input id="z_min" name="z_min" inputmode="decimal" value="{}"></div>
<div><label for="z_max">z to</label><input id="z_max" name="z_max" inputmode="decimal" value="{}"></div>
<div><label for="label">Label</label><select id="label" name="label">{label_opts}</select></div>
<div><button type="submit">Show</button></div>
</form>"#,
        escape(&field(&q, "min_score")),
        escape(&field(&q, "z_min")),
        escape(&field(&q, "z_max")),
    );
    let m = url_encode(&page.model_id);
    body += &format!(
        r#"<p id="anomaly-count">{} quasars scored by {}; threshold {} (above it: anomalous). Export the labelled catalog: <a id="export-csv" href="/api/v1/anomalies/export?model={m}&amp;format=csv">CSV</a> · <a id="export-fits" href="/api/v1/anomalies/export?model={m}&amp;format=fits">FITS</a> (every scored quasar: <a href="/api/v1/anomalies/export?model={m}&amp;format=csv&amp;all=true">CSV</a>).</p>"#,
        page.scored,
        escape(&page.model_id),
        fmt_f64(page.threshold),
    );
    if page.items.is_empty() {
        body += "<p>No quasar passes these filters.</p>";
    } else {
        body += r#"<div class="scroll"><table id="anomalies"><thead><tr><th scope="col" class="num">Rank</th><th scope="col">TARGETID</th><th scope="col" class="num">z</th><th scope="col" class="num">Score</th><th scope="col" class="num">χ²/N</th><th scope="col" class="num">Forest</th><th scope="col">Anomalous</th><th scope="col">Labels</th></tr></thead><tbody>"#;
        for r in &page.items {
            let labels: Vec<String> = r
                .labels
                .iter()
                .map(|l| format!("{}: {}", escape(&l.username), l.label.as_str()))
                .collect();
            body += &format!(
                r#"<tr><td class="num">{}</td><td><a href="/anomalies/{t}?model={m}">{t}</a></td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td>{}</td><td class="labels">{}</td></tr>"#,
                r.score.rank,
                fmt_f64(r.score.z),
                fmt_f64(r.score.anomaly_score),
                fmt_f64(r.score.recon_chi2),
                fmt_f64(r.score.iso_score),
                if r.anomalous { "yes" } else { "" },
                labels.join(", "),
                t = r.score.target_id,
            );
        }
        body += "</tbody></table></div>";
    }
    let keep = |k: &str| format!("&amp;{k}={}", url_encode(&field(&q, k)));
    let filters = format!(
        "model={m}{}{}{}{}",
        keep("min_score"),
        keep("z_min"),
        keep("z_max"),
        keep("label")
    );
    if offset > 0 {
        body += &format!(
            r#"<a href="/anomalies?{filters}&amp;offset={}">Higher ranks</a> "#,
            (offset - PER_PAGE).max(0)
        );
    }
    if page.items.len() as i64 == PER_PAGE {
        body += &format!(
            r#"<a href="/anomalies?{filters}&amp;offset={}">Lower ranks</a>"#,
            offset + PER_PAGE
        );
    }
    Ok(layout("Anomalous quasars", Some(&p), "/anomalies", &body))
}

/// `GET /anomalies/{targetid}?model=`.
pub async fn one(
    State(s): State<AppState>,
    PageUser(p): PageUser,
    Path(tid): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let Ok(id) = tid.parse::<i64>() else {
        return Err(error_page(
            &p,
            &ApiError::bad_request("targetid", format!("{tid:?} is not an integer")),
        ));
    };
    let d = or_page(&p, detail_for(&s, &p, &q, id).await)?;
    let mut nq = q.clone();
    nq.insert("k".into(), "10".into());
    let (_, neighbours) = or_page(&p, similar_for(&s, &p, &nq, id).await)?;
    let r = &d.reconstruction;
    let m = url_encode(&r.model_id);
    let mut body = String::new();
    if q.contains_key("labelled") {
        body += r#"<p class="notice" role="status" id="label-saved">Your label is saved.</p>"#;
    }
    let labels: Vec<String> = d
        .row
        .labels
        .iter()
        .map(|l| {
            format!(
                "{} by {} ({})",
                l.label.as_str(),
                escape(&l.username),
                escape(&l.labelled_at)
            )
        })
        .collect();
    body += &format!(
        r#"<dl class="facts"><div><dt>TARGETID</dt><dd id="anomaly-targetid">{id}</dd></div><div><dt>Rank</dt><dd id="anomaly-rank">{}</dd></div><div><dt>Redshift</dt><dd>{}</dd></div><div><dt>ANOMALY_SCORE</dt><dd>{} (threshold {}{})</dd></div><div><dt>Reconstruction χ²/N</dt><dd>{}</dd></div><div><dt>Isolation Forest</dt><dd>{}</dd></div><div><dt>Labels</dt><dd id="anomaly-labels">{}</dd></div><div><dt>Model</dt><dd>{}</dd></div></dl>
<p><a href="/spectra/{id}">Observed-frame spectrum</a> · <a href="/api/v1/anomalies/{id}?model={m}">data (JSON)</a> · <a href="/anomalies?model={m}">ranked list</a></p>"#,
        d.row.score.rank,
        fmt_f64(d.row.score.z),
        fmt_f64(d.row.score.anomaly_score),
        fmt_f64(d.threshold),
        if d.row.anomalous { ": anomalous" } else { "" },
        fmt_f64(d.row.score.recon_chi2),
        fmt_f64(d.row.score.iso_score),
        if labels.is_empty() {
            "none yet".to_string()
        } else {
            labels.join("; ")
        },
        escape(&r.model_id),
    );
    if p.role >= Role::Researcher && p.user.is_some() {
        let mut buttons = String::new();
        for l in AnomalyLabel::ALL {
            buttons += &format!(
                r#"<button type="submit" name="label" value="{0}" id="label-{0}">{0}</button> "#,
                l.as_str()
            );
        }
        body += &format!(
            r#"<form method="post" action="/anomalies/{id}/label" class="inline" id="label-form" aria-label="Label this quasar">{}<input type="hidden" name="model" value="{}"><span>Label:</span> {buttons}</form>"#,
            csrf_field(&p),
            escape(&r.model_id),
        );
    }
    let [spectrum, residual] = astrolab_pipeline::anomalies::reconstruction_plots(
        &format!("TARGETID {id}, z = {:.4}: rest frame", r.z),
        r,
    );
    body += &format!(
        r#"<figure id="anomaly-spectrum">{spectrum}<figcaption>The normalised spectrum on the model's rest-frame grid and the model's reconstruction from its latent mean; masked and unobserved pixels are gaps.</figcaption></figure><figure id="anomaly-residual">{residual}</figure>"#
    );
    body += r#"<section aria-labelledby="nn"><h2 id="nn">Quasars like this one</h2>"#;
    if neighbours.is_empty() {
        body += "<p>No other scored quasar.</p>";
    } else {
        body += r#"<div class="scroll"><table id="neighbours"><thead><tr><th scope="col">TARGETID</th><th scope="col" class="num">z</th><th scope="col" class="num">Distance</th><th scope="col" class="num">Score</th><th scope="col" class="num">Rank</th></tr></thead><tbody>"#;
        for n in &neighbours {
            body += &format!(
                r#"<tr><td><a href="/anomalies/{t}?model={m}">{t}</a></td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
                fmt_f64(n.z),
                fmt_f64(n.distance),
                fmt_f64(n.anomaly_score),
                n.rank,
                t = n.target_id
            );
        }
        body += "</tbody></table></div>";
    }
    body += "</section>";
    Ok(layout(
        &format!("Quasar {id}"),
        Some(&p),
        "/anomalies",
        &body,
    ))
}

/// `POST /anomalies/{targetid}/label` (researchers; CSRF): the API's label
/// (same checks, audited), then back to the quasar's page.
pub async fn label(
    State(s): State<AppState>,
    PageUser(p): PageUser,
    Path(tid): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let here = format!("/anomalies/{}", tid.parse::<i64>().unwrap_or(0));
    need_login(&p, &here)?;
    check_csrf(&p, &f)?;
    need(&p, Role::Researcher)?;
    let Ok(id) = tid.parse::<i64>() else {
        return Err(error_page(
            &p,
            &ApiError::bad_request("targetid", format!("{tid:?} is not an integer")),
        ));
    };
    let model = f.get("model").cloned().filter(|m| !m.trim().is_empty());
    let label = f.get("label").cloned().unwrap_or_default();
    or_page(&p, set_label(&s, &p, id, &label, model.clone()).await)?;
    Ok(redirect(&format!(
        "/anomalies/{id}?model={}&labelled=1",
        url_encode(model.as_deref().unwrap_or(""))
    )))
}
