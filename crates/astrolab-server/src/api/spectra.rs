//! Spectra by TARGETID: JSON and the SVG plot of `astrolab spectra get
//! --plot`, and the quasar's BAL measurements (`astrolab outflows bal`,
//! issue 19) with their figure; a spectrum whose raw file is forbidden
//! answers 404, and so do its BAL rows.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use astrolab_qso::bal::{CIV_REST_A, C_KM_S, SIIV_REST_A};
use astrolab_qso::continuum::Basis;
use astrolab_spectra::plot::{escape as svg_escape, nice_ticks};
use serde_json::Value as Jv;

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
pub(crate) async fn fetch_spectrum(
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

pub(crate) struct SpectrumJsonMeta {
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

// BAL measurements (`astrolab outflows bal`, issue 19).

/// Rest-frame range of the BAL figure, Angstrom: the Si IV and C IV search
/// windows (25,000 km/s blueward of 1398 A starts at 1281 A) up to past the
/// C IV emission line.
pub const BAL_FIGURE_REST_A: (f64, f64) = (1261.0, 1700.0);

/// DESI's PCA continuum components built into the binary, and the BAL
/// catalog id `astrolab outflows bal` gives the rows it measures with them
/// (its only settings); loaded once.
fn builtin_bal() -> ApiResult<&'static (Basis, String)> {
    static BUILTIN: OnceLock<Result<(Basis, String), String>> = OnceLock::new();
    BUILTIN
        .get_or_init(|| {
            use astrolab_pipeline::outflows::bal;
            let (basis, sha) =
                bal::load_basis(None).map_err(|e| format!("built-in PCA basis: {e:#}"))?;
            Ok((basis, bal::catalog_id(&sha, &bal::bal_config())))
        })
        .as_ref()
        .map_err(ApiError::internal)
}

/// The BAL catalog id of rows measured with the built-in continuum basis
/// (the only rows whose continuum the server can draw).
pub fn builtin_bal_catalog_id() -> ApiResult<String> {
    Ok(builtin_bal()?.1.clone())
}

/// One BAL row of a quasar as `GET /api/v1/spectra/{targetid}/bal`
/// answers it.
#[derive(Debug, Clone, Serialize)]
pub struct BalRowJson {
    /// The BAL catalog id (basis and settings).
    pub catalog_id: String,
    /// DESI TARGETID.
    pub targetid: i64,
    /// Raw file of the spectrum measured.
    pub file_id: Option<i64>,
    /// Redshift it was measured at.
    pub z: Option<f64>,
    /// `measured`, or why the quasar got no numbers.
    pub outcome: String,
    /// DESI's BALMASK.
    pub balmask: i64,
    /// How the continuum was fitted (`iterative`, `red_side`); none for a
    /// skip.
    pub cont_fit: Option<String>,
    /// Whether `bal.svg` draws this row.
    pub figure: bool,
    /// Why it does not, when it does not.
    pub no_figure: Option<String>,
    /// The catalog row: DESI's column names (PCA_COEFFS, BI_CIV,
    /// VMIN_CIV_450, ...; SKIP_REASON for a skip).
    pub row: Jv,
}

impl BalRowJson {
    /// The number `name` of the row; none when absent or null.
    pub fn num(&self, name: &str) -> Option<f64> {
        self.row.get(name).and_then(Jv::as_f64)
    }

    /// The troughs of `line` (`CIV`, `SIIV`) of width class `width`
    /// (`450`: AI, `2000`: BI) as (VMIN, VMAX) in km/s of outflow: the
    /// first `N{line}_{width}` slots, unused ones (-1) left out.
    pub fn troughs(&self, line: &str, width: &str) -> Vec<(f64, f64)> {
        let n = self
            .row
            .get(format!("N{line}_{width}"))
            .and_then(Jv::as_f64)
            .unwrap_or(0.0)
            .max(0.0) as usize;
        let slots = |k: &str| -> Vec<f64> {
            self.row
                .get(format!("{k}_{line}_{width}"))
                .and_then(Jv::as_array)
                .map(|a| a.iter().map(|v| v.as_f64().unwrap_or(-1.0)).collect())
                .unwrap_or_default()
        };
        slots("VMIN")
            .into_iter()
            .zip(slots("VMAX"))
            .take(n)
            .filter(|(lo, hi)| *lo >= 0.0 && hi > lo)
            .collect()
    }
}

/// Rest wavelength (Angstrom) of outflow velocity `v_km_s` from `line_a`
/// (non-relativistic, as the catalog's velocities).
pub fn outflow_rest_a(line_a: f64, v_km_s: f64) -> f64 {
    line_a * (1.0 - v_km_s / C_KM_S)
}

/// `GET /api/v1/spectra/{targetid}/bal`.
#[derive(Debug, Serialize)]
pub struct BalRowsJson {
    /// DESI TARGETID.
    pub targetid: i64,
    /// The catalog id of the built-in continuum basis: rows of other ids
    /// were measured with another basis (`outflows bal --pca`), so their
    /// continuum is not drawn.
    pub builtin_catalog_id: String,
    /// Rows.
    pub count: usize,
    /// One per BAL catalog the caller may read, by catalog id.
    pub items: Vec<BalRowJson>,
}

/// The quasar's BAL rows of every catalog, leaving out those of raw files
/// the caller may not read (none: an empty list); reads of restricted
/// datasets are audited. The API routes' and the spectrum page's.
pub async fn bal_rows_for(s: &AppState, p: &Principal, target: i64) -> ApiResult<Vec<BalRowJson>> {
    let rows = super::science::quasar_rows_for(
        s,
        p,
        target,
        format!("BAL rows of {target}"),
        |store, t, denied| store.bal_records(None, Some(&[t]), denied),
        |r| r.file_id,
    )
    .await?;
    let (basis, builtin) = builtin_bal()?;
    rows.into_iter()
        .map(|(catalog_id, r)| {
            let row: Jv = serde_json::from_str(&r.row_json).map_err(|e| {
                ApiError::internal(format!(
                    "BAL row of TARGETID {target} in {catalog_id}: row_json: {e}"
                ))
            })?;
            let coeffs = row
                .get("PCA_COEFFS")
                .and_then(Jv::as_array)
                .map_or(0, Vec::len);
            let no_figure = if r.outcome != astrolab_store::bal::MEASURED {
                Some(format!("not measured ({})", r.outcome))
            } else if catalog_id != *builtin {
                Some(format!(
                    "measured with another continuum basis (outflows bal --pca) than the built-in one ({builtin}), which is the only one the server can draw"
                ))
            } else if coeffs != basis.n_components() {
                Some(format!(
                    "PCA_COEFFS has {coeffs} values, the built-in basis {} components",
                    basis.n_components()
                ))
            } else {
                None
            };
            Ok(BalRowJson {
                figure: no_figure.is_none(),
                no_figure,
                catalog_id,
                targetid: r.target_id,
                file_id: r.file_id,
                z: finite(r.z),
                outcome: r.outcome,
                balmask: r.balmask,
                cont_fit: r.cont_fit,
                row,
            })
        })
        .collect()
}

fn no_bal(target: i64) -> ApiError {
    ApiError::not_found(format!(
        "no BAL measurement in the store for TARGETID {target} (astrolab outflows bal measures the store's quasars)"
    ))
}

/// `GET /api/v1/spectra/{targetid}/bal`: 404 when the quasar has no BAL
/// row the caller may read.
pub async fn spectrum_bal(
    State(s): State<AppState>,
    Authed(p): Authed<VIEWER>,
    UrlPath(targetid): UrlPath<String>,
) -> ApiResult<Json<BalRowsJson>> {
    let target = path_id(&targetid, "targetid")?;
    let items = bal_rows_for(&s, &p, target).await?;
    if items.is_empty() {
        return Err(no_bal(target));
    }
    Ok(Json(BalRowsJson {
        targetid: target,
        builtin_catalog_id: builtin_bal_catalog_id()?,
        count: items.len(),
        items,
    }))
}

/// `GET /api/v1/spectra/{targetid}/bal.svg`: the figure of the quasar's
/// row measured with the built-in basis; 404 naming why when it has none.
pub async fn spectrum_bal_svg(
    State(s): State<AppState>,
    Authed(p): Authed<VIEWER>,
    UrlPath(targetid): UrlPath<String>,
) -> ApiResult<Response> {
    let target = path_id(&targetid, "targetid")?;
    let items = bal_rows_for(&s, &p, target).await?;
    if items.is_empty() {
        return Err(no_bal(target));
    }
    let Some(row) = items.iter().find(|r| r.figure).cloned() else {
        let why: Vec<String> = items
            .iter()
            .map(|r| format!("{}: {}", r.catalog_id, r.no_figure.as_deref().unwrap_or("")))
            .collect();
        return Err(ApiError::not_found(format!(
            "no BAL figure for TARGETID {target}: {}",
            why.join("; ")
        )));
    };
    let (sp, _) = fetch_spectrum(&s, p, target).await?;
    let svg = blocking(move || bal_figure(&sp, &row)).await?;
    Ok((
        [(header::CONTENT_TYPE, "image/svg+xml; charset=utf-8")],
        svg,
    )
        .into_response())
}

/// The BAL figure: rest-frame flux over [`BAL_FIGURE_REST_A`], the PCA
/// continuum of the row's PCA_COEFFS (only inside the fit range), 0.9 x
/// the continuum, AI troughs shaded over the plot and BI troughs as bars
/// along its top, C IV and Si IV marked, BI_CIV and AI_CIV in the title.
fn bal_figure(sp: &astrolab_spectra::IndexedSpectrum, row: &BalRowJson) -> ApiResult<String> {
    let (basis, _) = builtin_bal()?;
    let z = row.z.ok_or_else(|| {
        ApiError::internal(format!("BAL row of TARGETID {}: no redshift", row.targetid))
    })?;
    let coeffs: Vec<f64> = row
        .row
        .get("PCA_COEFFS")
        .and_then(Jv::as_array)
        .map(|a| a.iter().map(|v| v.as_f64().unwrap_or(f64::NAN)).collect())
        .unwrap_or_default();
    let (x0, x1) = BAL_FIGURE_REST_A;
    let r = &sp.row;
    let rest: Vec<f64> = sp.wavelength.iter().map(|w| w / (1.0 + z)).collect();
    let pixels: Vec<usize> = (0..rest.len())
        .filter(|&i| rest[i] >= x0 && rest[i] <= x1)
        .collect();
    let good = |i: usize| {
        r.mask.get(i) == Some(&0)
            && r.ivar.get(i).is_some_and(|v| *v > 0.0)
            && r.flux.get(i).is_some_and(|f| f.is_finite())
    };
    // The continuum where it is defined: the basis range and the fit range.
    let config = astrolab_pipeline::outflows::bal::bal_config();
    let (blo, bhi) = basis.range_a();
    let (clo, chi) = (
        blo.max(config.fit_rest_min_a),
        bhi.min(config.fit_rest_max_a),
    );
    let cont_rest: Vec<f64> = pixels
        .iter()
        .map(|&i| rest[i])
        .filter(|w| *w >= clo && *w <= chi)
        .collect();
    let interp = basis.interpolate(&cont_rest);
    let n = cont_rest.len();
    let cont: Vec<f64> = (0..n)
        .map(|i| {
            coeffs
                .iter()
                .enumerate()
                .map(|(k, c)| c * interp[k * n + i])
                .sum()
        })
        .collect();

    // Robust y range: 1st to 99th percentile of good flux, the continuum
    // and zero (troughs reach it), padded.
    let mut ys: Vec<f64> = pixels
        .iter()
        .filter(|&&i| good(i))
        .map(|&i| f64::from(r.flux[i]))
        .collect();
    ys.sort_by(f64::total_cmp);
    let q = |f: f64| {
        ys.get(((ys.len().max(1) - 1) as f64 * f) as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let finite_cont = cont.iter().copied().filter(|c| c.is_finite());
    let (mut lo, mut hi) = (q(0.01).min(0.0), q(0.99));
    for c in finite_cont {
        lo = lo.min(c);
        hi = hi.max(c);
    }
    let pad = ((hi - lo) * 0.08).max(1e-3);
    let (y0, y1) = (lo - pad, hi + pad);

    let (w, h) = (1000.0, 450.0);
    let (left, right, top, bottom) = (70.0, 20.0, 40.0, 74.0);
    let (pw, ph) = (w - left - right, h - top - bottom);
    let px = |v: f64| left + (v - x0) / (x1 - x0) * pw;
    let py = |v: f64| top + (y1 - v.clamp(y0, y1)) / (y1 - y0) * ph;

    let pm = |name: &str| {
        let v = row.num(name).unwrap_or(f64::NAN);
        let e = row.num(&format!("ERR_{name}")).unwrap_or(f64::NAN);
        format!("{name} = {v:.1} ± {e:.1} km/s")
    };
    let title = format!(
        "TARGETID {}, z = {z:.4}: {}, {}",
        row.targetid,
        pm("BI_CIV"),
        pm("AI_CIV")
    );
    let mut s = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-labelledby="bal-title" font-family="sans-serif" font-size="12"><title id="bal-title">BAL troughs: {0}</title><rect width="100%" height="100%" fill="white"/><text x="{left}" y="24" font-size="14">{0}</text>"##,
        svg_escape(&title)
    );
    // Troughs: AI shaded over the plot, BI as bars along its top.
    for (key, label, line) in [("CIV", "C IV", CIV_REST_A), ("SIIV", "Si IV", SIIV_REST_A)] {
        for (width, kind) in [("450", "AI"), ("2000", "BI")] {
            for (k, (vmin, vmax)) in row.troughs(key, width).into_iter().enumerate() {
                let (a, b) = (outflow_rest_a(line, vmax), outflow_rest_a(line, vmin));
                let (ca, cb) = (a.max(x0), b.min(x1));
                if cb <= ca {
                    continue;
                }
                let (y, height, fill) = if kind == "AI" {
                    (top, ph, r##"fill="#fdae6b" fill-opacity="0.45""##)
                } else {
                    (top, 12.0, r##"fill="#a63603""##)
                };
                let _ = write!(
                    s,
                    r#"<rect class="trough {} {}" x="{:.1}" y="{y}" width="{:.1}" height="{height}" {fill}><title>{label} {kind} trough {}: {vmin:.0} to {vmax:.0} km/s, rest {a:.1} to {b:.1} Å</title></rect>"#,
                    kind.to_ascii_lowercase(),
                    key.to_ascii_lowercase(),
                    px(ca),
                    px(cb) - px(ca),
                    k + 1,
                );
            }
        }
        let _ = write!(
            s,
            r##"<line x1="{0:.1}" x2="{0:.1}" y1="{1}" y2="{2}" stroke="#636363" stroke-dasharray="3,3"/><text class="line-label" x="{3:.1}" y="{4}" fill="#636363">{label}</text>"##,
            px(line),
            top,
            top + ph,
            px(line) + 3.0,
            top + 26.0,
        );
    }
    // Flux (gaps at bad pixels).
    let mut d = String::new();
    let mut pen = false;
    for &i in &pixels {
        if good(i) {
            let _ = write!(
                d,
                "{}{:.1},{:.1} ",
                if pen { "L" } else { "M" },
                px(rest[i]),
                py(f64::from(r.flux[i]))
            );
            pen = true;
        } else {
            pen = false;
        }
    }
    let _ = write!(
        s,
        r##"<path class="flux" d="{}" fill="none" stroke="#08519c" stroke-width="0.8"/>"##,
        d.trim_end()
    );
    // The continuum and 0.9 x the continuum.
    for (class, factor, dash) in [
        ("continuum", 1.0, ""),
        ("continuum-90", 0.9, r#" stroke-dasharray="6,4""#),
    ] {
        let mut d = String::new();
        let mut pen = false;
        for (wl, c) in cont_rest.iter().zip(&cont) {
            if c.is_finite() {
                let _ = write!(
                    d,
                    "{}{:.1},{:.1} ",
                    if pen { "L" } else { "M" },
                    px(*wl),
                    py(factor * c)
                );
                pen = true;
            } else {
                pen = false;
            }
        }
        let _ = write!(
            s,
            r##"<path class="{class}" d="{}" fill="none" stroke="#cb181d" stroke-width="1.4"{dash}/>"##,
            d.trim_end()
        );
    }
    // Frame, ticks, labels.
    let _ = write!(
        s,
        r#"<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="black"/>"#
    );
    for (t, label) in nice_ticks(x0, x1, 8).labelled() {
        let _ = write!(
            s,
            r#"<line x1="{0:.1}" x2="{0:.1}" y1="{1}" y2="{2}" stroke="black"/><text x="{0:.1}" y="{3}" text-anchor="middle">{4}</text>"#,
            px(t),
            top + ph,
            top + ph + 5.0,
            top + ph + 18.0,
            label
        );
    }
    for (t, label) in nice_ticks(y0, y1, 6).labelled() {
        let _ = write!(
            s,
            r#"<line x1="{0}" x2="{1}" y1="{2:.1}" y2="{2:.1}" stroke="black"/><text x="{3}" y="{4:.1}" text-anchor="end">{5}</text>"#,
            left - 5.0,
            left,
            py(t),
            left - 8.0,
            py(t) + 4.0,
            label
        );
    }
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">rest-frame wavelength [Å]</text><text transform="translate(16,{}) rotate(-90)" text-anchor="middle">flux [1e-17 erg/s/cm²/Å]</text>"#,
        left + pw / 2.0,
        top + ph + 36.0,
        top + ph / 2.0
    );
    // Legend, one row under the axis.
    let ly = h - 12.0;
    let mut lx = left;
    for (swatch, text) in [
        (
            r##"<line x1="0" x2="18" y1="-4" y2="-4" stroke="#08519c" stroke-width="1.5"/>"##,
            "flux",
        ),
        (
            r##"<line x1="0" x2="18" y1="-4" y2="-4" stroke="#cb181d" stroke-width="1.5"/>"##,
            "PCA continuum",
        ),
        (
            r##"<line x1="0" x2="18" y1="-4" y2="-4" stroke="#cb181d" stroke-width="1.5" stroke-dasharray="6,4"/>"##,
            "0.9 × continuum",
        ),
        (
            r##"<rect x="0" y="-10" width="18" height="12" fill="#fdae6b" fill-opacity="0.45"/>"##,
            "AI trough (450 km/s)",
        ),
        (
            r##"<rect x="0" y="-10" width="18" height="6" fill="#a63603"/>"##,
            "BI trough (2000 km/s)",
        ),
    ] {
        let _ = write!(
            s,
            r#"<g transform="translate({lx:.1},{ly})">{swatch}<text x="24" y="0">{}</text></g>"#,
            svg_escape(text)
        );
        lx += 24.0 + 7.0 * text.chars().count() as f64 + 18.0;
    }
    s += "</svg>";
    Ok(s)
}
