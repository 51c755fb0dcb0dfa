//! DESI coadd files (desispec `spectra` data model): FIBERMAP and per-arm
//! WAVELENGTH, FLUX, IVAR, MASK and RESOLUTION images.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::SpectraError;
use crate::fits::{FitsFile, Hdu};

/// Arms looked for, in this order: DESI's three cameras, and the single
/// merged arm that `desispec.coaddition.coadd_cameras` writes.
const ARMS: [&str; 4] = ["B", "R", "Z", "BRZ"];

/// The FIBERMAP columns astrolab uses, one entry per spectrum.
#[derive(Debug, Clone, PartialEq)]
pub struct Fibermap {
    pub targetid: Vec<i64>,
    /// `TARGET_RA`, degrees; NaN for every row when the column is absent
    /// (trimmed files that keep only TARGETID).
    pub target_ra: Vec<f64>,
    /// `TARGET_DEC`, degrees; NaN when absent, as `target_ra`.
    pub target_dec: Vec<f64>,
    /// `COADD_FIBERSTATUS`; 0 for every row when the column is absent.
    pub coadd_fiberstatus: Vec<i64>,
}

/// One arm (camera) of a coadd: its wavelength grid and per-spectrum pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct ArmData {
    /// `"B"`, `"R"`, `"Z"`, or `"BRZ"`.
    pub name: String,
    /// Vacuum wavelength of each pixel, Angstrom (`{arm}_WAVELENGTH`).
    pub wavelength: Vec<f64>,
    /// `nspec * npix`, row-major, 1e-17 erg/s/cm^2/A.
    pub flux: Vec<f32>,
    /// Inverse variance of `flux`, same layout.
    pub ivar: Vec<f32>,
    /// DESI `specmask` bits, same layout.
    pub mask: Vec<u32>,
    pub npix: usize,
    /// Number of diagonals of `{arm}_RESOLUTION` (11 in DR1); `None` when
    /// the file has no resolution HDU for this arm. The matrices are not read.
    pub resolution_ndiag: Option<usize>,
}

/// A DESI coadd file: targets, arms and where the file came from.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiCoadd {
    pub path: PathBuf,
    pub fibermap: Fibermap,
    /// The arms present, in the order B, R, Z, BRZ.
    pub arms: Vec<ArmData>,
    /// Primary `SURVEY`, else from a `coadd-SURVEY-PROGRAM-PIX.fits` name.
    pub survey: Option<String>,
    /// Primary `PROGRAM`, else from the file name as `survey`.
    pub program: Option<String>,
    /// Primary `HPXPIXEL`, else from a `coadd-SURVEY-PROGRAM-PIX.fits` name.
    pub healpix: Option<i64>,
    /// Primary `TILEID` (tile-based coadds).
    pub tileid: Option<i64>,
    pub(super) hdu_names: Vec<String>,
}

impl DesiCoadd {
    /// Number of spectra (FIBERMAP rows).
    pub fn n_spectra(&self) -> usize {
        self.fibermap.targetid.len()
    }

    /// The row of the first spectrum of `targetid`.
    pub fn row_of(&self, targetid: i64) -> Option<usize> {
        self.fibermap.targetid.iter().position(|&t| t == targetid)
    }

    /// The names of every HDU in file order (`PRIMARY` for an unnamed HDU 0),
    /// e.g. to see whether `EXP_FIBERMAP` and `SCORES` are present.
    pub fn hdu_names(&self) -> &[String] {
        &self.hdu_names
    }

    /// The arm with this name (`"B"`, ...), if present.
    pub fn arm(&self, name: &str) -> Option<&ArmData> {
        self.arms.iter().find(|a| a.name == name)
    }
}

