//! Hydrogen-line recordings: integrated spectra and the Gaussian
//! components of the mean spectrum with LSR velocities.

#[allow(unused_imports)]
use std::collections::{BTreeSet, HashMap, HashSet};
#[allow(unused_imports)]
use std::path::{Path, PathBuf};

#[allow(unused_imports)]
use astrolab_hline::gauss::{decompose, Criterion, GaussOptions};
#[allow(unused_imports)]
use astrolab_hline::linefind::{average_spectra, find_line, radio_velocity_km_s, LineSearch};
#[allow(unused_imports)]
use astrolab_hline::narrowband::{flag_narrowband, Resolution, SpikeOptions};
#[allow(unused_imports)]
use astrolab_hline::velocity::{lsr_correction_km_s, LsrDefinition, Site, UtcTime};
#[allow(unused_imports)]
use astrolab_store::{RawFile, Store, Value};
#[allow(unused_imports)]
use astrolab_voids::compare::{compare_property, log_ssfr, CompareConfig};
#[allow(unused_imports)]
use axum::extract::{Path as UrlPath, Query, State};
#[allow(unused_imports)]
use axum::http::header;
#[allow(unused_imports)]
use axum::response::{IntoResponse, Response};
#[allow(unused_imports)]
use axum::Json;
#[allow(unused_imports)]
use serde::Serialize;
#[allow(unused_imports)]
use serde_json::{json, Value as Jv};

#[allow(unused_imports)]
use crate::api::page::{Page, PageParams, Paged};
#[allow(unused_imports)]
use crate::auth::{Authed, Principal, VIEWER};
#[allow(unused_imports)]
use crate::error::{ApiError, ApiResult};
#[allow(unused_imports)]
use crate::state::AppState;

#[allow(unused_imports)]
use super::science::{
    blocking, bool_param, finite, forbidden, id_list, int_param, page, path_id, Params,
};

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
