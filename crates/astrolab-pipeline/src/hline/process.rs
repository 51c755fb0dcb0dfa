//! `astrolab hline process` and `astrolab hline watch`: SDR recordings
//! (SigMF, or raw `rtl_sdr` captures) streamed through the spectrometer
//! into RFI-flagged integrated spectra: a SigMF archive per recording, rows
//! in the store (time-indexed, registered by SHA-256 so a recording is
//! processed once), a summary with the HI line when there is one, and an
//! optional waterfall figure.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use astrolab_formats::iq::{encode_into, IqDatatype, IqReader, RtlRecording};
use astrolab_formats::sigmf::{
    format_datetime_unix_s, parse_datetime_unix_s, sigmf_pair, write_sigmf_meta, ArchiveHeader,
    Geolocation, Pointing, SigmfRecording, SigmfWriteMeta, SpectraArchiveWriter,
};
use astrolab_hline::calibrate::mask_fold_ghosts;
use astrolab_hline::linefind::{find_line, LineSearch, HI_REST_FREQ_HZ};
use astrolab_hline::spectrometer::{
    channel_freq_hz, Channeliser, Integration, Spectrometer, SpectrometerConfig, Window,
};
use astrolab_hline::synth::{generate, Quantisation, SynthConfig};
use astrolab_hline::velocity::{lsr_correction_km_s, LsrDefinition, Site, UtcTime};
use astrolab_store::{HlineRecording, HlineSpectrumRow, Store};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::sdr_cal::{calibrate, write_calibrated, CalibratedOut, MeanSpectrum};
use crate::context::Ctx;
use crate::error::PipelineError;
use crate::params::defs::{
    ChanneliserArg, FigureArg, ProcessArgs, ProcessOptions, WatchArgs, WindowArg,
};
use crate::pipeline::{Pipeline, SinglePipeline};

/// What processing one recording produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProcessSummary {
    /// The recording's data file.
    pub recording: String,
    /// `processed`, or `skipped` when the store already had it.
    pub status: String,
    /// Registry file id (None without the store).
    pub file_id: Option<i64>,
    /// The SigMF archive's meta file.
    pub archive: Option<String>,
    /// Samples read.
    pub n_samples: u64,
    /// Integrations written.
    pub n_integrations: usize,
    /// Fraction of channel-integrations flagged as RFI.
    pub flagged_fraction: f64,
    /// Seconds of recording per second of processing.
    pub realtime_factor: f64,
    /// The strongest line, or None with `note` saying why.
    pub line: Option<serde_json::Value>,
    /// Why no line, or which velocity frame.
    pub note: String,
    /// Waterfall figure.
    pub waterfall: Option<String>,
    /// Calibration (frequency switching or Y-factor) and the calibrated
    /// spectrum's file, when asked for.
    pub calibration: Option<serde_json::Value>,
}

/// A recording resolved to its samples and metadata.
pub(super) struct Input {
    pub(super) data_path: PathBuf,
    name: String,
    format: &'static str,
    pub(super) datatype: IqDatatype,
    pub(super) sample_rate_hz: f64,
    pub(super) center_freq_hz: f64,
    start_unix_s: Option<f64>,
    geolocation: Option<Geolocation>,
    sigmf: Option<SigmfRecording>,
}

fn is_sigmf(path: &Path) -> bool {
    let s = path.to_string_lossy();
    s.ends_with(".sigmf-meta") || s.ends_with(".sigmf-data") || sigmf_pair(path).0.exists()
}

pub(super) fn resolve(path: &Path, o: &ProcessOptions) -> Result<Input> {
    if is_sigmf(path) {
        let r = SigmfRecording::open(path)?;
        let name = r
            .data_path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        return Ok(Input {
            data_path: r.data_path.clone(),
            name,
            format: "sigmf",
            datatype: r.datatype,
            sample_rate_hz: r.sample_rate_hz,
            center_freq_hz: r.center_freq_hz,
            start_unix_s: r.start_unix_s,
            geolocation: r.geolocation,
            sigmf: Some(r),
        });
    }
    let (Some(rate), Some(freq)) = (o.sample_rate_hz, o.center_freq_hz) else {
        bail!(
            "{}: not a SigMF recording (no .sigmf-meta beside it); for a raw rtl_sdr capture give --sample-rate-hz and --center-freq-hz (and --start)",
            path.display()
        );
    };
    let start = match &o.start {
        Some(s) => Some(parse_datetime_unix_s(s).with_context(|| {
            format!("--start {s}: not an ISO 8601 UTC time such as 2026-11-22T20:00:00Z")
        })?),
        None => None,
    };
    let r = RtlRecording::open(path, rate, freq, start.unwrap_or(f64::NAN))?;
    if o.datatype.datatype() != IqDatatype::Cu8 {
        IqReader::open(path, o.datatype.datatype(), 1)?;
    }
    Ok(Input {
        data_path: r.path.clone(),
        name: path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default(),
        format: "rtl_iq",
        datatype: o.datatype.datatype(),
        sample_rate_hz: rate,
        center_freq_hz: freq,
        start_unix_s: start,
        geolocation: None,
        sigmf: None,
    })
}

