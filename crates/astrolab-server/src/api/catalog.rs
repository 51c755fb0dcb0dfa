//! Catalog routes: the raw-file registry, datasets, cone search and
//! crossmatch of uploaded positions.

use std::path::PathBuf;

use astrolab_store::query::{load_positions, XmatchSide};
use astrolab_store::{ConeQuery, Role, Store, Visibility};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value as Json_};

use super::page::{Page, PageParams, Paged};
use crate::auth::{Authed, Principal, ADMIN, VIEWER};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Largest cone radius the API serves, degrees (the CLI has no limit).
pub const MAX_CONE_DEG: f64 = 10.0;
/// Most positions one crossmatch upload may hold.
pub const MAX_XMATCH_POSITIONS: usize = 10_000;

fn forbidden(store: &mut Store, p: &Principal) -> ApiResult<Vec<i64>> {
    Ok(store.forbidden_file_ids(&p.projects, p.is_admin())?)
}

use crate::audit::{restricted_datasets, restricted_read as audit_restricted_read};

/// `GET /api/v1/files`.
pub async fn files(
    State(s): State<AppState>,
    Authed(p): Authed<VIEWER>,
    Query(pp): Query<PageParams>,
) -> ApiResult<Json<Json_>> {
    let page = pp.check(100, s.config.max_rows)?;
    let who = p.clone();
    let (files, total, restricted) = s
        .pool
        .run(move |store| {
            let hidden = forbidden(store, &who)?;
            let all: Vec<_> = store
                .raw_files()?
                .into_iter()
                .filter(|f| !hidden.contains(&f.file_id))
                .collect();
            let total = all.len() as i64;
            let shown: Vec<_> = all.into_iter().skip(page.offset).take(page.limit).collect();
            let restricted = restricted_datasets(store, &who, shown.iter().map(|f| f.file_id))?;
            Ok((shown, total, restricted))
        })
        .await?;
    audit_restricted_read(&s, &p, "/api/v1/files", restricted).await;
    let show_source = p.role >= Role::Researcher;
    let items: Vec<Json_> = files
        .iter()
        .map(|f| {
            let mut v = json!({
                "file_id": f.file_id, "name": f.name, "version": f.version, "size_bytes": f.size_bytes,
                "sha256": f.sha256, "format": f.format,
                "hdus": serde_json::from_str::<Json_>(&f.hdus).unwrap_or(Json_::String(f.hdus.clone())),
                "rows_loaded": f.rows_loaded, "ingested_at": f.ingested_at,
                "software_version": f.software_version, "superseded": f.superseded,
            });
            // Server paths are for the lab's own staff, not for the public.
            if show_source {
                v["source"] = json!(f.source);
            }
            v
        })
        .collect();
    Ok(Json(json!(Paged::new(items, page, Some(total)))))
}

/// `GET /api/v1/datasets`: the datasets the caller may read.
pub async fn datasets(
    State(s): State<AppState>,
    Authed(p): Authed<VIEWER>,
) -> ApiResult<Json<Json_>> {
    let list = s
        .pool
        .run(move |store| {
            let mut out = Vec::new();
            for d in store.list_datasets()? {
                if store.can_read_dataset(&d.name, &p.projects, p.is_admin())? {
                    out.push(d);
                }
            }
            Ok(out)
        })
        .await?;
    Ok(Json(json!({ "items": list, "count": list.len() })))
}

/// Body of `PUT /api/v1/datasets/{name}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetBody {
    /// What it holds.
    #[serde(default)]
    pub description: String,
    /// `public` or `restricted`.
    pub visibility: String,
    /// Projects that may read a restricted dataset.
    #[serde(default)]
    pub projects: Vec<String>,
}

fn check_name(field: &str, name: &str) -> ApiResult<()> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(ApiError::bad_request(
            field,
            "1-64 letters, digits, '-', '_' or '.'",
        ));
    }
    Ok(())
}

/// `PUT /api/v1/datasets/{name}` (admin).
pub async fn put_dataset(
    State(s): State<AppState>,
    Authed(p): Authed<ADMIN>,
    Path(name): Path<String>,
    Json(body): Json<DatasetBody>,
) -> ApiResult<Json<Json_>> {
    check_name("name", &name)?;
    let vis: Visibility = body
        .visibility
        .parse()
        .map_err(|_| ApiError::bad_request("visibility", "public or restricted"))?;
    for pr in &body.projects {
        check_name("projects", pr)?;
    }
    let (n, b) = (name.clone(), body);
    let d = s
        .pool
        .run(move |store| {
            store.upsert_dataset(&n, &b.description, vis, &b.projects)?;
            Ok(store.dataset(&n)?)
        })
        .await?;
    s.audit
        .record_by(&s.pool, &p, "dataset.put", name, "ok", json!(d))
        .await;
    Ok(Json(json!(d)))
}

/// Body of `POST /api/v1/datasets/{name}/files`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetFiles {
    /// Raw-file ids.
    pub file_ids: Vec<i64>,
}

