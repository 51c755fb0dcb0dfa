//! The dashboard and the catalog search page.

use std::collections::HashMap;

use astrolab_store::RunState;
use axum::extract::{Query, State};
use axum::response::Response;
use serde_json::json;

use super::{
    cell, escape, fmt_f64, human_bytes, layout, or_page, thousands, url_encode, when_ms,
    PageResult, PageUser,
};
use crate::api::catalog::{cone_request, run_cone, ConeParams};
use crate::clock::now_ms;
use crate::state::AppState;

/// A run's state as a labelled badge (text, not colour alone).
pub fn state_badge(state: RunState) -> String {
    format!(
        r#"<span class="badge state-{0}">{0}</span>"#,
        state.as_str()
    )
}

/// One row of the recent-runs tables.
pub fn run_row(r: &astrolab_store::RunRecord) -> String {
    let progress = match (r.state, r.progress) {
        (RunState::Running, Some(x)) => format!("{:.0} %", x * 100.0),
        _ => String::new(),
    };
    format!(
        r#"<tr><td><a href="/runs/{id}">#{id}</a></td><td>{pipeline}</td><td>{state}</td><td>{progress}</td><td>{who}</td><td>{at}</td></tr>"#,
        id = r.run_id,
        pipeline = escape(&r.pipeline),
        state = state_badge(r.state),
        who = escape(&r.submitted_by),
        at = escape(&when_ms(Some(r.submitted_at_ms))),
    )
}

/// The head of a runs table.
pub const RUNS_HEAD: &str = r#"<thead><tr><th scope="col">Run</th><th scope="col">Pipeline</th><th scope="col">State</th><th scope="col">Progress</th><th scope="col">Submitted by</th><th scope="col">Submitted (UTC)</th></tr></thead>"#;