pub(super) fn spectrometer_config(o: &ProcessOptions, rate: f64) -> SpectrometerConfig {
    let mut cfg = SpectrometerConfig::new(o.channels, rate, o.integration_s);
    cfg.window = match o.window {
        WindowArg::Hann => Window::Hann,
        WindowArg::Blackman => Window::Blackman,
    };
    cfg.channeliser = match o.channeliser {
        ChanneliserArg::Fft => Channeliser::Fft,
        ChanneliserArg::Pfb => Channeliser::Pfb { taps: o.taps },
    };
    cfg.sk_sigma = o.sk_sigma;
    cfg.spike_sigma = o.spike_sigma;
    cfg
}

fn pointing_for(input: &Input, o: &ProcessOptions, sample: u64) -> Option<Pointing> {
    if let (Some(ra_deg), Some(dec_deg)) = (o.ra_deg, o.dec_deg) {
        return Some(Pointing::Equatorial { ra_deg, dec_deg });
    }
    input.sigmf.as_ref().and_then(|s| s.pointing_at(sample))
}

/// Processes one recording; `home` is the data home (the archives go to
/// `HOME/hline` unless `--out-dir`).
pub fn process_one(
    home: &Path,
    path: &Path,
    o: &ProcessOptions,
    store: Option<&mut Store>,
) -> Result<ProcessSummary> {
    let input = resolve(path, o)?;
    let t_start = Instant::now();
    let mut store = store;
    let mut digest = None;
    if let Some(st) = store.as_deref_mut() {
        let (size, sha) = astrolab_store::file_digest(&input.data_path)?;
        if let Some(f) = st.raw_file_by_sha256(&sha)? {
            if !o.force {
                return Ok(ProcessSummary {
                    recording: input.data_path.display().to_string(),
                    status: "skipped".into(),
                    file_id: Some(f.file_id),
                    archive: None,
                    n_samples: 0,
                    n_integrations: 0,
                    flagged_fraction: 0.0,
                    realtime_factor: 0.0,
                    line: None,
                    note: format!(
                        "already in the store as file {} ({}); --force processes it again",
                        f.file_id, f.name
                    ),
                    waterfall: None,
                    calibration: None,
                });
            }
        }
        digest = Some((size, sha));
    }
    let scfg = spectrometer_config(o, input.sample_rate_hz);
    let mut spec = Spectrometer::new(scfg.clone()).with_context(|| path.display().to_string())?;
    let n = scfg.n_channels;
    let channel_width_hz = input.sample_rate_hz / n as f64;
    let first_channel_freq_hz = channel_freq_hz(0, n, input.center_freq_hz, input.sample_rate_hz);
    let out_dir = o.out_dir.clone().unwrap_or_else(|| home.join("hline"));
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let stem = input
        .name
        .trim_end_matches(".sigmf-data")
        .trim_end_matches(".sigmf-meta")
        .to_string();
    let archive_base = out_dir.join(format!("{stem}.spectra"));
    let site = match (o.lat_deg, o.lon_deg) {
        (Some(lat_deg), Some(lon_deg)) => Some(Geolocation {
            lat_deg,
            lon_deg,
            alt_m: o.height_m,
        }),
        _ => input.geolocation,
    };
    let header = ArchiveHeader {
        n_channels: n,
        first_channel_freq_hz,
        channel_width_hz,
        center_freq_hz: input.center_freq_hz,
        integration_s: scfg.samples_per_integration() as f64 / input.sample_rate_hz,
        spectrometer: json!({
            "channeliser": match scfg.channeliser { Channeliser::Fft => "fft".to_string(), Channeliser::Pfb { taps } => format!("pfb{taps}") },
            "window": scfg.window.name(),
            "frames_per_integration": scfg.frames_per_integration,
            "sk_sigma": scfg.sk_sigma, "sk_n": 1, "sk_d": 1,
            "spike_window": scfg.spike_window, "spike_sigma": scfg.spike_sigma,
        }),
        source_name: input.name.clone(),
        source_sha256: digest.as_ref().map(|d| d.1.clone()).unwrap_or_default(),
        geolocation: site,
        pointing: pointing_for(&input, o, 0),
    };
    let mut archive = SpectraArchiveWriter::create(&archive_base, header)?;
    let mut reader = IqReader::open(&input.data_path, input.datatype, 1 << 18)?;
    let mut buf = Vec::with_capacity(2 << 18);
    let mut ints: Vec<Integration> = Vec::new();
    let mut rows: Vec<HlineSpectrumRow> = Vec::new();
    let mut acc = MeanSpectrum::new(n);
    let t0 = input.start_unix_s.unwrap_or(0.0);
    let mut n_int = 0usize;
    let mut handle = |int: Integration,
                      archive: &mut SpectraArchiveWriter,
                      rows: &mut Vec<HlineSpectrumRow>|
     -> Result<()> {
        let start = t0 + int.start_sample as f64 / input.sample_rate_hz;
        archive.write(start, int.n_frames as u64, &int.power, &int.flags)?;
        if let (Some(_), Some(g), Some(Pointing::Equatorial { ra_deg, dec_deg })) = (
            input.start_unix_s,
            site,
            pointing_for(&input, o, int.start_sample),
        ) {
            let s = Site {
                lat_deg: g.lat_deg,
                lon_deg: g.lon_deg,
                height_m: g.alt_m,
            };
            let mid = start + 0.5 * int.n_frames as f64 * n as f64 / input.sample_rate_hz;
            let corr = lsr_correction_km_s(
                UtcTime::from_unix_seconds(mid),
                s,
                ra_deg,
                dec_deg,
                LsrDefinition::Kinematic,
            )?;
            archive.set_v_lsr_correction(corr);
        }
        acc.add(&int);
        if digest.is_some() {
            let p = pointing_for(&input, o, int.start_sample);
            let (ra, dec, az, el) = match p {
                Some(Pointing::Equatorial { ra_deg, dec_deg }) => {
                    (Some(ra_deg), Some(dec_deg), None, None)
                }
                Some(Pointing::Horizontal { az_deg, el_deg }) => {
                    (None, None, Some(az_deg), Some(el_deg))
                }
                None => (None, None, None, None),
            };
            rows.push(HlineSpectrumRow {
                integration: int.index as i64,
                start_unix_s: start,
                n_frames: int.n_frames as i64,
                integration_s: int.n_frames as f64 * n as f64 / input.sample_rate_hz,
                center_freq_hz: input.center_freq_hz,
                first_channel_freq_hz,
                channel_width_hz,
                ra_deg: ra,
                dec_deg: dec,
                az_deg: az,
                el_deg: el,
                spectrum: int.power,
                flags: int.flags,
            });
        }
        n_int += 1;
        Ok(())
    };
    loop {
        let k = reader.read_chunk(&mut buf)?;
        if k == 0 {
            break;
        }
        spec.push(&buf, &mut ints);
        for int in ints.drain(..) {
            handle(int, &mut archive, &mut rows)?;
        }
    }
    if let Some(int) = spec.finish() {
        handle(int, &mut archive, &mut rows)?;
    }
    if n_int == 0 {
        bail!(
            "{}: {} samples are less than half an integration ({} samples at {} channels x {} frames); shorten --integration-s",
            input.data_path.display(),
            reader.total_samples(),
            scfg.samples_per_integration(),
            n,
            scfg.frames_per_integration
        );
    }
    let archive_meta = archive.finish()?;
    let n_samples = reader.total_samples();
    let elapsed = t_start.elapsed().as_secs_f64();
    let mean = acc.mean();
    let freq = |c: usize| channel_freq_hz(c, n, input.center_freq_hz, input.sample_rate_hz);
    let mid_unix_s = t0 + 0.5 * n_samples as f64 / input.sample_rate_hz;
    let mid_pointing = pointing_for(&input, o, n_samples / 2);
    // The LSR correction at mid-recording, or why there is none.
    let lsr_mid: std::result::Result<f64, String> =
        match (input.start_unix_s, site, mid_pointing) {
            (Some(_), Some(g), Some(Pointing::Equatorial { ra_deg, dec_deg })) => {
                let s = Site {
                    lat_deg: g.lat_deg,
                    lon_deg: g.lon_deg,
                    height_m: g.alt_m,
                };
                Ok(lsr_correction_km_s(
                    UtcTime::from_unix_seconds(mid_unix_s),
                    s,
                    ra_deg,
                    dec_deg,
                    LsrDefinition::Kinematic,
                )?)
            }
            (None, _, _) => Err("topocentric radio velocity only: the recording has no start time".to_string()),
            (_, None, _) => Err("topocentric radio velocity only: no site (core:geolocation or --lat-deg/--lon-deg)".to_string()),
            (_, _, None) => Err("topocentric radio velocity only: no pointing (astrolab:ra_deg/dec_deg or --ra-deg/--dec-deg)".to_string()),
            (_, _, Some(Pointing::Horizontal { .. })) => Err("topocentric radio velocity only: az/el pointing; give --ra-deg/--dec-deg for v_LSR".to_string()),
        };
    // Calibration: the line is then searched in the system-temperature
    // spectrum in kelvin (ghost images of a folded spectrum masked).
    let cal = calibrate(&mean, input.center_freq_hz, input.sample_rate_hz, o)?;
    let search = |spectrum: &[f64]| -> Result<_> {
        let mut prof = find_line(spectrum, freq, &LineSearch::default());
        if let (Some(c), Ok(p)) = (&cal, &prof) {
            if let (Some(s), Some(l)) = (c.fold_shift, p.line) {
                let masked = mask_fold_ghosts(spectrum, l.first_channel, l.last_channel, s);
                prof = find_line(&masked, freq, &LineSearch::default());
            }
        }
        Ok(prof)
    };
    let profile = match &cal {
        Some(c) => search(&c.search_k)?,
        None => search(&mean)?,
    };
    let mut cal_path = None;
    let calibration = match &cal {
        None => None,
        Some(c) => {
            let path = out_dir.join(format!("{stem}.cal.fits"));
            write_calibrated(
                c,
                &CalibratedOut {
                    path: &path,
                    object: &input.name,
                    // FITS DATE-OBS: YYYY-MM-DDThh:mm:ss.ss (22 characters).
                    date_obs: input
                        .start_unix_s
                        .map(|t| format_datetime_unix_s(t).chars().take(22).collect())
                        .unwrap_or_default(),
                    exposure_s: n_samples as f64 / input.sample_rate_hz,
                    first_channel_freq_hz,
                    channel_width_hz,
                    ra_dec_deg: match mid_pointing {
                        Some(Pointing::Equatorial { ra_deg, dec_deg }) => Some((ra_deg, dec_deg)),
                        _ => None,
                    },
                    lsr_km_s: lsr_mid.as_ref().ok().copied(),
                },
            )?;
            let mut d = c.details.clone();
            d["spectrum"] = json!(path.display().to_string());
            cal_path = Some(path);
            Some(d)
        }
    };
    // Kelvin per unit of the line's relative peak: the baseline at the line
    // when calibrated, else the --tsys-k given.
    let kelvin_per_rel = |prof: &astrolab_hline::linefind::LineProfile, f_hz: f64| match &cal {
        Some(_) => {
            let c = ((f_hz - first_channel_freq_hz) / channel_width_hz).round();
            let c = (c.max(0.0) as usize).min(n - 1);
            Some(prof.baseline[c])
        }
        None => o.tsys_k,
    };
    let in_band = (freq(0)..=freq(n - 1)).contains(&HI_REST_FREQ_HZ)
        || (freq(0) - HI_REST_FREQ_HZ).abs() < 2e6
        || (freq(n - 1) - HI_REST_FREQ_HZ).abs() < 2e6;
    let (line, note) = match profile {
        Err(e) => (None, format!("no line analysis: {e}")),
        Ok(prof) => match prof.line {
            None => (
                None,
                format!(
                    "no HI line detected: the strongest feature has S/N {:.1}, below the detection threshold {:.0}{}",
                    prof.max_snr,
                    LineSearch::default().detect_sigma,
                    if in_band { "" } else { " (the band does not cover 1420.406 MHz)" }
                ),
            ),
            Some(l) => {
                let (v_lsr, frame) = match &lsr_mid {
                    Ok(corr) => (Some(l.v_radio_km_s + corr), "v_LSR (kinematic LSR)".to_string()),
                    Err(why) => (None, why.clone()),
                };
                (
                    Some(json!({
                        "center_freq_hz": l.center_freq_hz,
                        "v_radio_topo_km_s": l.v_radio_km_s,
                        "v_lsr_km_s": v_lsr,
                        "peak_over_tsys": l.peak_rel,
                        "peak_k": kelvin_per_rel(&prof, l.center_freq_hz).map(|t| t * l.peak_rel),
                        "fwhm_km_s": l.fwhm_km_s,
                        "snr": l.snr,
                    })),
                    frame,
                )
            }
        },
    };
    let mut file_id = None;
    if let (Some(st), Some((size, sha))) = (store, digest) {
        let mut details = json!({
            "datatype": input.datatype.sigmf_name(), "sample_rate_hz": input.sample_rate_hz,
            "center_freq_hz": input.center_freq_hz, "n_samples": n_samples,
            "start": input.start_unix_s.map(format_datetime_unix_s),
            "archive": archive_meta.display().to_string(),
        });
        // The calibrated spectrum is what the recording is analysed as
        // (`hline fit --recording`, the server's fit; see `super::recording`).
        if let (Some(p), Some(m)) = (&cal_path, details.as_object_mut()) {
            m.insert("calibrated".into(), json!(p.display().to_string()));
        }
        let details = details.to_string();
        let rec = HlineRecording {
            name: input.name.clone(),
            source: std::fs::canonicalize(&input.data_path)
                .unwrap_or(input.data_path.clone())
                .display()
                .to_string(),
            size_bytes: size as i64,
            sha256: sha,
            format: input.format.to_string(),
            details,
        };
        file_id = Some(st.store_hline_recording(&rec, &rows)?);
    }
    let waterfall = match o.waterfall {
        None => None,
        Some(f) => {
            let ext = match f {
                FigureArg::Svg => "svg",
                FigureArg::Png => "png",
            };
            let p = out_dir.join(format!("{stem}.waterfall.{ext}"));
            let a = astrolab_formats::sigmf::read_spectra_archive(&archive_meta)?;
            let svg = super::waterfall::waterfall_svg(&a, &input.name);
            crate::render::write_plot(&svg, &p)?;
            Some(p.display().to_string())
        }
    };
    Ok(ProcessSummary {
        recording: input.data_path.display().to_string(),
        status: "processed".into(),
        file_id,
        archive: Some(archive_meta.display().to_string()),
        n_samples,
        n_integrations: n_int,
        flagged_fraction: acc.n_flagged as f64 / acc.n_cells.max(1) as f64,
        realtime_factor: if elapsed > 0.0 {
            n_samples as f64 / input.sample_rate_hz / elapsed
        } else {
            f64::INFINITY
        },
        line,
        note,
        waterfall,
        calibration,
    })
}

