//! Quasar outflows (issue 19): a pure crate, arrays (and file contents,
//! with a name for error messages) in, numbers out; no files, databases or
//! servers: the pipeline layer does the I/O.
//!
//! * [`continuum`]: quasar continua from a linear basis, DESI's PCA
//!   components (Guo & Martini 2019) or redrock's quasar templates, solved
//!   by weighted least squares.
//! * [`bal`]: C IV and Si IV broad absorption troughs, BI (Weymann et al.
//!   1991) and AI (Hall et al. 2002; Trump et al. 2006) with errors, on an
//!   iteratively masked continuum, into a row with the columns of DESI's BAL
//!   catalog (Filbert et al. 2024). Its module docs list every definition
//!   and each place where we differ from DESI's `baltools`, and why.
//! * [`aod`]: apparent optical depth columns (Savage & Sembach 1991) of
//!   C IV, Si IV, N V, Al III and Mg II, with saturation and partial-covering
//!   flags from the doublets (Hamann et al. 1997).
//! * [`cloudy`]: Cloudy photoionization grids (Ferland et al. 2017, RMxAA
//!   53, 385): input decks, parsers for `.out`, `.col`, `.ovr`, `.grd` and
//!   the `vary`/`grid` outputs, a (log U, log N_H) grid of ionic columns
//!   with bilinear interpolation, and the chi-square solve for (N_H, U)
//!   from measured absorption columns.
//! * [`energetics`]: outflow distance, mass-outflow rate and kinetic
//!   luminosity from (N_H, U, n_H, v) and a monochromatic luminosity
//!   (Borguet et al. 2012, ApJ 751, 107; Dunn et al. 2010, ApJ 709, 611).
//! * [`fit`]: the engine of the spectral fits (issue 20), a bounded
//!   Levenberg-Marquardt solver with fixed and tied parameters (Moré 1978;
//!   MPFIT's bounds) and PyQSOFit's Gaussian lines in `ln(lambda)`.
//!
//! ## Definitions, and where we differ from DESI's `baltools`
//!
//! Full list with the reasons in [`bal`]'s module docs; in short:
//!
//! * Continuum: 5 PCA components over rest 1261-2399 A, 1.57 <= z <= 5.0,
//!   solved exactly by weighted least squares (baltools: Nelder-Mead from
//!   all-ones coefficients), refitted with the AI troughs of C IV and Si IV
//!   masked until the mask stops changing (at most 10 fits); when that
//!   continuum is not positive in a search window, refitted from the red
//!   side (rest >= 1570 A) before the quasar is given up
//!   ([`bal::ContinuumMethod::RedSide`]).
//! * Velocities: non-relativistic, from 1549 A (C IV) and 1398 A (Si IV),
//!   as baltools; negative = blueshift, catalog VMIN/VMAX positive.
//! * Troughs: `1 - f/0.9 - 0.5 sigma > 0`, one noise-spike pixel allowed;
//!   BI over -25,000 to -3,000 km/s, troughs wider than 2000 km/s, counted
//!   after the first 2000 km/s (Weymann et al. 1991); AI over -25,000 to
//!   0 km/s, troughs wider than 450 km/s passing the 3-sigma test, counted
//!   after the first 450 km/s (as baltools); at most 5 and 17 troughs.
//! * Differences: index errors with `dv^2` (baltools' have `dv`, units of
//!   sqrt(km/s): ours are about `sqrt(dv)` = 8.3 times larger on BOSS
//!   pixels); an AI trough at 0 km/s gets the significance test and is
//!   masked on past 0 km/s while the flux stays below 0.9; BI-trough masking
//!   works (baltools' reads a misspelt key, `VMIN_SIV_2000`); bad input and
//!   non-positive continua are counted skips ([`bal::BalSkip`]), never
//!   numbers (baltools divides by a negative continuum: on
//!   `spec-3655-55240-0110` its AI_CIV 2029 km/s comes from that).
//! * Si IV only when its whole window (-25,000 km/s from 1398 A) lies in
//!   the fit window, as baltools.
//!
//! ```
//! use astrolab_qso::bal::{measure, BalConfig, BalSkip, Spectrum};
//! use astrolab_qso::continuum::Basis;
//!
//! // A real run passes WAVE and PCA0..PCA4 of PCA_Eigenvectors.fits; here a
//! // flat continuum with one sloped component.
//! let grid: Vec<f64> = (0..1200).map(|i| 1250.0 + i as f64).collect();
//! let flat = vec![1.0; grid.len()];
//! let slope: Vec<f64> = grid.iter().map(|w| w / 2000.0).collect();
//! let basis = Basis::new(grid, vec![flat, slope])?;
//!
//! let z = 2.4;
//! let wave: Vec<f64> = (0..4000).map(|i| 3600.0 * 10f64.powf(1e-4 * i as f64)).collect();
//! let flux: Vec<f64> = wave
//!     .iter()
//!     .map(|w| {
//!         let v = 299_792.458 * (w / (1.0 + z) - 1549.0) / 1549.0;
//!         // A trough at 0.3 of the continuum from -12,000 to -6,000 km/s.
//!         if (-12_000.0..-6_000.0).contains(&v) { 0.3 } else { 1.0 }
//!     })
//!     .collect();
//! let ivar = vec![2500.0; wave.len()];
//! let spec = Spectrum { wavelength_a: &wave, flux: &flux, ivar: &ivar };
//! let bal = measure(&spec, z, &basis, &BalConfig::default())?;
//! // BI: (1 - 0.3/0.9) over the 4000 km/s past the first 2000 (less one
//! // pixel, see the bal module docs).
//! assert!((2550.0..2667.0).contains(&bal.row.bi_civ));
//! assert_eq!(bal.row.nciv_2000, 1);
//!
//! // Bad input is a reason, never a number.
//! let skip = measure(&spec, 1.2, &basis, &BalConfig::default()).unwrap_err();
//! assert_eq!(skip.reason(), "redshift_out_of_range");
//! # let _: Option<BalSkip> = None;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
/// DESI's PCA continuum components (`PCA_Eigenvectors.fits` of baltools,
/// BSD 3-Clause; Guo & Martini 2019): a FITS binary table with `WAVE` and
/// `PCA0`..`PCA4`. Built in so that BAL measurements need no download; see
/// `data/README.md` for its source and SHA-256.
pub const PCA_EIGENVECTORS_FITS: &[u8] = include_bytes!("../data/PCA_Eigenvectors.fits");

pub mod aod;
pub mod bal;
pub mod cloudy;
pub mod continuum;
pub mod energetics;
pub mod fit;
