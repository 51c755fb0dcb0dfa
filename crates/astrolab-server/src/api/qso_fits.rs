//! A quasar's spectral fits (`astrolab qso fit` over the store, issue 20):
//! its rows of every fit catalog as JSON, and the figure of a fit (data,
//! model, power law + Balmer continuum, Fe II, lines, residuals).
//!
//! The store keeps each catalog's settings (line table, the Fe II
//! templates' text, options) beside its rows, and the fit is deterministic,
//! so the figure refits the spectrum with them (a few milliseconds)
//! instead of storing model arrays per quasar; the answer's
//! `X-Astrolab-Refit` header says whether the refit's measurements equal
//! the stored row (`matches`) or not (`differs`: the row was written by
//! another version of the fitter). Rows and figures follow the spectrum's
//! access rules: a row of a raw file the caller may not read is left out
//! (404 when none is left), and the figure reads the spectrum through the
//! same check as the spectrum page.

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::Value as Jv;

use astrolab_pipeline::qso::fit::{qa_svg, FitSettings};
use astrolab_qso::fit::spectrum::{fit_spectrum, SpectrumIn};
use astrolab_store::qso_fits::FITTED;

use crate::auth::{Authed, Principal, VIEWER};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

use super::science::{blocking, finite, path_id, Params};

/// One fit row of a quasar as `GET /api/v1/spectra/{targetid}/qsofit`
/// answers it (non-finite numbers are null).
#[derive(Debug, Clone, Serialize)]
pub struct QsoFitRowJson {
    /// The fit catalog id (its settings' SHA-256).
    pub catalog_id: String,
    /// DESI TARGETID.
    pub targetid: i64,
    /// Raw file of the spectrum fitted.
    pub file_id: Option<i64>,
    /// Redshift fitted at.
    pub z: Option<f64>,
    /// `fitted`, or why the quasar got no numbers.
    pub outcome: String,
    /// Instrumental sigma used for the [O III] widths, km/s.
    pub sigma_inst: Option<f64>,
    /// Whether an [O III] wing is claimed, and its flux S/N.
    pub oiii_wing: Option<bool>,
    pub oiii_wing_snr: Option<f64>,
    /// Reduced chi-square of the continuum.
    pub cont_rchi2: Option<f64>,
    /// Monte-Carlo samples behind the `_ERR` numbers.
    pub mc_samples: Option<i64>,
    /// Every measurement (the FITS catalog's columns: LOG_L5100,
    /// HB_BR_FWHM, OIII_W80, ... and `_ERR` with Monte Carlo).
    pub row: Jv,
}

impl QsoFitRowJson {
    /// The number `name` of the row; none when absent or null.
    pub fn num(&self, name: &str) -> Option<f64> {
        self.row.get(name).and_then(Jv::as_f64)
    }
}

/// `GET /api/v1/spectra/{targetid}/qsofit`.
#[derive(Debug, Serialize)]
pub struct QsoFitRowsJson {
    /// DESI TARGETID.
    pub targetid: i64,
    /// Rows.
    pub count: usize,
    /// One per fit catalog the caller may read, by catalog id.
    pub items: Vec<QsoFitRowJson>,
}

/// The quasar's fit rows of every catalog, leaving out those of raw files
/// the caller may not read (none: an empty list); reads of restricted
/// datasets are audited. The API routes' and the spectrum page's.
pub async fn qso_fit_rows_for(
    s: &AppState,
    p: &Principal,
    target: i64,
) -> ApiResult<Vec<QsoFitRowJson>> {
    let rows = super::science::quasar_rows_for(
        s,
        p,
        target,
        format!("quasar fits of {target}"),
        |store, t, denied| store.qso_fit_records(None, Some(&[t]), denied),
        |r| r.file_id,
    )
    .await?;
    rows.into_iter()
        .map(|(catalog_id, r)| {
            let row: Jv = serde_json::from_str(&r.row_json).map_err(|e| {
                ApiError::internal(format!(
                    "fit row of TARGETID {target} in {catalog_id}: row_json: {e}"
                ))
            })?;
            Ok(QsoFitRowJson {
                catalog_id,
                targetid: r.target_id,
                file_id: r.file_id,
                z: finite(r.z),
                outcome: r.outcome,
                sigma_inst: finite(r.sigma_inst),
                oiii_wing: r.oiii_wing,
                oiii_wing_snr: r.oiii_wing_snr,
                cont_rchi2: r.cont_rchi2,
                mc_samples: r.mc_samples,
                row,
            })
        })
        .collect()
}

fn no_fit(target: i64) -> ApiError {
    ApiError::not_found(format!(
        "no quasar fit in the store for TARGETID {target} (astrolab qso fit fits the store's quasars)"
    ))
}