/// The lines `hline process` prints for one recording.
fn report(ctx: &Ctx, s: &ProcessSummary, o: &ProcessOptions) -> Result<()> {
    if o.json {
        ctx.info(serde_json::to_string(s)?);
        return Ok(());
    }
    if s.status == "skipped" {
        ctx.info(format!("{}: skipped: {}", s.recording, s.note));
        return Ok(());
    }
    ctx.info(format!(
        "{}: {} integrations, {:.2} % of channels flagged as RFI, {:.1}x real time -> {}",
        s.recording,
        s.n_integrations,
        100.0 * s.flagged_fraction,
        s.realtime_factor,
        s.archive.as_deref().unwrap_or("-")
    ));
    match &s.line {
        Some(l) => {
            let v_lsr = l["v_lsr_km_s"]
                .as_f64()
                .map_or("-".to_string(), |v| format!("{v:.2}"));
            let peak = match l["peak_k"].as_f64() {
                Some(k) => format!("{k:.2} K"),
                None => format!(
                    "{:.4} Tsys",
                    l["peak_over_tsys"].as_f64().unwrap_or(f64::NAN)
                ),
            };
            ctx.info(format!(
                "  HI line: {:.6} MHz, v_radio(topo) {:.2} km/s, v_LSR {} km/s, peak {}, FWHM {:.1} km/s, S/N {:.0} ({})",
                l["center_freq_hz"].as_f64().unwrap_or(f64::NAN) / 1e6,
                l["v_radio_topo_km_s"].as_f64().unwrap_or(f64::NAN),
                v_lsr,
                peak,
                l["fwhm_km_s"].as_f64().unwrap_or(f64::NAN),
                l["snr"].as_f64().unwrap_or(f64::NAN),
                s.note
            ));
        }
        None => ctx.info(format!("  {}", s.note)),
    }
    if let Some(c) = &s.calibration {
        let trx = c["trx_k"]
            .as_f64()
            .map(|t| format!(", Trx {t:.1} K"))
            .unwrap_or_default();
        ctx.info(format!(
            "  calibrated ({}): Tsys {:.1} K{trx} -> {}",
            c["method"].as_str().unwrap_or("-"),
            c["tsys_k"].as_f64().unwrap_or(f64::NAN),
            c["spectrum"].as_str().unwrap_or("-")
        ));
        if let Some(note) = c["note"].as_str() {
            ctx.info(format!("  {note}"));
        }
    }
    if let Some(w) = &s.waterfall {
        ctx.info(format!("  waterfall: {w}"));
    }
    Ok(())
}

