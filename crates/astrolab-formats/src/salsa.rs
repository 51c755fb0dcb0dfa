//! SALSA (Onsala 2.3 m) spectrum FITS: one primary array of channels in K.
//!
//! Axis 1 is frequency (CRVAL1/CDELT1/CRPIX1, Hz), axes 2 and 3 are GLON and
//! GLAT (degrees). `VELO-LSR` holds MINUS the LSR correction of the
//! observation (SALSA's convention), so v_LSR = v_topocentric - VELO-LSR; the
//! reader returns the correction with the usual sign in
//! [`SalsaSpectrum::lsr_correction_km_s`].
//!
//! SALSA writes its reference pixels 0-based (CRPIX2 = CRPIX3 = 0 on the
//! one-pixel GLON/GLAT axes), not 1-based as the FITS standard says; the
//! observers' own reductions (Analysis-N/*.m) put each line one channel
//! (2.06 km/s) higher than a 1-based reading would. [`SalsaSpectrum::freq_hz`]
//! follows the file's convention: 0-based when CRPIX2 is 0 or TELESCOP
//! names SALSA, 1-based otherwise.

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
    /// Index of the first channel in the CRPIX convention: 0 for SALSA's
    /// 0-based reference pixels, 1 for standard FITS.
    pub pixel_origin: f64,
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
            pixel_origin: if h.get_f64("CRPIX2") == Some(0.0)
                || h.get_str("TELESCOP")
                    .is_some_and(|t| t.trim().to_ascii_uppercase().starts_with("SALSA"))
            {
                0.0
            } else {
                1.0
            },
            data_k: data,
        })
    }

    /// Sky (topocentric) frequency of channel `i` (0-based), Hz.
    pub fn freq_hz(&self, channel: usize) -> f64 {
        self.crval1_hz + (channel as f64 + self.pixel_origin - self.crpix1) * self.cdelt1_hz
    }

    /// The LSR correction (km/s) to add to topocentric radio velocities:
    /// minus the stored VELO-LSR.
    pub fn lsr_correction_km_s(&self) -> f64 {
        -self.velo_lsr_header_km_s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salsa_spectrum_reads_axis_pointing_and_correction() {
        let Some(data) = crate::testdata::require_shared_data("salsa_reader") else {
            return;
        };
        let s =
            SalsaSpectrum::open(&data.join("hline/salsa/Observe-1/spectrum_10998.fits")).unwrap();
        assert_eq!(s.data_k.len(), 256);
        // BSCALE/BZERO applied: the brightest channel holds 30.75 K.
        assert!((s.data_k[118] - 30.7477).abs() < 1e-3, "{}", s.data_k[118]);
        assert!((s.glon_deg - 218.928274922105).abs() < 1e-12);
        assert!((s.glat_deg + 0.2039049490662321).abs() < 1e-12);
        assert!((s.lsr_correction_km_s() + 7.855930838219921).abs() < 1e-12);
        // 0-based CRPIX (SALSA's convention): channel 128 is at CRVAL1.
        assert_eq!(s.pixel_origin, 0.0);
        assert_eq!(s.freq_hz(128), 1_420_400_000.0);
    }

    /// A minimal primary-array FITS file with the given extra cards.
    fn tiny_fits(path: &Path, cards: &[&str], data: &[f32]) {
        let mut h: Vec<String> = vec![
            "SIMPLE  =                    T".into(),
            "BITPIX  =                  -32".into(),
            "NAXIS   =                    1".into(),
            format!("NAXIS1  = {:>20}", data.len()),
        ];
        h.extend(cards.iter().map(|c| c.to_string()));
        h.push("END".into());
        let mut bytes: Vec<u8> = h
            .iter()
            .flat_map(|c| format!("{c:<80}").into_bytes())
            .collect();
        bytes.resize(bytes.len().div_ceil(2880) * 2880, b' ');
        bytes.extend(data.iter().flat_map(|v| v.to_be_bytes()));
        bytes.resize(bytes.len().div_ceil(2880) * 2880, 0);
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn missing_keywords_and_nan_data_are_errors() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("nolsr.fits");
        let axis = [
            "CRVAL1  =         1420400000.0",
            "CDELT1  =             9765.625",
            "CRPIX1  =                  128",
            "CRVAL2  =                 30.0",
            "CRVAL3  =                  0.0",
        ];
        tiny_fits(&p, &axis, &[1.0, 2.0, 3.0, 4.0]);
        let e = SalsaSpectrum::open(&p).unwrap_err();
        assert!(
            matches!(&e, SalsaError::MissingKeyword { key, .. } if key == "VELO-LSR"),
            "{e}"
        );
        assert!(e.to_string().contains("nolsr.fits"));
        let q = d.path().join("nan.fits");
        let mut cards = axis.to_vec();
        cards.push("VELO-LSR=                  1.5");
        tiny_fits(&q, &cards, &[f32::NAN; 4]);
        let e = SalsaSpectrum::open(&q).unwrap_err();
        assert!(matches!(e, SalsaError::NoFiniteData { n: 4, .. }), "{e}");
    }

    #[test]
    fn a_file_that_is_not_fits_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.fits");
        std::fs::write(&p, b"not a fits file").unwrap();
        let e = SalsaSpectrum::open(&p).unwrap_err().to_string();
        assert!(e.contains("x.fits"), "{e}");
    }
}
