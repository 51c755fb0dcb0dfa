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

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use astrolab_hline::gauss::{decompose, Criterion, GaussOptions};
use astrolab_hline::linefind::{average_spectra, find_line, radio_velocity_km_s, LineSearch};
use astrolab_hline::narrowband::{flag_narrowband, Resolution, SpikeOptions};
use astrolab_hline::velocity::{lsr_correction_km_s, LsrDefinition, Site, UtcTime};
use astrolab_store::{RawFile, Store, Value};
use astrolab_voids::compare::{compare_property, log_ssfr, CompareConfig};
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value as Jv};

use crate::api::page::{Page, PageParams, Paged};
use crate::auth::{Authed, Principal, VIEWER};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Query strings are read as text and parsed here, so that a malformed
/// value answers the API's own 400 naming the field (axum's typed `Query`
/// would answer its own plain-text rejection).
type Params = Query<HashMap<String, String>>;

fn int_param(q: &HashMap<String, String>, name: &str) -> ApiResult<Option<i64>> {
    match q.get(name).map(|s| s.trim()) {
        None | Some("") => Ok(None),
        Some(s) => s
            .parse::<i64>()
            .map(Some)
            .map_err(|_| ApiError::bad_request(name, format!("{s:?} is not an integer"))),
    }
}

