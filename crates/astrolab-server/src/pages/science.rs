//! Science pages: the spectrum viewer, void statistics and the hydrogen
//! line (latest spectra, waterfall, rotation curve).

use std::collections::HashMap;

use astrolab_store::MembershipSummary;
use axum::extract::{Path, Query, State};
use axum::response::Response;

use super::svg::{line_plot, waterfall, Series};
use super::{
    error_page, escape, fmt_f64, layout, or_page, redirect, thousands, PageResult, PageUser,
};
use crate::error::ApiError;
use crate::state::AppState;

/// HI rest frequency, MHz.
const HI_MHZ: f64 = 1_420.405_751_768;

fn targetid_form(value: &str) -> String {
    format!(
        r#"<form method="get" action="/spectra" class="inline" aria-label="Open a spectrum"><label for="targetid">TARGETID</label><input id="targetid" name="targetid" inputmode="numeric" required value="{}"><button type="submit">Show</button></form>"#,
        escape(value)
    )
}

/// `GET /spectra?targetid=`: the TARGETID form; with one given, its page.
pub async fn spectra_form(
    PageUser(p): PageUser,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    if let Some(t) = q
        .get("targetid")
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
    {
        if t.parse::<i64>().is_ok() {
            return Ok(redirect(&format!("/spectra/{t}")));
        }
        let body = format!(
            r#"{}<p class="error" role="alert">{} is not a TARGETID (an integer).</p>"#,
            targetid_form(t),
            escape(t)
        );
        let mut r = layout("Spectra", Some(&p), "/spectra", &body);
        *r.status_mut() = axum::http::StatusCode::BAD_REQUEST;
        return Ok(r);
    }
    let body = format!(
        "{}<p>Open a spectrum by its DESI TARGETID, or follow a TARGETID link from a <a href=\"/catalog\">catalog search</a>.</p>",
        targetid_form("")
    );
    Ok(layout("Spectra", Some(&p), "/spectra", &body))
}

