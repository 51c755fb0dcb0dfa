//! Void membership: summary, members by class and the void-vs-wall
//! statistics of `astrolab voids compare`, restricted rows left out.

use std::collections::{BTreeSet, HashMap};

use astrolab_store::Store;
use astrolab_voids::compare::{compare_property, AlgorithmSample, CompareConfig};
use axum::extract::{Query, State};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value as Jv};

use crate::api::page::Paged;
use crate::auth::{Authed, Principal, VIEWER};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

use super::science::{blocking, page, Params};

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
    // Galaxy lists first, FastSpecFit last: later rows win.
    for p in store.target_positions(ids, denied)? {
        out.insert(p.target_id, [p.ra, p.dec, p.z]);
        files.extend(p.file_id);
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
    let s = AlgorithmSample::from_galaxies(&astrolab_pipeline::voids::sample::galaxy_properties(t));
    // PROPERTIES lists them in the order of the sample's columns.
    let k = PROPERTIES
        .iter()
        .position(|(n, _)| *n == property)
        .unwrap_or(PROPERTIES.len() - 1);
    (s.values(k, &s.void_rows), s.values(k, &s.wall_rows))
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
