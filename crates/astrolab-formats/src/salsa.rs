//! SALSA (Onsala 2.3 m) spectrum FITS: one primary array of channels in K.
//!
//! Axis 1 is frequency (CRVAL1/CDELT1/CRPIX1, Hz), axes 2 and 3 are GLON and
//! GLAT (degrees). `VELO-LSR` holds MINUS the LSR correction of the
//! observation (SALSA's convention), so v_LSR = v_topocentric - VELO-LSR; the
//! reader returns the correction with the usual sign in
//! [`SalsaSpectrum::lsr_correction_km_s`].

use std::path::{Path, PathBuf};

use crate::fits::{FitsError, FitsFile};

/// Errors reading a SALSA spectrum; each names the file and keyword.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SalsaError {
    #[error(transparent)]
    Fits(#[from] FitsError),
    /// A keyword the velocity axis or pointing needs is missing or not a number.
    #[error("{}: primary header: keyword {key} is missing or not a number; \
             a SALSA spectrum needs CRVAL1, CDELT1, CRPIX1, CRVAL2 (GLON), CRVAL3 (GLAT) and VELO-LSR",
            .path.display())]
    MissingKeyword { path: PathBuf, key: String },
    /// The data holds no finite value.
    #[error("{}: primary array: all {n} channels are NaN or infinite", .path.display())]
    NoFiniteData { path: PathBuf, n: usize },
}

/// One SALSA spectrum.
#[derive(Debug, Clone, PartialEq)]
pub struct SalsaSpectrum {
    pub path: PathBuf,
    /// Antenna temperature per channel (K).
    pub data_k: Vec<f64>,
    pub crval1_hz: f64,
    pub cdelt1_hz: f64,
    /// 1-based reference pixel.
    pub crpix1: f64,
    pub restfreq_hz: f64,
    pub glon_deg: f64,
    pub glat_deg: f64,
    /// The header's VELO-LSR as stored (minus the correction), km/s.
    pub velo_lsr_header_km_s: f64,
    pub date_obs: String,
    pub telescope: String,
}

/// HI rest frequency used when RESTFREQ is absent.
const HI_REST_HZ: f64 = 1_420_405_751.768;

impl SalsaSpectrum {
    /// Reads `path`.
    pub fn open(path: &Path) -> Result<SalsaSpectrum, SalsaError> {
        let fits = FitsFile::open(path)?;
        let (data, _shape) = fits.read_image_f64_at(0)?;
        let h = &fits.hdu_at(0)?.header;
        let need = |key: &str| {
            h.get_f64(key)
                .filter(|v| v.is_finite())
                .ok_or_else(|| SalsaError::MissingKeyword {
                    path: path.to_path_buf(),
                    key: key.to_string(),
                })
        };
        if !data.iter().any(|v| v.is_finite()) {
            return Err(SalsaError::NoFiniteData {
                path: path.to_path_buf(),
                n: data.len(),
            });
        }
        Ok(SalsaSpectrum {
            path: path.to_path_buf(),
            crval1_hz: need("CRVAL1")?,
            cdelt1_hz: need("CDELT1")?,
            crpix1: need("CRPIX1")?,
            restfreq_hz: h.get_f64("RESTFREQ").unwrap_or(HI_REST_HZ),
            glon_deg: need("CRVAL2")?,
            glat_deg: need("CRVAL3")?,
            velo_lsr_header_km_s: need("VELO-LSR")?,
            date_obs: h.get_str("DATE-OBS").unwrap_or("").trim().to_string(),
            telescope: h.get_str("TELESCOP").unwrap_or("").trim().to_string(),
            data_k: data,
        })
    }

    /// Sky (topocentric) frequency of channel `i` (0-based), Hz.
    pub fn freq_hz(&self, channel: usize) -> f64 {
        self.crval1_hz + (channel as f64 + 1.0 - self.crpix1) * self.cdelt1_hz
    }

    /// The LSR correction (km/s) to add to topocentric radio velocities:
    /// minus the stored VELO-LSR.
    pub fn lsr_correction_km_s(&self) -> f64 {
        -self.velo_lsr_header_km_s
    }
}