/// `POST /api/v1/datasets/{name}/files` (admin).
pub async fn add_dataset_files(
    State(s): State<AppState>,
    Authed(p): Authed<ADMIN>,
    Path(name): Path<String>,
    Json(body): Json<DatasetFiles>,
) -> ApiResult<Json<Json_>> {
    check_name("name", &name)?;
    let (n, ids) = (name.clone(), body.file_ids.clone());
    let d = s
        .pool
        .run(move |store| {
            if store.dataset(&n)?.is_none() {
                return Err(ApiError::not_found(format!("no dataset {n:?}")));
            }
            let known: Vec<i64> = store.raw_files()?.iter().map(|f| f.file_id).collect();
            if let Some(bad) = ids.iter().find(|i| !known.contains(i)) {
                return Err(ApiError::bad_request(
                    "file_ids",
                    format!("no registered file with id {bad}"),
                ));
            }
            for id in &ids {
                store.add_file_to_dataset(&n, *id)?;
            }
            Ok(store.dataset(&n)?)
        })
        .await?;
    s.audit
        .record_by(
            &s.pool,
            &p,
            "dataset.add_files",
            name,
            "ok",
            json!({ "file_ids": body.file_ids }),
        )
        .await;
    Ok(Json(json!(d)))
}

/// Query of `GET /api/v1/cone`.
#[derive(Debug, Deserialize)]
pub struct ConeParams {
    table: Option<String>,
    ra: Option<String>,
    dec: Option<String>,
    radius: Option<String>,
    #[serde(rename = "where")]
    filter: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// Parses a required number, naming the field on error.
pub fn number(field: &str, v: &Option<String>) -> ApiResult<f64> {
    let text = v
        .as_deref()
        .ok_or_else(|| ApiError::bad_request(field, "required"))?;
    let x: f64 = text
        .trim()
        .parse()
        .map_err(|_| ApiError::bad_request(field, format!("{text:?} is not a number")))?;
    if !x.is_finite() {
        return Err(ApiError::bad_request(field, "must be finite"));
    }
    Ok(x)
}

/// A cone search result page.
pub struct ConeResult {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows of this page.
    pub rows: Vec<Vec<astrolab_store::Value>>,
    /// Offset of the next page.
    pub next_offset: Option<usize>,
    /// Restricted datasets whose rows were read.
    pub restricted_read: Vec<String>,
}

/// Checked cone request (shared by the API and the catalog page).
pub fn cone_request(q: &ConeParams, max_rows: usize) -> ApiResult<(ConeQuery, Page)> {
    let ra = number("ra", &q.ra)?;
    let dec = number("dec", &q.dec)?;
    let radius = number("radius", &q.radius)?;
    if !(0.0..360.0).contains(&ra) {
        return Err(ApiError::bad_request("ra", "must be in [0, 360) degrees"));
    }
    if !(-90.0..=90.0).contains(&dec) {
        return Err(ApiError::bad_request("dec", "must be in [-90, 90] degrees"));
    }
    if !(radius > 0.0 && radius <= MAX_CONE_DEG) {
        return Err(ApiError::bad_request(
            "radius",
            format!("must be in (0, {MAX_CONE_DEG}] degrees"),
        ));
    }
    let page = PageParams {
        limit: q.limit,
        offset: q.offset,
    }
    .check(1000, max_rows)?;
    let filter = q.filter.clone().filter(|f| !f.trim().is_empty());
    if filter.as_ref().is_some_and(|f| f.len() > 2000) {
        return Err(ApiError::too_large(
            "where",
            "filter longer than 2000 characters",
        ));
    }
    Ok((
        ConeQuery {
            table: q.table.clone().unwrap_or_else(|| "zcatalog".to_string()),
            ra_deg: ra,
            dec_deg: dec,
            radius_deg: radius,
            filter,
            limit: Some(page.offset + page.limit + 1),
            ..Default::default()
        },
        page,
    ))
}

/// Runs a cone search for a caller (restricted rows removed).
pub async fn run_cone(
    s: &AppState,
    p: &Principal,
    mut cq: ConeQuery,
    page: Page,
) -> ApiResult<ConeResult> {
    let who = p.clone();
    let (table, restricted) = s
        .pool
        .run(move |store| {
            // Files of restricted datasets: usually none, and then one
            // query is all the access control a cone costs.
            let all_restricted = store.forbidden_file_ids(&[], false)?;
            if !all_restricted.is_empty() {
                cq.exclude_file_ids = forbidden(store, &who)?;
            }
            let t = store.cone(&cq)?;
            // Which restricted datasets did the caller's rows come from?
            let restricted = match t.column_index("file_id") {
                Some(fi) => {
                    restricted_datasets(store, &who, t.rows.iter().filter_map(|r| r[fi].as_i64()))?
                }
                None => Vec::new(),
            };
            Ok((t, restricted))
        })
        .await?;
    let more = table.rows.len() > page.offset + page.limit;
    let rows: Vec<_> = table
        .rows
        .into_iter()
        .skip(page.offset)
        .take(page.limit)
        .collect();
    Ok(ConeResult {
        columns: table.columns,
        rows,
        next_offset: more.then_some(page.offset + page.limit),
        restricted_read: restricted,
    })
}

/// `GET /api/v1/cone`.
pub async fn cone(
    State(s): State<AppState>,
    Authed(p): Authed<VIEWER>,
    Query(q): Query<ConeParams>,
) -> ApiResult<Json<Json_>> {
    let (cq, page) = cone_request(&q, s.config.max_rows)?;
    let r = run_cone(&s, &p, cq, page).await?;
    crate::audit::restricted_read(&s, &p, "/api/v1/cone", r.restricted_read).await;
    Ok(Json(json!({
        "columns": r.columns,
        "rows": r.rows,
        "count": r.rows.len(),
        "next_offset": r.next_offset,
    })))
}

/// Query of `POST /api/v1/xmatch`.
#[derive(Debug, Deserialize)]
pub struct XmatchParams {
    table: Option<String>,
    radius_arcsec: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// Removes the upload's temporary file however the request ends.
struct TempUpload(PathBuf);

impl Drop for TempUpload {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `POST /api/v1/xmatch`: each uploaded position gets its nearest row of
/// the table within the radius (rows of datasets the caller may not read
/// never match).
pub async fn xmatch(
    State(s): State<AppState>,
    Authed(p): Authed<VIEWER>,
    Query(q): Query<XmatchParams>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Json_>)> {
    let radius_arcsec = match &q.radius_arcsec {
        None => 1.0,
        v => number("radius_arcsec", v)?,
    };
    if !(radius_arcsec > 0.0 && radius_arcsec <= 60.0) {
        return Err(ApiError::bad_request(
            "radius_arcsec",
            "must be in (0, 60] arcsec",
        ));
    }
    let page = PageParams {
        limit: q.limit,
        offset: q.offset,
    }
    .check(1000, s.config.max_rows)?;
    let table = q.table.clone().unwrap_or_else(|| "zcatalog".to_string());
    astrolab_store::query::sky_table(&table, "table")?;
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "body",
            "upload a CSV (ra,dec columns) or FITS table of positions",
        ));
    }
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let is_fits = ctype.contains("fits") || body.starts_with(b"SIMPLE  =");
    let dir = s.config.home.join("tmp");
    std::fs::create_dir_all(&dir).map_err(ApiError::internal)?;
    let path = dir.join(format!(
        "upload-{}.{}",
        crate::auth::secrets::random_hex(8),
        if is_fits { "fits" } else { "csv" }
    ));
    std::fs::write(&path, &body).map_err(ApiError::internal)?;
    let upload = TempUpload(path);
    let who = p.clone();
    let result =
        s.pool
            .run(move |store| {
                let pos = load_positions(store, &XmatchSide::File(upload.0.clone()), "body")
                    .map_err(|e| {
                        // The temporary name means nothing to the client.
                        let msg = e
                            .to_string()
                            .replace(&upload.0.display().to_string(), "upload");
                        ApiError::bad_request("body", msg)
                    })?;
                if pos.ra.len() > MAX_XMATCH_POSITIONS {
                    return Err(ApiError::too_large(
                        "body",
                        format!(
                            "{} positions; at most {MAX_XMATCH_POSITIONS} per request",
                            pos.ra.len()
                        ),
                    ));
                }
                let exclude = forbidden(store, &who)?;
                let mut rows = Vec::new();
                let mut read = Vec::new();
                for i in 0..pos.ra.len() {
                    let cq = ConeQuery {
                        table: table.clone(),
                        ra_deg: pos.ra[i],
                        dec_deg: pos.dec[i],
                        radius_deg: radius_arcsec / 3600.0,
                        filter: None,
                        limit: Some(1),
                        exclude_file_ids: exclude.clone(),
                    };
                    let t = store.cone(&cq)?;
                    if let Some(r) = t.rows.first() {
                        if let Some(id) = t.column_index("file_id").and_then(|k| r[k].as_i64()) {
                            read.push(id);
                        }
                        let col = |n: &str| {
                            t.column_index(n)
                                .map(|k| r[k].clone())
                                .unwrap_or(astrolab_store::Value::Null)
                        };
                        rows.push(json!({
                            "row": i,
                            "id": pos.ids[i],
                            "ra": pos.ra[i],
                            "dec": pos.dec[i],
                            "match_targetid": col("targetid"),
                            "match_ra": col("ra"),
                            "match_dec": col("dec"),
                            "sep_arcsec": col("sep_arcsec"),
                        }));
                    }
                }
                let restricted = restricted_datasets(store, &who, read)?;
                Ok((pos.ra.len(), rows, restricted))
            })
            .await?;
    let (n, rows, restricted) = result;
    audit_restricted_read(&s, &p, "/api/v1/xmatch", restricted).await;
    let total = rows.len() as i64;
    let items: Vec<Json_> = rows
        .into_iter()
        .skip(page.offset)
        .take(page.limit + 1)
        .collect();
    let mut out = json!(Paged::new(items, page, Some(total)));
    out["positions"] = json!(n);
    out["radius_arcsec"] = json!(radius_arcsec);
    Ok((StatusCode::OK, Json(out)))
}