/// `GET /spectra/{targetid}?rest=&wmin=&wmax=`: the plot of the API
/// (`/api/v1/spectra/{id}/plot.svg`: flux, 1-sigma band, masked pixels,
/// lines), with a rest-frame switch and a wavelength zoom (app.js sets the
/// plot's viewBox; without script the form reloads with the range).
pub async fn spectrum(
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
    let rest = q
        .get("rest")
        .is_some_and(|v| v == "1" || v == "true" || v == "on");
    let info = or_page(&p, crate::api::spectra::spectrum_info(&s, &p, id).await)?;
    let num = |k: &str| {
        q.get(k)
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|x| x.is_finite())
    };
    let (wmin, wmax) = (num("wmin"), num("wmax"));
    let zoomed = match (wmin, wmax) {
        (Some(a), Some(b)) if b > a => Some((a, b)),
        _ => None,
    };
    let src = format!(
        "/api/v1/spectra/{id}/plot.svg{}",
        if rest { "?rest=true" } else { "" }
    );
    let mut body = targetid_form(&id.to_string());
    body += &format!(
        r#"<dl class="facts"><div><dt>TARGETID</dt><dd id="spec-targetid">{id}</dd></div><div><dt>RA, Dec (deg)</dt><dd>{}, {}</dd></div><div><dt>Redshift</dt><dd>{}</dd></div><div><dt>Spectral type</dt><dd>{}</dd></div><div><dt>File</dt><dd>{}</dd></div></dl>"#,
        info.ra.map(fmt_f64).unwrap_or_default(),
        info.dec.map(fmt_f64).unwrap_or_default(),
        info.z.map(fmt_f64).unwrap_or_else(|| "unknown".into()),
        escape(info.spectype.as_deref().unwrap_or("")),
        escape(&info.file),
    );
    body += &format!(
        r#"<form method="get" action="/spectra/{id}" class="grid-form" id="zoom-form" aria-label="Zoom">
<div><label for="wmin">From (Å)</label><input id="wmin" name="wmin" inputmode="decimal" value="{}"></div>
<div><label for="wmax">To (Å)</label><input id="wmax" name="wmax" inputmode="decimal" value="{}"></div>
<div class="check"><input type="checkbox" id="rest" name="rest" value="1"{}><label for="rest">Rest frame</label></div>
<div><button type="submit">Zoom</button> <a href="/spectra/{id}{}">Full range</a></div>
</form>"#,
        wmin.map(fmt_f64).unwrap_or_default(),
        wmax.map(fmt_f64).unwrap_or_default(),
        if rest { " checked" } else { "" },
        if rest { "?rest=1" } else { "" },
    );
    let (lo, hi) = if rest {
        let f = 1.0 / (1.0 + info.z.unwrap_or(0.0));
        (info.wavelength_min * f, info.wavelength_max * f)
    } else {
        (info.wavelength_min, info.wavelength_max)
    };
    body += &format!(
        r#"<figure class="spectrum" id="spectrum-figure" data-src="{src}" data-wmin="{lo}" data-wmax="{hi}" data-zoom-min="{}" data-zoom-max="{}"><img id="spectrum-img" src="{src}" alt="Spectrum of TARGETID {id}: flux against {} wavelength with its 1-sigma band, masked pixels and emission lines" width="1000" height="450"><figcaption>Flux (10<sup>-17</sup> erg s<sup>-1</sup> cm<sup>-2</sup> Å<sup>-1</sup>) with its 1-sigma band; masked pixels marked along the bottom. <a href="{src}">Open the SVG</a> · <a href="/api/v1/spectra/{id}">data (JSON)</a></figcaption></figure>"#,
        zoomed.map(|z| z.0.to_string()).unwrap_or_default(),
        zoomed.map(|z| z.1.to_string()).unwrap_or_default(),
        if rest { "rest-frame" } else { "observed" },
        src = escape(&src),
    );
    // The quasar's BAL measurements, when it has any the caller may read.
    match crate::api::spectra::bal_rows_for(&s, &p, id).await {
        Ok(rows) if rows.is_empty() => {}
        Ok(rows) => body += &bal_section(id, &rows),
        Err(e) => {
            body += &format!(
                r#"<section aria-labelledby="bal-h"><h2 id="bal-h">BAL troughs</h2><p class="error" role="alert">{}</p></section>"#,
                escape(&e.to_string())
            );
        }
    }
    // The quasar's spectral fits, when it has any the caller may read.
    match crate::api::qso_fits::qso_fit_rows_for(&s, &p, id).await {
        Ok(rows) if rows.is_empty() => {}
        Ok(rows) => body += &qso_fit_section(id, &rows),
        Err(e) => {
            body += &format!(
                r#"<section aria-labelledby="qsofit-h"><h2 id="qsofit-h">Spectral fit</h2><p class="error" role="alert">{}</p></section>"#,
                escape(&e.to_string())
            );
        }
    }
    Ok(layout(
        &format!("Spectrum {id}"),
        Some(&p),
        "/spectra",
        &body,
    ))
}

