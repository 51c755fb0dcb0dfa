//! Redrock output (`redrock-*.fits`): REDSHIFTS joined with FIBERMAP.

use std::path::Path;

use super::coadd::first_rows;
use super::SpectraError;
use crate::fits::FitsFile;

/// Redrock's best fit per target, in REDSHIFTS row order, with the target's
/// position from FIBERMAP.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Redrock {
    pub targetid: Vec<i64>,
    /// Redshift (dimensionless).
    pub z: Vec<f64>,
    pub zerr: Vec<f64>,
    /// Redrock `ZWARN` bits; 0 is a confident fit.
    pub zwarn: Vec<i64>,
    /// `GALAXY`, `QSO` or `STAR`.
    pub spectype: Vec<String>,
    pub subtype: Vec<String>,
    /// chi^2 difference to the second-best fit.
    pub deltachi2: Vec<f64>,
    /// Degrees (ICRS), from FIBERMAP by TARGETID.
    pub target_ra: Vec<f64>,
    /// Degrees (ICRS), from FIBERMAP by TARGETID.
    pub target_dec: Vec<f64>,
}

/// Reads REDSHIFTS and joins TARGET_RA, TARGET_DEC from FIBERMAP on TARGETID
/// (the first FIBERMAP row of each TARGETID). A target missing from FIBERMAP
/// is [`SpectraError::BadValue`] naming its REDSHIFTS row.
pub fn read_redrock(path: &Path) -> Result<Redrock, SpectraError> {
    let fits = FitsFile::open(path)?;
    let zt = fits.table("REDSHIFTS")?;
    let targetid = zt.read_i64("TARGETID")?;
    let fm = fits.table("FIBERMAP")?;
    let fm_ids = fm.read_i64("TARGETID")?;
    let fm_ra = fm.read_f64("TARGET_RA")?;
    let fm_dec = fm.read_f64("TARGET_DEC")?;
    let rows = first_rows(&fm_ids);
    let mut target_ra = Vec::with_capacity(targetid.len());
    let mut target_dec = Vec::with_capacity(targetid.len());
    for (row, t) in targetid.iter().enumerate() {
        let Some(&j) = rows.get(t) else {
            return Err(SpectraError::BadValue {
                path: path.to_path_buf(),
                hdu: zt.hdu().label(),
                column: "TARGETID".into(),
                row,
                message: format!(
                    "TARGETID {t} has no row in {} (it has {} rows); the file is inconsistent",
                    fm.hdu().label(),
                    fm_ids.len()
                ),
            });
        };
        target_ra.push(fm_ra[j]);
        target_dec.push(fm_dec[j]);
    }
    Ok(Redrock {
        z: zt.read_f64("Z")?,
        zerr: zt.read_f64("ZERR")?,
        zwarn: zt.read_i64("ZWARN")?,
        spectype: zt.read_str("SPECTYPE")?,
        subtype: zt.read_str("SUBTYPE")?,
        deltachi2: zt.read_f64("DELTACHI2")?,
        targetid,
        target_ra,
        target_dec,
    })
}
