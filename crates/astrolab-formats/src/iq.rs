//! Raw complex I/Q sample streams from software-defined radios, read in
//! fixed-size chunks so memory stays flat however long the recording.
//!
//! Sample encodings (the SigMF names, SigMF specification v1.2 "Dataset
//! Format"): `ci8` (signed 8-bit, e.g. HackRF), `cu8` (unsigned 8-bit offset
//! binary, the `rtl_sdr` tool's raw output), `ci16_le` (signed 16-bit little
//! endian; the Airspy's 12-bit samples live in it) and `cf32_le` (IEEE
//! float). Every reader returns interleaved `f32` pairs `[re, im, re, im, ...]`
//! scaled to full scale = 1 (integer codes divided by 128 or 32768; `cu8`
//! centred on 127.5 as librtlsdr's own converters do).
//!
//! An `rtl_sdr` capture has no header: rate, centre frequency and start
//! time come from the command line (see [`RtlRecording`]).

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Errors reading I/Q recordings and their metadata; each names the file
/// and, where one is at fault, the metadata field or sample.
#[derive(Debug, thiserror::Error)]
pub enum IqError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The metadata file is not valid JSON.
    #[error("{path}: not valid JSON: {source}")]
    Json {
        /// The metadata file.
        path: PathBuf,
        /// Where parsing failed.
        source: serde_json::Error,
    },
    /// A metadata field is missing or has a value we cannot use.
    #[error("{path}: field {field}: {message}")]
    Field {
        /// The metadata file.
        path: PathBuf,
        /// The field, as a JSON path such as `global.core:sample_rate`.
        field: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// The data file is shorter than promised or ends inside a sample.
    #[error("{path}: truncated recording: {message}")]
    Truncated {
        /// The data file.
        path: PathBuf,
        /// What was expected and what was found.
        message: String,
    },
    /// A floating-point recording holds NaN or infinity.
    #[error("{path}: sample {sample} is not finite (NaN or infinity); the recording is corrupt")]
    NotFinite {
        /// The data file.
        path: PathBuf,
        /// Index of the first bad complex sample.
        sample: u64,
    },
}

/// Result alias for I/Q reading.
pub type Result<T> = std::result::Result<T, IqError>;

/// The physically sensible values of a recording setting. Anything outside
/// is a typo or broken metadata: a sample rate of 1e-300 Hz would make
/// channels 1e-303 Hz wide and one integration longer than the age of the
/// universe, and every number derived from it nonsense.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PhysicalRange {
    /// Smallest accepted value.
    pub min: f64,
    /// Largest accepted value.
    pub max: f64,
    /// Unit of the values.
    pub unit: &'static str,
    /// The range for people, e.g. `1 kHz to 100 GHz`.
    pub text: &'static str,
}

/// Complex sample rates: from audio-rate captures to the fastest digitisers.
pub const SAMPLE_RATE_RANGE: PhysicalRange = PhysicalRange {
    min: 1e3,
    max: 1e11,
    unit: "Hz",
    text: "1 kHz to 100 GHz",
};

/// Tuned (centre) frequencies of radio recordings.
pub const CENTER_FREQ_RANGE: PhysicalRange = PhysicalRange {
    min: 1e3,
    max: 1e12,
    unit: "Hz",
    text: "1 kHz to 1 THz",
};

/// Integration times of one spectrum.
pub const INTEGRATION_RANGE: PhysicalRange = PhysicalRange {
    min: 1e-6,
    max: 86_400.0,
    unit: "s",
    text: "1 microsecond to 1 day (86400 s)",
};

impl PhysicalRange {
    /// `Ok(value)` inside the range (limits included); otherwise a message
    /// naming the value and the accepted range.
    pub fn check(&self, value: f64) -> std::result::Result<f64, String> {
        if value.is_finite() && (self.min..=self.max).contains(&value) {
            Ok(value)
        } else {
            // 1e-300 as such, not as 300 zeros.
            let shown = if value != 0.0 && !(1e-3..1e7).contains(&value.abs()) {
                format!("{value:e}")
            } else {
                format!("{value}")
            };
            Err(format!(
                "{shown} {} is outside the accepted range, {}",
                self.unit, self.text
            ))
        }
    }
}

