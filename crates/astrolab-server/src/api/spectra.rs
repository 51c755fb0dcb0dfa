//! Spectra by TARGETID: JSON and the SVG plot of `astrolab spectra get
//! --plot`; a spectrum whose raw file is forbidden answers 404.

use std::path::{Path, PathBuf};

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::auth::{Authed, Principal, VIEWER};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

use super::science::{blocking, bool_param, finite, path_id, Params};

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
                Some(r) => store.spectra_source_file_ids(r)?,
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
            let denied: Vec<i64> = rules.forbidden_ids().into_iter().collect();
            let spectype = store.spectype_of(target, &denied)?;
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