/// The store a recording is registered in, unless `--no-store`.
fn open_store(ctx: &Ctx, o: &ProcessOptions) -> Result<Option<Store>, PipelineError> {
    if o.no_store {
        return Ok(None);
    }
    Ok(Some(ctx.open_store()?))
}

/// What one recording gave: its summary, or why it failed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordingOutcome {
    /// The recording as given.
    pub recording: PathBuf,
    /// Its summary, when it was processed or skipped.
    pub summary: Option<ProcessSummary>,
    /// Why it failed (an error, or no line with `--require-line`).
    pub error: Option<String>,
}

/// `astrolab hline process`: one shard per recording. The shards share
/// the store (a recording's SHA-256 decides whether it is processed), so
/// they run one at a time, in the order given.
#[derive(Debug, Default, Clone, Copy)]
pub struct Process;

impl Pipeline for Process {
    type Params = ProcessArgs;
    type Shard = PathBuf;
    type Partial = RecordingOutcome;
    type Output = Vec<ProcessSummary>;

    fn plan(&self, _: &Ctx, p: &ProcessArgs) -> Result<Vec<PathBuf>, PipelineError> {
        Ok(p.recordings.clone())
    }

    fn run_shard(
        &self,
        ctx: &Ctx,
        p: &ProcessArgs,
        path: &PathBuf,
    ) -> Result<RecordingOutcome, PipelineError> {
        let mut store = open_store(ctx, &p.opts)?;
        let mut out = RecordingOutcome {
            recording: path.clone(),
            summary: None,
            error: None,
        };
        match process_one(&ctx.home(), path, &p.opts, store.as_mut()) {
            Ok(s) => {
                report(ctx, &s, &p.opts)?;
                if p.opts.require_line && s.status == "processed" && s.line.is_none() {
                    let why = format!("{}: {}", path.display(), s.note);
                    ctx.warn(why.clone());
                    out.error = Some(why);
                }
                out.summary = Some(s);
            }
            Err(e) => {
                let why = format!("{e:#}");
                ctx.warn(why.clone());
                out.error = Some(why);
            }
        }
        Ok(out)
    }

