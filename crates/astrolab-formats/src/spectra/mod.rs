//! Spectra files: DESI coadds and redrock redshifts, SDSS `spec-*.fits`, and
//! the merge of DESI's B, R, Z arms onto one wavelength grid.
//!
//! # Formats
//! - DESI coadd (`coadd-SURVEY-PROGRAM-PIX.fits`, `coadd-PETAL-TILE-thruNIGHT.fits`),
//!   the data model of desispec (DESI Collaboration 2023, AJ 165, 9;
//!   `desidatamodel`, `DESI_SPECTRO_REDUX/SPECPROD/healpix/...`): `FIBERMAP`,
//!   optional `EXP_FIBERMAP`, per arm `{B,R,Z}_WAVELENGTH` (Angstrom, vacuum),
//!   `_FLUX` (1e-17 erg/s/cm^2/A), `_IVAR`, `_MASK` (uint32 via BZERO 2^31),
//!   `_RESOLUTION` (nspec, ndiag, npix), and optional `SCORES`. A single `BRZ`
//!   arm (already merged by desispec) is read the same way. See
//!   [`read_desi_coadd`].
//! - Redrock output (Bailey et al., in prep.; `redrock-*.fits`): `REDSHIFTS`
//!   joined with `FIBERMAP` on `TARGETID`. See [`read_redrock`].
//! - SDSS/BOSS `spec-PLATE-MJD-FIBER.fits` (SDSS DR data model, `spec`):
//!   `COADD` (HDU 1: `loglam`, `flux`, `ivar`, `and_mask`) and `SPECOBJ`
//!   (HDU 2). See [`read_sdss_spec`].
//!
//! # Arm merging (the rule of `desispec.coaddition.coadd_cameras`)
//! DESI's arm grids all lie on one lattice: B 3600-5800 A, R 5760-7620 A,
//! Z 7520-9824 A, every 0.8 A. [`DesiCoadd::merged`] puts each arm pixel at
//! wavelength `w` into merged pixel `k = round((w - 3600) / 0.8)` of the
//! [`MERGED_NPIX`]-pixel grid [`merged_wavelength`] (3600..=9824 A), as
//! `coadd_cameras` does when it finds the cameras' grids on a common lattice.
//! An arm pixel more than [`LATTICE_TOLERANCE_A`] (1e-3 A) off the lattice is
//! an error naming the arm and pixel ([`SpectraError::OffLattice`]): nothing is
//! resampled silently. Then, per merged pixel:
//! - weight of a contribution = its ivar where its mask is 0, its flux and
//!   ivar are finite and ivar > 0; otherwise 0;
//! - merged ivar = sum of weights; merged flux = sum(weight * flux) / sum(weight)
//!   where sum(weight) > 0 (inverse-variance weighting, as `coadd_cameras`);
//! - merged mask = 0 where sum(weight) > 0;
//! - where arms cover the pixel but none has weight: flux = 0, ivar = 0 and
//!   mask = the bitwise OR of the contributing masks, plus [`MASK_BADVALUE`]
//!   (bit 30) when a contribution had a non-finite flux or ivar. A pixel whose
//!   inputs were unmasked but had ivar <= 0 thus keeps mask 0 and ivar 0:
//!   ivar = 0 is what says "no information", as in DESI's own files;
//! - where no arm covers the pixel (a missing arm): flux = 0, ivar = 0,
//!   mask = [`MASK_NODATA`] (bit 31).
//!
//! Bits 30 and 31 are astrolab's; DESI's `specmask` uses the low bits. NaN and
//! Inf never reach a merged flux or ivar: such a pixel has weight 0 and, when
//! nothing else covers it, ivar 0 and bit 30 set. Sums run in `f64` and are
//! stored as `f32`. `bench/reference_merge.py` implements the same rule
//! independently with numpy; its output is the fixture the tests compare to.

mod coadd;
mod merge;
mod redrock;
mod sdss;

use std::path::PathBuf;

use crate::fits::FitsError;

pub use coadd::{read_desi_coadd, ArmData, DesiCoadd, Fibermap};
pub use merge::{
    merged_wavelength, MergedSpectrum, LATTICE_TOLERANCE_A, MASK_BADVALUE, MASK_NODATA,
    MERGED_DWAVE, MERGED_NPIX, MERGED_WAVE_MIN,
};
pub use redrock::{read_redrock, Redrock};
pub use sdss::{read_sdss_spec, SdssSpectrum};

/// Everything that can go wrong reading spectra files. Messages name the
/// file, the HDU (index and EXTNAME), and the column and row or the pixel.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpectraError {
    /// The FITS layer failed (I/O, truncation, missing HDU or column, ...).
    #[error(transparent)]
    Fits(#[from] FitsError),

    /// An array's shape does not match what the file's other HDUs imply.
    #[error("{}: {hdu}: {message}", .path.display())]
    Shape {
        path: PathBuf,
        hdu: String,
        message: String,
    },

    /// The file has none of the HDUs a reader needs.
    #[error("{}: {message}", .path.display())]
    Missing { path: PathBuf, message: String },

    /// An arm's wavelength is not on the merged 0.8 A lattice.
    #[error(
        "{}: arm {arm}: pixel {pixel} (0-based) has wavelength {wavelength_a} A, \
         {offset_a:.3e} A off the merged grid 3600 + 0.8 k A (tolerance 1e-3 A) or \
         outside 3600..=9824 A; this arm needs resampling, which merging refuses to do silently",
        .path.display()
    )]
    OffLattice {
        path: PathBuf,
        arm: String,
        pixel: usize,
        wavelength_a: f64,
        offset_a: f64,
    },

    /// A spectrum index past the last row of the FIBERMAP.
    #[error("{}: spectrum row {row} (0-based) does not exist; FIBERMAP has {nspec} rows", .path.display())]
    RowOutOfRange {
        path: PathBuf,
        row: usize,
        nspec: usize,
    },

    /// A table value that the reader cannot use (a failed join, a bad mask).
    #[error("{}: {hdu}: column '{column}', row {row} (0-based): {message}", .path.display())]
    BadValue {
        path: PathBuf,
        hdu: String,
        column: String,
        row: usize,
        message: String,
    },
}
