//! SigMF recordings (Signal Metadata Format v1.2, <https://sigmf.org>):
//! a `.sigmf-meta` JSON file beside a `.sigmf-data` file of raw samples.
//!
//! Read: `global.core:datatype` (`ci8`, `cu8`, `ci16_le`, `cf32_le`; any
//! other is refused naming the field), `global.core:sample_rate`,
//! `global.core:geolocation` (a GeoJSON point: `[lon, lat, alt_m]`), and from
//! the first capture `core:frequency` and `core:datetime`.
//!
//! Pointing (not part of SigMF core; our `astrolab:` namespace, in the
//! global object or in annotations that cover a sample range):
//! `astrolab:ra_deg` + `astrolab:dec_deg` (ICRS), or `astrolab:az_deg` +
//! `astrolab:el_deg` (topocentric, azimuth east of north). A recording
//! that promises a length (`astrolab:sample_count` in global, or an
//! annotation or capture reaching past the end) longer than its data file
//! is reported as truncated.
//!
//! Written (the archive of integrated spectra, [`SpectraArchiveWriter`]):
//! a SigMF pair whose dataset is `rf32_le` with `core:num_channels` = the
//! spectrometer's channel count, so one SigMF "sample" is one integrated
//! spectrum (channels in increasing frequency). Each integration is a
//! capture segment carrying its start as `core:datetime`. Per-channel RFI
//! flags (one byte per channel per integration, bits [`FLAG_SK_LOW`],
//! [`FLAG_SK_HIGH`], [`FLAG_SPIKE`]) go to a sibling `.sigmf-flags` file
//! named by `global.astrolab:flags_file`. The frequency axis is
//! `astrolab:first_channel_freq_hz` + i x `astrolab:channel_width_hz`.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use crate::iq::{
    IqDatatype, IqError, Result, CENTER_FREQ_RANGE, INTEGRATION_RANGE, SAMPLE_RATE_RANGE,
};

/// Flag bit: spectral kurtosis below its lower bound (continuous-wave RFI).
pub const FLAG_SK_LOW: u8 = 1;
/// Flag bit: spectral kurtosis above its upper bound (impulsive RFI).
pub const FLAG_SK_HIGH: u8 = 2;
/// Flag bit: outlier above the running median of its neighbours.
pub const FLAG_SPIKE: u8 = 4;

/// Where the telescope pointed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pointing {
    /// ICRS right ascension and declination.
    Equatorial {
        /// Right ascension.
        ra_deg: f64,
        /// Declination.
        dec_deg: f64,
    },
    /// Topocentric azimuth (east of north) and elevation.
    Horizontal {
        /// Azimuth.
        az_deg: f64,
        /// Elevation.
        el_deg: f64,
    },
}

/// A pointing valid for a range of samples (from an annotation).
#[derive(Debug, Clone, PartialEq)]
pub struct PointingSegment {
    /// First sample.
    pub sample_start: u64,
    /// Samples covered (`None`: to the end).
    pub sample_count: Option<u64>,
    /// The pointing.
    pub pointing: Pointing,
}

/// Observatory position (WGS84).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Geolocation {
    /// Longitude, east positive.
    pub lon_deg: f64,
    /// Latitude.
    pub lat_deg: f64,
    /// Height above the ellipsoid.
    pub alt_m: f64,
}

/// A SigMF recording of complex samples, its metadata checked.
#[derive(Debug, Clone)]
pub struct SigmfRecording {
    /// The `.sigmf-meta` file.
    pub meta_path: PathBuf,
    /// The `.sigmf-data` file.
    pub data_path: PathBuf,
    /// Sample encoding.
    pub datatype: IqDatatype,
    /// Complex samples per second.
    pub sample_rate_hz: f64,
    /// Centre (tuned) frequency of the first capture.
    pub center_freq_hz: f64,
    /// Start of the first capture, seconds since 1970-01-01 UTC.
    pub start_unix_s: Option<f64>,
    /// Observatory, when given.
    pub geolocation: Option<Geolocation>,
    /// Pointing of the whole recording (global fields), when given.
    pub pointing: Option<Pointing>,
    /// Pointings from annotations, in file order.
    pub pointing_segments: Vec<PointingSegment>,
    /// Complex samples in the data file.
    pub n_samples: u64,
    /// `global.core:description`, if any.
    pub description: Option<String>,
}

/// The `.sigmf-meta` and `.sigmf-data` paths for a path naming either file
/// or their common stem.
pub fn sigmf_pair(path: &Path) -> (PathBuf, PathBuf) {
    let s = path.to_string_lossy();
    let base = s
        .strip_suffix(".sigmf-meta")
        .or_else(|| s.strip_suffix(".sigmf-data"))
        .or_else(|| s.strip_suffix(".sigmf"))
        .unwrap_or(&s)
        .to_string();
    (
        PathBuf::from(format!("{base}.sigmf-meta")),
        PathBuf::from(format!("{base}.sigmf-data")),
    )
}

