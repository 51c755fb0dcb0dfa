//! The science routes: spectra by TARGETID (JSON and the SVG plot of
//! `astrolab spectra get --plot`), void membership (summary, members by
//! class, void-vs-wall statistics of `astrolab voids compare`) and the
//! hydrogen-line recordings (integrated spectra, Gaussian components of the
//! mean spectrum with LSR velocities).
//!
//! Every route is restricted-dataset-aware: rows whose raw file is
//! forbidden to the caller are left out, and a spectrum or recording whose
//! raw file is forbidden answers 404, exactly as if it did not exist (a 403
//! would tell the caller that it does).
//!
//! Store work runs on the pool's blocking threads; file reading and the
//! statistics run on tokio's blocking threads without holding a database
//! connection.

use std::collections::{HashMap, HashSet};

use astrolab_store::Store;
use axum::extract::Query;

use crate::api::page::{Page, PageParams};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Query strings are read as text and parsed here, so that a malformed
/// value answers the API's own 400 naming the field (axum's typed `Query`
/// would answer its own plain-text rejection).
pub(crate) type Params = Query<HashMap<String, String>>;

pub(crate) fn int_param(q: &HashMap<String, String>, name: &str) -> ApiResult<Option<i64>> {
    match q.get(name).map(|s| s.trim()) {
        None | Some("") => Ok(None),
        Some(s) => s
            .parse::<i64>()
            .map(Some)
            .map_err(|_| ApiError::bad_request(name, format!("{s:?} is not an integer"))),
    }
}

pub(crate) fn bool_param(q: &HashMap<String, String>, name: &str) -> ApiResult<bool> {
    match q
        .get(name)
        .map(|s| s.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("") | Some("false") | Some("0") | Some("no") => Ok(false),
        Some("true") | Some("1") | Some("yes") => Ok(true),
        Some(s) => Err(ApiError::bad_request(
            name,
            format!("{s:?} is not true or false"),
        )),
    }
}

pub(crate) fn page(s: &AppState, q: &HashMap<String, String>) -> ApiResult<Page> {
    PageParams {
        limit: int_param(q, "limit")?,
        offset: int_param(q, "offset")?,
    }
    .check(100, s.config.max_rows)
}

pub(crate) fn path_id(raw: &str, field: &str) -> ApiResult<i64> {
    raw.trim()
        .parse::<i64>()
        .map_err(|_| ApiError::bad_request(field, format!("{raw:?} is not an integer")))
}

/// Runs CPU or file work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
}

pub(crate) fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// Reads a quasar's rows by catalog id: `(store, TARGETID, forbidden
/// files)`.
pub(crate) type QuasarRowsRead<R> =
    fn(&mut Store, i64, &[i64]) -> astrolab_store::Result<Vec<(String, R)>>;

/// A quasar's rows of a per-quasar result table (BAL measurements,
/// spectral fits), by catalog id: `read(store, TARGETID, forbidden files)`
/// reads them leaving out the files the caller may not read, `file_of`
/// names a row's raw file; reads of restricted datasets are audited as
/// `what`.
pub(crate) async fn quasar_rows_for<R: Send + 'static>(
    s: &AppState,
    p: &Principal,
    target: i64,
    what: String,
    read: QuasarRowsRead<R>,
    file_of: fn(&R) -> Option<i64>,
) -> ApiResult<Vec<(String, R)>> {
    let who = p.clone();
    let (rows, restricted) = s
        .pool
        .run(move |store| {
            let mut denied: Vec<i64> = forbidden(store, &who)?.into_iter().collect();
            denied.sort_unstable();
            let rows = read(store, target, &denied)?;
            let files: Vec<i64> = rows.iter().filter_map(|(_, r)| file_of(r)).collect();
            let restricted = crate::audit::restricted_datasets(store, &who, files)?;
            Ok((rows, restricted))
        })
        .await?;
    crate::audit::restricted_read(s, p, &what, restricted).await;
    Ok(rows)
}

/// The raw files this caller may not read.
pub(crate) fn forbidden(store: &mut Store, p: &Principal) -> ApiResult<HashSet<i64>> {
    Ok(store
        .forbidden_file_ids(&p.projects, p.is_admin())?
        .into_iter()
        .collect())
}