    fn reduce(
        &self,
        _: &Ctx,
        p: &ProcessArgs,
        partials: Vec<RecordingOutcome>,
    ) -> Result<Vec<ProcessSummary>, PipelineError> {
        let failed = partials.iter().filter(|o| o.error.is_some()).count();
        if failed > 0 {
            return Err(
                anyhow::anyhow!("{failed} of {} recordings failed", p.recordings.len()).into(),
            );
        }
        Ok(partials.into_iter().filter_map(|o| o.summary).collect())
    }

    fn max_parallel_shards(&self) -> Option<usize> {
        Some(1)
    }
}

/// Recordings in `dir` whose meta and complete data are present.
fn candidates(dir: &Path) -> Result<Vec<(PathBuf, u64)>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let p = e?.path();
        let name = p.to_string_lossy();
        if !name.ends_with(".sigmf-meta")
            || p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            continue;
        }
        let (_, data) = sigmf_pair(&p);
        if let Ok(m) = std::fs::metadata(&data) {
            out.push((p, m.len()));
        }
    }
    out.sort();
    Ok(out)
}

/// `astrolab hline watch`: process each recording once its meta file and
/// complete data file are there and the data size has stopped changing
/// between two scans. The registry makes it idempotent: a restarted watch
/// skips what is already in the store. Runs until cancelled, or one pass
/// with `--once`; gives the summaries of the recordings it took.
#[derive(Debug, Default, Clone, Copy)]
pub struct Watch;