/// How one complex sample is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IqDatatype {
    /// Signed 8-bit I and Q.
    Ci8,
    /// Unsigned 8-bit I and Q, offset binary (rtl_sdr).
    Cu8,
    /// Signed 16-bit little-endian I and Q.
    Ci16Le,
    /// 32-bit little-endian IEEE floats.
    Cf32Le,
}

impl IqDatatype {
    /// Bytes per complex sample.
    pub fn bytes_per_sample(self) -> usize {
        match self {
            IqDatatype::Ci8 | IqDatatype::Cu8 => 2,
            IqDatatype::Ci16Le => 4,
            IqDatatype::Cf32Le => 8,
        }
    }

    /// The SigMF `core:datatype` name.
    pub fn sigmf_name(self) -> &'static str {
        match self {
            IqDatatype::Ci8 => "ci8",
            IqDatatype::Cu8 => "cu8",
            IqDatatype::Ci16Le => "ci16_le",
            IqDatatype::Cf32Le => "cf32_le",
        }
    }

    /// Parses a SigMF `core:datatype` name; `None` for encodings we do not
    /// read (real-valued, big-endian, 32-bit integer ...).
    pub fn from_sigmf(name: &str) -> Option<IqDatatype> {
        match name {
            "ci8" => Some(IqDatatype::Ci8),
            "cu8" => Some(IqDatatype::Cu8),
            "ci16_le" => Some(IqDatatype::Ci16Le),
            "cf32_le" => Some(IqDatatype::Cf32Le),
            _ => None,
        }
    }
}

/// A streaming reader of complex samples: one fixed buffer, filled chunk
/// after chunk.
pub struct IqReader {
    path: PathBuf,
    file: File,
    datatype: IqDatatype,
    raw: Vec<u8>,
    chunk_samples: usize,
    total_samples: u64,
    samples_read: u64,
}

impl IqReader {
    /// Opens `path` holding `datatype` samples; reads `chunk_samples`
    /// complex samples per call. The byte length must be a whole number of
    /// samples.
    pub fn open(path: &Path, datatype: IqDatatype, chunk_samples: usize) -> Result<IqReader> {
        let io = |source| IqError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let bps = datatype.bytes_per_sample() as u64;
        if len % bps != 0 {
            return Err(IqError::Truncated {
                path: path.to_path_buf(),
                message: format!(
                    "{len} bytes is not a whole number of {} samples ({bps} bytes each); the last sample was cut off (recording interrupted?)",
                    datatype.sigmf_name()
                ),
            });
        }
        let chunk_samples = chunk_samples.max(1);
        Ok(IqReader {
            path: path.to_path_buf(),
            file,
            datatype,
            raw: vec![0u8; chunk_samples * bps as usize],
            chunk_samples,
            total_samples: len / bps,
            samples_read: 0,
        })
    }

    /// Complex samples in the file.
    pub fn total_samples(&self) -> u64 {
        self.total_samples
    }

    /// Complex samples returned so far.
    pub fn samples_read(&self) -> u64 {
        self.samples_read
    }

    /// Bytes held by the reader's buffer (constant for its lifetime: the
    /// memory-flat guarantee tests check).
    pub fn buffer_bytes(&self) -> usize {
        self.raw.capacity()
    }

    /// The data file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the next chunk into `out` as interleaved `[re, im, ...]` at
    /// full scale 1; returns the number of complex samples (0 at the end).
    /// `out` is cleared first and grows at most to twice the chunk size.
    pub fn read_chunk(&mut self, out: &mut Vec<f32>) -> Result<usize> {
        out.clear();
        let bps = self.datatype.bytes_per_sample();
        let left = self.total_samples - self.samples_read;
        let want = (self.chunk_samples as u64).min(left) as usize;
        if want == 0 {
            return Ok(0);
        }
        let bytes = &mut self.raw[..want * bps];
        let mut filled = 0;
        while filled < bytes.len() {
            let n = self
                .file
                .read(&mut bytes[filled..])
                .map_err(|source| IqError::Io {
                    path: self.path.clone(),
                    source,
                })?;
            if n == 0 {
                // The file shrank while we read it.
                return Err(IqError::Truncated {
                    path: self.path.clone(),
                    message: format!(
                        "ended after {} of {} samples",
                        self.samples_read + (filled / bps) as u64,
                        self.total_samples
                    ),
                });
            }
            filled += n;
        }
        decode_into(self.datatype, bytes, out);
        if self.datatype == IqDatatype::Cf32Le {
            if let Some(i) = out.iter().position(|v| !v.is_finite()) {
                return Err(IqError::NotFinite {
                    path: self.path.clone(),
                    sample: self.samples_read + (i / 2) as u64,
                });
            }
        }
        self.samples_read += want as u64;
        Ok(want)
    }
}

