//! Hydrogen-line recordings: integrated spectra, and the analysis of a
//! recording, which is `astrolab hline fit --recording`'s
//! (`astrolab_pipeline::hline::recording`): the same function, the CLI's
//! default options, so the page and the command cannot disagree.

use astrolab_pipeline::hline::recording::{analyse_recording, RecordingError};
use astrolab_pipeline::params::defs::AnalysisArgs;
use astrolab_store::{HlineSpectrumRow, RawFile, Store};
use axum::extract::{Path as UrlPath, Query, State};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value as Jv};

use crate::api::page::Paged;
use crate::auth::{Authed, Principal, VIEWER};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

use super::science::{blocking, finite, forbidden, int_param, page, path_id, Params};

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
    // Paths on the server (the archive, the calibrated spectrum) are no
    // business of the caller.
    if let Some(m) = details.as_object_mut() {
        m.remove("archive");
        m.remove("calibrated");
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
        .hline_recordings()?
        .into_iter()
        .filter(|f| !f.superseded && !denied.contains(&f.file_id))
        .collect())
}

/// The recording `file_id`, or 404 when there is none the caller may read.
fn readable_recording(store: &mut Store, p: &Principal, file_id: i64) -> ApiResult<RawFile> {
    let denied = forbidden(store, p)?;
    store
        .hline_recording(file_id)?
        .filter(|f| !denied.contains(&f.file_id))
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

/// `GET /api/v1/hline/recordings/{file_id}/fit?components=`: the analysis
/// `astrolab hline fit --recording FILE_ID` prints
/// (`astrolab_pipeline::hline::recording::analyse_recording` with the CLI's
/// default options; `components` sets `--max-components`, 1 to 8): the
/// recording's calibrated spectrum in K when `hline process` made one,
/// else the mean of its integrations relative to the line search's
/// baseline (`P / baseline - 1`, amplitudes in units of the system
/// temperature), on the LSR velocity axis; narrow-band RFI left out,
/// polynomial baseline, Gaussian components.
pub async fn hline_fit(
    State(s): State<AppState>,
    Authed(p): Authed<VIEWER>,
    UrlPath(file_id): UrlPath<String>,
    Query(q): Params,
) -> ApiResult<Json<Jv>> {
    let file_id = path_id(&file_id, "file_id")?;
    let max_components = match int_param(&q, "components")? {
        None => None,
        Some(n @ 1..=8) => Some(n as usize),
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

/// The CLI's default analysis options, `max_components` when given.
fn analysis_args(max_components: Option<usize>) -> ApiResult<AnalysisArgs> {
    let mut a: AnalysisArgs = astrolab_pipeline::params::parse_json(&json!({}))
        .map_err(|e| ApiError::internal(format!("the default analysis options: {e}")))?;
    if let Some(n) = max_components {
        a.max_components = n;
    }
    Ok(a)
}

fn fit_recording(
    raw: &RawFile,
    rows: &[HlineSpectrumRow],
    max_components: Option<usize>,
) -> ApiResult<Jv> {
    let args = analysis_args(max_components)?;
    let r = analyse_recording(raw, rows, &args).map_err(|e| match e {
        RecordingError::Inconsistent(_) | RecordingError::Store(_) => {
            ApiError::internal(e.to_string())
        }
        RecordingError::NotFound(_) => ApiError::not_found(e.to_string()),
        _ => ApiError::conflict(e.to_string()),
    })?;
    let a = &r.analysis;
    let shift = r.lsr_correction_km_s.unwrap_or(0.0);
    let components: Vec<Jv> = a
        .fit
        .components
        .iter()
        .enumerate()
        .map(|(i, c)| {
            json!({
                "amp_rel": finite(c.amp_k), "amp_err_rel": finite(c.amp_err_k),
                "v_km_s": finite(c.center_km_s), "v_err_km_s": finite(c.center_err_km_s),
                "v_radio_topo_km_s": finite(c.center_km_s - shift),
                "sigma_km_s": finite(c.sigma_km_s), "sigma_err_km_s": finite(c.sigma_err_km_s),
                "fwhm_km_s": finite(c.fwhm_km_s()),
                "integral_km_s": finite(c.integral_k_km_s()),
                "deviation_km_s": a.deviation_km_s.get(i).map(|d| finite(*d)),
                "hvc_candidate": a.hvc.iter().any(|h| h.0 == i),
                "unresolved": a.resolution.is_unresolved(c.sigma_km_s),
            })
        })
        .collect();
    let narrowband: Vec<Jv> = a
        .flags
        .flagged
        .iter()
        .map(|x| {
            let (hz, v, amp) = astrolab_pipeline::hline::table::flag_point(a, x);
            json!({
                "first_channel": x.first_channel,
                "width_channels": x.width_channels,
                "freq_hz": finite(hz),
                "v_km_s": finite(v),
                "amp_rel": finite(amp),
                "source": x.source.name(),
            })
        })
        .collect();
    let corr = r.lsr_correction_km_s;
    let line = r.profile.line.map(|l| {
        json!({
            "center_freq_hz": l.center_freq_hz,
            "v_radio_topo_km_s": l.v_radio_km_s,
            "v_lsr_km_s": corr.map(|c| l.v_radio_km_s + c),
            "peak_over_tsys": l.peak_rel,
            "fwhm_km_s": l.fwhm_km_s,
            "snr": l.snr,
        })
    });
    Ok(json!({
        "file_id": r.file_id,
        "name": r.name,
        "n_integrations": r.n_integrations,
        "n_channels": r.n_channels,
        "calibrated": r.calibrated.is_some(),
        "unit": r.unit(),
        "channels_fitted": a.channels_fitted,
        "velocity_frame": r.velocity_frame,
        "lsr_correction_km_s": corr,
        "noise_rel": finite(r.profile.noise_rel),
        "baseline_order": a.baseline.order,
        "baseline_rms_rel": finite(a.baseline.rms),
        "residual_rms_rel": finite(a.fit.residual_rms_k),
        "bic": finite(a.fit.bic),
        "n_hi_cm2": finite(a.n_hi_cm2),
        "line": line,
        "channel_width_km_s": finite(a.resolution.channel_width_km_s),
        "min_sigma_km_s": finite(a.resolution.min_sigma_km_s()),
        "min_fwhm_km_s": finite(a.resolution.min_fwhm_km_s()),
        "components": components,
        "strongest_resolved": a.strongest_resolved_index(),
        "narrowband_rfi": narrowband,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use astrolab_hline::linefind::radio_velocity_km_s;
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
        let v = fit_recording(&raw, &rows, Some(3)).unwrap();
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

    /// Channels fitted: the central 80 % of the band (`hline fit`'s
    /// default range, inside the line search's usable channels) less the
    /// spike.
    fn rfi_free(v: &Jv, n: usize) -> u64 {
        (n - 2 * (n / 10)) as u64 - v["narrowband_rfi"].as_array().unwrap().len() as u64
    }
}