impl SinglePipeline for Watch {
    type Params = WatchArgs;
    type Output = Vec<ProcessSummary>;
    fn run(&self, ctx: &Ctx, args: &WatchArgs) -> Result<Vec<ProcessSummary>, PipelineError> {
        let mut store = open_store(ctx, &args.opts)?;
        let home = ctx.home();
        let mut seen: HashMap<PathBuf, u64> = HashMap::new();
        let mut done: HashMap<PathBuf, u64> = HashMap::new();
        let mut summaries = Vec::new();
        let interval = Duration::from_secs_f64(args.interval_s.max(0.05));
        let settle = if args.once {
            Duration::from_millis(300)
        } else {
            interval
        };
        loop {
            ctx.check_cancelled()?;
            let first = candidates(&args.dir)?;
            for (p, size) in &first {
                seen.entry(p.clone()).or_insert(*size);
            }
            std::thread::sleep(settle);
            let now = candidates(&args.dir)?;
            for (p, size) in now {
                ctx.check_cancelled()?;
                let stable = seen.get(&p) == Some(&size);
                seen.insert(p.clone(), size);
                if !stable || done.get(&p) == Some(&size) {
                    continue;
                }
                match SigmfRecording::open(&p) {
                    Err(astrolab_formats::iq::IqError::Truncated { path, message }) => {
                        // Still being copied: the meta promises more samples.
                        tracing::info!(recording = %path.display(), %message, "waiting for the rest of the recording");
                        if args.once {
                            ctx.warn(format!(
                                "{}: incomplete, skipped: {message}",
                                path.display()
                            ));
                        }
                        continue;
                    }
                    Err(e) => {
                        ctx.warn(e.to_string());
                        done.insert(p.clone(), size);
                        continue;
                    }
                    Ok(_) => {}
                }
                match process_one(&home, &p, &args.opts, store.as_mut()) {
                    Ok(s) => {
                        report(ctx, &s, &args.opts)?;
                        summaries.push(s);
                    }
                    Err(e) => ctx.warn(format!("{e:#}")),
                }
                done.insert(p, size);
            }
            if args.once {
                return Ok(summaries);
            }
            std::thread::sleep(interval);
        }
    }
}