/// The "BAL troughs" section of a spectrum page: a row per BAL catalog
/// (`astrolab outflows bal`) and the figure of `bal.svg` when a row was
/// measured with the built-in continuum basis.
fn bal_section(id: i64, rows: &[crate::api::spectra::BalRowJson]) -> String {
    let kms = |v: Option<f64>| v.map(|v| format!("{v:.1}")).unwrap_or_default();
    let pm = |r: &crate::api::spectra::BalRowJson, name: &str| match r.num(name) {
        Some(v) => format!("{v:.1} ± {}", kms(r.num(&format!("ERR_{name}")))),
        None => String::new(),
    };
    let count = |r: &crate::api::spectra::BalRowJson, name: &str| {
        r.num(name).map(|v| format!("{v:.0}")).unwrap_or_default()
    };
    let mut s = String::from(
        r#"<section aria-labelledby="bal-h"><h2 id="bal-h">BAL troughs</h2><div class="scroll"><table id="bal-rows"><caption>Broad absorption lines as DESI's BAL catalog measures them (<code>astrolab outflows bal</code>): balnicity BI and absorption index AI in km/s, trough velocities in km/s of outflow from C IV 1549 Å</caption><thead><tr><th scope="col">Catalog</th><th scope="col">Outcome</th><th scope="col">CONT_FIT</th><th scope="col" class="num">BI_CIV</th><th scope="col" class="num">AI_CIV</th><th scope="col" class="num">NCIV_2000</th><th scope="col" class="num">NCIV_450</th><th scope="col" class="num">BI_SIIV</th><th scope="col" class="num">AI_SIIV</th><th scope="col" class="num">SNR_CIV</th><th scope="col">C IV AI troughs (VMIN–VMAX)</th></tr></thead><tbody>"#,
    );
    for r in rows {
        let measured = r.outcome == astrolab_store::bal::MEASURED;
        let outcome = if measured {
            r.outcome.clone()
        } else {
            let reason = r
                .row
                .get("SKIP_REASON")
                .and_then(|v| v.as_str())
                .unwrap_or(&r.outcome);
            format!("skipped: {reason}")
        };
        let (bi, ai, n2000, n450, bi_si, ai_si, snr, troughs) = if measured {
            (
                pm(r, "BI_CIV"),
                pm(r, "AI_CIV"),
                count(r, "NCIV_2000"),
                count(r, "NCIV_450"),
                kms(r.num("BI_SIIV")),
                kms(r.num("AI_SIIV")),
                r.num("SNR_CIV")
                    .map(|v| format!("{v:.2}"))
                    .unwrap_or_default(),
                r.troughs("CIV", "450")
                    .iter()
                    .map(|(a, b)| format!("{a:.0}–{b:.0}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        } else {
            Default::default()
        };
        s += &format!(
            r#"<tr><th scope="row"><code>{}</code></th><td>{}</td><td>{}</td><td class="num">{bi}</td><td class="num">{ai}</td><td class="num">{n2000}</td><td class="num">{n450}</td><td class="num">{bi_si}</td><td class="num">{ai_si}</td><td class="num">{snr}</td><td>{}</td></tr>"#,
            escape(&r.catalog_id),
            escape(&outcome),
            escape(r.cont_fit.as_deref().unwrap_or("")),
            escape(&troughs),
        );
    }
    s += "</tbody></table></div>";
    let drawn = rows.iter().find(|r| r.figure);
    // Why a row is not drawn: every row's when none is, else those measured
    // with another basis (a skip says so in the table).
    let why: Vec<String> = rows
        .iter()
        .filter(|r| !r.figure && (drawn.is_none() || r.outcome == astrolab_store::bal::MEASURED))
        .map(|r| {
            format!(
                "<code>{}</code>: {}",
                escape(&r.catalog_id),
                escape(r.no_figure.as_deref().unwrap_or(""))
            )
        })
        .collect();
    if !why.is_empty() {
        s += &format!(
            r#"<p id="bal-no-figure">{}: {}.</p>"#,
            if drawn.is_some() {
                "Numbers only, no continuum drawn"
            } else {
                "No BAL figure"
            },
            why.join("; ")
        );
    }
    if let Some(r) = drawn {
        let src = format!("/api/v1/spectra/{id}/bal.svg");
        let z = r.z.map(|z| format!("{z:.4}")).unwrap_or_default();
        s += &format!(
            r#"<figure class="spectrum" id="bal-figure"><img id="bal-img" src="{src}" alt="BAL troughs of TARGETID {id}: rest-frame flux from 1261 to 1700 Å with the PCA continuum and 0.9 times the continuum; C IV and Si IV AI troughs shaded, BI troughs marked along the top; BI_CIV {} km/s, AI_CIV {} km/s" width="1000" height="450"><figcaption>Flux against rest-frame wavelength at z = {z} (catalog <code>{}</code>). The continuum is DESI's PCA components with the row's PCA_COEFFS, drawn where they are defined; shaded: AI troughs (at least 450 km/s below 0.9 × continuum); dark bars: BI troughs (at least 2000 km/s, beyond 3000 km/s). <a href="{src}">Open the SVG</a> · <a href="/api/v1/spectra/{id}/bal">BAL rows (JSON)</a></figcaption></figure>"#,
            escape(&pm(r, "BI_CIV")),
            escape(&pm(r, "AI_CIV")),
            escape(&r.catalog_id),
        );
    }
    s += "</section>";
    s
}

/// The "Spectral fit" section of a spectrum page: a row per fit catalog
/// (`astrolab qso fit`) with the headline numbers, and the figure of
/// `qsofit.svg` (data, model and components) of the first fitted row.
fn qso_fit_section(id: i64, rows: &[crate::api::qso_fits::QsoFitRowJson]) -> String {
    use crate::api::qso_fits::QsoFitRowJson;
    let val = |r: &QsoFitRowJson, name: &str, digits: usize| match r.num(name) {
        Some(v) => match r.num(&format!("{name}_ERR")) {
            Some(e) => format!("{v:.digits$} ± {e:.digits$}"),
            None => format!("{v:.digits$}"),
        },
        None => String::new(),
    };
    let mut s = String::from(
        r#"<section aria-labelledby="qsofit-h"><h2 id="qsofit-h">Spectral fit</h2><div class="scroll"><table id="qsofit-rows"><caption>Continuum, Fe II and emission-line fits (<code>astrolab qso fit</code>): velocities and widths in km/s, luminosities in log erg/s, masses in log M<sub>☉</sub>; ± Monte-Carlo errors where the fit had them</caption><thead><tr><th scope="col">Catalog</th><th scope="col">Outcome</th><th scope="col" class="num">log L<sub>5100</sub></th><th scope="col" class="num">Hβ broad FWHM</th><th scope="col" class="num">[O III] W80</th><th scope="col" class="num">[O III] v50</th><th scope="col">[O III] wing</th><th scope="col" class="num">log M<sub>BH</sub> (Hβ)</th><th scope="col" class="num">log M<sub>BH</sub> (Mg II)</th><th scope="col" class="num">log M<sub>BH</sub> (C IV)</th></tr></thead><tbody>"#,
    );
    for r in rows {
        let fitted = r.outcome == astrolab_store::qso_fits::FITTED;
        let wing = match (r.oiii_wing, r.oiii_wing_snr) {
            (Some(true), Some(snr)) => format!("yes (S/N {snr:.1})"),
            (Some(false), Some(snr)) => format!("no (S/N {snr:.1})"),
            _ => String::new(),
        };
        s += &format!(
            r#"<tr><th scope="row"><code>{}</code></th><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
            escape(&r.catalog_id),
            escape(&if fitted {
                r.outcome.clone()
            } else {
                format!("skipped: {}", r.outcome)
            }),
            val(r, "LOG_L5100", 3),
            val(r, "HB_BR_FWHM", 0),
            val(r, "OIII_W80", 0),
            val(r, "OIII_V50", 0),
            escape(&wing),
            val(r, "LOG_MBH_HB", 2),
            val(r, "LOG_MBH_MGII", 2),
            val(r, "LOG_MBH_CIV", 2),
        );
    }
    s += "</tbody></table></div>";
    if let Some(r) = rows
        .iter()
        .find(|r| r.outcome == astrolab_store::qso_fits::FITTED)
    {
        let src = format!("/api/v1/spectra/{id}/qsofit.svg?catalog={}", r.catalog_id);
        let z = r.z.map(|z| format!("{z:.4}")).unwrap_or_default();
        s += &format!(
            r#"<figure class="spectrum" id="qsofit-figure"><img id="qsofit-img" src="{src}" alt="Spectral fit of TARGETID {id}: rest-frame flux with the whole model, the power law plus Balmer continuum, Fe II and the emission lines, and the residuals in a lower panel" width="1000" height="560"><figcaption>Rest-frame flux at z = {z} (catalog <code>{}</code>): grey data, red model, blue power law + Balmer continuum, green Fe II, purple lines on the continuum; lower panel (data − model)/σ. <a href="{src}">Open the SVG</a> · <a href="/api/v1/spectra/{id}/qsofit">fit rows (JSON)</a></figcaption></figure>"#,
            escape(&r.catalog_id),
            src = escape(&src),
        );
    }
    s += "</section>";
    s
}

/// `GET /voids?algorithm=&property=`: membership counts per algorithm and
/// catalog, and the void-vs-wall comparison of a galaxy property (the
/// API's statistics: medians, KS and AD tests).
pub async fn voids(
    State(s): State<AppState>,
    PageUser(p): PageUser,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let (rows, mut disclosed) = or_page(&p, crate::api::voids::void_summary_for(&s, &p).await)?;
    let summary = by_catalog(&rows);
    let mut algorithms: Vec<String> = summary.iter().map(|m| m.algorithm.clone()).collect();
    algorithms.dedup();
    let mut body = String::new();
    if summary.is_empty() {
        // Nothing read, nothing disclosed.
        body += "<p>No void membership in the store yet: run <code>voids-classify</code> from the <a href=\"/runs\">runs page</a>.</p>";
        return Ok(layout("Void statistics", Some(&p), "/voids", &body));
    }
    body += r#"<section aria-labelledby="sum-h"><h2 id="sum-h">Membership</h2><div class="scroll"><table id="void-summary"><thead><tr><th scope="col">Algorithm</th><th scope="col">Cap</th><th scope="col">Catalog</th><th scope="col">Class</th><th scope="col" class="num">Galaxies</th><th scope="col" class="num">Mean r/R<sub>void</sub></th></tr></thead><tbody>"#;
    for m in &summary {
        let class = match m.vflag {
            0 => "wall",
            1 => "void",
            2 => "edge",
            9 => "outside",
            _ => "other",
        };
        body += &format!(
            r#"<tr><td>{}</td><td>{}</td><td>{}</td><td>{class}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
            escape(&m.algorithm),
            escape(&m.cap),
            escape(&m.catalog),
            thousands(m.n_galaxies),
            m.r_void_norm_mean.map(fmt_f64).unwrap_or_default()
        );
    }
    body += "</tbody></table></div></section>";
    let algorithm = q
        .get("algorithm")
        .cloned()
        .unwrap_or_else(|| algorithms[0].clone());
    let property = q
        .get("property")
        .cloned()
        .unwrap_or_else(|| "logmstar".to_string());
    let mut opts = String::new();
    for a in &algorithms {
        let sel = if *a == algorithm { " selected" } else { "" };
        opts += &format!(r#"<option value="{0}"{sel}>{0}</option>"#, escape(a));
    }
    let mut props = String::new();
    for pr in crate::api::voids::VOID_STAT_PROPERTIES {
        let sel = if *pr == property { " selected" } else { "" };
        props += &format!(r#"<option value="{0}"{sel}>{0}</option>"#, escape(pr));
    }
    body += &format!(
        r#"<section aria-labelledby="cmp-h"><h2 id="cmp-h">Void vs wall galaxies</h2>
<form method="get" action="/voids" class="inline"><label for="algorithm">Algorithm</label><select id="algorithm" name="algorithm">{opts}</select><label for="property">Property</label><select id="property" name="property">{props}</select><button type="submit">Compare</button></form>"#
    );
    // The API's own function: the same statistics, settings and restrictions.
    match crate::api::voids::void_stats_for(&s, &p, &algorithm, &property).await {
        Ok((st, also)) => {
            disclosed.extend(also);
            // Read through its JSON form (what the API route answers;
            // null where a test could not be made).
            let st = serde_json::to_value(&st).unwrap_or_default();
            // JSON pointers, in order: the first present and not null wins.
            let pick = |paths: &[&str]| {
                paths
                    .iter()
                    .find_map(|p| st.pointer(p).filter(|v| !v.is_null() && !v.is_object()))
                    .cloned()
                    .unwrap_or(serde_json::Value::Null)
            };
            let n = |v: serde_json::Value| match (v.as_i64(), v.as_f64()) {
                (Some(i), _) => thousands(i),
                (None, Some(x)) => fmt_f64(x),
                _ => "n/a".to_string(),
            };
            let median = |k: &str| {
                let est = pick(&[&format!("/{k}/estimate"), &format!("/{k}")]);
                let lo = pick(&[&format!("/{k}/lo"), &format!("/{k}_ci/0")]);
                let hi = pick(&[&format!("/{k}/hi"), &format!("/{k}_ci/1")]);
                (n(est), n(lo), n(hi))
            };
            let (mv, mv_lo, mv_hi) = median("median_void");
            let (mw, mw_lo, mw_hi) = median("median_wall");
            let level = pick(&["/bootstrap/level", "/level"])
                .as_f64()
                .map(|l| fmt_f64(l * 100.0))
                .unwrap_or_default();
            body += &format!(
                r#"<div class="scroll"><table id="void-stats"><caption>{} of {} void and wall galaxies (medians with {} % bootstrap intervals, {} replicates)</caption><thead><tr><th scope="col">Sample</th><th scope="col" class="num">Galaxies</th><th scope="col" class="num">Median</th><th scope="col" class="num">Interval</th></tr></thead><tbody>
<tr><td>void</td><td class="num" id="n-void">{}</td><td class="num">{mv}</td><td class="num">{mv_lo} to {mv_hi}</td></tr><tr><td>wall</td><td class="num" id="n-wall">{}</td><td class="num">{mw}</td><td class="num">{mw_lo} to {mw_hi}</td></tr></tbody></table></div>
<dl class="facts"><div><dt>KS statistic ({})</dt><dd id="ks-stat">{}</dd></div><div><dt>KS p-value</dt><dd>{}</dd></div><div><dt>Anderson-Darling statistic</dt><dd>{}</dd></div><div><dt>Anderson-Darling p-value</dt><dd>{}</dd></div></dl>"#,
                escape(&property),
                escape(&algorithm),
                level,
                n(pick(&["/bootstrap/replicates", "/replicates"])),
                n(pick(&["/n_void"])),
                n(pick(&["/n_wall"])),
                escape(pick(&["/ks/method", "/ks_method"]).as_str().unwrap_or("")),
                n(pick(&["/ks/statistic", "/ks_statistic"])),
                n(pick(&["/ks/pvalue", "/ks_p_value"])),
                n(pick(&["/ad/statistic", "/ad_statistic"])),
                n(pick(&["/ad/pvalue", "/ad_p_value"])),
            );
        }
        Err(e) => {
            body += &format!(
                r#"<p class="error" role="alert">{}</p>"#,
                escape(&e.to_string())
            );
        }
    }
    body += "</section>";
    disclosed.sort();
    disclosed.dedup();
    crate::audit::restricted_read(&s, &p, "/voids", disclosed).await;
    Ok(layout("Void statistics", Some(&p), "/voids", &body))
}

/// The summary's rows (one per galaxy source) added up per algorithm, cap,
/// catalog and class, in the summary's order: what the page's table shows.
/// Means are weighted by the galaxies that have an R_VOID_NORM; a merged
/// row keeps its first source's `galaxy_file_id` (the table does not show
/// sources).
fn by_catalog(rows: &[MembershipSummary]) -> Vec<MembershipSummary> {
    let mut out: Vec<MembershipSummary> = Vec::new();
    for r in rows {
        let same = |m: &MembershipSummary| {
            (&m.algorithm, &m.cap, &m.catalog, m.vflag)
                == (&r.algorithm, &r.cap, &r.catalog, r.vflag)
        };
        match out.last_mut().filter(|m| same(m)) {
            Some(m) => {
                let sum = |x: &MembershipSummary| {
                    x.r_void_norm_mean
                        .map_or(0.0, |v| v * x.n_r_void_norm as f64)
                };
                let n = m.n_r_void_norm + r.n_r_void_norm;
                m.r_void_norm_mean = (n > 0).then(|| (sum(m) + sum(r)) / n as f64);
                m.n_galaxies += r.n_galaxies;
                m.n_r_void_norm = n;
            }
            None => out.push(r.clone()),
        }
    }
    out
}

/// A run id and its tangent points (R kpc, V km/s, l deg).
type Rotation = (i64, Vec<(f64, f64, f64)>);

/// Tangent points of the latest successful `hline-rotation-curve` run:
/// (R kpc, V km/s, l deg) read from its `tangent_points.csv`.
fn rotation_points(
    store: &mut astrolab_store::Store,
    who: &crate::auth::Principal,
) -> Result<Option<Rotation>, ApiError> {
    // Only runs the caller may see (their own, their projects', or all for
    // an admin): a run's outputs follow the run's visibility.
    let (runs, _) = store.list_runs_visible(
        Some(astrolab_store::RunState::Succeeded),
        who.username(),
        &who.projects,
        who.is_admin(),
        200,
        0,
    )?;
    let Some(run) = runs
        .into_iter()
        .find(|r| r.pipeline == "hline-rotation-curve")
    else {
        return Ok(None);
    };
    let Some(dir) = run.result.as_ref().and_then(|r| r["run_dir"].as_str()) else {
        return Ok(None);
    };
    let Ok(text) = std::fs::read_to_string(std::path::Path::new(dir).join("tangent_points.csv"))
    else {
        return Ok(None);
    };
    let mut pts = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() >= 6 {
            if let (Ok(l), Ok(r), Ok(v)) = (f[1].parse(), f[4].parse(), f[5].parse()) {
                pts.push((r, v, l));
            }
        }
    }
    Ok(Some((run.run_id, pts)))
}

/// `GET /hline?file_id=`: the recordings, the latest (or chosen) one's
/// spectra and waterfall, and the rotation curve of the latest run.
pub async fn hline(
    State(s): State<AppState>,
    PageUser(p): PageUser,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let who = p.clone();
    let chosen: Option<i64> = match q.get("file_id").filter(|v| !v.is_empty()) {
        Some(v) => Some(v.parse().map_err(|_| {
            error_page(
                &p,
                &ApiError::bad_request("file_id", "a raw-file id is an integer"),
            )
        })?),
        None => None,
    };
    let data = or_page(
        &p,
        s.pool
            .run(move |store| {
                let hidden = store.forbidden_file_ids(&who.projects, who.is_admin())?;
                let recs: Vec<_> = store
                    .hline_recordings()?
                    .into_iter()
                    .filter(|f| !hidden.contains(&f.file_id))
                    .collect();
                let pick = match chosen {
                    Some(id) => Some(
                        recs.iter()
                            .find(|f| f.file_id == id)
                            .cloned()
                            // Not 403: a forbidden recording must not be told from a missing one.
                            .ok_or_else(|| {
                                ApiError::not_found(format!("no recording with file id {id}"))
                            })?,
                    ),
                    None => recs.last().cloned(),
                };
                let spectra = match &pick {
                    Some(f) => store.hline_spectra(f.file_id)?,
                    None => Vec::new(),
                };
                // The page lists the recordings and shows one: a read of
                // every restricted one it names.
                let restricted =
                    crate::audit::restricted_datasets(store, &who, recs.iter().map(|f| f.file_id))?;
                Ok((
                    recs,
                    pick,
                    spectra,
                    rotation_points(store, &who)?,
                    restricted,
                ))
            })
            .await,
    )?;
    let (recs, pick, spectra, rotation, restricted) = data;
    crate::audit::restricted_read(&s, &p, "/hline", restricted).await;
    let mut body = String::new();
    if recs.is_empty() {
        body +=
            "<p>No hydrogen-line recordings in the store yet: run <code>hline-process</code> from the <a href=\"/runs\">runs page</a>.</p>";
    } else {
        body += r#"<section aria-labelledby="rec-h"><h2 id="rec-h">Recordings</h2><div class="scroll"><table id="recordings"><thead><tr><th scope="col">File id</th><th scope="col">Name</th><th scope="col">Format</th><th scope="col" class="num">Spectra</th><th scope="col">Ingested</th></tr></thead><tbody>"#;
        for f in recs.iter().rev().take(50) {
            body += &format!(
                r#"<tr><td><a href="/hline?file_id={0}">{0}</a></td><td>{1}</td><td>{2}</td><td class="num">{3}</td><td>{4}</td></tr>"#,
                f.file_id,
                escape(&f.name),
                escape(&f.format),
                thousands(f.rows_loaded),
                escape(&f.ingested_at.replace('T', " "))
            );
        }
        body += "</tbody></table></div></section>";
    }
    if let (Some(f), false) = (&pick, spectra.is_empty()) {
        let first = &spectra[0];
        let nch = first.spectrum.len();
        let freq: Vec<f64> = (0..nch)
            .map(|c| (first.first_channel_freq_hz + c as f64 * first.channel_width_hz) / 1e6)
            .collect();
        // Mean of unflagged channels over every integration, and the latest one.
        let mut mean = vec![0.0f64; nch];
        let mut n = vec![0.0f64; nch];
        for sp in &spectra {
            for c in 0..nch.min(sp.spectrum.len()) {
                if sp.flags.get(c).copied().unwrap_or(0) == 0 && sp.spectrum[c].is_finite() {
                    mean[c] += sp.spectrum[c] as f64;
                    n[c] += 1.0;
                }
            }
        }
        let mean: Vec<(f64, f64)> = (0..nch)
            .map(|c| (freq[c], if n[c] > 0.0 { mean[c] / n[c] } else { f64::NAN }))
            .collect();
        let last = spectra.last().map_or(Vec::new(), |sp| {
            (0..nch.min(sp.spectrum.len()))
                .map(|c| {
                    let ok = sp.flags.get(c).copied().unwrap_or(0) == 0;
                    (freq[c], if ok { sp.spectrum[c] as f64 } else { f64::NAN })
                })
                .collect()
        });
        body += &format!(
            r#"<section aria-labelledby="spec-h"><h2 id="spec-h">{}: spectra</h2><p>{} integrations of {} s, {} channels; the HI line rests at {:.4} MHz (the sky's motion shifts it by up to about ±1 MHz).</p><figure>"#,
            escape(&f.name),
            spectra.len(),
            fmt_f64(first.integration_s),
            nch,
            HI_MHZ
        );
        body += &line_plot(
            &format!("{}: mean and latest integration", f.name),
            "Frequency (MHz)",
            "Power (arbitrary units)",
            &[
                Series {
                    label: "mean of all",
                    colour: "#1f5fa8",
                    points: mean,
                    markers: false,
                },
                Series {
                    label: "latest",
                    colour: "#c2410c",
                    points: last,
                    markers: false,
                },
            ],
        );
        body += "<figcaption>RFI-flagged channels are left out (gaps).</figcaption></figure>";
        let input: Vec<(Vec<f32>, Vec<u8>)> = spectra
            .iter()
            .map(|sp| (sp.spectrum.clone(), sp.flags.clone()))
            .collect();
        if let Some((uri, w, h)) = waterfall(&input) {
            body += &format!(
                r#"<figure class="waterfall"><img id="waterfall" src="{uri}" width="{w}" height="{h}" alt="Waterfall of {} integrations: time downwards, frequency {:.3} to {:.3} MHz across; bright is more power relative to the median spectrum, red is RFI-flagged"><figcaption>Waterfall: time runs down, frequency ({:.3} to {:.3} MHz) across; each spectrum divided by the median spectrum; red cells are flagged as RFI.</figcaption></figure>"#,
                spectra.len(),
                freq[0],
                freq[nch - 1],
                freq[0],
                freq[nch - 1],
            );
        }
        body += "</section>";
    }
    body += r#"<section aria-labelledby="rot-h"><h2 id="rot-h">Rotation curve</h2>"#;
    match rotation {
        Some((run_id, pts)) if !pts.is_empty() => {
            body += &line_plot(
                "Tangent-point rotation curve",
                "Galactocentric radius R (kpc)",
                "Rotation velocity V (km/s)",
                &[Series {
                    label: "tangent points",
                    colour: "#1f5fa8",
                    points: pts.iter().map(|p| (p.0, p.1)).collect(),
                    markers: true,
                }],
            );
            body += &format!(
                r#"<p>From <a href="/runs/{run_id}">run #{run_id}</a>.</p><div class="scroll"><table id="rotation"><thead><tr><th scope="col" class="num">l (deg)</th><th scope="col" class="num">R (kpc)</th><th scope="col" class="num">V (km/s)</th></tr></thead><tbody>"#
            );
            for (r, v, l) in &pts {
                body += &format!(
                    r#"<tr><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
                    fmt_f64(*l),
                    fmt_f64(*r),
                    fmt_f64(*v)
                );
            }
            body += "</tbody></table></div>";
        }
        _ => body += "<p>No rotation curve yet: submit an <code>hline-rotation-curve</code> run over calibrated spectra.</p>",
    }
    body += "</section>";
    let r: Response = layout("Hydrogen line", Some(&p), "/hline", &body);
    Ok(r)
}