/// `GET /`: data volumes, database size, the queue and recent runs.
pub async fn dashboard(State(s): State<AppState>, PageUser(p): PageUser) -> PageResult {
    let who = p.clone();
    let now = now_ms();
    let (tables, files, bytes, db_bytes, stats, recent) = or_page(
        &p,
        s.pool
            .run(move |store| {
                let hidden = store.forbidden_file_ids(&who.projects, who.is_admin())?;
                let live: Vec<_> = store
                    .raw_files()?
                    .into_iter()
                    .filter(|f| !f.superseded && !hidden.contains(&f.file_id))
                    .collect();
                let bytes: i64 = live.iter().map(|f| f.size_bytes).sum();
                Ok((
                    // The caller's rows only: counts of restricted tables
                    // would tell what a project holds.
                    store.table_row_counts_excluding(&hidden)?,
                    live.len(),
                    bytes,
                    store.database_size_bytes()?,
                    store.queue_stats(now)?,
                    store
                        .list_runs_visible(
                            None,
                            who.username(),
                            &who.projects,
                            who.is_admin(),
                            10,
                            0,
                        )?
                        .0,
                ))
            })
            .await,
    )?;
    let total_rows: i64 = tables.iter().map(|t| t.1).sum();
    let mut body = format!(
        r#"<section aria-labelledby="vol"><h2 id="vol">Data volumes</h2>
<dl class="tiles">
<div><dt>Catalog rows</dt><dd id="total-rows">{}</dd></div>
<div><dt>Raw files</dt><dd id="raw-files">{}</dd></div>
<div><dt>Raw bytes</dt><dd>{}</dd></div>
<div><dt>Database size</dt><dd id="db-size">{}</dd></div>
</dl>
<div class="scroll"><table><caption>Rows per table</caption><thead><tr><th scope="col">Table</th><th scope="col" class="num">Rows</th></tr></thead><tbody>"#,
        thousands(total_rows),
        thousands(files as i64),
        human_bytes(bytes),
        human_bytes(db_bytes),
    );
    for (name, n) in &tables {
        body += &format!(
            r#"<tr><td>{}</td><td class="num">{}</td></tr>"#,
            escape(name),
            thousands(*n)
        );
    }
    body += "</tbody></table></div></section>";
    let oldest = stats
        .oldest_queued_age_s
        .map(|a| format!("{a:.0} s"))
        .unwrap_or_else(|| "none queued".to_string());
    body += &format!(
        r#"<section aria-labelledby="queue"><h2 id="queue">Queue</h2>
<dl class="tiles">
<div><dt>Queued</dt><dd id="q-queued">{}</dd></div>
<div><dt>Running</dt><dd id="q-running">{}</dd></div>
<div><dt>Succeeded</dt><dd>{}</dd></div>
<div><dt>Failed</dt><dd>{}</dd></div>
<div><dt>Oldest queued</dt><dd>{}</dd></div>
</dl></section>"#,
        stats.queued, stats.running, stats.succeeded, stats.failed, oldest
    );
    body += r#"<section aria-labelledby="recent"><h2 id="recent">Recent runs</h2>"#;
    if recent.is_empty() {
        body += r#"<p>No runs yet. <a href="/runs">Submit one</a>.</p>"#;
    } else {
        body += &format!(r#"<div class="scroll"><table>{RUNS_HEAD}<tbody>"#);
        for r in &recent {
            body += &run_row(r);
        }
        body += r#"</tbody></table></div><p><a href="/runs">All runs</a></p>"#;
    }
    body += "</section>";
    Ok(layout("Dashboard", Some(&p), "/", &body))
}

fn field(q: &HashMap<String, String>, k: &str) -> String {
    q.get(k).cloned().unwrap_or_default()
}

/// `GET /catalog?ra=&dec=&radius=&where=&offset=`: the cone form, and
/// with a centre given, the results table and a sky plot of the hits.
pub async fn catalog(
    State(s): State<AppState>,
    PageUser(p): PageUser,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let (ra, dec, radius, filter) = (
        field(&q, "ra"),
        field(&q, "dec"),
        field(&q, "radius"),
        field(&q, "where"),
    );
    let table = q
        .get("table")
        .filter(|t| !t.is_empty())
        .cloned()
        .unwrap_or_else(|| "zcatalog".to_string());
    let radius_shown = if radius.is_empty() && ra.is_empty() {
        "0.5".to_string()
    } else {
        radius.clone()
    };
    let mut tables = String::new();
    for t in astrolab_store::schema::TABLES.iter().filter(|t| t.sky) {
        let sel = if t.name == table { " selected" } else { "" };
        tables += &format!(r#"<option value="{0}"{sel}>{0}</option>"#, escape(t.name));
    }
    let mut body = format!(
        r#"<form method="get" action="/catalog" class="grid-form" aria-label="Cone search">
<div><label for="table">Table</label><select id="table" name="table">{tables}</select></div>
<div><label for="ra">RA (deg)</label><input id="ra" name="ra" inputmode="decimal" required value="{}"></div>
<div><label for="dec">Dec (deg)</label><input id="dec" name="dec" inputmode="decimal" required value="{}"></div>
<div><label for="radius">Radius (deg, at most {max})</label><input id="radius" name="radius" inputmode="decimal" required value="{}"></div>
<div class="wide"><label for="where">Filter (optional)</label><input id="where" name="where" placeholder="zwarn = 0 AND z &lt; 1" value="{}"></div>
<div><button type="submit">Search</button></div>
</form>"#,
        escape(&ra),
        escape(&dec),
        escape(&radius_shown),
        escape(&filter),
        max = crate::api::catalog::MAX_CONE_DEG,
    );
    if ra.is_empty() && dec.is_empty() {
        return Ok(layout("Catalog search", Some(&p), "/catalog", &body));
    }
    let offset: i64 = q.get("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
    // The API's own parameter type, so the checks are the API's.
    let params: Result<ConeParams, _> = serde_json::from_value(json!({
        "table": table, "ra": ra, "dec": dec, "radius": radius,
        "where": if filter.trim().is_empty() { None } else { Some(filter.clone()) },
        "limit": 200, "offset": offset.max(0),
    }));
    let outcome = match params {
        Ok(params) => match cone_request(&params, s.config.max_rows) {
            Ok((cq, page)) => {
                let centre = (cq.ra_deg, cq.dec_deg, cq.radius_deg);
                run_cone(&s, &p, cq, page).await.map(|r| (r, centre))
            }
            Err(e) => Err(e),
        },
        Err(e) => Err(crate::error::ApiError::bad_request("query", e.to_string())),
    };
    let (r, (ra0, dec0, rad)) = match outcome {
        Ok(x) => x,
        Err(e) => {
            body += &format!(
                r#"<p class="error" role="alert">{}{}</p>"#,
                escape(&e.message),
                e.field
                    .as_ref()
                    .map(|f| format!(" (field {})", escape(f)))
                    .unwrap_or_default()
            );
            let mut resp: Response = layout("Catalog search", Some(&p), "/catalog", &body);
            *resp.status_mut() = e.status;
            return Ok(resp);
        }
    };
    crate::audit::restricted_read(&s, &p, "/catalog", r.restricted_read).await;
    let col = |n: &str| r.columns.iter().position(|c| c == n);
    let (ci_ra, ci_dec, ci_tid) = (col("ra"), col("dec"), col("targetid"));
    let points: Vec<(f64, f64, String)> = match (ci_ra, ci_dec) {
        (Some(a), Some(d)) => r
            .rows
            .iter()
            .filter_map(|row| {
                let label = ci_tid.map(|t| row[t].to_string()).unwrap_or_default();
                Some((row[a].as_f64()?, row[d].as_f64()?, label))
            })
            .collect(),
        _ => Vec::new(),
    };
    body += &format!(
        r#"<section aria-labelledby="res"><h2 id="res">Results</h2><p id="result-count">{} rows{} within {} deg of ({}, {}).</p>"#,
        thousands(r.rows.len() as i64),
        if offset > 0 {
            format!(" from row {}", offset + 1)
        } else {
            String::new()
        },
        fmt_f64(rad),
        fmt_f64(ra0),
        fmt_f64(dec0)
    );
    body += r#"<div class="split"><figure class="skyplot">"#;
    body += &super::svg::sky_plot(ra0, dec0, rad, &points);
    body += r#"<figcaption>Hits on the sky (east to the left); the circle is the search cone.</figcaption></figure>"#;
    body += r#"<div class="scroll grow"><table id="results"><thead><tr>"#;
    for c in &r.columns {
        body += &format!(r#"<th scope="col">{}</th>"#, escape(c));
    }
    body += "</tr></thead><tbody>";
    for row in &r.rows {
        body += "<tr>";
        for (i, v) in row.iter().enumerate() {
            if Some(i) == ci_tid && v.as_i64().is_some() {
                body += &format!(
                    r#"<td><a href="/spectra/{0}">{0}</a></td>"#,
                    escape(&v.to_string())
                );
            } else if matches!(
                v,
                astrolab_store::Value::Int(_) | astrolab_store::Value::Float(_)
            ) {
                body += &format!(r#"<td class="num">{}</td>"#, cell(v));
            } else {
                body += &format!("<td>{}</td>", cell(v));
            }
        }
        body += "</tr>";
    }
    body += "</tbody></table></div></div>";
    if let Some(next) = r.next_offset {
        body += &format!(
            r#"<p><a href="/catalog?table={}&amp;ra={}&amp;dec={}&amp;radius={}&amp;where={}&amp;offset={next}">Next rows</a></p>"#,
            escape(&url_encode(&table)),
            escape(&url_encode(&ra)),
            escape(&url_encode(&dec)),
            escape(&url_encode(&radius)),
            escape(&url_encode(&filter)),
        );
    }
    body += "</section>";
    Ok(layout("Catalog search", Some(&p), "/catalog", &body))
}
