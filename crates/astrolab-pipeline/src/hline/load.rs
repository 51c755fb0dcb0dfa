//! Calibrated spectra read from files (SALSA FITS, SDFITS-style FITS, ours
//! or GBTIDL's, CSV) and put on a v_LSR axis, refusing to guess a velocity.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use astrolab_formats::salsa::SalsaSpectrum;
use astrolab_formats::sdfits::Sdfits;
use astrolab_hline::analysis::SpectrumView;
use astrolab_hline::velocity::{
    lsr_correction_km_s, radio_velocity_km_s, LsrDefinition, Site, UtcTime,
};

use crate::params::defs::LsrArg;

/// A spectrum on a v_LSR axis with its pointing.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Where it came from: the file, or `NAME (file ID)` for a recording
    /// in the store.
    pub path: PathBuf,
    /// Short name (the file stem; figures are named after it).
    pub name: String,
    /// v_LSR per channel, km/s.
    pub v_lsr_km_s: Vec<f64>,
    /// Temperature per channel, K (Tsys units for an uncalibrated recording).
    pub t_k: Vec<f64>,
    /// Galactic longitude of the pointing, degrees (NaN when unknown).
    pub l_deg: f64,
    /// Galactic latitude of the pointing, degrees (NaN when unknown).
    pub b_deg: f64,
    /// Where the LSR correction came from.
    pub lsr_source: String,
    /// Topocentric sky frequency per channel, Hz (None for CSV without a
    /// freq_hz column).
    pub freq_hz: Option<Vec<f64>>,
    /// The LSR correction added to the topocentric radio velocities, km/s
    /// (None when the file gave v_LSR directly).
    pub lsr_correction_km_s: Option<f64>,
}

/// `lo:hi,lo:hi` ranges of flag `what`.
pub(crate) fn parse_ranges(s: &str, what: &str) -> Result<Vec<(f64, f64)>> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let (a, b) = p
                .split_once(':')
                .with_context(|| format!("{what}: '{p}' is not lo:hi"))?;
            let a: f64 = a
                .trim()
                .parse()
                .with_context(|| format!("{what}: '{a}' is not a number"))?;
            let b: f64 = b
                .trim()
                .parse()
                .with_context(|| format!("{what}: '{b}' is not a number"))?;
            Ok((a, b))
        })
        .collect()
}

pub(crate) fn lsr_def(a: LsrArg) -> LsrDefinition {
    match a {
        LsrArg::Kinematic => LsrDefinition::Kinematic,
        LsrArg::Schoenrich => LsrDefinition::Schoenrich2010,
    }
}

fn is_fits(path: &Path) -> Result<bool> {
    use std::io::Read;
    let mut head = [0u8; 9];
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let n = f
        .read(&mut head)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(n == 9 && &head == b"SIMPLE  =")
}