fn field_err(path: &Path, field: &str, message: impl Into<String>) -> IqError {
    IqError::Field {
        path: path.to_path_buf(),
        field: field.to_string(),
        message: message.into(),
    }
}

/// Parses an RFC 3339 / ISO 8601 UTC time to seconds since 1970.
pub fn parse_datetime_unix_s(s: &str) -> Option<f64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    Some(t.unix_timestamp_nanos() as f64 * 1e-9)
}

/// Formats seconds since 1970 as RFC 3339 UTC with microseconds (the
/// form SigMF's `core:datetime` uses).
pub fn format_datetime_unix_s(unix_s: f64) -> String {
    let nanos = (unix_s * 1e9).round() as i128;
    let micros = nanos.div_euclid(1000) * 1000;
    match time::OffsetDateTime::from_unix_timestamp_nanos(micros) {
        Ok(t) => {
            let fmt = time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
            );
            t.format(&fmt).unwrap_or_else(|_| format!("{unix_s}"))
        }
        Err(_) => format!("{unix_s}"),
    }
}

fn num(obj: &Map<String, Value>, key: &str) -> Option<f64> {
    obj.get(key).and_then(Value::as_f64)
}

fn pointing_of(obj: &Map<String, Value>, path: &Path, at: &str) -> Result<Option<Pointing>> {
    let get = |k: &str| -> Result<Option<f64>> {
        match obj.get(k) {
            None => Ok(None),
            Some(v) => match v.as_f64() {
                Some(x) if x.is_finite() => Ok(Some(x)),
                _ => Err(field_err(
                    path,
                    &format!("{at}.{k}"),
                    format!("{v} is not a number of degrees"),
                )),
            },
        }
    };
    let (ra, dec, az, el) = (
        get("astrolab:ra_deg")?,
        get("astrolab:dec_deg")?,
        get("astrolab:az_deg")?,
        get("astrolab:el_deg")?,
    );
    match (ra, dec, az, el) {
        (Some(ra_deg), Some(dec_deg), _, _) => {
            if !(-90.0..=90.0).contains(&dec_deg) {
                return Err(field_err(path, &format!("{at}.astrolab:dec_deg"), format!("{dec_deg} is outside -90..90")));
            }
            Ok(Some(Pointing::Equatorial {
                ra_deg: ra_deg.rem_euclid(360.0),
                dec_deg,
            }))
        }
        (None, None, Some(az_deg), Some(el_deg)) => {
            if !(-90.0..=90.0).contains(&el_deg) {
                return Err(field_err(path, &format!("{at}.astrolab:el_deg"), format!("{el_deg} is outside -90..90")));
            }
            Ok(Some(Pointing::Horizontal {
                az_deg: az_deg.rem_euclid(360.0),
                el_deg,
            }))
        }
        (None, None, None, None) => Ok(None),
        _ => Err(field_err(
            path,
            at,
            "pointing needs both astrolab:ra_deg and astrolab:dec_deg, or both astrolab:az_deg and astrolab:el_deg",
        )),
    }
}