/// `GET /api/v1/spectra/{targetid}/qsofit`: 404 when the quasar has no
/// fit row the caller may read.
pub async fn spectrum_qso_fit(
    State(s): State<AppState>,
    Authed(p): Authed<VIEWER>,
    UrlPath(targetid): UrlPath<String>,
) -> ApiResult<Json<QsoFitRowsJson>> {
    let target = path_id(&targetid, "targetid")?;
    let items = qso_fit_rows_for(&s, &p, target).await?;
    if items.is_empty() {
        return Err(no_fit(target));
    }
    Ok(Json(QsoFitRowsJson {
        targetid: target,
        count: items.len(),
        items,
    }))
}

/// `GET /api/v1/spectra/{targetid}/qsofit.svg[?catalog=ID]`: the figure
/// of the quasar's fit of that catalog (default: its first fitted row),
/// redrawn by refitting the spectrum with the catalog's stored settings;
/// 404 naming why when there is none.
pub async fn spectrum_qso_fit_svg(
    State(s): State<AppState>,
    Authed(p): Authed<VIEWER>,
    UrlPath(targetid): UrlPath<String>,
    Query(q): Params,
) -> ApiResult<Response> {
    let target = path_id(&targetid, "targetid")?;
    let items = qso_fit_rows_for(&s, &p, target).await?;
    if items.is_empty() {
        return Err(no_fit(target));
    }
    let wanted = q.get("catalog").cloned();
    let row = match &wanted {
        Some(c) => items.iter().find(|r| &r.catalog_id == c).ok_or_else(|| {
            ApiError::not_found(format!(
                "catalog: TARGETID {target} has no fit row of catalog {c:?} (it has {})",
                items
                    .iter()
                    .map(|r| r.catalog_id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?,
        None => items
            .iter()
            .find(|r| r.outcome == FITTED)
            .unwrap_or(&items[0]),
    }
    .clone();
    if row.outcome != FITTED {
        return Err(ApiError::not_found(format!(
            "no fit figure for TARGETID {target} in {}: not fitted ({})",
            row.catalog_id, row.outcome
        )));
    }
    let catalog = row.catalog_id.clone();
    let settings = s
        .pool
        .run(move |store| Ok(store.qso_fit_config(&catalog)?))
        .await?
        .ok_or_else(|| {
            ApiError::internal(format!(
                "fit catalog {} has rows but no settings in the store",
                row.catalog_id
            ))
        })?;
    let (sp, _) = super::spectra::fetch_spectrum(&s, p, target).await?;
    let (svg, matches) = blocking(move || fit_figure(&settings, &sp, &row)).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml; charset=utf-8"),
            (
                header::HeaderName::from_static("x-astrolab-refit"),
                if matches { "matches" } else { "differs" },
            ),
        ],
        svg,
    )
        .into_response())
}

/// Refits the spectrum with the catalog's settings (no Monte Carlo) and
/// draws it; also whether every number of the stored row is the refit's.
fn fit_figure(
    settings: &str,
    sp: &astrolab_spectra::IndexedSpectrum,
    row: &QsoFitRowJson,
) -> ApiResult<(String, bool)> {
    let settings: FitSettings = serde_json::from_str(settings).map_err(|e| {
        ApiError::internal(format!("settings of fit catalog {}: {e}", row.catalog_id))
    })?;
    let mut config = settings
        .config([
            "stored line table",
            "stored optical Fe II",
            "stored UV Fe II",
        ])
        .map_err(|e| ApiError::internal(format!("settings of {}: {e}", row.catalog_id)))?;
    config.mc = 0;
    let z = row.z.ok_or_else(|| {
        ApiError::internal(format!("fit row of TARGETID {}: no redshift", row.targetid))
    })?;
    let (flux, ivar) = astrolab_pipeline::outflows::bal::weighted(
        &sp.row.flux,
        &sp.row.ivar,
        &sp.row.mask,
        u32::MAX,
    );
    let input = SpectrumIn {
        wave: &sp.wavelength,
        flux: &flux,
        ivar: &ivar,
        z,
        sigma_inst_kms: row.sigma_inst,
        ebv: settings.ebv,
        id: row.targetid as u64,
    };
    let fit = fit_spectrum(&input, &config).map_err(|e| {
        ApiError::internal(format!(
            "refitting TARGETID {} with {}: {e} (the stored row says fitted)",
            row.targetid, row.catalog_id
        ))
    })?;
    let matches =
        fit.values
            .columns()
            .iter()
            .all(|(name, v)| match (row.num(name), v.is_finite()) {
                (Some(stored), true) => (stored - v).abs() <= 1e-9 * stored.abs().max(1e-300),
                (None, false) => true,
                _ => false,
            });
    Ok((qa_svg(&row.targetid.to_string(), &fit), matches))
}
