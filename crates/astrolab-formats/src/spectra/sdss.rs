//! SDSS/BOSS `spec-PLATE-MJD-FIBER.fits` (SDSS data model `spec`): the
//! coadded spectrum (HDU 1, `COADD`) and the pipeline's SPECOBJ row (HDU 2).

use std::path::Path;

use super::SpectraError;
use crate::fits::{BinTable, FitsFile};

/// One SDSS spectrum.
#[derive(Debug, Clone, PartialEq)]
pub struct SdssSpectrum {
    /// Vacuum wavelength, Angstrom: `10^loglam` computed in `f64` from the
    /// stored `f32` loglam.
    pub wavelength: Vec<f64>,
    /// 1e-17 erg/s/cm^2/A.
    pub flux: Vec<f32>,
    pub ivar: Vec<f32>,
    /// Instrumental dispersion per pixel (`wdisp`, sigma in units of the
    /// 1e-4 dex pixel), when the file has the column.
    pub wdisp: Option<Vec<f32>>,
    /// SDSS `SPPIXMASK` bits set in every exposure (`and_mask`).
    pub and_mask: Vec<u32>,
    /// SPECOBJ `Z`.
    pub z: Option<f64>,
    pub plate: Option<i64>,
    pub mjd: Option<i64>,
    pub fiberid: Option<i64>,
    /// SPECOBJ `PLUG_RA`, degrees.
    pub ra: Option<f64>,
    /// SPECOBJ `PLUG_DEC`, degrees.
    pub dec: Option<f64>,
    /// SPECOBJ `CLASS` (`QSO`, `GALAXY`, `STAR`), trimmed.
    pub class: Option<String>,
    /// SPECOBJ `ZWARNING` (0 = no known problem; bit 4 MANY_OUTLIERS is
    /// common for bright quasars, see the SDSS `ZWARNING` bitmask).
    pub zwarning: Option<i64>,
}

/// Reads `loglam`, `flux`, `ivar`, `and_mask` from HDU `COADD` (HDU 1 when
/// no HDU has that name) and Z, PLATE, MJD, FIBERID, PLUG_RA, PLUG_DEC, CLASS,
/// ZWARNING from
/// the first row of `SPECOBJ` (or `SPALL`, or an unnamed HDU 2 with a `Z`
/// column); these are `None` when that HDU or column is absent (older
/// `spPlate`-derived files).
pub fn read_sdss_spec(path: &Path) -> Result<SdssSpectrum, SpectraError> {
    let fits = FitsFile::open(path)?;
    let coadd = if fits.has_hdu("COADD") {
        fits.table("COADD")?
    } else {
        fits.table_at(1)?
    };
    let wavelength = coadd
        .read_f64("loglam")?
        .into_iter()
        .map(|l| 10f64.powf(l))
        .collect();
    let raw_mask = coadd.read_i64("and_mask")?;
    let mut and_mask = Vec::with_capacity(raw_mask.len());
    for (row, v) in raw_mask.into_iter().enumerate() {
        // Stored as signed 32-bit (TFORM J): a set bit 31 reads as negative.
        let bits = u32::try_from(v)
            .ok()
            .or_else(|| i32::try_from(v).ok().map(|x| x as u32));
        and_mask.push(bits.ok_or_else(|| SpectraError::BadValue {
            path: path.to_path_buf(),
            hdu: coadd.hdu().label(),
            column: "and_mask".into(),
            row,
            message: format!("{v} is not a 32-bit mask"),
        })?);
    }
    let specobj = if fits.has_hdu("SPECOBJ") {
        Some(fits.table("SPECOBJ")?)
    } else if fits.has_hdu("SPALL") {
        // SDSS-V and late BOSS reductions name the same row SPALL.
        Some(fits.table("SPALL")?)
    } else {
        // HDU 2, the SPECOBJ position, unnamed in some BOSS files (plate
        // 3655's): taken when it is a table with a redshift.
        fits.table_at(2).ok().filter(|t| t.has_column("Z"))
    };
    let f = |name: &str| first_f64(specobj.as_ref(), name);
    let i = |name: &str| first_i64(specobj.as_ref(), name);
    Ok(SdssSpectrum {
        wavelength,
        flux: coadd.read_f32("flux")?,
        ivar: coadd.read_f32("ivar")?,
        wdisp: if coadd.has_column("wdisp") {
            Some(coadd.read_f32("wdisp")?)
        } else {
            None
        },
        and_mask,
        z: f("Z")?,
        plate: i("PLATE")?,
        mjd: i("MJD")?,
        fiberid: i("FIBERID")?,
        ra: f("PLUG_RA")?,
        dec: f("PLUG_DEC")?,
        class: match &specobj {
            Some(t) if t.has_column("CLASS") => {
                t.read_str("CLASS")?.first().map(|c| c.trim().to_string())
            }
            _ => None,
        },
        zwarning: i("ZWARNING")?,
    })
}

fn first_f64(table: Option<&BinTable<'_>>, name: &str) -> Result<Option<f64>, SpectraError> {
    match table {
        Some(t) if t.has_column(name) => Ok(t.read_f64(name)?.first().copied()),
        _ => Ok(None),
    }
}

fn first_i64(table: Option<&BinTable<'_>>, name: &str) -> Result<Option<i64>, SpectraError> {
    match table {
        Some(t) if t.has_column(name) => Ok(t.read_i64_opt(name)?.first().copied().flatten()),
        _ => Ok(None),
    }
}