fn bool_param(q: &HashMap<String, String>, name: &str) -> ApiResult<bool> {
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

fn page(s: &AppState, q: &HashMap<String, String>) -> ApiResult<Page> {
    PageParams {
        limit: int_param(q, "limit")?,
        offset: int_param(q, "offset")?,
    }
    .check(100, s.config.max_rows)
}

fn path_id(raw: &str, field: &str) -> ApiResult<i64> {
    raw.trim()
        .parse::<i64>()
        .map_err(|_| ApiError::bad_request(field, format!("{raw:?} is not an integer")))
}

/// Runs CPU or file work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// The raw files this caller may not read.
fn forbidden(store: &mut Store, p: &Principal) -> ApiResult<HashSet<i64>> {
    Ok(store
        .forbidden_file_ids(&p.projects, p.is_admin())?
        .into_iter()
        .collect())
}

/// `IN (...)` list of ids for SQL built here: integers only, so nothing a
/// caller sent can reach the statement.
fn id_list(ids: impl IntoIterator<Item = i64>) -> String {
    ids.into_iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------- spectra

/// A spectrum as `GET /api/v1/spectra/{targetid}` answers it. Non-finite
/// numbers are `null` (JSON has no NaN).
#[derive(Debug, Serialize)]
pub struct SpectrumJson {
    /// DESI TARGETID.
    pub targetid: i64,
    /// Right ascension, degrees.
    pub ra: Option<f64>,
    /// Declination, degrees.
    pub dec: Option<f64>,
    /// Redshift stored with the spectrum.
    pub z: Option<f64>,
    /// Pixels.
    pub n_pixels: usize,
    /// Observed wavelength per pixel, Angstrom.
    pub wavelength_a: Vec<Option<f64>>,
    /// Flux, 1e-17 erg/s/cm2/Angstrom.
    pub flux: Vec<Option<f32>>,
    /// Inverse variance of the flux.
    pub ivar: Vec<Option<f32>>,
    /// Mask bits (non-zero: bad pixel).
    pub mask: Vec<u32>,
    /// The spectra file it was read from (file name).
    pub file: String,
    /// Survey and program of that file.
    pub survey: String,
    /// Program.
    pub program: String,
}

/// The raw files a spectra file was built from: its `sources` list names
/// each input as `NAME sha256:HEX`, matched against the registry by
/// checksum and by name (a restricted file's other versions are restricted
/// too). None when the list cannot be read: nothing then shows which files
/// it came from.
fn spectra_source_ids(store: &mut Store, sources: &str) -> ApiResult<Option<Vec<i64>>> {
    let Ok(list) = serde_json::from_str::<Vec<String>>(sources) else {
        return Ok(None);
    };
    let mut shas = HashSet::new();
    let mut names = HashSet::new();
    for entry in &list {
        match entry.split_once(" sha256:") {
            Some((name, sha)) => {
                names.insert(name.trim().to_string());
                shas.insert(sha.trim().to_ascii_lowercase());
            }
            None => {
                names.insert(entry.trim().to_string());
            }
        }
    }
    Ok(Some(
        store
            .raw_files()?
            .iter()
            .filter(|f| shas.contains(&f.sha256) || names.contains(&f.name))
            .map(|f| f.file_id)
            .collect(),
    ))
}

/// Locates, checks access and reads one spectrum.
async fn fetch_spectrum(
    s: &AppState,
    p: Principal,
    target: i64,
) -> ApiResult<(astrolab_spectra::IndexedSpectrum, SpectrumJsonMeta)> {
    let not_found =
        move || ApiError::not_found(format!("no spectrum in the store for TARGETID {target}"));
    let who = p.clone();
    let located = s
        .pool
        .run(move |store| {
            let p = who;
            let Some(loc) = store.locate_spectra(&[target])?.into_iter().next() else {
                return Ok(None);
            };
            let rec = store.spectra_file_by_path(&loc.path)?;
            let rules = store.read_rules(&p.projects, p.is_admin())?;
            let sources = match &rec {
                Some(r) => spectra_source_ids(store, &r.sources)?,
                None => None,
            };
            // Fail closed: without the file's record (or with a sources
            // list that does not parse) nothing says which raw files it was
            // built from, so while anything is restricted to this caller
            // the spectrum is not shown.
            let hidden = match &sources {
                Some(ids) => ids.iter().any(|id| !rules.may_read(*id)),
                None => !rules.nothing_forbidden(),
            };
            if hidden {
                return Ok(None);
            }
            let restricted = rules.restricted_datasets(sources.unwrap_or_default());
            let denied: HashSet<i64> = rules.forbidden_ids().into_iter().collect();
            let spectype = spectype_of(store, target, &denied);
            Ok(Some((loc, rec, spectype, restricted)))
        })
        .await?;
    let Some((loc, rec, spectype, restricted)) = located else {
        return Err(not_found());
    };
    crate::audit::restricted_read(s, &p, &format!("spectrum {target}"), restricted).await;
    let lab = rec.as_ref().is_some_and(|r| r.survey == "lab");
    let path = PathBuf::from(&loc.path);
    let row = loc.row;
    let spectrum = blocking(move || {
        let mut read =
            astrolab_spectra::read_indexed(&path, &[row], lab).map_err(ApiError::internal)?;
        read.pop()
            .ok_or_else(|| ApiError::internal(format!("{}: row {row} not read", path.display())))
    })
    .await?;
    if spectrum.row.target_id != target {
        // The index points at another row: the file changed under it.
        return Err(ApiError::internal(format!(
            "{}: row {row} holds TARGETID {}, not {target}; rebuild the spectra index",
            loc.path, spectrum.row.target_id
        )));
    }
    let meta = SpectrumJsonMeta {
        file: Path::new(&loc.path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        survey: rec.as_ref().map(|r| r.survey.clone()).unwrap_or_default(),
        program: rec.as_ref().map(|r| r.program.clone()).unwrap_or_default(),
        z_index: loc.z,
        spectype,
    };
    Ok((spectrum, meta))
}

struct SpectrumJsonMeta {
    file: String,
    survey: String,
    program: String,
    z_index: Option<f64>,
    spectype: Option<String>,
}

/// The redshift catalogs' spectral type of a target (rows of forbidden
/// files left out); None when no catalog has it.
fn spectype_of(store: &mut Store, target: i64, denied: &HashSet<i64>) -> Option<String> {
    let not_denied = if denied.is_empty() {
        String::new()
    } else {
        format!(" AND file_id NOT IN ({})", id_list(denied.iter().copied()))
    };
    ["redshifts", "zcatalog"].iter().find_map(|table| {
        // A store without the table (or column) simply has no type to show.
        let sql =
            format!("SELECT spectype FROM {table} WHERE targetid = {target}{not_denied} LIMIT 1");
        store
            .sql_readonly(&sql)
            .ok()?
            .rows
            .first()
            .map(|r| r[0].to_string())
            .filter(|t| !t.is_empty())
    })
}

/// What the spectrum page shows above the plot.
#[derive(Debug, Clone, Serialize)]
pub struct SpectrumInfo {
    /// DESI TARGETID.
    pub targetid: i64,
    /// Right ascension, degrees.
    pub ra: Option<f64>,
    /// Declination, degrees.
    pub dec: Option<f64>,
    /// Redshift.
    pub z: Option<f64>,
    /// Spectral type from the redshift catalogs, when one has the target.
    pub spectype: Option<String>,
    /// Spectra file name.
    pub file: String,
    /// Pixels.
    pub n_pixels: usize,
    /// Shortest observed wavelength, Angstrom.
    pub wavelength_min: f64,
    /// Longest observed wavelength, Angstrom.
    pub wavelength_max: f64,
}

/// The facts of a spectrum for the web page (same access rules and 404 as
/// the API route).
pub async fn spectrum_info(s: &AppState, p: &Principal, targetid: i64) -> ApiResult<SpectrumInfo> {
    let (sp, meta) = fetch_spectrum(s, p.clone(), targetid).await?;
    let w = sp.wavelength.iter().copied().filter(|w| w.is_finite());
    let (lo, hi) = w.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    Ok(SpectrumInfo {
        targetid: sp.row.target_id,
        ra: finite(sp.row.ra),
        dec: finite(sp.row.dec),
        z: spectrum_z(&sp, &meta),
        spectype: meta.spectype,
        file: meta.file,
        n_pixels: sp.row.flux.len(),
        wavelength_min: lo,
        wavelength_max: hi,
    })
}

fn spectrum_z(sp: &astrolab_spectra::IndexedSpectrum, meta: &SpectrumJsonMeta) -> Option<f64> {
    finite(sp.row.z).or(meta.z_index.and_then(finite))
}

/// `GET /api/v1/spectra/{targetid}`.
pub async fn spectrum(
    State(s): State<AppState>,
    Authed(p): Authed<VIEWER>,
    UrlPath(targetid): UrlPath<String>,
) -> ApiResult<Json<SpectrumJson>> {
    let targetid = path_id(&targetid, "targetid")?;
    let (sp, meta) = fetch_spectrum(&s, p, targetid).await?;
    let z = spectrum_z(&sp, &meta);
    let r = sp.row;
    Ok(Json(SpectrumJson {
        targetid: r.target_id,
        ra: finite(r.ra),
        dec: finite(r.dec),
        z,
        n_pixels: r.flux.len(),
        wavelength_a: sp.wavelength.iter().map(|w| finite(*w)).collect(),
        flux: r.flux.iter().map(|v| v.is_finite().then_some(*v)).collect(),
        ivar: r.ivar.iter().map(|v| v.is_finite().then_some(*v)).collect(),
        mask: r.mask,
        file: meta.file,
        survey: meta.survey,
        program: meta.program,
    }))
}

/// `GET /api/v1/spectra/{targetid}/plot.svg?rest=`: the plot of
/// `astrolab spectra get --plot` (one implementation, astrolab_spectra::plot).
pub async fn spectrum_svg(
    State(s): State<AppState>,
    Authed(p): Authed<VIEWER>,
    UrlPath(targetid): UrlPath<String>,
    Query(q): Params,
) -> ApiResult<Response> {
    let targetid = path_id(&targetid, "targetid")?;
    let rest = bool_param(&q, "rest")?;
    let (sp, meta) = fetch_spectrum(&s, p, targetid).await?;
    let z = spectrum_z(&sp, &meta);
    let svg = blocking(move || {
        Ok(astrolab_spectra::plot::spectrum_svg(
            &astrolab_spectra::plot::SpectrumPlot {
                title: format!(
                    "TARGETID {}  z = {:.4}",
                    sp.row.target_id,
                    z.unwrap_or(f64::NAN)
                ),
                wavelength: &sp.wavelength,
                flux: &sp.row.flux,
                ivar: &sp.row.ivar,
                mask: &sp.row.mask,
                z,
                rest_frame: rest,
            },
        ))
    })
    .await?;
    Ok((
        [(header::CONTENT_TYPE, "image/svg+xml; charset=utf-8")],
        svg,
    )
        .into_response())
}

// ------------------------------------------------------------------ voids

/// The membership sources (catalog and galaxy files) this caller may not
/// read: see `Store::forbidden_membership_sources`.
fn void_forbidden(store: &mut Store, p: &Principal) -> ApiResult<Vec<i64>> {
    Ok(store.forbidden_membership_sources(&p.projects, p.is_admin())?)
}

/// The summary rows the caller may read: both the catalog's and the
/// galaxies' files readable.
fn readable_summary(
    store: &mut Store,
    denied: &[i64],
) -> ApiResult<Vec<astrolab_store::MembershipSummary>> {
    let hidden = |f: Option<i64>| f.is_some_and(|f| denied.contains(&f));
    Ok(store
        .void_membership_summary()?
        .into_iter()
        .filter(|r| !hidden(r.file_id) && !hidden(r.galaxy_file_id))
        .collect())
}

/// The files `rows` were computed from: catalogs and galaxy sources.
fn summary_sources<'a>(
    rows: impl IntoIterator<Item = &'a astrolab_store::MembershipSummary>,
) -> BTreeSet<i64> {
    rows.into_iter()
        .flat_map(|r| [r.file_id, r.galaxy_file_id])
        .flatten()
        .collect()
}

/// The membership summary as `caller` may read it (one row per catalog,
/// algorithm, cap, vflag and galaxy source), with the restricted datasets
/// it discloses; the API route and the voids page share it.
pub async fn void_summary_for(
    s: &AppState,
    caller: &Principal,
) -> ApiResult<(Vec<astrolab_store::MembershipSummary>, Vec<String>)> {
    let p = caller.clone();
    s.pool
        .run(move |store| {
            let denied = void_forbidden(store, &p)?;
            let rows = readable_summary(store, &denied)?;
            let disclosed = store.membership_restricted_datasets(&summary_sources(&rows))?;
            Ok((rows, disclosed))
        })
        .await
}

/// `GET /api/v1/voids/summary`: galaxies per catalog, algorithm, cap,
/// vflag and galaxy source file, counting only rows whose void catalog and
/// galaxies both come from files the caller may read.
pub async fn void_summary(
    State(s): State<AppState>,
    Authed(p): Authed<VIEWER>,
) -> ApiResult<Json<Jv>> {
    let (rows, disclosed) = void_summary_for(&s, &p).await?;
    crate::audit::restricted_read(&s, &p, "/api/v1/voids/summary", disclosed).await;
    Ok(Json(json!({ "count": rows.len(), "items": rows })))
}

/// Void classes by name: DESIVAST's vflag.
const CLASSES: [(&str, u8); 4] = [("wall", 0), ("void", 1), ("edge", 2), ("outside", 9)];

fn algorithm_param(q: &HashMap<String, String>, known: &[String]) -> ApiResult<String> {
    let Some(a) = q
        .get("algorithm")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
    else {
        return Err(ApiError::bad_request(
            "algorithm",
            format!("required; one of: {}", known.join(", ")),
        ));
    };
    known
        .iter()
        .find(|k| k.eq_ignore_ascii_case(a))
        .cloned()
        .ok_or_else(|| {
            ApiError::bad_request(
                "algorithm",
                if known.is_empty() {
                    format!("{a:?}: the store has no void membership yet (astrolab voids classify)")
                } else {
                    format!("{a:?} has no void membership; one of: {}", known.join(", "))
                },
            )
        })
}

/// One galaxy of a void class.
#[derive(Debug, Serialize)]
pub struct Member {
    /// TARGETID.
    pub targetid: i64,
    /// Right ascension, degrees (from FastSpecFit or the galaxy list).
    pub ra: Option<f64>,
    /// Declination, degrees.
    pub dec: Option<f64>,
    /// Redshift.
    pub z: Option<f64>,
}

/// Membership target ids of one algorithm and vflag, without rows whose
/// catalog or galaxies come from files the caller may not read; ascending.
fn member_ids(
    store: &mut Store,
    algorithm: &str,
    vflag: u8,
    denied: &[i64],
) -> ApiResult<Vec<i64>> {
    if denied.is_empty() {
        // The covering index (or its cache), no row decoding.
        return Ok(store.void_membership_targets(algorithm, vflag)?);
    }
    Ok(store.void_membership_targets_excluding(algorithm, vflag, denied)?)
}

/// RA, Dec and redshift per TARGETID.
type Positions = HashMap<i64, [Option<f64>; 3]>;

/// Positions and redshifts of `ids` from FastSpecFit, else from the galaxy
/// lists (rows of forbidden files left out), and the files the values
/// came from (a read of them may disclose a restricted dataset).
fn positions(
    store: &mut Store,
    ids: &[i64],
    denied: &[i64],
) -> ApiResult<(Positions, BTreeSet<i64>)> {
    let mut out = HashMap::new();
    let mut files = BTreeSet::new();
    if ids.is_empty() {
        return Ok((out, files));
    }
    let not_denied = if denied.is_empty() {
        String::new()
    } else {
        format!(" AND file_id NOT IN ({})", id_list(denied.iter().copied()))
    };
    for table in ["galaxies", "fastspec"] {
        // Later tables win: FastSpecFit's values over a galaxy list's.
        let sql = format!(
            "SELECT targetid, ra, dec, z, file_id FROM {table} WHERE targetid IN ({}){not_denied}",
            id_list(ids.iter().copied())
        );
        for r in store.sql_readonly(&sql)?.rows {
            if let Some(t) = r[0].as_i64() {
                out.insert(t, [r[1].as_f64(), r[2].as_f64(), r[3].as_f64()]);
                files.extend(r[4].as_i64());
            }
        }
    }
    Ok((out, files))
}

/// `GET /api/v1/voids/members?algorithm=&class=&limit=&offset=`.
pub async fn void_members(
    State(s): State<AppState>,
    Authed(p): Authed<VIEWER>,
    Query(q): Params,
) -> ApiResult<Json<Paged<Member>>> {
    let pg = page(&s, &q)?;
    let class = q
        .get("class")
        .map(|c| c.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let class = if class.is_empty() {
        "void".to_string()
    } else {
        class
    };
    let vflag = CLASSES
        .iter()
        .find(|(n, _)| *n == class)
        .map(|(_, f)| *f)
        .ok_or_else(|| {
            ApiError::bad_request(
                "class",
                format!("{class:?}: choose void, wall, edge or outside"),
            )
        })?;
    let caller = p.clone();
    let (out, disclosed) = s
        .pool
        .run(move |store| {
            let algorithm = algorithm_param(&q, &store.void_membership_algorithms()?)?;
            let denied = void_forbidden(store, &caller)?;
            let ids = member_ids(store, &algorithm, vflag, &denied)?;
            let total = ids.len() as i64;
            let slice: Vec<i64> = ids.into_iter().skip(pg.offset).take(pg.limit).collect();
            let (pos, mut sources) = positions(store, &slice, &denied)?;
            if !slice.is_empty() {
                // The membership rows read: the summary's rows of this
                // algorithm and class say which files they came from.
                let rows = readable_summary(store, &denied)?;
                sources
                    .extend(summary_sources(rows.iter().filter(|r| {
                        r.algorithm == algorithm && r.vflag == i64::from(vflag)
                    })));
            }
            let disclosed = store.membership_restricted_datasets(&sources)?;
            let items = slice
                .into_iter()
                .map(|t| {
                    let [ra, dec, z] = pos.get(&t).copied().unwrap_or([None; 3]);
                    Member {
                        targetid: t,
                        ra,
                        dec,
                        z,
                    }
                })
                .collect();
            Ok((Paged::new(items, pg, Some(total)), disclosed))
        })
        .await?;
    crate::audit::restricted_read(&s, &p, "/api/v1/voids/members", disclosed).await;
    Ok(Json(out))
}

/// Properties `voids/stats` compares: the API name and the name `voids
/// compare` prints. The allow-list is all there is: a property never
/// reaches SQL (the values come from `Store::void_membership_with_fastspec`).
const PROPERTIES: [(&str, &str); 6] = [
    ("logmstar", "LOGMSTAR"),
    ("sfr", "SFR"),
    ("log_ssfr", "LOG_SSFR"),
    ("dn4000", "DN4000"),
    ("age", "AGE"),
    ("zzsun", "ZZSUN"),
];

/// Void and wall values of one property, as `voids compare` builds them:
/// galaxies without FastSpecFit (no finite LOGMSTAR) are left out; log sSFR
/// is `log10(SFR) - LOGMSTAR` with -inf (SFR <= 0) dropped.
pub fn void_wall_values(t: &astrolab_store::ResultTable, property: &str) -> (Vec<f64>, Vec<f64>) {
    let f = |r: &[Value], i: usize| r[i].as_f64().unwrap_or(f64::NAN);
    let (mut void, mut wall) = (Vec::new(), Vec::new());
    for r in &t.rows {
        let logm = f(r, 4);
        if !logm.is_finite() {
            continue;
        }
        let v = match property {
            "logmstar" => logm,
            "sfr" => f(r, 5),
            "log_ssfr" => {
                let ls = log_ssfr(f(r, 5), logm);
                if ls.is_finite() {
                    ls
                } else {
                    f64::NAN
                }
            }
            "dn4000" => f(r, 6),
            "age" => f(r, 7),
            _ => f(r, 8),
        };
        match r[2].as_i64() {
            Some(1) => void.push(v),
            Some(0) => wall.push(v),
            _ => {}
        }
    }
    (void, wall)
}

/// The properties `voids/stats` accepts (API names).
pub const VOID_STAT_PROPERTIES: &[&str] =
    &["logmstar", "sfr", "log_ssfr", "dn4000", "age", "zzsun"];

/// Void against wall galaxies of one property. Non-finite values (an
/// Anderson-Darling test that could not be made) serialize as null.
#[derive(Debug, Clone, Serialize)]
pub struct VoidStats {
    /// Void algorithm.
    pub algorithm: String,
    /// Property (API name).
    pub property: String,
    /// Void galaxies (vflag 1) with a finite value.
    pub n_void: usize,
    /// Wall galaxies (vflag 0) with a finite value.
    pub n_wall: usize,
    /// Median of the void galaxies.
    pub median_void: f64,
    /// Its bootstrap interval.
    pub median_void_ci: [f64; 2],
    /// Median of the wall galaxies.
    pub median_wall: f64,
    /// Its bootstrap interval.
    pub median_wall_ci: [f64; 2],
    /// Two-sample Kolmogorov-Smirnov D.
    pub ks_statistic: f64,
    /// Its p-value.
    pub ks_p_value: f64,
    /// `exact` or `asymptotic`: the method the KS test used.
    pub ks_method: String,
    /// k-sample Anderson-Darling T (NaN, null in JSON: fewer than 4 values
    /// or one distinct value).
    pub ad_statistic: f64,
    /// Its p-value (capped to [0.001, 0.25] as in scipy).
    pub ad_p_value: f64,
    /// Confidence level of the intervals.
    pub level: f64,
    /// Bootstrap replicates.
    pub replicates: usize,
    /// Bootstrap seed.
    pub seed: u64,
}

/// The void-vs-wall comparison of `property` for `algorithm` as `caller`
/// may see it (membership rows whose catalog or galaxies come from
/// forbidden files, and FastSpecFit rows of forbidden files, left out),
/// with the restricted datasets it discloses; the API route and the voids
/// page share it. Unknown algorithm or property: 400 naming the field.
pub async fn void_stats_for(
    s: &AppState,
    caller: &Principal,
    algorithm: &str,
    property: &str,
) -> ApiResult<(VoidStats, Vec<String>)> {
    let prop = property.trim().to_ascii_lowercase();
    let prop = if prop.is_empty() {
        "logmstar".to_string()
    } else {
        prop
    };
    let Some(&(prop, label)) = PROPERTIES.iter().find(|(n, _)| *n == prop) else {
        return Err(ApiError::bad_request(
            "property",
            format!(
                "{prop:?} is not a compared property; one of: {}",
                VOID_STAT_PROPERTIES.join(", ")
            ),
        ));
    };
    let (p, wanted) = (caller.clone(), algorithm.to_string());
    let (algorithm, table, disclosed) = s
        .pool
        .run(move |store| {
            let algorithm = algorithm_param(
                &HashMap::from([("algorithm".to_string(), wanted)]),
                &store.void_membership_algorithms()?,
            )?;
            let denied = void_forbidden(store, &p)?;
            let t = store.void_membership_with_fastspec(&algorithm, &denied)?;
            // What the comparison reads: the void and wall rows (their
            // files from the summary) and their FastSpecFit rows.
            let rows = readable_summary(store, &denied)?;
            let mut sources = summary_sources(
                rows.iter()
                    .filter(|r| r.algorithm == algorithm && matches!(r.vflag, 0 | 1)),
            );
            let fi = t.column_index("fastspec_file_id").unwrap_or(9);
            sources.extend(t.rows.iter().filter_map(|r| r[fi].as_i64()));
            let disclosed = store.membership_restricted_datasets(&sources)?;
            Ok((algorithm, t, disclosed))
        })
        .await?;
    let stats = blocking(move || {
        let (void, wall) = void_wall_values(&table, prop);
        let (nv, nw) = (
            void.iter().filter(|v| v.is_finite()).count(),
            wall.iter().filter(|v| v.is_finite()).count(),
        );
        if nv == 0 || nw == 0 {
            return Err(ApiError::conflict(format!(
                "{algorithm}: {nv} void and {nw} wall galaxies with a finite {label}; need both (ingest the FastSpecFit catalog and classify)"
            )));
        }
        // The settings `voids compare` uses by default.
        let cfg = CompareConfig::default();
        let c = compare_property(label, &void, &wall, &cfg)
            .map_err(|e| ApiError::bad_request("property", format!("{label}: {e}")))?;
        Ok(VoidStats {
            algorithm,
            property: prop.to_string(),
            n_void: c.n_a,
            n_wall: c.n_b,
            median_void: c.median_a.estimate,
            median_void_ci: [c.median_a.lo, c.median_a.hi],
            median_wall: c.median_b.estimate,
            median_wall_ci: [c.median_b.lo, c.median_b.hi],
            ks_statistic: c.ks.statistic,
            ks_p_value: c.ks.pvalue,
            ks_method: format!("{:?}", c.ks.method).to_lowercase(),
            ad_statistic: c.ad.as_ref().map_or(f64::NAN, |a| a.statistic),
            ad_p_value: c.ad.as_ref().map_or(f64::NAN, |a| a.pvalue),
            level: cfg.level,
            replicates: cfg.replicates,
            seed: cfg.seed,
        })
    })
    .await?;
    Ok((stats, disclosed))
}

/// `GET /api/v1/voids/stats?algorithm=&property=`: void (vflag 1) against
/// wall (vflag 0) galaxies: sample sizes, medians with bootstrap
/// intervals, two-sample KS and k-sample Anderson-Darling, with the
/// functions and settings `astrolab voids compare` uses.
pub async fn void_stats(
    State(s): State<AppState>,
    Authed(p): Authed<VIEWER>,
    Query(q): Params,
) -> ApiResult<Json<VoidStats>> {
    let algorithm = q.get("algorithm").cloned().unwrap_or_default();
    let property = q.get("property").cloned().unwrap_or_default();
    let (stats, disclosed) = void_stats_for(&s, &p, &algorithm, &property).await?;
    crate::audit::restricted_read(&s, &p, "/api/v1/voids/stats", disclosed).await;
    Ok(Json(stats))
}

// ------------------------------------------------------------------ hline

const HLINE_FORMATS: [&str; 2] = ["sigmf", "rtl_iq"];

/// A recording as the API lists it.
#[derive(Debug, Serialize)]
pub struct Recording {
    /// Raw-file id.
    pub file_id: i64,
    /// File name.
    pub name: String,
    /// Version under that name.
    pub version: i64,
    /// `sigmf` or `rtl_iq`.
    pub format: String,
    /// Bytes of sample data.
    pub size_bytes: i64,
    /// SHA-256 of the samples.
    pub sha256: String,
    /// Integrated spectra in the store.
    pub n_spectra: i64,
    /// When it was processed (UTC).
    pub ingested_at: String,
    /// Sample rate, tuning, start ... as recorded by `hline process`.
    pub details: Jv,
}

fn recording(f: &RawFile) -> Recording {
    let mut details: Jv = serde_json::from_str(&f.hdus).unwrap_or(Jv::Null);
    // The archive's path on the server is no business of the caller.
    if let Some(m) = details.as_object_mut() {
        m.remove("archive");
    }
    Recording {
        file_id: f.file_id,
        name: f.name.clone(),
        version: f.version,
        format: f.format.clone(),
        size_bytes: f.size_bytes,
        sha256: f.sha256.clone(),
        n_spectra: f.rows_loaded,
        ingested_at: f.ingested_at.clone(),
        details,
    }
}

/// The live recordings the caller may read.
fn readable_recordings(store: &mut Store, p: &Principal) -> ApiResult<Vec<RawFile>> {
    let denied = forbidden(store, p)?;
    Ok(store
        .raw_files()?
        .into_iter()
        .filter(|f| {
            HLINE_FORMATS.contains(&f.format.as_str())
                && !f.superseded
                && !denied.contains(&f.file_id)
        })
        .collect())
}

/// The recording `file_id`, or 404 when there is none the caller may read.
fn readable_recording(store: &mut Store, p: &Principal, file_id: i64) -> ApiResult<RawFile> {
    let denied = forbidden(store, p)?;
    store
        .raw_files()?
        .into_iter()
        .find(|f| {
            f.file_id == file_id
                && HLINE_FORMATS.contains(&f.format.as_str())
                && !denied.contains(&f.file_id)
        })
        .ok_or_else(|| {
            ApiError::not_found(format!("no hydrogen-line recording with file id {file_id}"))
        })
}

/// `GET /api/v1/hline/recordings`.
pub async fn hline_recordings(
    State(s): State<AppState>,
    Authed(p): Authed<VIEWER>,
    Query(q): Params,
) -> ApiResult<Json<Paged<Recording>>> {
    let pg = page(&s, &q)?;
    let who = p.clone();
    let (out, restricted) = s
        .pool
        .run(move |store| {
            let all = readable_recordings(store, &who)?;
            let total = all.len() as i64;
            let shown: Vec<&RawFile> = all.iter().skip(pg.offset).take(pg.limit).collect();
            let restricted =
                crate::audit::restricted_datasets(store, &who, shown.iter().map(|f| f.file_id))?;
            let items = shown.into_iter().map(recording).collect();
            Ok((Paged::new(items, pg, Some(total)), restricted))
        })
        .await?;
    crate::audit::restricted_read(&s, &p, "/api/v1/hline/recordings", restricted).await;
    Ok(Json(out))
}

/// One integrated spectrum: channel `c` is at
/// `first_channel_freq_hz + c * channel_width_hz`.
#[derive(Debug, Serialize)]
pub struct IntegratedSpectrum {
    /// Index within the recording.
    pub integration: i64,
    /// Start, seconds since 1970 UTC.
    pub start_unix_s: f64,
    /// FFT frames averaged.
    pub n_frames: i64,
    /// Integration time, seconds.
    pub integration_s: f64,
    /// Tuned centre frequency, Hz.
    pub center_freq_hz: f64,
    /// Sky frequency of channel 0, Hz.
    pub first_channel_freq_hz: f64,
    /// Channel spacing, Hz.
    pub channel_width_hz: f64,
    /// Channels.
    pub n_channels: usize,
    /// ICRS pointing, when known.
    pub ra_deg: Option<f64>,
    /// ICRS pointing, when known.
    pub dec_deg: Option<f64>,
    /// Horizontal pointing, when known.
    pub az_deg: Option<f64>,
    /// Horizontal pointing, when known.
    pub el_deg: Option<f64>,
    /// Mean power per channel (uncalibrated; null where not finite).
    pub power: Vec<Option<f32>>,
    /// RFI flag bits per channel (0: clean).
    pub flags: Vec<u8>,
}

/// `GET /api/v1/hline/recordings/{file_id}/spectra`.
pub async fn hline_spectra(
    State(s): State<AppState>,
    Authed(p): Authed<VIEWER>,
    UrlPath(file_id): UrlPath<String>,
    Query(q): Params,
) -> ApiResult<Json<Paged<IntegratedSpectrum>>> {
    let file_id = path_id(&file_id, "file_id")?;
    let pg = page(&s, &q)?;
    let who = p.clone();
    let (out, restricted) = s
        .pool
        .run(move |store| {
            readable_recording(store, &who, file_id)?;
            let restricted = crate::audit::restricted_datasets(store, &who, [file_id])?;
            let rows = store.hline_spectra(file_id)?;
            let total = rows.len() as i64;
            let items = rows
                .into_iter()
                .skip(pg.offset)
                .take(pg.limit)
                .map(|r| IntegratedSpectrum {
                    integration: r.integration,
                    start_unix_s: r.start_unix_s,
                    n_frames: r.n_frames,
                    integration_s: r.integration_s,
                    center_freq_hz: r.center_freq_hz,
                    first_channel_freq_hz: r.first_channel_freq_hz,
                    channel_width_hz: r.channel_width_hz,
                    n_channels: r.spectrum.len(),
                    ra_deg: r.ra_deg,
                    dec_deg: r.dec_deg,
                    az_deg: r.az_deg,
                    el_deg: r.el_deg,
                    power: r
                        .spectrum
                        .iter()
                        .map(|v| v.is_finite().then_some(*v))
                        .collect(),
                    flags: r.flags,
                })
                .collect();
            Ok((Paged::new(items, pg, Some(total)), restricted))
        })
        .await?;
    crate::audit::restricted_read(
        &s,
        &p,
        &format!("hline recording {file_id} spectra"),
        restricted,
    )
    .await;
    Ok(Json(out))
}

/// The observing site of a recording: its SigMF `core:geolocation`, else
/// the site written into its spectra archive by `hline process`.
/// `Ok(None)`: neither says where it was observed; `Err(why)`: a file that
/// would say could not be read (the caller is told why, not "no site").
fn recording_site(raw: &RawFile) -> Result<Option<Site>, String> {
    let to_site = |g: astrolab_formats::sigmf::Geolocation| Site {
        lat_deg: g.lat_deg,
        lon_deg: g.lon_deg,
        height_m: if g.alt_m.is_finite() { g.alt_m } else { 0.0 },
    };
    // Raw recordings are often deleted after processing (the archive
    // stays), so an unreadable recording only matters when the archive
    // cannot answer either.
    let mut unread = None;
    if raw.format == "sigmf" {
        match astrolab_formats::sigmf::SigmfRecording::open(Path::new(&raw.source)) {
            Ok(rec) => {
                if let Some(g) = rec.geolocation {
                    return Ok(Some(to_site(g)));
                }
            }
            Err(e) => unread = Some(format!("the recording {} cannot be read ({e})", raw.source)),
        }
    }
    let details: Jv = serde_json::from_str(&raw.hdus).map_err(|e| {
        format!(
            "the registry entry of {} has unreadable details ({e})",
            raw.name
        )
    })?;
    let Some(archive) = details.get("archive").and_then(Jv::as_str) else {
        return match unread {
            Some(why) => Err(why),
            None => Ok(None),
        };
    };
    let read = astrolab_formats::sigmf::read_spectra_archive(Path::new(archive)).map_err(|e| {
        let archive_err = format!("the spectra archive {archive} cannot be read ({e})");
        match &unread {
            Some(why) => format!("{why} and {archive_err}"),
            None => archive_err,
        }
    })?;
    Ok(read.header.geolocation.map(to_site))
}

/// `GET /api/v1/hline/recordings/{file_id}/fit?components=`: the mean of
/// the recording's integrations (flagged channels left out), its baseline
/// and line search (`astrolab_hline::linefind`, as `hline process` does),
/// and a Gaussian decomposition (`astrolab_hline::gauss`, as `hline fit`
/// does) of the baseline-removed spectrum `P / baseline - 1` on the LSR
/// velocity axis. Amplitudes are in units of the system temperature.
pub async fn hline_fit(
    State(s): State<AppState>,
    Authed(p): Authed<VIEWER>,
    UrlPath(file_id): UrlPath<String>,
    Query(q): Params,
) -> ApiResult<Json<Jv>> {
    let file_id = path_id(&file_id, "file_id")?;
    let max_components = match int_param(&q, "components")? {
        None => 3,
        Some(n @ 1..=8) => n as usize,
        Some(n) => {
            return Err(ApiError::bad_request(
                "components",
                format!("{n}: between 1 and 8"),
            ))
        }
    };
    let who = p.clone();
    let (raw, rows, restricted) = s
        .pool
        .run(move |store| {
            let raw = readable_recording(store, &who, file_id)?;
            let restricted = crate::audit::restricted_datasets(store, &who, [file_id])?;
            let rows = store.hline_spectra(file_id)?;
            Ok((raw, rows, restricted))
        })
        .await?;
    crate::audit::restricted_read(
        &s,
        &p,
        &format!("hline recording {file_id} fit"),
        restricted,
    )
    .await;
    let out = blocking(move || fit_recording(&raw, &rows, max_components)).await?;
    Ok(Json(out))
}

fn fit_recording(
    raw: &RawFile,
    rows: &[astrolab_store::HlineSpectrumRow],
    max_components: usize,
) -> ApiResult<Jv> {
    let Some(first) = rows.first() else {
        return Err(ApiError::conflict(format!(
            "recording {} has no integrated spectra",
            raw.file_id
        )));
    };
    let n = first.spectrum.len();
    if rows
        .iter()
        .any(|r| r.spectrum.len() != n || r.flags.len() != n)
    {
        return Err(ApiError::internal(format!(
            "recording {}: spectra of different lengths",
            raw.file_id
        )));
    }
    let spectra: Vec<f32> = rows
        .iter()
        .flat_map(|r| r.spectrum.iter().copied())
        .collect();
    let flags: Vec<u8> = rows.iter().flat_map(|r| r.flags.iter().copied()).collect();
    let n_frames: Vec<u64> = rows.iter().map(|r| r.n_frames.max(0) as u64).collect();
    let (mean, _) = average_spectra(&spectra, &flags, &n_frames, n);
    let (f0, df) = (first.first_channel_freq_hz, first.channel_width_hz);
    let freq = |c: usize| f0 + c as f64 * df;
    let prof = find_line(&mean, freq, &LineSearch::default())
        .map_err(|e| ApiError::conflict(format!("recording {}: {e}", raw.file_id)))?;

    // LSR correction at the middle of the recording, towards the pointing
    // of the middle integration (what `hline process` reports).
    let last = &rows[rows.len() - 1];
    let mid_t = 0.5 * (first.start_unix_s + last.start_unix_s + last.integration_s);
    let mid = &rows[rows.len() / 2];
    let site = recording_site(raw);
    let (corr, frame) = match (site, mid.ra_deg, mid.dec_deg) {
        (Err(why), _, _) => (
            None,
            format!("topocentric radio velocity: the site is unknown because {why}"),
        ),
        (Ok(Some(site)), Some(ra), Some(dec)) => {
            let c = lsr_correction_km_s(
                UtcTime::from_unix_seconds(mid_t),
                site,
                ra,
                dec,
                LsrDefinition::Kinematic,
            )
            .map_err(ApiError::internal)?;
            (Some(c), "v_LSR (kinematic LSR)".to_string())
        }
        (Ok(None), _, _) => (
            None,
            "topocentric radio velocity: the recording has no site (SigMF core:geolocation)"
                .to_string(),
        ),
        _ => (
            None,
            "topocentric radio velocity: the recording has no ICRS pointing".to_string(),
        ),
    };
    let shift = corr.unwrap_or(0.0);
    let v: Vec<f64> = (0..n)
        .map(|c| radio_velocity_km_s(freq(c)) + shift)
        .collect();
    // The rule of `hline fit` for calibrated spectra (issue 15): one- and
    // two-channel spikes narrower than the resolution that survived the
    // spectrometer's RFI flags are left out of the fit, the narrowest
    // Gaussian is one channel response wide, and a component at that width
    // is marked unresolved. The stored spectra do not say which window the
    // channeliser used, so the response is taken as one channel (a box
    // channel: the narrowest, so nothing resolvable is called unresolved).
    let resolution = Resolution::new(radio_velocity_km_s(f0) - radio_velocity_km_s(f0 + df), 1.0);
    let dv = resolution.channel_width_km_s;
    let spikes = flag_narrowband(
        &prof.ratio,
        &[],
        &[],
        &SpikeOptions::for_resolution(&resolution),
    );
    let ratio = spikes.apply(&prof.ratio);
    let opts = GaussOptions {
        max_components,
        criterion: Criterion::Bic,
        min_sigma_km_s: resolution.min_sigma_km_s(),
        max_sigma_km_s: 60.0_f64.max(3.0 * dv),
        min_snr: 3.0,
    };
    // Channels the line search could use (edges and flagged channels are NaN).
    let fit = decompose(&v, &ratio, &opts).map_err(|e| {
        ApiError::conflict(format!(
            "recording {}: Gaussian decomposition: {e}",
            raw.file_id
        ))
    })?;
    let components: Vec<Jv> = fit
        .components
        .iter()
        .map(|c| {
            json!({
                "amp_rel": finite(c.amp_k), "amp_err_rel": finite(c.amp_err_k),
                "v_km_s": finite(c.center_km_s), "v_err_km_s": finite(c.center_err_km_s),
                "v_radio_topo_km_s": finite(c.center_km_s - shift),
                "sigma_km_s": finite(c.sigma_km_s), "sigma_err_km_s": finite(c.sigma_err_km_s),
                "fwhm_km_s": finite(c.fwhm_km_s()),
                "unresolved": resolution.is_unresolved(c.sigma_km_s),
            })
        })
        .collect();
    let strongest_resolved = fit
        .components
        .iter()
        .position(|c| !resolution.is_unresolved(c.sigma_km_s));
    let narrowband: Vec<Jv> = spikes
        .flagged
        .iter()
        .map(|x| {
            json!({
                "first_channel": x.first_channel,
                "width_channels": x.width_channels,
                "freq_hz": freq(x.peak_channel),
                "v_km_s": finite(v[x.peak_channel]),
                "amp_rel": finite(x.amp_k),
                "source": x.source.name(),
            })
        })
        .collect();
    let line = prof.line.map(|l| {
        json!({
            "center_freq_hz": l.center_freq_hz,
            "v_radio_topo_km_s": l.v_radio_km_s,
            "v_lsr_km_s": corr.map(|c| l.v_radio_km_s + c),
            "peak_over_tsys": l.peak_rel,
            "fwhm_km_s": l.fwhm_km_s,
            "snr": l.snr,
        })
    });
    let used: BTreeSet<usize> = (0..n).filter(|&c| ratio[c].is_finite()).collect();
    Ok(json!({
        "file_id": raw.file_id,
        "name": raw.name,
        "n_integrations": rows.len(),
        "n_channels": n,
        "channels_fitted": used.len(),
        "velocity_frame": frame,
        "lsr_correction_km_s": corr,
        "noise_rel": finite(prof.noise_rel),
        "residual_rms_rel": finite(fit.residual_rms_k),
        "bic": finite(fit.bic),
        "line": line,
        "channel_width_km_s": finite(dv),
        "min_sigma_km_s": finite(resolution.min_sigma_km_s()),
        "min_fwhm_km_s": finite(resolution.min_fwhm_km_s()),
        "components": components,
        "strongest_resolved": strongest_resolved,
        "narrowband_rfi": narrowband,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// A recording whose mean spectrum carries a resolved HI line and a
    /// one-channel spike on its flank that the spectrometer did not flag:
    /// the fit leaves the spike out, lists it, and the line is the
    /// strongest resolved component (issue 15, item 4).
    #[test]
    fn spike_on_the_line_is_flagged_and_never_the_strongest() {
        let (n, width, f0) = (1024usize, 2343.75, 1_419_205_000.0);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(15);
        let rows: Vec<astrolab_store::HlineSpectrumRow> = (0..4)
            .map(|i| {
                let spectrum: Vec<f32> = (0..n)
                    .map(|c| {
                        let x = c as f64;
                        let line = 0.3 * (-0.5 * ((x - 600.0) / 20.0).powi(2)).exp();
                        let spike = if c == 612 { 0.25 } else { 0.0 };
                        let noise = 0.002 * (rng.gen::<f64>() - 0.5) * 12f64.sqrt();
                        ((1.0 + 1e-4 * (x - 512.0)) * (1.0 + line + noise) + spike) as f32
                    })
                    .collect();
                astrolab_store::HlineSpectrumRow {
                    integration: i,
                    start_unix_s: 1_795_377_600.0 + i as f64,
                    n_frames: 100,
                    integration_s: 1.0,
                    center_freq_hz: f0 + 512.0 * width,
                    first_channel_freq_hz: f0,
                    channel_width_hz: width,
                    ra_deg: None,
                    dec_deg: None,
                    az_deg: None,
                    el_deg: None,
                    spectrum,
                    flags: vec![0; n],
                }
            })
            .collect();
        let raw = RawFile {
            file_id: 1,
            name: "spiky".into(),
            version: 1,
            source: "/nonexistent/spiky.sigmf-data".into(),
            size_bytes: 0,
            sha256: String::new(),
            format: "spectra".into(),
            hdus: "{}".into(),
            rows_loaded: 4,
            ingested_at: String::new(),
            software_version: String::new(),
            superseded: false,
        };
        let v = fit_recording(&raw, &rows, 3).unwrap();
        let rfi = v["narrowband_rfi"].as_array().unwrap();
        assert_eq!(rfi.len(), 1, "{v}");
        assert_eq!(rfi[0]["first_channel"], 612);
        assert_eq!(rfi[0]["width_channels"], 1);
        assert_eq!(rfi[0]["source"], "spike");
        let dv = v["channel_width_km_s"].as_f64().unwrap();
        assert!((dv - 0.4947).abs() < 1e-3, "{dv}");
        assert_eq!(v["min_sigma_km_s"].as_f64(), Some(dv));
        let i = v["strongest_resolved"].as_u64().unwrap() as usize;
        let best = &v["components"][i];
        assert_eq!(best["unresolved"], false);
        let v_line = radio_velocity_km_s(f0 + 600.0 * width);
        let got = best["v_km_s"].as_f64().unwrap();
        assert!((got - v_line).abs() < 0.2, "{got} vs {v_line}: {v}");
        assert_eq!(v["channels_fitted"].as_u64(), Some(rfi_free(&v, n)));
    }

    /// Channels fitted: the line search's usable channels less the spike.
    fn rfi_free(v: &Jv, n: usize) -> u64 {
        let edge = (n as f64 * LineSearch::default().edge_frac) as usize;
        (n - 2 * edge.min(n / 4)) as u64 - v["narrowband_rfi"].as_array().unwrap().len() as u64
    }
}