/// Decodes raw bytes of `datatype` samples, appending interleaved floats.
pub fn decode_into(datatype: IqDatatype, bytes: &[u8], out: &mut Vec<f32>) {
    match datatype {
        IqDatatype::Ci8 => out.extend(bytes.iter().map(|&b| (b as i8) as f32 * (1.0 / 128.0))),
        IqDatatype::Cu8 => out.extend(bytes.iter().map(|&b| (b as f32 - 127.5) * (1.0 / 128.0))),
        IqDatatype::Ci16Le => out.extend(
            bytes
                .chunks_exact(2)
                .map(|c| i16::from_le_bytes([c[0], c[1]]) as f32 * (1.0 / 32768.0)),
        ),
        IqDatatype::Cf32Le => out.extend(
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
        ),
    }
}

/// Encodes interleaved floats (full scale 1) as `datatype`, rounding and
/// clipping to the integer range as an ADC does.
pub fn encode_into(datatype: IqDatatype, values: &[f32], out: &mut Vec<u8>) {
    match datatype {
        IqDatatype::Ci8 => out.extend(
            values
                .iter()
                .map(|&v| ((v * 128.0).round().clamp(-128.0, 127.0) as i8) as u8),
        ),
        IqDatatype::Cu8 => out.extend(
            values
                .iter()
                .map(|&v| (v * 128.0 + 127.5).round().clamp(0.0, 255.0) as u8),
        ),
        IqDatatype::Ci16Le => {
            for &v in values {
                let q = (v * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
                out.extend_from_slice(&q.to_le_bytes());
            }
        }
        IqDatatype::Cf32Le => {
            for &v in values {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
    }
}

/// An `rtl_sdr` raw capture (unsigned 8-bit I/Q, no header) with the
/// settings it was recorded with, as given on the command line
/// (`rtl_sdr -s RATE -f FREQ file`).
#[derive(Debug, Clone)]
pub struct RtlRecording {
    /// The capture.
    pub path: PathBuf,
    /// `-s`: sample rate.
    pub sample_rate_hz: f64,
    /// `-f`: centre frequency.
    pub center_freq_hz: f64,
    /// Start of the capture, seconds since 1970-01-01 UTC.
    pub start_unix_s: f64,
    /// Complex samples in the file.
    pub n_samples: u64,
}

impl RtlRecording {
    /// Checks the capture and its settings.
    pub fn open(
        path: &Path,
        sample_rate_hz: f64,
        center_freq_hz: f64,
        start_unix_s: f64,
    ) -> Result<RtlRecording> {
        let field = |field: &str, message: String| IqError::Field {
            path: path.to_path_buf(),
            field: field.to_string(),
            message,
        };
        SAMPLE_RATE_RANGE.check(sample_rate_hz).map_err(|m| {
            field(
                "--sample-rate-hz",
                format!("{m}; give the rate the capture was made at (rtl_sdr -s)"),
            )
        })?;
        CENTER_FREQ_RANGE.check(center_freq_hz).map_err(|m| {
            field(
                "--center-freq-hz",
                format!("{m}; give the tuned frequency (rtl_sdr -f)"),
            )
        })?;
        let reader = IqReader::open(path, IqDatatype::Cu8, 1)?;
        Ok(RtlRecording {
            path: path.to_path_buf(),
            sample_rate_hz,
            center_freq_hz,
            start_unix_s,
            n_samples: reader.total_samples(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codecs_round_trip_at_their_resolution() {
        let v = [0.5f32, -0.25, 0.99, -1.0];
        for dt in [
            IqDatatype::Ci8,
            IqDatatype::Cu8,
            IqDatatype::Ci16Le,
            IqDatatype::Cf32Le,
        ] {
            let mut b = Vec::new();
            encode_into(dt, &v, &mut b);
            assert_eq!(b.len(), 2 * dt.bytes_per_sample());
            let mut back = Vec::new();
            decode_into(dt, &b, &mut back);
            let tol = match dt {
                IqDatatype::Ci8 | IqDatatype::Cu8 => 1.0 / 128.0,
                IqDatatype::Ci16Le => 1.0 / 32768.0,
                IqDatatype::Cf32Le => 0.0,
            };
            for (a, b) in v.iter().zip(&back) {
                assert!((a - b).abs() <= tol, "{dt:?}: {a} -> {b}");
            }
        }
    }

    #[test]
    fn reader_buffer_stays_fixed_and_reads_everything() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.cu8");
        let n = 10_007usize;
        let bytes: Vec<u8> = (0..2 * n).map(|i| (i % 251) as u8).collect();
        std::fs::write(&p, &bytes).unwrap();
        let mut r = IqReader::open(&p, IqDatatype::Cu8, 1000).unwrap();
        let cap0 = r.buffer_bytes();
        let mut out = Vec::with_capacity(2000);
        let out_cap = out.capacity();
        let mut got = 0;
        let mut first = None;
        loop {
            let k = r.read_chunk(&mut out).unwrap();
            if k == 0 {
                break;
            }
            first.get_or_insert(out[0]);
            got += k;
            assert_eq!(r.buffer_bytes(), cap0);
            assert_eq!(out.capacity(), out_cap, "output buffer grew");
        }
        assert_eq!(got, n);
        assert_eq!(first, Some(-127.5 / 128.0));
    }

    #[test]
    fn half_a_sample_at_the_end_is_a_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.ci16");
        std::fs::write(&p, [0u8; 4 * 10 + 3]).unwrap();
        let err = IqReader::open(&p, IqDatatype::Ci16Le, 16)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("x.ci16") && err.contains("truncated"), "{err}");
    }

    #[test]
    fn nan_in_float_samples_is_reported_with_its_index() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.cf32");
        let mut v = vec![0.1f32; 2 * 50];
        v[2 * 37 + 1] = f32::NAN;
        let mut b = Vec::new();
        encode_into(IqDatatype::Cf32Le, &v, &mut b);
        std::fs::write(&p, &b).unwrap();
        let mut r = IqReader::open(&p, IqDatatype::Cf32Le, 16).unwrap();
        let mut out = Vec::new();
        let err = loop {
            match r.read_chunk(&mut out) {
                Ok(0) => panic!("NaN not found"),
                Ok(_) => continue,
                Err(e) => break e,
            }
        };
        assert!(
            matches!(err, IqError::NotFinite { sample: 37, .. }),
            "{err}"
        );
    }

    #[test]
    fn rtl_settings_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cap.bin");
        std::fs::write(&p, [127u8; 64]).unwrap();
        let r = RtlRecording::open(&p, 2.4e6, 1.4204e9, 0.0).unwrap();
        assert_eq!(r.n_samples, 32);
        let err = RtlRecording::open(&p, 0.0, 1.4204e9, 0.0)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--sample-rate-hz") && err.contains("cap.bin"),
            "{err}"
        );
        let err = RtlRecording::open(&p, 1e-300, 1.4204e9, 0.0)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!(
                "{}: field --sample-rate-hz: 1e-300 Hz is outside the accepted range, \
                 1 kHz to 100 GHz; give the rate the capture was made at (rtl_sdr -s)",
                p.display()
            )
        );
        let err = RtlRecording::open(&p, 2.4e6, 5e12, 0.0)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!(
                "{}: field --center-freq-hz: 5e12 Hz is outside the accepted range, \
                 1 kHz to 1 THz; give the tuned frequency (rtl_sdr -f)",
                p.display()
            )
        );
    }

    #[test]
    fn physical_ranges_include_their_limits_only() {
        assert_eq!(SAMPLE_RATE_RANGE.check(1e3), Ok(1e3));
        assert_eq!(SAMPLE_RATE_RANGE.check(1e11), Ok(1e11));
        assert_eq!(INTEGRATION_RANGE.check(86_400.0), Ok(86_400.0));
        assert_eq!(
            INTEGRATION_RANGE.check(0.0),
            Err("0 s is outside the accepted range, 1 microsecond to 1 day (86400 s)".into())
        );
        assert_eq!(
            CENTER_FREQ_RANGE.check(f64::NAN),
            Err("NaN Hz is outside the accepted range, 1 kHz to 1 THz".into())
        );
        assert!(SAMPLE_RATE_RANGE.check(f64::INFINITY).is_err());
        assert!(SAMPLE_RATE_RANGE.check(999.0).is_err());
    }
}
