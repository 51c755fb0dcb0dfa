//! The analysis of a recording in the store: one function for the server's
//! hydrogen-line page (`GET /api/v1/hline/recordings/{id}/fit`) and for
//! `astrolab hline fit --recording FILE_ID`, so the two cannot disagree.
//!
//! Decision (issue 16): the two meet on the stored recording, not on a
//! spectrum file. What is analysed is
//! * the recording's calibrated spectrum in kelvin, when `hline process`
//!   made one (`--fsw-ref` or `--yfactor-hot/--yfactor-cold`: the registry
//!   entry names its `.cal.fits`), read exactly as `hline fit FILE.cal.fits`
//!   reads it;
//! * otherwise the mean of the recording's stored integrations (flagged
//!   channels left out, weights frames) divided by the line search's
//!   baseline, `P / baseline - 1`, in units of the system temperature, on
//!   the v_LSR axis (the kinematic LSR correction at mid-recording towards
//!   the middle integration's pointing; topocentric when the site, time or
//!   pointing is unknown). The column density needs kelvin, so it is NaN
//!   for such a spectrum.
//!
//! Either spectrum then goes through [`super::fit::analyse_loaded`] with the
//! analysis options given (the CLI's defaults on the server, which lets a
//! request change only the number of components): narrow-band RFI flags,
//! baseline, Gaussian components, HVC flags ([`astrolab_hline::analysis`]).

use std::path::{Path, PathBuf};

use anyhow::Context;
use astrolab_hline::linefind::LineProfile;
use astrolab_hline::mean::{recording_spectrum, RecordingSpectrum};
use astrolab_hline::velocity::{lsr_correction_km_s, LsrDefinition, Site, UtcTime};
use astrolab_store::{HlineSpectrumRow, RawFile, Store};
use serde_json::Value;

use super::fit::{analyse_loaded, Analysis};
use super::load::{load, Loaded};
use crate::params::defs::AnalysisArgs;

/// Why a stored recording could not be analysed.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    /// No recording with that id (or not a hydrogen-line one).
    #[error("no hydrogen-line recording with file id {0}")]
    NotFound(i64),
    /// The recording has no integrated spectra.
    #[error("recording {0} has no integrated spectra")]
    NoSpectra(i64),
    /// The stored spectra do not fit together.
    #[error("recording {0}: spectra of different lengths")]
    Inconsistent(i64),
    /// The data cannot be analysed (line search, baseline, decomposition,
    /// an unreadable calibrated spectrum): the chain says why.
    #[error("recording {file_id}: {cause:#}")]
    Analysis {
        /// The recording.
        file_id: i64,
        /// Why.
        cause: anyhow::Error,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] astrolab_store::StoreError),
}

/// A stored recording, analysed.
#[derive(Debug, Clone)]
pub struct RecordingAnalysis {
    /// Registry id.
    pub file_id: i64,
    /// Registry name.
    pub name: String,
    /// Integrations averaged.
    pub n_integrations: usize,
    /// Channels of an integration.
    pub n_channels: usize,
    /// The calibrated spectrum analysed, when there is one (amplitudes
    /// then in K; else in units of the system temperature).
    pub calibrated: Option<PathBuf>,
    /// The LSR correction of the velocity axis, km/s (None: topocentric).
    pub lsr_correction_km_s: Option<f64>,
    /// Which velocity frame, or why topocentric.
    pub velocity_frame: String,
    /// The line search on the mean of the integrations (`hline process`'s
    /// detection: `line`, `noise_rel`).
    pub profile: LineProfile,
    /// The analysis (spectrum, baseline, components, flags).
    pub analysis: Analysis,
    /// Recurring RFI frequencies (a session of one spectrum: none).
    pub recurring_rfi_hz: Vec<f64>,
}

impl RecordingAnalysis {
    /// `"K"` for a calibrated spectrum, `"Tsys"` otherwise.
    pub fn unit(&self) -> &'static str {
        if self.calibrated.is_some() {
            "K"
        } else {
            "Tsys"
        }
    }
}