/// Reads a DESI coadd: FIBERMAP, every arm present (B, R, Z, or one BRZ) and
/// the primary header's provenance keywords.
///
/// Validates that each arm's FLUX, IVAR and MASK are `(nspec, npix)` with
/// `npix` from its 1-d WAVELENGTH and `nspec` from the FIBERMAP rows, and
/// that RESOLUTION (when present) is `(nspec, ndiag, npix)`; a mismatch is
/// [`SpectraError::Shape`] naming the HDU. EXP_FIBERMAP and SCORES are not
/// read; [`DesiCoadd::hdu_names`] tells whether they are there.
pub fn read_desi_coadd(path: &Path) -> Result<DesiCoadd, SpectraError> {
    let fits = FitsFile::open(path)?;
    let fm = fits.table("FIBERMAP")?;
    let targetid = fm.read_i64("TARGETID")?;
    let nspec = targetid.len();
    let coadd_fiberstatus = if fm.has_column("COADD_FIBERSTATUS") {
        fm.read_i64("COADD_FIBERSTATUS")?
    } else {
        vec![0; nspec]
    };
    let position = |name: &str| -> Result<Vec<f64>, SpectraError> {
        if fm.has_column(name) {
            Ok(fm.read_f64(name)?)
        } else {
            Ok(vec![f64::NAN; nspec])
        }
    };
    let fibermap = Fibermap {
        target_ra: position("TARGET_RA")?,
        target_dec: position("TARGET_DEC")?,
        targetid,
        coadd_fiberstatus,
    };

    let mut arms = Vec::new();
    for arm in ARMS {
        if fits.has_hdu(&format!("{arm}_WAVELENGTH")) {
            arms.push(read_arm(&fits, arm, nspec)?);
        }
    }
    if arms.is_empty() {
        return Err(SpectraError::Missing {
            path: path.to_path_buf(),
            message: format!(
                "no arm found: expected B_WAVELENGTH, R_WAVELENGTH, Z_WAVELENGTH or \
                 BRZ_WAVELENGTH; the file has: {}",
                names(fits.hdus()).join(", ")
            ),
        });
    }
    if arms.iter().any(|a| a.name == "BRZ") && arms.len() > 1 {
        return Err(SpectraError::Missing {
            path: path.to_path_buf(),
            message: "has both a merged BRZ arm and separate B/R/Z arms; \
                      expected one or the other"
                .to_string(),
        });
    }

    let primary = &fits.hdu_at(0)?.header;
    let from_name = name_parts(path);
    let str_key = |key: &str| {
        primary
            .get_str(key)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let healpix = primary.get_i64("HPXPIXEL");
    let (survey, program, healpix) = match (healpix, from_name) {
        (Some(pix), _) => (str_key("SURVEY"), str_key("PROGRAM"), Some(pix)),
        (None, Some((s, p, pix))) => (
            str_key("SURVEY").or(Some(s)),
            str_key("PROGRAM").or(Some(p)),
            Some(pix),
        ),
        (None, None) => (str_key("SURVEY"), str_key("PROGRAM"), None),
    };
    Ok(DesiCoadd {
        path: path.to_path_buf(),
        fibermap,
        arms,
        survey,
        program,
        healpix,
        tileid: primary.get_i64("TILEID"),
        hdu_names: names(fits.hdus()),
    })
}

fn names(hdus: &[Hdu]) -> Vec<String> {
    hdus.iter()
        .map(|h| match &h.extname {
            Some(n) => n.clone(),
            None if h.index == 0 => "PRIMARY".to_string(),
            None => h.name(),
        })
        .collect()
}

/// `(survey, program, healpix)` from `coadd-SURVEY-PROGRAM-PIX.fits`.
fn name_parts(path: &Path) -> Option<(String, String, i64)> {
    let stem = path.file_name()?.to_str()?.strip_suffix(".fits")?;
    let parts: Vec<&str> = stem.split('-').collect();
    match parts.as_slice() {
        ["coadd", survey, program, pix] => {
            let pix = pix.parse::<i64>().ok()?;
            Some((survey.to_string(), program.to_string(), pix))
        }
        _ => None,
    }
}

fn read_arm(fits: &FitsFile, arm: &str, nspec: usize) -> Result<ArmData, SpectraError> {
    let path = fits.path();
    let shape_err = |hdu: &Hdu, message: String| SpectraError::Shape {
        path: path.to_path_buf(),
        hdu: hdu.label(),
        message,
    };
    let wave_name = format!("{arm}_WAVELENGTH");
    let wave_hdu = fits.hdu(&wave_name)?;
    let (wavelength, wshape) = fits.read_image_f64(&wave_name)?;
    let [npix] = wshape[..] else {
        return Err(shape_err(
            wave_hdu,
            format!("shape {wshape:?} is not 1-d (npix)"),
        ));
    };
    let expected = [nspec, npix];
    let check = |part: &str, shape: &[usize]| -> Result<(), SpectraError> {
        if shape == expected {
            return Ok(());
        }
        let hdu = fits.hdu(&format!("{arm}_{part}"))?;
        Err(shape_err(
            hdu,
            format!(
                "shape {shape:?} (nspec, npix) does not match [{nspec}, {npix}]: \
                 FIBERMAP has {nspec} rows and {wave_name} {npix} pixels"
            ),
        ))
    };
    let (flux, shape) = fits.read_image_f32(&format!("{arm}_FLUX"))?;
    check("FLUX", &shape)?;
    let (ivar, shape) = fits.read_image_f32(&format!("{arm}_IVAR"))?;
    check("IVAR", &shape)?;
    let (mask, shape) = fits.read_image_u32(&format!("{arm}_MASK"))?;
    check("MASK", &shape)?;

    let res_name = format!("{arm}_RESOLUTION");
    let resolution_ndiag = if fits.has_hdu(&res_name) {
        let hdu = fits.hdu(&res_name)?;
        match hdu.shape()[..] {
            [n, ndiag, p] if n == nspec && p == npix => Some(ndiag),
            ref other => {
                return Err(shape_err(
                    hdu,
                    format!(
                        "shape {other:?} is not (nspec, ndiag, npix) with nspec = {nspec} \
                         (FIBERMAP rows) and npix = {npix} ({wave_name})"
                    ),
                ))
            }
        }
    } else {
        None
    };
    Ok(ArmData {
        name: arm.to_string(),
        wavelength,
        flux,
        ivar,
        mask,
        npix,
        resolution_ndiag,
    })
}

/// TARGETID -> first row, for joins.
pub(super) fn first_rows(targetid: &[i64]) -> HashMap<i64, usize> {
    let mut rows = HashMap::with_capacity(targetid.len());
    for (row, &t) in targetid.iter().enumerate() {
        rows.entry(t).or_insert(row);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healpix_from_the_file_name() {
        let p = |s: &str| name_parts(Path::new(s));
        assert_eq!(
            p("/x/coadd-sv3-dark-26065.fits"),
            Some(("sv3".into(), "dark".into(), 26065))
        );
        assert_eq!(p("coadd-4-80613-thru20210324.fits"), None);
        assert_eq!(p("redrock-sv3-dark-26065.fits"), None);
        assert_eq!(p("coadd-sv3-dark-26065.fits.gz"), None);
    }
}