/// Writes a short synthetic SigMF recording (8-bit, 2.4 MS/s, 3 s; one HI
/// line, carriers, bursts, DC spike; see `astrolab_hline::synth`) with its
/// truth table beside it (`<stem>.truth.json`); returns the meta file.
pub fn write_demo_recording(dir: &Path, seed: u64) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut synth = SynthConfig::lab_scenario(seed, 2.4e6, 3.0);
    synth.quantisation = Quantisation::Bits8;
    let stem = dir.join(format!("hline-demo-{seed}"));
    let (meta, data) = sigmf_pair(&stem);
    let mut bytes = Vec::new();
    let mut truth = None;
    astrolab_formats::atomic::write_with(&data, |f| {
        truth = Some(generate(&synth, |x| {
            bytes.clear();
            encode_into(IqDatatype::Cu8, x, &mut bytes);
            std::io::Write::write_all(f, &bytes)
        })?);
        Ok::<(), std::io::Error>(())
    })
    .with_context(|| format!("writing {}", data.display()))?;
    let truth = truth.expect("the generator ran");
    // 2026-11-22T20:00:00Z from Onsala, towards l = 30, b = 0.
    let start = 1_795_377_600.0;
    write_sigmf_meta(
        &meta,
        &SigmfWriteMeta {
            datatype: IqDatatype::Cu8,
            sample_rate_hz: synth.sample_rate_hz,
            center_freq_hz: synth.center_freq_hz,
            start_unix_s: Some(start),
            geolocation: Some(Geolocation {
                lon_deg: 11.9177,
                lat_deg: 57.393,
                alt_m: 20.0,
            }),
            pointing: Some(Pointing::Equatorial {
                ra_deg: 281.6,
                dec_deg: -2.4,
            }),
            description: format!(
                "astrolab synthetic 21 cm recording, seed {seed} (truth: {})",
                stem.with_extension("truth.json").display()
            ),
        },
        truth.n_samples,
    )?;
    let c = &truth.config;
    let truth_json = json!({
        "seed": seed,
        "sample_rate_hz": c.sample_rate_hz,
        "center_freq_hz": c.center_freq_hz,
        "n_samples": truth.n_samples,
        "tsys_k": c.tsys_k,
        "components": c.components.iter().map(|k| json!({"v_radio_topo_km_s": k.v_radio_km_s, "peak_k": k.peak_k, "fwhm_km_s": k.fwhm_km_s})).collect::<Vec<_>>(),
        "line_peak_k": truth.line_peak_k,
        "line_center_v_radio_topo_km_s": truth.line_center_v_radio_km_s,
        "line_center_freq_hz": truth.line_center_freq_hz,
        "ripple_frac": c.ripple_frac,
        "ripple_period_hz": c.ripple_period_hz,
        "dc_offset_rel": c.dc_offset_rel,
        "carriers": c.carriers.iter().map(|k| json!({"freq_hz": c.center_freq_hz + k.offset_hz, "power_frac": k.power_frac, "start_s": k.start_s, "end_s": k.end_s})).collect::<Vec<_>>(),
        "bursts": c.bursts.iter().map(|b| json!({"start_s": b.start_s, "duration_s": b.duration_s, "power_ratio": b.power_ratio})).collect::<Vec<_>>(),
        "quantisation": "8-bit",
        "n_clipped": truth.n_clipped,
    });
    let tp = stem.with_extension("truth.json");
    super::table::write_atomic(
        &tp,
        (serde_json::to_string_pretty(&truth_json)? + "\n").as_bytes(),
    )?;
    Ok(meta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Opts {
        #[command(flatten)]
        o: ProcessOptions,
    }

    #[test]
    fn settings_outside_their_physical_range_are_usage_errors() {
        let err = |args: &[&str]| {
            let mut all = vec!["x"];
            all.extend(args);
            match Opts::try_parse_from(all) {
                Ok(_) => panic!("{args:?} accepted"),
                Err(e) => (e.kind(), e.to_string()),
            }
        };
        let (kind, e) = err(&["--sample-rate-hz", "1e-300"]);
        assert_eq!(kind, clap::error::ErrorKind::ValueValidation);
        assert!(
            e.contains("'--sample-rate-hz <SAMPLE_RATE_HZ>': 1e-300 Hz is outside the accepted range, 1 kHz to 100 GHz"),
            "{e}"
        );
        let (_, e) = err(&["--center-freq-hz", "0"]);
        assert!(
            e.contains("'--center-freq-hz <CENTER_FREQ_HZ>': 0 Hz is outside the accepted range, 1 kHz to 1 THz"),
            "{e}"
        );
        let (_, e) = err(&["--integration-s", "1e9"]);
        assert!(
            e.contains("'--integration-s <INTEGRATION_S>': 1e9 s is outside the accepted range, 1 microsecond to 1 day (86400 s)"),
            "{e}"
        );
        let (_, e) = err(&["--integration-s", "soon"]);
        assert!(e.contains("\"soon\" is not a number of s"), "{e}");
        let o = Opts::parse_from(["x", "--sample-rate-hz", "2.4e6", "--integration-s", "0.25"]).o;
        assert_eq!((o.sample_rate_hz, o.integration_s), (Some(2.4e6), 0.25));
    }

    #[test]
    fn demo_recording_is_valid_and_its_line_is_found() {
        // Seed 42 is the one quickstart uses.
        for seed in [3, 42] {
            demo_recording_line_is_found(seed);
        }
    }

    fn demo_recording_line_is_found(seed: u64) {
        let dir = tempfile::tempdir().unwrap();
        let meta = write_demo_recording(dir.path(), seed).unwrap();
        let rec = SigmfRecording::open(&meta).unwrap();
        assert_eq!(rec.n_samples, 7_200_000);
        assert_eq!(rec.datatype, IqDatatype::Cu8);
        let truth: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join(format!("hline-demo-{seed}.truth.json")))
                .unwrap(),
        )
        .unwrap();
        let home = dir.path().join("home");
        let o = Opts::parse_from(["x", "--integration-s", "0.25", "--tsys-k", "120"]).o;
        let s = process_one(&home, &meta, &o, None).unwrap();
        let line = s.line.expect("line");
        let v_true = truth["line_center_v_radio_topo_km_s"].as_f64().unwrap();
        assert!((line["v_radio_topo_km_s"].as_f64().unwrap() - v_true).abs() < 0.5);
        assert!(line["v_lsr_km_s"].as_f64().is_some());
    }
}