/// Reads a spectrum and puts it on a v_LSR axis; refuses to guess a velocity.
pub fn load(path: &Path, lsr: LsrArg) -> Result<Loaded> {
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !is_fits(path)? {
        return load_csv(path, name);
    }
    let fits = astrolab_formats::FitsFile::open(path)?;
    if fits
        .hdus()
        .iter()
        .any(|h| h.extname.as_deref() == Some("SINGLE DISH"))
    {
        let sd = Sdfits::open(path)?;
        let Some(r) = sd.rows.first() else {
            bail!("{}: the SINGLE DISH table has no rows", path.display());
        };
        if sd.rows.len() > 1 {
            tracing::warn!(
                "{}: {} rows, fitting the first",
                path.display(),
                sd.rows.len()
            );
        }
        let header = &fits.hdu("SINGLE DISH")?.header;
        let (corr, source) = match header.get_f64("VELO-LSR") {
            Some(v) => (v, "VELO-LSR keyword".to_string()),
            None => {
                let site = Site {
                    lat_deg: r.site_lat_deg,
                    lon_deg: r.site_lon_deg,
                    height_m: if r.site_height_m.is_finite() {
                        r.site_height_m
                    } else {
                        0.0
                    },
                };
                let t = UtcTime::parse_iso(&r.date_obs)
                    .with_context(|| format!("{}: row 0, column DATE-OBS", path.display()))?;
                let v = lsr_correction_km_s(t, site, r.crval2_deg, r.crval3_deg, lsr_def(lsr))
                    .with_context(|| {
                        format!(
                            "{}: no VELO-LSR keyword and no usable SITELAT/SITELONG/CRVAL2/CRVAL3 \
                             for computing the LSR correction",
                            path.display()
                        )
                    })?;
                (v, "computed (site, DATE-OBS, RA/Dec)".to_string())
            }
        };
        if r.restfreq_hz.is_nan() || r.restfreq_hz <= 0.0 {
            bail!(
                "{}: row 0: RESTFREQ is missing or not positive",
                path.display()
            );
        }
        let t_k = sd.spectra(&[0])?.remove(0);
        let freq: Vec<f64> = (0..t_k.len()).map(|i| r.freq_hz(i)).collect();
        let v = freq
            .iter()
            .map(|&f| radio_velocity_km_s(f, r.restfreq_hz) + corr)
            .collect();
        let (l, b) = astrolab_sky::galactic::icrs_to_galactic(r.crval2_deg, r.crval3_deg);
        return Ok(Loaded {
            path: path.to_path_buf(),
            name,
            v_lsr_km_s: v,
            t_k,
            l_deg: l,
            b_deg: b,
            lsr_source: source,
            freq_hz: Some(freq),
            lsr_correction_km_s: Some(corr),
        });
    }
    let s = SalsaSpectrum::open(path)?;
    let corr = s.lsr_correction_km_s();
    Ok(Loaded {
        path: path.to_path_buf(),
        name,
        v_lsr_km_s: (0..s.data_k.len())
            .map(|i| radio_velocity_km_s(s.freq_hz(i), s.restfreq_hz) + corr)
            .collect(),
        t_k: s.data_k.clone(),
        l_deg: s.glon_deg,
        b_deg: s.glat_deg,
        lsr_source: "SALSA VELO-LSR (minus the correction)".into(),
        freq_hz: Some((0..s.data_k.len()).map(|i| s.freq_hz(i)).collect()),
        lsr_correction_km_s: Some(corr),
    })
}

fn load_csv(path: &Path, name: String) -> Result<Loaded> {
    let cols = astrolab_formats::read_csv_columns(path)
        .with_context(|| format!("reading {} as CSV", path.display()))?;
    let col =
        |names: &[&str]| -> Option<Vec<f64>> { names.iter().find_map(|n| cols.column_f64(n).ok()) };
    let v = col(&["v_lsr_km_s", "velocity_km_s", "v_km_s"]).with_context(|| {
        format!(
            "{}: no v_lsr_km_s column (a CSV spectrum needs v_lsr_km_s and t_k)",
            path.display()
        )
    })?;
    let t = col(&["t_k", "ta_k", "temperature_k"]).with_context(|| {
        format!(
            "{}: no t_k column (a CSV spectrum needs v_lsr_km_s and t_k)",
            path.display()
        )
    })?;
    let l = col(&["glon_deg", "l_deg"])
        .and_then(|c| c.first().copied())
        .unwrap_or(f64::NAN);
    let b = col(&["glat_deg", "b_deg"])
        .and_then(|c| c.first().copied())
        .unwrap_or(f64::NAN);
    Ok(Loaded {
        path: path.to_path_buf(),
        name,
        v_lsr_km_s: v,
        t_k: t,
        l_deg: l,
        b_deg: b,
        lsr_source: "CSV v_lsr_km_s column".into(),
        freq_hz: col(&["freq_hz"]),
        lsr_correction_km_s: None,
    })
}

impl Loaded {
    /// The spectrum as the analysis reads it.
    pub fn view(&self) -> SpectrumView<'_> {
        SpectrumView {
            v_lsr_km_s: &self.v_lsr_km_s,
            t_k: &self.t_k,
            l_deg: self.l_deg,
            b_deg: self.b_deg,
        }
    }
}