/// The observing site of a recording: its SigMF `core:geolocation`, else
/// the site written into its spectra archive by `hline process`.
/// `Ok(None)`: neither says where it was observed; `Err(why)`: a file that
/// would say could not be read (the caller is told why, not "no site").
pub fn recording_site(raw: &RawFile) -> Result<Option<Site>, String> {
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
    let details: Value = serde_json::from_str(&raw.hdus).map_err(|e| {
        format!(
            "the registry entry of {} has unreadable details ({e})",
            raw.name
        )
    })?;
    let Some(archive) = details.get("archive").and_then(Value::as_str) else {
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

/// The calibrated spectrum `hline process` wrote for the recording, when
/// its registry entry names one.
pub fn calibrated_spectrum(raw: &RawFile) -> Option<PathBuf> {
    let details: Value = serde_json::from_str(&raw.hdus).ok()?;
    details
        .get("calibrated")
        .and_then(Value::as_str)
        .map(PathBuf::from)
}

/// The LSR correction at the middle of the recording towards the pointing
/// of the middle integration (what `hline process` reports), or None with
/// the reason.
fn lsr_at_mid(
    raw: &RawFile,
    rows: &[HlineSpectrumRow],
) -> Result<(Option<f64>, String), anyhow::Error> {
    let (first, last) = (&rows[0], &rows[rows.len() - 1]);
    let mid_t = 0.5 * (first.start_unix_s + last.start_unix_s + last.integration_s);
    let mid = &rows[rows.len() / 2];
    Ok(match (recording_site(raw), mid.ra_deg, mid.dec_deg) {
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
            .context("the LSR correction at mid-recording")?;
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
    })
}

/// Analyses the recording `raw` from its stored integrations `rows` (see
/// the module documentation for what is analysed).
pub fn analyse_recording(
    raw: &RawFile,
    rows: &[HlineSpectrumRow],
    a: &AnalysisArgs,
) -> Result<RecordingAnalysis, RecordingError> {
    let file_id = raw.file_id;
    let Some(first) = rows.first() else {
        return Err(RecordingError::NoSpectra(file_id));
    };
    let n = first.spectrum.len();
    if rows
        .iter()
        .any(|r| r.spectrum.len() != n || r.flags.len() != n)
    {
        return Err(RecordingError::Inconsistent(file_id));
    }
    let failed = |cause: anyhow::Error| RecordingError::Analysis { file_id, cause };
    let spectra: Vec<f32> = rows
        .iter()
        .flat_map(|r| r.spectrum.iter().copied())
        .collect();
    let flags: Vec<u8> = rows.iter().flat_map(|r| r.flags.iter().copied()).collect();
    let n_frames: Vec<u64> = rows.iter().map(|r| r.n_frames.max(0) as u64).collect();
    let (corr, frame) = lsr_at_mid(raw, rows).map_err(failed)?;
    let RecordingSpectrum {
        freq_hz,
        v_km_s,
        profile,
        ..
    } = recording_spectrum(
        &spectra,
        &flags,
        &n_frames,
        n,
        first.first_channel_freq_hz,
        first.channel_width_hz,
        corr,
    )
    .map_err(|e| failed(e.into()))?;
    let calibrated = calibrated_spectrum(raw);
    let (loaded, corr, frame) = match &calibrated {
        Some(path) => {
            let l = load(path, a.lsr)
                .with_context(|| "the recording's calibrated spectrum".to_string())
                .map_err(failed)?;
            let frame = format!("v_LSR ({})", l.lsr_source);
            (l.clone(), l.lsr_correction_km_s, frame)
        }
        None => {
            let mid = &rows[rows.len() / 2];
            let (l_deg, b_deg) = match (mid.ra_deg, mid.dec_deg) {
                (Some(ra), Some(dec)) => astrolab_sky::galactic::icrs_to_galactic(ra, dec),
                _ => (f64::NAN, f64::NAN),
            };
            let loaded = Loaded {
                path: PathBuf::from(format!("{} (file {file_id})", raw.name)),
                name: raw.name.clone(),
                v_lsr_km_s: v_km_s,
                t_k: profile.ratio.clone(),
                l_deg,
                b_deg,
                lsr_source: frame.clone(),
                freq_hz: Some(freq_hz),
                lsr_correction_km_s: corr,
            };
            (loaded, corr, frame)
        }
    };
    let (mut all, recurring) = analyse_loaded(vec![loaded], a).map_err(failed)?;
    let Some(mut analysis) = all.pop() else {
        return Err(failed(anyhow::anyhow!("the analysis gave nothing")));
    };
    if calibrated.is_none() {
        // The column density needs kelvin.
        analysis.result.n_hi_cm2 = f64::NAN;
    }
    Ok(RecordingAnalysis {
        file_id,
        name: raw.name.clone(),
        n_integrations: rows.len(),
        n_channels: n,
        calibrated,
        lsr_correction_km_s: corr,
        velocity_frame: frame,
        profile,
        analysis,
        recurring_rfi_hz: recurring,
    })
}

/// [`analyse_recording`] of the hydrogen-line recording `file_id` read
/// from `store` (what `hline fit --recording` runs).
pub fn analyse_stored_recording(
    store: &mut Store,
    file_id: i64,
    a: &AnalysisArgs,
) -> anyhow::Result<RecordingAnalysis> {
    let Some(raw) = store.hline_recording(file_id)? else {
        return Err(crate::error::UsageError(RecordingError::NotFound(file_id).to_string()).into());
    };
    let rows = store.hline_spectra(file_id)?;
    Ok(analyse_recording(&raw, &rows, a)?)
}