impl SigmfRecording {
    /// Reads and checks the metadata of the recording at `path` (the meta
    /// file, the data file or their stem) and the data file's length.
    pub fn open(path: &Path) -> Result<SigmfRecording> {
        let (meta_path, data_path) = sigmf_pair(path);
        let text = std::fs::read_to_string(&meta_path).map_err(|source| IqError::Io {
            path: meta_path.clone(),
            source,
        })?;
        let root: Value = serde_json::from_str(&text).map_err(|source| IqError::Json {
            path: meta_path.clone(),
            source,
        })?;
        let mp = meta_path.as_path();
        let global = root
            .get("global")
            .and_then(Value::as_object)
            .ok_or_else(|| {
                field_err(
                    mp,
                    "global",
                    "missing: a SigMF meta file has a \"global\" object",
                )
            })?;
        let dt_name = global.get("core:datatype").ok_or_else(|| {
            field_err(
                mp,
                "global.core:datatype",
                "missing; set it to ci8, cu8, ci16_le or cf32_le",
            )
        })?;
        let dt_name = dt_name.as_str().unwrap_or("");
        let datatype = IqDatatype::from_sigmf(dt_name).ok_or_else(|| {
            field_err(
                mp,
                "global.core:datatype",
                format!("{dt_name:?} is not a complex type we read; supported: ci8, cu8, ci16_le, cf32_le"),
            )
        })?;
        let sample_rate_hz = match global.get("core:sample_rate") {
            None => {
                return Err(field_err(
                    mp,
                    "global.core:sample_rate",
                    "missing; without the sample rate no frequency or time axis can be made (add it in Hz)",
                ))
            }
            Some(v) => match v.as_f64() {
                Some(r) => SAMPLE_RATE_RANGE.check(r).map_err(|m| {
                    field_err(
                        mp,
                        "global.core:sample_rate",
                        format!("{m}; give the rate the SDR sampled at, in Hz"),
                    )
                })?,
                None => return Err(field_err(mp, "global.core:sample_rate", format!("{v} is not a number of Hz"))),
            },
        };
        let captures = root.get("captures").and_then(Value::as_array);
        let first = captures
            .and_then(|c| c.first())
            .and_then(Value::as_object)
            .ok_or_else(|| {
                field_err(
                    mp,
                    "captures",
                    "missing or empty; the first capture gives core:frequency",
                )
            })?;
        let center_freq_hz =
            match num(first, "core:frequency") {
                Some(f) => CENTER_FREQ_RANGE.check(f).map_err(|m| {
                    field_err(
                        mp,
                        "captures[0].core:frequency",
                        format!("{m}; give the tuned centre frequency, in Hz"),
                    )
                })?,
                None => return Err(field_err(
                    mp,
                    "captures[0].core:frequency",
                    "missing; the tuned centre frequency in Hz is needed for the frequency axis",
                )),
            };
        let start_unix_s = match first.get("core:datetime") {
            None => None,
            Some(v) => Some(v.as_str().and_then(parse_datetime_unix_s).ok_or_else(|| {
                field_err(
                    mp,
                    "captures[0].core:datetime",
                    format!("{v} is not an ISO 8601 UTC time such as 2024-05-01T12:00:00Z"),
                )
            })?),
        };
        let geolocation = match global.get("core:geolocation") {
            None => None,
            Some(g) => {
                let c = g.get("coordinates").and_then(Value::as_array);
                let c: Option<Vec<f64>> = c.map(|c| c.iter().filter_map(Value::as_f64).collect());
                match c {
                    Some(c) if c.len() >= 2 && c.iter().all(|x| x.is_finite()) => Some(Geolocation {
                        lon_deg: c[0],
                        lat_deg: c[1],
                        alt_m: c.get(2).copied().unwrap_or(0.0),
                    }),
                    _ => {
                        return Err(field_err(
                            mp,
                            "global.core:geolocation",
                            "not a GeoJSON point {\"type\": \"Point\", \"coordinates\": [lon, lat, alt]}",
                        ))
                    }
                }
            }
        };
        let pointing = pointing_of(global, mp, "global")?;
        let mut pointing_segments = Vec::new();
        let mut promised: u64 = 0;
        let mut promised_by = String::new();
        if let Some(n) = global.get("astrolab:sample_count").and_then(Value::as_u64) {
            promised = n;
            promised_by = "global.astrolab:sample_count".into();
        }
        if let Some(caps) = captures {
            for (i, c) in caps.iter().enumerate() {
                if let Some(s) = c.get("core:sample_start").and_then(Value::as_u64) {
                    if s > promised {
                        promised = s;
                        promised_by = format!("captures[{i}].core:sample_start");
                    }
                }
            }
        }
        if let Some(anns) = root.get("annotations").and_then(Value::as_array) {
            for (i, a) in anns.iter().enumerate() {
                let Some(obj) = a.as_object() else { continue };
                let start = obj
                    .get("core:sample_start")
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                let count = obj.get("core:sample_count").and_then(Value::as_u64);
                if let Some(c) = count {
                    if start + c > promised {
                        promised = start + c;
                        promised_by = format!("annotations[{i}]");
                    }
                }
                if let Some(p) = pointing_of(obj, mp, &format!("annotations[{i}]"))? {
                    pointing_segments.push(PointingSegment {
                        sample_start: start,
                        sample_count: count,
                        pointing: p,
                    });
                }
            }
        }
        let len = std::fs::metadata(&data_path)
            .map_err(|source| IqError::Io {
                path: data_path.clone(),
                source,
            })?
            .len();
        let bps = datatype.bytes_per_sample() as u64;
        if len % bps != 0 {
            return Err(IqError::Truncated {
                path: data_path.clone(),
                message: format!(
                    "{len} bytes is not a whole number of {dt_name} samples ({bps} bytes each); the last sample was cut off"
                ),
            });
        }
        let n_samples = len / bps;
        if promised > n_samples {
            return Err(IqError::Truncated {
                path: data_path.clone(),
                message: format!(
                    "holds {n_samples} samples but {} ({}) promises {promised}; the copy is incomplete",
                    meta_path.display(),
                    promised_by
                ),
            });
        }
        if n_samples == 0 {
            return Err(IqError::Truncated {
                path: data_path.clone(),
                message: "the data file is empty".into(),
            });
        }
        Ok(SigmfRecording {
            meta_path,
            data_path,
            datatype,
            sample_rate_hz,
            center_freq_hz,
            start_unix_s,
            geolocation,
            pointing,
            pointing_segments,
            n_samples,
            description: global
                .get("core:description")
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    }

    /// The pointing at sample `i`: the annotation covering it, else the
    /// global one.
    pub fn pointing_at(&self, i: u64) -> Option<Pointing> {
        self.pointing_segments
            .iter()
            .rev()
            .find(|s| i >= s.sample_start && s.sample_count.is_none_or(|c| i < s.sample_start + c))
            .map(|s| s.pointing)
            .or(self.pointing)
    }
}

/// What a new recording's metadata says (for writers of synthetic or
/// converted recordings).
#[derive(Debug, Clone)]
pub struct SigmfWriteMeta {
    /// Sample encoding.
    pub datatype: IqDatatype,
    /// Samples per second.
    pub sample_rate_hz: f64,
    /// Tuned centre frequency.
    pub center_freq_hz: f64,
    /// Start time, seconds since 1970 UTC.
    pub start_unix_s: Option<f64>,
    /// Observatory.
    pub geolocation: Option<Geolocation>,
    /// Pointing of the whole recording.
    pub pointing: Option<Pointing>,
    /// Free text.
    pub description: String,
}

fn pointing_json(obj: &mut Map<String, Value>, p: Pointing) {
    match p {
        Pointing::Equatorial { ra_deg, dec_deg } => {
            obj.insert("astrolab:ra_deg".into(), json!(ra_deg));
            obj.insert("astrolab:dec_deg".into(), json!(dec_deg));
        }
        Pointing::Horizontal { az_deg, el_deg } => {
            obj.insert("astrolab:az_deg".into(), json!(az_deg));
            obj.insert("astrolab:el_deg".into(), json!(el_deg));
        }
    }
}

/// Writes a `.sigmf-meta` for a data file of `n_samples` samples (the
/// data file itself is written by the caller).
pub fn write_sigmf_meta(meta_path: &Path, m: &SigmfWriteMeta, n_samples: u64) -> Result<()> {
    let mut global = Map::new();
    global.insert("core:datatype".into(), json!(m.datatype.sigmf_name()));
    global.insert("core:sample_rate".into(), json!(m.sample_rate_hz));
    global.insert("core:version".into(), json!("1.2.0"));
    global.insert("core:recorder".into(), json!("astrolab"));
    global.insert("core:description".into(), json!(m.description));
    global.insert("astrolab:sample_count".into(), json!(n_samples));
    if let Some(g) = m.geolocation {
        global.insert(
            "core:geolocation".into(),
            json!({"type": "Point", "coordinates": [g.lon_deg, g.lat_deg, g.alt_m]}),
        );
    }
    if let Some(p) = m.pointing {
        pointing_json(&mut global, p);
    }
    let mut cap = Map::new();
    cap.insert("core:sample_start".into(), json!(0));
    cap.insert("core:frequency".into(), json!(m.center_freq_hz));
    if let Some(t) = m.start_unix_s {
        cap.insert("core:datetime".into(), json!(format_datetime_unix_s(t)));
    }
    let root = json!({"global": global, "captures": [cap], "annotations": []});
    write_atomic(meta_path, |w| {
        serde_json::to_writer_pretty(&mut *w, &root).map_err(std::io::Error::other)?;
        w.write_all(b"\n")
    })
}

fn write_atomic(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<()> {
    crate::atomic::write_with(path, fill).map_err(|source| IqError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Description of an archive of integrated spectra.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchiveHeader {
    /// Channels per spectrum.
    pub n_channels: usize,
    /// Centre frequency of channel 0.
    pub first_channel_freq_hz: f64,
    /// Channel spacing.
    pub channel_width_hz: f64,
    /// Tuned centre frequency of the recording.
    pub center_freq_hz: f64,
    /// Nominal integration time.
    pub integration_s: f64,
    /// Spectrometer settings and RFI thresholds, free-form JSON.
    pub spectrometer: Value,
    /// The raw recording: name and SHA-256.
    pub source_name: String,
    /// SHA-256 of the raw recording (its data file).
    pub source_sha256: String,
    /// Observatory.
    pub geolocation: Option<Geolocation>,
    /// Pointing.
    pub pointing: Option<Pointing>,
}

/// Streams integrated spectra into a SigMF archive: data and flags go to
/// temporary files, renamed into place with the meta file by
/// [`SpectraArchiveWriter::finish`].
pub struct SpectraArchiveWriter {
    header: ArchiveHeader,
    meta_path: PathBuf,
    data_path: PathBuf,
    flags_path: PathBuf,
    data_tmp: PathBuf,
    flags_tmp: PathBuf,
    data: BufWriter<File>,
    flags: BufWriter<File>,
    starts_unix_s: Vec<f64>,
    n_frames: Vec<u64>,
    v_lsr_corrections_km_s: Vec<Option<f64>>,
}

/// The flags file beside an archive's data file.
pub fn flags_path_for(data_path: &Path) -> PathBuf {
    data_path.with_extension("sigmf-flags")
}

impl SpectraArchiveWriter {
    /// Starts an archive at `path` (stem or either file name).
    pub fn create(path: &Path, header: ArchiveHeader) -> Result<SpectraArchiveWriter> {
        let (meta_path, data_path) = sigmf_pair(path);
        let flags_path = flags_path_for(&data_path);
        let data_tmp = crate::atomic::temp_path(&data_path);
        let flags_tmp = crate::atomic::temp_path(&flags_path);
        let open = |p: &Path| {
            File::create(p)
                .map(BufWriter::new)
                .map_err(|source| IqError::Io {
                    path: p.to_path_buf(),
                    source,
                })
        };
        let data = open(&data_tmp)?;
        let flags = open(&flags_tmp)?;
        Ok(SpectraArchiveWriter {
            header,
            meta_path,
            data_path,
            flags_path,
            data_tmp,
            flags_tmp,
            data,
            flags,
            starts_unix_s: Vec::new(),
            n_frames: Vec::new(),
            v_lsr_corrections_km_s: Vec::new(),
        })
    }

    /// Appends one integration: its start time, the number of FFT frames
    /// averaged, the spectrum and the per-channel flags.
    pub fn write(
        &mut self,
        start_unix_s: f64,
        n_frames: u64,
        spectrum: &[f32],
        flags: &[u8],
    ) -> Result<()> {
        let n = self.header.n_channels;
        if spectrum.len() != n || flags.len() != n {
            return Err(field_err(
                &self.meta_path,
                "core:num_channels",
                format!(
                    "an integration has {} values and {} flags, the archive {n} channels",
                    spectrum.len(),
                    flags.len()
                ),
            ));
        }
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |source| IqError::Io { path: p, source }
        };
        let mut buf = Vec::with_capacity(4 * n);
        for v in spectrum {
            buf.extend_from_slice(&v.to_le_bytes());
        }
        self.data.write_all(&buf).map_err(io(&self.data_path))?;
        self.flags.write_all(flags).map_err(io(&self.flags_path))?;
        self.starts_unix_s.push(start_unix_s);
        self.n_frames.push(n_frames);
        self.v_lsr_corrections_km_s.push(None);
        Ok(())
    }

    /// Sets the LSR correction of the integration written last
    /// (v_LSR = topocentric radio velocity + correction), written as the
    /// capture's `astrolab:v_lsr_correction_km_s`: with it each spectrum
    /// has its v_LSR axis.
    pub fn set_v_lsr_correction(&mut self, correction_km_s: f64) {
        if let Some(last) = self.v_lsr_corrections_km_s.last_mut() {
            *last = Some(correction_km_s);
        }
    }

    /// Integrations written so far.
    pub fn len(&self) -> usize {
        self.starts_unix_s.len()
    }

    /// True before the first integration.
    pub fn is_empty(&self) -> bool {
        self.starts_unix_s.is_empty()
    }

    /// Finishes the files and renames them into place; returns the meta
    /// file's path.
    pub fn finish(self) -> Result<PathBuf> {
        let h = &self.header;
        let fin = |w: BufWriter<File>, p: &Path| -> Result<()> {
            let f = w.into_inner().map_err(|e| IqError::Io {
                path: p.to_path_buf(),
                source: e.into_error(),
            })?;
            f.sync_all().map_err(|source| IqError::Io {
                path: p.to_path_buf(),
                source,
            })
        };
        fin(self.data, &self.data_path)?;
        fin(self.flags, &self.flags_path)?;
        let mut global = Map::new();
        global.insert("core:datatype".into(), json!("rf32_le"));
        global.insert("core:num_channels".into(), json!(h.n_channels));
        global.insert("core:sample_rate".into(), json!(1.0 / h.integration_s));
        global.insert("core:version".into(), json!("1.2.0"));
        global.insert("core:recorder".into(), json!("astrolab hline process"));
        global.insert(
            "core:description".into(),
            json!("integrated power spectra (one SigMF sample = one integration, one channel = one frequency channel)"),
        );
        global.insert(
            "astrolab:first_channel_freq_hz".into(),
            json!(h.first_channel_freq_hz),
        );
        global.insert(
            "astrolab:channel_width_hz".into(),
            json!(h.channel_width_hz),
        );
        global.insert("astrolab:integration_s".into(), json!(h.integration_s));
        global.insert(
            "astrolab:n_integrations".into(),
            json!(self.starts_unix_s.len()),
        );
        global.insert(
            "astrolab:sample_count".into(),
            json!(self.starts_unix_s.len()),
        );
        global.insert(
            "astrolab:flags_file".into(),
            json!(self
                .flags_path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())),
        );
        global.insert(
            "astrolab:flag_bits".into(),
            json!({"1": "spectral kurtosis below bound", "2": "spectral kurtosis above bound", "4": "spike above running median"}),
        );
        global.insert("astrolab:n_frames".into(), json!(self.n_frames));
        global.insert("astrolab:spectrometer".into(), h.spectrometer.clone());
        global.insert(
            "astrolab:source".into(),
            json!({"name": h.source_name, "sha256": h.source_sha256}),
        );
        if let Some(g) = h.geolocation {
            global.insert(
                "core:geolocation".into(),
                json!({"type": "Point", "coordinates": [g.lon_deg, g.lat_deg, g.alt_m]}),
            );
        }
        if let Some(p) = h.pointing {
            pointing_json(&mut global, p);
        }
        let captures: Vec<Value> = self
            .starts_unix_s
            .iter()
            .enumerate()
            .map(|(i, &t)| {
                let mut c = json!({"core:sample_start": i, "core:frequency": h.center_freq_hz,
                       "core:datetime": format_datetime_unix_s(t), "astrolab:start_unix_s": t});
                if let Some(v) = self.v_lsr_corrections_km_s.get(i).copied().flatten() {
                    c["astrolab:v_lsr_correction_km_s"] = json!(v);
                }
                c
            })
            .collect();
        let root = json!({"global": global, "captures": captures, "annotations": []});
        let rename = |from: &Path, to: &Path| {
            crate::atomic::commit(from, to).map_err(|source| IqError::Io {
                path: to.to_path_buf(),
                source,
            })
        };
        rename(&self.data_tmp, &self.data_path)?;
        rename(&self.flags_tmp, &self.flags_path)?;
        write_atomic(&self.meta_path, |w| {
            serde_json::to_writer_pretty(&mut *w, &root).map_err(std::io::Error::other)?;
            w.write_all(b"\n")
        })?;
        Ok(self.meta_path)
    }
}

/// An archive read back whole (archives are small: one spectrum per
/// integration).
#[derive(Debug, Clone)]
pub struct SpectraArchive {
    /// Its description.
    pub header: ArchiveHeader,
    /// Start of each integration, seconds since 1970 UTC.
    pub starts_unix_s: Vec<f64>,
    /// Frames averaged in each integration.
    pub n_frames: Vec<u64>,
    /// LSR correction per integration (v_LSR = radio velocity + this),
    /// when site, time and pointing were known.
    pub v_lsr_corrections_km_s: Vec<Option<f64>>,
    /// Spectra, integration-major (`n_integrations x n_channels`).
    pub spectra: Vec<f32>,
    /// Flags, same layout.
    pub flags: Vec<u8>,
}

impl SpectraArchive {
    /// Integrations held.
    pub fn n_integrations(&self) -> usize {
        self.starts_unix_s.len()
    }

    /// Frequency of channel `i`.
    pub fn freq_hz(&self, i: usize) -> f64 {
        self.header.first_channel_freq_hz + i as f64 * self.header.channel_width_hz
    }
}

/// Reads an archive written by [`SpectraArchiveWriter`].
pub fn read_spectra_archive(path: &Path) -> Result<SpectraArchive> {
    let (meta_path, data_path) = sigmf_pair(path);
    let mp = meta_path.as_path();
    let text = std::fs::read_to_string(mp).map_err(|source| IqError::Io {
        path: meta_path.clone(),
        source,
    })?;
    let root: Value = serde_json::from_str(&text).map_err(|source| IqError::Json {
        path: meta_path.clone(),
        source,
    })?;
    let g = root
        .get("global")
        .and_then(Value::as_object)
        .ok_or_else(|| field_err(mp, "global", "missing"))?;
    let need = |k: &str| {
        num(g, k).ok_or_else(|| field_err(mp, &format!("global.{k}"), "missing or not a number"))
    };
    if g.get("core:datatype").and_then(Value::as_str) != Some("rf32_le") {
        return Err(field_err(
            mp,
            "global.core:datatype",
            "an archive of spectra is rf32_le",
        ));
    }
    let n_channels = need("core:num_channels")? as usize;
    let captures = root
        .get("captures")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let starts_unix_s: Vec<f64> = captures
        .iter()
        .map(|c| {
            num(
                c.as_object().unwrap_or(&Map::new()),
                "astrolab:start_unix_s",
            )
            .or_else(|| {
                c.get("core:datetime")
                    .and_then(Value::as_str)
                    .and_then(parse_datetime_unix_s)
            })
            .unwrap_or(f64::NAN)
        })
        .collect();
    let v_lsr_corrections_km_s: Vec<Option<f64>> = captures
        .iter()
        .map(|c| {
            c.get("astrolab:v_lsr_correction_km_s")
                .and_then(Value::as_f64)
        })
        .collect();
    let n_frames: Vec<u64> = g
        .get("astrolab:n_frames")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    let source = g.get("astrolab:source");
    let header = ArchiveHeader {
        n_channels,
        first_channel_freq_hz: need("astrolab:first_channel_freq_hz")?,
        channel_width_hz: need("astrolab:channel_width_hz")?,
        center_freq_hz: captures
            .first()
            .and_then(|c| c.get("core:frequency"))
            .and_then(Value::as_f64)
            .unwrap_or(f64::NAN),
        integration_s: INTEGRATION_RANGE
            .check(need("astrolab:integration_s")?)
            .map_err(|m| field_err(mp, "global.astrolab:integration_s", m))?,
        spectrometer: g
            .get("astrolab:spectrometer")
            .cloned()
            .unwrap_or(Value::Null),
        source_name: source
            .and_then(|s| s.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        source_sha256: source
            .and_then(|s| s.get("sha256"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        geolocation: None,
        pointing: pointing_of(g, mp, "global")?,
    };
    let read_all = |p: &Path| -> Result<Vec<u8>> {
        let mut v = Vec::new();
        File::open(p)
            .and_then(|mut f| f.read_to_end(&mut v))
            .map_err(|source| IqError::Io {
                path: p.to_path_buf(),
                source,
            })?;
        Ok(v)
    };
    let bytes = read_all(&data_path)?;
    let n = starts_unix_s.len();
    if bytes.len() != 4 * n * n_channels {
        return Err(IqError::Truncated {
            path: data_path.clone(),
            message: format!(
                "{} bytes, expected {n} spectra of {n_channels} f32 channels",
                bytes.len()
            ),
        });
    }
    let spectra = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let flags_path = flags_path_for(&data_path);
    let flags = read_all(&flags_path)?;
    if flags.len() != n * n_channels {
        return Err(IqError::Truncated {
            path: flags_path,
            message: format!("{} flag bytes, expected {}", flags.len(), n * n_channels),
        });
    }
    Ok(SpectraArchive {
        header,
        starts_unix_s,
        n_frames,
        v_lsr_corrections_km_s,
        spectra,
        flags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iq::{encode_into, IqReader};

    fn write_pair(dir: &Path, meta: &str, data: &[u8]) -> PathBuf {
        let base = dir.join("rec");
        std::fs::write(dir.join("rec.sigmf-meta"), meta).unwrap();
        std::fs::write(dir.join("rec.sigmf-data"), data).unwrap();
        base
    }

    #[test]
    fn writes_and_reads_back_a_recording() {
        let dir = tempfile::tempdir().unwrap();
        let m = SigmfWriteMeta {
            datatype: IqDatatype::Ci16Le,
            sample_rate_hz: 2.4e6,
            center_freq_hz: 1420.4e6,
            start_unix_s: Some(1_700_000_000.25),
            geolocation: Some(Geolocation {
                lon_deg: 11.92,
                lat_deg: 57.39,
                alt_m: 10.0,
            }),
            pointing: Some(Pointing::Equatorial {
                ra_deg: 83.6,
                dec_deg: 22.0,
            }),
            description: "test".into(),
        };
        let mut data = Vec::new();
        encode_into(IqDatatype::Ci16Le, &vec![0.25f32; 200], &mut data);
        std::fs::write(dir.path().join("r.sigmf-data"), &data).unwrap();
        write_sigmf_meta(&dir.path().join("r.sigmf-meta"), &m, 100).unwrap();
        let r = SigmfRecording::open(&dir.path().join("r.sigmf-data")).unwrap();
        assert_eq!(r.datatype, IqDatatype::Ci16Le);
        assert_eq!(r.n_samples, 100);
        assert_eq!(r.sample_rate_hz, 2.4e6);
        assert_eq!(r.center_freq_hz, 1420.4e6);
        assert!((r.start_unix_s.unwrap() - 1_700_000_000.25).abs() < 1e-6);
        assert_eq!(r.geolocation.unwrap().lat_deg, 57.39);
        assert_eq!(r.pointing_at(5), m.pointing);
        let mut rd = IqReader::open(&r.data_path, r.datatype, 64).unwrap();
        let mut out = Vec::new();
        assert_eq!(rd.read_chunk(&mut out).unwrap(), 64);
        assert_eq!(out[0], 0.25);
    }

    #[test]
    fn wrong_datatype_is_refused_naming_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let b = write_pair(
            dir.path(),
            r#"{"global": {"core:datatype": "ri16_le", "core:sample_rate": 1e6}, "captures": [{"core:sample_start": 0, "core:frequency": 1.42e9}]}"#,
            &[0u8; 16],
        );
        let e = SigmfRecording::open(&b).unwrap_err().to_string();
        assert!(
            e.contains("rec.sigmf-meta")
                && e.contains("global.core:datatype")
                && e.contains("ri16_le"),
            "{e}"
        );
    }

    #[test]
    fn settings_outside_their_physical_range_are_refused_naming_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let meta = |rate: &str, freq: &str| {
            format!(
                r#"{{"global": {{"core:datatype": "cu8", "core:sample_rate": {rate}}}, "captures": [{{"core:sample_start": 0, "core:frequency": {freq}}}]}}"#
            )
        };
        let b = write_pair(dir.path(), &meta("1e-300", "1.42e9"), &[0u8; 16]);
        let e = SigmfRecording::open(&b).unwrap_err().to_string();
        let mp = dir.path().join("rec.sigmf-meta");
        assert_eq!(
            e,
            format!(
                "{}: field global.core:sample_rate: 1e-300 Hz is outside the accepted range, \
                 1 kHz to 100 GHz; give the rate the SDR sampled at, in Hz",
                mp.display()
            )
        );
        let b = write_pair(dir.path(), &meta("2.4e6", "-1.42e9"), &[0u8; 16]);
        let e = SigmfRecording::open(&b).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "{}: field captures[0].core:frequency: -1.42e9 Hz is outside the accepted range, \
                 1 kHz to 1 THz; give the tuned centre frequency, in Hz",
                mp.display()
            )
        );
        // The limits themselves are fine.
        let b = write_pair(dir.path(), &meta("1e3", "1e12"), &[0u8; 16]);
        let r = SigmfRecording::open(&b).unwrap();
        assert_eq!((r.sample_rate_hz, r.center_freq_hz), (1e3, 1e12));
    }

    #[test]
    fn missing_sample_rate_is_refused_naming_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let b = write_pair(
            dir.path(),
            r#"{"global": {"core:datatype": "cu8"}, "captures": [{"core:sample_start": 0, "core:frequency": 1.42e9}]}"#,
            &[0u8; 16],
        );
        let e = SigmfRecording::open(&b).unwrap_err().to_string();
        assert!(
            e.contains("rec.sigmf-meta")
                && e.contains("global.core:sample_rate")
                && e.contains("missing"),
            "{e}"
        );
    }

    #[test]
    fn short_data_is_a_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let meta = r#"{"global": {"core:datatype": "ci8", "core:sample_rate": 1e6, "astrolab:sample_count": 100},
                       "captures": [{"core:sample_start": 0, "core:frequency": 1.42e9}],
                       "annotations": [{"core:sample_start": 0, "core:sample_count": 50, "astrolab:az_deg": 180, "astrolab:el_deg": 45}]}"#;
        let b = write_pair(dir.path(), meta, &[0u8; 2 * 60]);
        let e = SigmfRecording::open(&b).unwrap_err().to_string();
        assert!(
            e.contains("truncated") && e.contains("60") && e.contains("100"),
            "{e}"
        );
        let b = write_pair(dir.path(), meta, &[0u8; 2 * 100 + 1]);
        let e = SigmfRecording::open(&b).unwrap_err().to_string();
        assert!(
            e.contains("rec.sigmf-data") && e.contains("not a whole number"),
            "{e}"
        );
        let b = write_pair(dir.path(), meta, &[0u8; 2 * 100]);
        let r = SigmfRecording::open(&b).unwrap();
        assert_eq!(
            r.pointing_at(10),
            Some(Pointing::Horizontal {
                az_deg: 180.0,
                el_deg: 45.0
            })
        );
        assert_eq!(r.pointing_at(60), None);
    }

    #[test]
    fn archive_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let h = ArchiveHeader {
            n_channels: 4,
            first_channel_freq_hz: 1.42e9,
            channel_width_hz: 1000.0,
            center_freq_hz: 1.420002e9,
            integration_s: 0.5,
            spectrometer: json!({"mode": "fft"}),
            source_name: "rec".into(),
            source_sha256: "ab".into(),
            geolocation: None,
            pointing: Some(Pointing::Equatorial {
                ra_deg: 10.0,
                dec_deg: -5.0,
            }),
        };
        let mut w = SpectraArchiveWriter::create(&dir.path().join("out"), h.clone()).unwrap();
        w.write(1_700_000_000.0, 7, &[1.0, 2.0, 3.0, 4.0], &[0, 1, 0, 4])
            .unwrap();
        w.write(1_700_000_000.5, 7, &[5.0, 6.0, 7.0, 8.0], &[2, 0, 0, 0])
            .unwrap();
        w.set_v_lsr_correction(-12.5);
        let meta = w.finish().unwrap();
        let a = read_spectra_archive(&meta).unwrap();
        assert_eq!(a.v_lsr_corrections_km_s, vec![None, Some(-12.5)]);
        assert_eq!(a.header, h.clone());
        assert_eq!(a.n_integrations(), 2);
        assert_eq!(a.spectra[5], 6.0);
        assert_eq!(a.flags, vec![0, 1, 0, 4, 2, 0, 0, 0]);
        assert_eq!(a.n_frames, vec![7, 7]);
        assert!((a.starts_unix_s[1] - 1_700_000_000.5).abs() < 1e-6);
        assert_eq!(a.freq_hz(2), 1.42e9 + 2000.0);
        // No temporary files left behind.
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");
    }
}
