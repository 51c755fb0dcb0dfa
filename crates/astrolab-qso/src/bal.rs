//! Broad absorption line (BAL) troughs and indices of C IV and Si IV, as
//! DESI's BAL catalog defines them (Filbert et al. 2024, AJ 168, 1; the
//! catalog is made by `baltools`, github.com/paulmartini/baltools,
//! `fitbal.calcbalparams`), on a PCA continuum (Guo & Martini 2019, ApJ
//! 879, 72) fitted with [`crate::continuum`].
//!
//! Definitions (velocities in km/s relative to the line's rest wavelength,
//! 1549 A for C IV and 1398 A for Si IV as baltools' `balconfig` has them,
//! not the doublets' weighted means 1549.06 A and 1396.76 A; negative =
//! blueshift, non-relativistic `v = c (lambda - lambda_0) /
//! lambda_0` as baltools computes it; `f` is flux over continuum and
//! `s` its error over continuum):
//!
//! * **Trough pixels**: `1 - f/0.9 - 0.5 s > 0` (baltools adds the half
//!   sigma to the classical `f < 0.9`). A trough may step over one pixel
//!   that fails (a "noise spike"); for AI troughs only when the two pixels
//!   before it and the one after it are trough pixels.
//! * **BI** (Weymann et al. 1991, ApJ 373, 23, eq. 1): troughs searched over
//!   -25,000 to -3,000 km/s, kept when wider than 2000 km/s;
//!   `BI = sum over each trough of (1 - f/0.9) dv` counted only once the
//!   running width inside the trough reaches 2000 km/s.
//! * **AI** (Hall et al. 2002, ApJS 141, 267; Trump et al. 2006, ApJS 165,
//!   1, with baltools' 450 km/s): troughs over -25,000 to 0 km/s wider than
//!   450 km/s and significant: `1 - (<f> + 3 <s>/sqrt(n))/0.9 > 0` over the
//!   trough. The integral is counted like BI's, after the first 450 km/s.
//! * **Errors**: per pixel `(s^2 + (D/m)^2) / 0.9^2 dv^2`, summed and square
//!   rooted, where `m` is the continuum and `D` the mean `|m - flux|` over
//!   the AI window outside AI troughs (the continuum's own error).
//! * **VMIN / VMAX** (positive, km/s of outflow): the trough's red and blue
//!   ends; **POSMIN** the velocity of its lowest `f`, **FMIN** that `f`.
//!   At most 5 BI and 17 AI troughs (`NBI`, `NAI`); unused slots are -1.
//! * **Iterative masking**: the continuum is refitted with the pixels of the
//!   C IV and Si IV AI troughs left out until the mask stops changing (at
//!   most 10 fits, baltools' `maxiter`).
//! * **S/N**: `SNR_CIV` is the median `flux * sqrt(ivar)` over the C IV AI
//!   window; `SNR_REDSIDE` over rest 1420-1480 A when wholly covered;
//!   `SNR_FOREST` over rest 1040-1205 A when at least 50 A of it is
//!   covered.
//! * Followed as baltools does, so that our numbers match DESI's catalog,
//!   though questionable: each index integrates the pixel pairs of the
//!   slice [first, last) of the trough (the last trough pixel adds
//!   nothing); AI skips the first 450 km/s of each trough as BI skips 2000
//!   (Hall et al. 2002 count the whole trough); the AI trough test uses the
//!   slice [first, last) too.
//!
//! Where we differ from baltools, and why:
//!
//! * The continuum is the exact weighted least-squares solution, not
//!   Nelder-Mead from all-ones coefficients (which can stop before the
//!   minimum with five parameters).
//! * The fit window is the pixels with rest wavelength in [1261, 2399] A;
//!   baltools starts one pixel after the nearest pixel to 1261 A and ends two
//!   before the nearest to 2399 A (a slice off by one at each end).
//! * **Index errors**: baltools sums `(s^2 + (D/m)^2) / 0.9^2 dv` and takes
//!   the square root, which has units of sqrt(km/s): the variance of a sum
//!   of `dv (1 - f/0.9)` terms needs `dv^2`. We use `dv^2`, so our
//!   `ERR_BI_*` and `ERR_AI_*` are baltools' times about `sqrt(dv)` (8.3 on
//!   BOSS's 69 km/s pixels, about 6.9 on DESI's 0.8 A pixels (48 km/s) in the C IV window at z = 2.4):
//!   divide by `sqrt(dv)` to compare with DESI's catalog.
//! * A C IV or Si IV AI trough that reaches 0 km/s is masked from the
//!   continuum refit past 0 km/s for as long as the flux stays below 0.9
//!   of the continuum. baltools masks only up to 0 km/s; on
//!   `spec-3655-55240-0110` the C IV trough goes on to about +3000 km/s
//!   (rest 1567 A), and those unmasked absorbed pixels pull the refit down.
//! * An AI trough that runs into 0 km/s (the end of the window) gets the
//!   significance test too; baltools records it untested.
//! * baltools' BI masking branch (`baltomask(..., 'BI')`) reads the key
//!   `VMIN_SIV_2000`, which does not exist, so it always raises; here
//!   [`MaskFrom::Bi`] works (the DESI catalog itself masks AI troughs, our
//!   default).
//! * Pixels with `ivar = 0` have an infinite error (baltools: `nan_to_num`
//!   of infinity, 1.8e308): they are never trough pixels, but when a trough
//!   steps over one as a noise spike it adds nothing to the error (baltools'
//!   error would overflow to infinity).
//! * Bad input is a [`BalSkip`] with its reason, never a row of numbers:
//!   redshift outside 1.57-5.0, C IV window not covered, a window with no
//!   usable pixel, a final continuum that is not positive in a window.
//!   baltools raises only for C IV not covered and otherwise returns
//!   numbers, also from a negative continuum: on `spec-3655-55240-0110` at
//!   z = 2.394 its continuum (as ours) goes below zero on the C IV peak and
//!   its AI_CIV 2029.59 km/s comes from the one trough where it crosses
//!   zero. `BalConfig::require_positive_continuum = false` divides by such
//!   a continuum as baltools does (for comparisons only): with baltools'
//!   coefficients, [`measure_with_coeffs`] then gives its numbers (AI_CIV
//!   2029.60, see `tests/real_bal.rs`).
//! * **Red-side fallback** ([`BalConfig::red_side_fallback`], on by
//!   default; DESI's catalog has none): when the iterated continuum is not
//!   positive in a search window, the fit is redone on the pixels redward
//!   of [`RED_SIDE_FROM_A`] only (troughs there masked iteratively as
//!   usual), so that the components predict the absorbed region from
//!   C III], He II and the continuum, as PCA reconstructions of absorbed
//!   quasar spectra do (Guo & Martini 2019; Paris et al. 2011 for the
//!   Lyman alpha forest). The result says so
//!   ([`ContinuumMethod::RedSide`], the catalog's `CONT_FIT`); only when
//!   that continuum is not positive either is the quasar a skip. This
//!   finds `spec-3655-55240-0110` at its catalog redshift (AI_CIV 2891
//!   km/s), which DESI's procedure could only skip or give a number from
//!   a negative continuum.
//! * In the intermediate fits of the masking iteration, pixels where the
//!   continuum is not positive count as black (normalised flux 0, a trough
//!   pixel), so they are masked from the next fit; baltools divides by them.
//! * baltools' forest S/N is undefined (a Python `NameError`) when 50 A of
//!   the forest are covered but hold no pixel; here it is -1.

// `!(x > 0.0)` is meant: it is also true for NaN, which must count as bad.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::continuum::{evaluate, fit_linear, Basis, ContinuumError, ContinuumFit};

/// Speed of light, km/s.
pub const C_KM_S: f64 = 299_792.458;
/// C IV rest wavelength used for BAL velocities, Angstrom (baltools'
/// `lambdaCIV`, the doublet's approximate centre; the doublet is
/// 1548.204 and 1550.781 A).
pub const CIV_REST_A: f64 = 1549.0;
/// Si IV rest wavelength used for BAL velocities, Angstrom (baltools'
/// `lambdaSiIV`; the doublet is 1393.760 and 1402.773 A).
pub const SIIV_REST_A: f64 = 1398.0;
/// Redshift range of the BAL catalog (baltools' `BAL_ZMIN`, `BAL_ZMAX`).
pub const Z_MIN: f64 = 1.57;
/// See [`Z_MIN`].
pub const Z_MAX: f64 = 5.0;
/// Blue end of the trough search, km/s.
pub const V_SEARCH_MIN_KM_S: f64 = -25_000.0;
/// Red end of the BI search, km/s.
pub const V_BI_MAX_KM_S: f64 = -3_000.0;
/// Red end of the AI search, km/s.
pub const V_AI_MAX_KM_S: f64 = 0.0;
/// Minimum BI trough width, km/s.
pub const BI_WIDTH_KM_S: f64 = 2_000.0;
/// Minimum AI trough width, km/s.
pub const AI_WIDTH_KM_S: f64 = 450.0;
/// Catalog slots for BI troughs per line.
pub const NBI: usize = 5;
/// Catalog slots for AI troughs per line.
pub const NAI: usize = 17;
/// Troughs are measured against 0.9 of the continuum.
const LEVEL: f64 = 0.9;

/// Which troughs are masked out of the continuum refit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MaskFrom {
    /// AI troughs (what DESI's catalog does).
    #[default]
    Ai,
    /// BI troughs (baltools' branch for this cannot run; see module docs).
    Bi,
}

/// Settings of a BAL measurement; the defaults are DESI's catalog.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BalConfig {
    /// Rest window of the continuum fit, Angstrom. Widen it with a basis
    /// that covers more (the redrock quasar templates) where the PCA
    /// components do not reach.
    pub fit_rest_min_a: f64,
    /// See `fit_rest_min_a`.
    pub fit_rest_max_a: f64,
    /// At most this many continuum fits.
    pub max_iter: usize,
    /// Which troughs the refit masks.
    pub mask_from: MaskFrom,
    /// Skip a quasar whose final continuum is not positive in a search
    /// window ([`BalSkip::ContinuumNotPositive`]). `false` divides by it
    /// anyway, as baltools does: only for comparing with baltools, the
    /// numbers then mean nothing.
    pub require_positive_continuum: bool,
    /// When the iterative continuum is not positive in a search window,
    /// refit it from the red side ([`RED_SIDE_FROM_A`] and redder) before
    /// giving up ([`ContinuumMethod::RedSide`]).
    pub red_side_fallback: bool,
}

impl Default for BalConfig {
    fn default() -> Self {
        BalConfig {
            fit_rest_min_a: crate::continuum::PCA_REST_MIN_A,
            fit_rest_max_a: crate::continuum::PCA_REST_MAX_A,
            max_iter: 10,
            mask_from: MaskFrom::Ai,
            require_positive_continuum: true,
            red_side_fallback: true,
        }
    }
}

/// Rest wavelength from which the red-side fallback fits the continuum,
/// Angstrom: C IV at +4000 km/s, past the red end of troughs that cover
/// the emission peak (spec-3655-55240-0110's ends near 1567 A), keeping
/// the C IV emission's red wing in the fit.
pub const RED_SIDE_FROM_A: f64 = 1570.0;

/// How the final continuum was fitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContinuumMethod {
    /// DESI's: the whole fit window, troughs masked iteratively.
    #[default]
    Iterative,
    /// The iterative continuum went non-positive in a search window, so
    /// the fit used only pixels redward of [`RED_SIDE_FROM_A`] (troughs
    /// there masked iteratively) and predicts the absorbed region.
    RedSide,
}

impl ContinuumMethod {
    /// `iterative` or `red_side` (the catalog's `CONT_FIT` column).
    pub fn as_str(self) -> &'static str {
        match self {
            ContinuumMethod::Iterative => "iterative",
            ContinuumMethod::RedSide => "red_side",
        }
    }
}

/// Why a spectrum got no BAL measurement (it is counted, never given numbers).
#[derive(Debug, Clone, PartialEq, Error)]
pub enum BalSkip {
    #[error("redshift {z} is outside the BAL range {Z_MIN} <= z <= {Z_MAX}")]
    RedshiftOutOfRange { z: f64 },
    #[error("spectrum arrays differ in length: wavelength {wavelength}, flux {flux}, ivar {ivar}")]
    LengthMismatch {
        wavelength: usize,
        flux: usize,
        ivar: usize,
    },
    #[error("wavelengths must be finite and strictly increasing (at pixel {pixel})")]
    WavelengthsNotIncreasing { pixel: usize },
    #[error(
        "spectrum covers rest {rest_min_a:.1}-{rest_max_a:.1} A, not the C IV window \
         (-25,000 to 0 km/s from {CIV_REST_A} A, rest {lo:.1}-{CIV_REST_A} A)",
        lo = CIV_REST_A * (1.0 + V_SEARCH_MIN_KM_S / C_KM_S)
    )]
    CivNotCovered { rest_min_a: f64, rest_max_a: f64 },
    #[error("no usable pixel (ivar > 0) in the {window} window")]
    AllMasked { window: &'static str },
    #[error("continuum fit failed: {0}")]
    Continuum(#[from] ContinuumError),
    #[error("fitted continuum is not positive at rest {rest_a:.1} A in the {window} window")]
    ContinuumNotPositive { window: &'static str, rest_a: f64 },
}

impl BalSkip {
    /// The catalog's `BALMASK` for a skipped quasar: bit 0 (not measured),
    /// plus bit 1 when the redshift is out of range (baltools'
    /// `popqsotab`; bit 2, a redshift disagreement between catalogs, is
    /// for the code that joins catalogs).
    pub fn balmask(&self) -> u8 {
        match self {
            BalSkip::RedshiftOutOfRange { .. } => 1 | 2,
            _ => 1,
        }
    }

    /// A short machine-readable reason, for counting skips.
    pub fn reason(&self) -> &'static str {
        match self {
            BalSkip::RedshiftOutOfRange { .. } => "redshift_out_of_range",
            BalSkip::LengthMismatch { .. } => "length_mismatch",
            BalSkip::WavelengthsNotIncreasing { .. } => "wavelengths_not_increasing",
            BalSkip::CivNotCovered { .. } => "civ_not_covered",
            BalSkip::AllMasked { .. } => "all_masked",
            BalSkip::Continuum(_) => "continuum_failed",
            BalSkip::ContinuumNotPositive { .. } => "continuum_not_positive",
        }
    }
}

/// One observed spectrum: vacuum wavelengths (Angstrom, increasing), flux
/// and inverse variance (any flux unit; bad pixels carry `ivar = 0`).
#[derive(Debug, Clone, Copy)]
pub struct Spectrum<'a> {
    pub wavelength_a: &'a [f64],
    pub flux: &'a [f64],
    pub ivar: &'a [f64],
}

/// One quasar's BAL measurements with the names, types and shapes of the
/// columns of DESI's BAL catalog (`baltools.baltable.initbaltab_desi`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub struct BalRow {
    pub pca_coeffs: Vec<f32>,
    pub pca_chi2: f32,
    pub bi_civ: f32,
    pub err_bi_civ: f32,
    pub nciv_2000: i32,
    pub vmin_civ_2000: [f32; NBI],
    pub vmax_civ_2000: [f32; NBI],
    pub posmin_civ_2000: [f32; NBI],
    pub fmin_civ_2000: [f32; NBI],
    pub ai_civ: f32,
    pub err_ai_civ: f32,
    pub nciv_450: i32,
    pub vmin_civ_450: [f32; NAI],
    pub vmax_civ_450: [f32; NAI],
    pub posmin_civ_450: [f32; NAI],
    pub fmin_civ_450: [f32; NAI],
    pub bi_siiv: f32,
    pub err_bi_siiv: f32,
    pub nsiiv_2000: i32,
    pub vmin_siiv_2000: [f32; NBI],
    pub vmax_siiv_2000: [f32; NBI],
    pub posmin_siiv_2000: [f32; NBI],
    pub fmin_siiv_2000: [f32; NBI],
    pub ai_siiv: f32,
    pub err_ai_siiv: f32,
    pub nsiiv_450: i32,
    pub vmin_siiv_450: [f32; NAI],
    pub vmax_siiv_450: [f32; NAI],
    pub posmin_siiv_450: [f32; NAI],
    pub fmin_siiv_450: [f32; NAI],
    pub snr_civ: f32,
    pub snr_redside: f32,
    pub snr_forest: f32,
    pub balmask: u8,
}

/// One trough, in full precision (the catalog row holds `f32`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trough {
    /// Red end, km/s of outflow (positive).
    pub vmin_km_s: f64,
    /// Blue end, km/s of outflow.
    pub vmax_km_s: f64,
    /// Outflow velocity of the lowest normalised flux.
    pub posmin_km_s: f64,
    /// Lowest normalised flux.
    pub fmin: f64,
    /// This trough's share of the index, km/s.
    pub index_km_s: f64,
    /// The trough reaches the red end of its search window (it may go on
    /// past it).
    pub open_red: bool,
}

/// BI and AI of one line, in full precision.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LineBal {
    pub bi_km_s: f64,
    pub err_bi_km_s: f64,
    pub bi_troughs: Vec<Trough>,
    pub ai_km_s: f64,
    pub err_ai_km_s: f64,
    pub ai_troughs: Vec<Trough>,
    /// Median S/N over the AI window (`SNR_CIV` for C IV).
    pub snr: f64,
}

/// Everything a BAL measurement gives.
#[derive(Debug, Clone)]
pub struct BalResult {
    /// The catalog row.
    pub row: BalRow,
    pub civ: LineBal,
    /// `None` when the Si IV window (-25,000 km/s from 1398 A) is not
    /// wholly inside the fit window.
    pub siiv: Option<LineBal>,
    /// The final continuum fit.
    pub continuum: ContinuumFit,
    /// Rest wavelengths of the fit window, Angstrom (the continuum's grid).
    pub rest_wave_a: Vec<f64>,
    /// Index of the fit window's first pixel in the input spectrum.
    pub first_pixel: usize,
    /// Fit-window pixels outside the masked troughs (true = used in the fit).
    pub fit_mask: Vec<bool>,
    /// Continuum fits made.
    pub iterations: usize,
    /// Whether the trough mask stopped changing within `max_iter` fits.
    pub converged: bool,
    /// How the final continuum was fitted.
    pub continuum_method: ContinuumMethod,
}

/// Measures the BAL troughs of one quasar at redshift `z` on the continuum
/// `basis` (DESI: the 5 PCA components of `PCA_Eigenvectors.fits`).
pub fn measure(
    spec: &Spectrum<'_>,
    z: f64,
    basis: &Basis,
    config: &BalConfig,
) -> Result<BalResult, BalSkip> {
    measure_impl(spec, z, basis, None, config)
}

/// Measures the BAL troughs on the continuum of given coefficients (for
/// instance a catalog's `PCA_COEFFS`), without fitting or masking: one pass
/// of the trough search. `coeffs` must have one value per basis component.
pub fn measure_with_coeffs(
    spec: &Spectrum<'_>,
    z: f64,
    basis: &Basis,
    coeffs: &[f64],
    config: &BalConfig,
) -> Result<BalResult, BalSkip> {
    if coeffs.len() != basis.n_components() {
        return Err(BalSkip::Continuum(ContinuumError::CoefficientCount {
            got: coeffs.len(),
            expected: basis.n_components(),
        }));
    }
    measure_impl(spec, z, basis, Some(coeffs), config)
}

fn measure_impl(
    spec: &Spectrum<'_>,
    z: f64,
    basis: &Basis,
    fixed: Option<&[f64]>,
    config: &BalConfig,
) -> Result<BalResult, BalSkip> {
    let n = spec.wavelength_a.len();
    if spec.flux.len() != n || spec.ivar.len() != n {
        return Err(BalSkip::LengthMismatch {
            wavelength: n,
            flux: spec.flux.len(),
            ivar: spec.ivar.len(),
        });
    }
    if !(Z_MIN..=Z_MAX).contains(&z) {
        return Err(BalSkip::RedshiftOutOfRange { z });
    }
    for pixel in 0..n {
        let w = spec.wavelength_a[pixel];
        if !w.is_finite() || (pixel > 0 && w <= spec.wavelength_a[pixel - 1]) {
            return Err(BalSkip::WavelengthsNotIncreasing { pixel });
        }
    }
    let rest_all: Vec<f64> = spec.wavelength_a.iter().map(|w| w / (1.0 + z)).collect();
    let civ_lo_a = CIV_REST_A * (1.0 + V_SEARCH_MIN_KM_S / C_KM_S);
    let (rest_min_a, rest_max_a) = match (rest_all.first(), rest_all.last()) {
        (Some(&a), Some(&b)) => (a, b),
        _ => {
            return Err(BalSkip::CivNotCovered {
                rest_min_a: f64::NAN,
                rest_max_a: f64::NAN,
            })
        }
    };
    // The whole C IV AI window must be inside the fit window.
    let fit_lo_a = rest_min_a.max(config.fit_rest_min_a);
    let fit_hi_a = rest_max_a.min(config.fit_rest_max_a);
    if fit_lo_a > civ_lo_a || fit_hi_a < CIV_REST_A {
        return Err(BalSkip::CivNotCovered {
            rest_min_a,
            rest_max_a,
        });
    }
    let first = rest_all.partition_point(|&w| w < config.fit_rest_min_a);
    let end = rest_all.partition_point(|&w| w <= config.fit_rest_max_a);
    let rest = &rest_all[first..end];
    let flux = &spec.flux[first..end];
    let ivar = &spec.ivar[first..end];
    let sigma: Vec<f64> = ivar
        .iter()
        .map(|&v| {
            if v > 0.0 {
                1.0 / v.sqrt()
            } else {
                f64::INFINITY
            }
        })
        .collect();

    let civ_speed = velocities(rest, CIV_REST_A);
    let civ_win = Window::find(&civ_speed).ok_or(BalSkip::CivNotCovered {
        rest_min_a,
        rest_max_a,
    })?;
    if ivar[civ_win.lo..civ_win.hi_ai].iter().all(|&v| !(v > 0.0)) {
        return Err(BalSkip::AllMasked { window: "C IV" });
    }
    // Si IV only when its whole window is in the fit window (baltools:
    // first fit pixel <= 1398 (1 - 25000/c)).
    let siiv = (rest[0] <= SIIV_REST_A * (1.0 + V_SEARCH_MIN_KM_S / C_KM_S))
        .then(|| {
            let speed = velocities(rest, SIIV_REST_A);
            Window::find(&speed).map(|w| (speed, w))
        })
        .flatten();

    let interp = basis.interpolate(rest);
    let lines = Lines {
        rest,
        flux,
        sigma: &sigma,
        ivar,
        interp: &interp,
        civ_speed: &civ_speed,
        civ_win: &civ_win,
        siiv: siiv.as_ref(),
    };
    let mut it = lines.iterate(vec![true; rest.len()], fixed, config)?;
    let mut continuum_fit = ContinuumMethod::Iterative;
    if config.require_positive_continuum {
        if let Err(first) = lines.check_positive(&it.fit.model) {
            // The troughs can cover the emission peak they sit on, and the
            // components then follow them below zero (spec-3655-55240-0110:
            // C IV absorbed from its peak to +3000 km/s). Refit from the
            // red side: every pixel blueward of RED_SIDE_FROM_A left out,
            // so the components predict the absorbed region from C III],
            // He II and the continuum beyond (as PCA reconstructions of BAL
            // quasars do, Guo & Martini 2019 sec. 3); then iterate the
            // trough mask as usual, keeping the blue side masked.
            if fixed.is_some() || !config.red_side_fallback {
                return Err(first);
            }
            let red: Vec<bool> = rest.iter().map(|&w| w >= RED_SIDE_FROM_A).collect();
            it = lines.iterate(red, None, config)?;
            lines.check_positive(&it.fit.model)?;
            continuum_fit = ContinuumMethod::RedSide;
        }
    }
    let Iteration {
        fit,
        civ,
        siiv: siiv_bal,
        mask: it_mask,
        iterations,
        converged,
    } = it;

    let mut row = BalRow::empty();
    row.pca_coeffs = fit.coeffs.iter().map(|&c| c as f32).collect();
    row.pca_chi2 = fit.reduced_chi2() as f32;
    fill_bi(
        &civ,
        &mut row.bi_civ,
        &mut row.err_bi_civ,
        &mut row.nciv_2000,
    );
    fill_slots(
        &civ.bi_troughs,
        [
            &mut row.vmin_civ_2000,
            &mut row.vmax_civ_2000,
            &mut row.posmin_civ_2000,
            &mut row.fmin_civ_2000,
        ],
    );
    row.ai_civ = civ.ai_km_s as f32;
    row.err_ai_civ = civ.err_ai_km_s as f32;
    row.nciv_450 = civ.ai_troughs.len() as i32;
    fill_slots(
        &civ.ai_troughs,
        [
            &mut row.vmin_civ_450,
            &mut row.vmax_civ_450,
            &mut row.posmin_civ_450,
            &mut row.fmin_civ_450,
        ],
    );
    if let Some(s) = &siiv_bal {
        fill_bi(
            s,
            &mut row.bi_siiv,
            &mut row.err_bi_siiv,
            &mut row.nsiiv_2000,
        );
        fill_slots(
            &s.bi_troughs,
            [
                &mut row.vmin_siiv_2000,
                &mut row.vmax_siiv_2000,
                &mut row.posmin_siiv_2000,
                &mut row.fmin_siiv_2000,
            ],
        );
        row.ai_siiv = s.ai_km_s as f32;
        row.err_ai_siiv = s.err_ai_km_s as f32;
        row.nsiiv_450 = s.ai_troughs.len() as i32;
        fill_slots(
            &s.ai_troughs,
            [
                &mut row.vmin_siiv_450,
                &mut row.vmax_siiv_450,
                &mut row.posmin_siiv_450,
                &mut row.fmin_siiv_450,
            ],
        );
    }
    row.snr_civ = civ.snr as f32;
    row.snr_redside = snr_redside(&rest_all, spec.flux, spec.ivar) as f32;
    row.snr_forest = snr_forest(&rest_all, spec.flux, spec.ivar) as f32;
    row.balmask = 0;
    Ok(BalResult {
        row,
        civ,
        siiv: siiv_bal,
        continuum: fit,
        rest_wave_a: rest.to_vec(),
        first_pixel: first,
        fit_mask: it_mask,
        iterations,
        converged,
        continuum_method: continuum_fit,
    })
}

/// The spectrum's fit window and search windows, for the masking iteration.
struct Lines<'a> {
    rest: &'a [f64],
    flux: &'a [f64],
    sigma: &'a [f64],
    ivar: &'a [f64],
    interp: &'a [f64],
    civ_speed: &'a [f64],
    civ_win: &'a Window,
    siiv: Option<&'a (Vec<f64>, Window)>,
}

/// Where the masking iteration ended.
struct Iteration {
    fit: ContinuumFit,
    civ: LineBal,
    siiv: Option<LineBal>,
    mask: Vec<bool>,
    iterations: usize,
    converged: bool,
}

impl Lines<'_> {
    /// Fits, searches troughs and refits with them masked until the mask
    /// stops changing (at most `max_iter` fits). Only pixels where `base`
    /// is true are ever fitted. With `fixed` coefficients: one pass.
    fn iterate(
        &self,
        base: Vec<bool>,
        fixed: Option<&[f64]>,
        config: &BalConfig,
    ) -> Result<Iteration, BalSkip> {
        let raw = !config.require_positive_continuum;
        let mut mask = base.clone();
        let mut iterations = 0;
        loop {
            let fit = match fixed {
                Some(coeffs) => evaluate(self.interp, coeffs, self.flux, self.ivar),
                None => fit_linear(self.interp, self.flux, self.ivar, &mask)?,
            };
            iterations += 1;
            let civ = measure_line(
                self.civ_speed,
                self.civ_win,
                self.flux,
                self.sigma,
                self.ivar,
                &fit.model,
                raw,
            );
            let siiv = self.siiv.map(|(speed, win)| {
                measure_line(
                    speed, win, self.flux, self.sigma, self.ivar, &fit.model, raw,
                )
            });
            if fixed.is_none() {
                let new_mask: Vec<bool> = trough_mask(
                    self.rest,
                    self.flux,
                    &fit.model,
                    &civ,
                    siiv.as_ref(),
                    config.mask_from,
                )
                .into_iter()
                .zip(&base)
                .map(|(t, &b)| t && b)
                .collect();
                if new_mask != mask && iterations < config.max_iter {
                    mask = new_mask;
                    continue;
                }
                let converged = new_mask == mask;
                return Ok(Iteration {
                    fit,
                    civ,
                    siiv,
                    mask,
                    iterations,
                    converged,
                });
            }
            return Ok(Iteration {
                fit,
                civ,
                siiv,
                mask,
                iterations,
                converged: true,
            });
        }
    }

    /// The final continuum must be positive over every search window.
    fn check_positive(&self, model: &[f64]) -> Result<(), BalSkip> {
        check_positive(model, self.rest, self.civ_win, "C IV")?;
        if let Some((_, win)) = self.siiv {
            check_positive(model, self.rest, win, "Si IV")?;
        }
        Ok(())
    }
}

/// One value of a catalog column, typed as DESI's catalog stores it.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnValue<'a> {
    /// FITS `E`.
    F32(f32),
    /// FITS `J`.
    I32(i32),
    /// FITS `B`.
    U8(u8),
    /// FITS `nE` (`PCA_COEFFS`, trough slots).
    F32s(&'a [f32]),
}

impl BalRow {
    /// The row's columns in the order of DESI's BAL catalog
    /// (`baltools.baltable.initbaltab_desi`, then the S/N columns its
    /// later versions append), with their names: what a CSV or FITS
    /// catalog writer iterates.
    pub fn columns(&self) -> Vec<(&'static str, ColumnValue<'_>)> {
        use ColumnValue::{F32s, F32, I32, U8};
        vec![
            ("PCA_COEFFS", F32s(&self.pca_coeffs)),
            ("PCA_CHI2", F32(self.pca_chi2)),
            ("BI_CIV", F32(self.bi_civ)),
            ("ERR_BI_CIV", F32(self.err_bi_civ)),
            ("NCIV_2000", I32(self.nciv_2000)),
            ("VMIN_CIV_2000", F32s(&self.vmin_civ_2000)),
            ("VMAX_CIV_2000", F32s(&self.vmax_civ_2000)),
            ("POSMIN_CIV_2000", F32s(&self.posmin_civ_2000)),
            ("FMIN_CIV_2000", F32s(&self.fmin_civ_2000)),
            ("AI_CIV", F32(self.ai_civ)),
            ("ERR_AI_CIV", F32(self.err_ai_civ)),
            ("NCIV_450", I32(self.nciv_450)),
            ("VMIN_CIV_450", F32s(&self.vmin_civ_450)),
            ("VMAX_CIV_450", F32s(&self.vmax_civ_450)),
            ("POSMIN_CIV_450", F32s(&self.posmin_civ_450)),
            ("FMIN_CIV_450", F32s(&self.fmin_civ_450)),
            ("BI_SIIV", F32(self.bi_siiv)),
            ("ERR_BI_SIIV", F32(self.err_bi_siiv)),
            ("NSIIV_2000", I32(self.nsiiv_2000)),
            ("VMIN_SIIV_2000", F32s(&self.vmin_siiv_2000)),
            ("VMAX_SIIV_2000", F32s(&self.vmax_siiv_2000)),
            ("POSMIN_SIIV_2000", F32s(&self.posmin_siiv_2000)),
            ("FMIN_SIIV_2000", F32s(&self.fmin_siiv_2000)),
            ("AI_SIIV", F32(self.ai_siiv)),
            ("ERR_AI_SIIV", F32(self.err_ai_siiv)),
            ("NSIIV_450", I32(self.nsiiv_450)),
            ("VMIN_SIIV_450", F32s(&self.vmin_siiv_450)),
            ("VMAX_SIIV_450", F32s(&self.vmax_siiv_450)),
            ("POSMIN_SIIV_450", F32s(&self.posmin_siiv_450)),
            ("FMIN_SIIV_450", F32s(&self.fmin_siiv_450)),
            ("SNR_CIV", F32(self.snr_civ)),
            ("SNR_REDSIDE", F32(self.snr_redside)),
            ("SNR_FOREST", F32(self.snr_forest)),
            ("BALMASK", U8(self.balmask)),
        ]
    }

    /// The row of a quasar that was not measured: the catalog's defaults
    /// with `pca_components` zero coefficients and the skip's BALMASK.
    pub fn skipped(skip: &BalSkip, pca_components: usize) -> Self {
        let mut row = BalRow::empty();
        row.pca_coeffs = vec![0.0; pca_components];
        row.balmask = skip.balmask();
        row
    }

    /// A row with the catalog's defaults: indices 0, trough slots -1.
    fn empty() -> Self {
        BalRow {
            pca_coeffs: Vec::new(),
            pca_chi2: 0.0,
            bi_civ: 0.0,
            err_bi_civ: 0.0,
            nciv_2000: 0,
            vmin_civ_2000: [-1.0; NBI],
            vmax_civ_2000: [-1.0; NBI],
            posmin_civ_2000: [-1.0; NBI],
            fmin_civ_2000: [-1.0; NBI],
            ai_civ: 0.0,
            err_ai_civ: 0.0,
            nciv_450: 0,
            vmin_civ_450: [-1.0; NAI],
            vmax_civ_450: [-1.0; NAI],
            posmin_civ_450: [-1.0; NAI],
            fmin_civ_450: [-1.0; NAI],
            bi_siiv: 0.0,
            err_bi_siiv: 0.0,
            nsiiv_2000: 0,
            vmin_siiv_2000: [-1.0; NBI],
            vmax_siiv_2000: [-1.0; NBI],
            posmin_siiv_2000: [-1.0; NBI],
            fmin_siiv_2000: [-1.0; NBI],
            ai_siiv: 0.0,
            err_ai_siiv: 0.0,
            nsiiv_450: 0,
            vmin_siiv_450: [-1.0; NAI],
            vmax_siiv_450: [-1.0; NAI],
            posmin_siiv_450: [-1.0; NAI],
            fmin_siiv_450: [-1.0; NAI],
            snr_civ: -1.0,
            snr_redside: -1.0,
            snr_forest: -1.0,
            balmask: 1,
        }
    }
}

fn fill_bi(line: &LineBal, bi: &mut f32, err: &mut f32, n: &mut i32) {
    *bi = line.bi_km_s as f32;
    *err = line.err_bi_km_s as f32;
    *n = line.bi_troughs.len() as i32;
}

fn fill_slots<const N: usize>(troughs: &[Trough], slots: [&mut [f32; N]; 4]) {
    let [vmin, vmax, posmin, fmin] = slots;
    for (k, t) in troughs.iter().take(N).enumerate() {
        vmin[k] = t.vmin_km_s as f32;
        vmax[k] = t.vmax_km_s as f32;
        posmin[k] = t.posmin_km_s as f32;
        fmin[k] = t.fmin as f32;
    }
}

/// Velocity of each rest wavelength relative to `line_a`, km/s
/// (non-relativistic, as baltools).
pub fn velocities(rest_a: &[f64], line_a: f64) -> Vec<f64> {
    rest_a
        .iter()
        .map(|w| C_KM_S * (w - line_a) / line_a)
        .collect()
}

/// Pixel ranges of a line's search windows: BI `[lo, hi_bi)`, AI
/// `[lo, hi_ai)` (each the first pixel at or above the window's velocity,
/// numpy's `where(speed >= v)[0][0]`).
#[derive(Debug, Clone, Copy)]
struct Window {
    lo: usize,
    hi_bi: usize,
    hi_ai: usize,
}

impl Window {
    fn find(speed: &[f64]) -> Option<Window> {
        let first_at = |v: f64| speed.iter().position(|&s| s >= v);
        let lo = first_at(V_SEARCH_MIN_KM_S)?;
        let hi_bi = first_at(V_BI_MAX_KM_S)?;
        let hi_ai = first_at(V_AI_MAX_KM_S)?;
        // The window must start at -25,000 km/s, not at the first pixel
        // because the spectrum starts redder.
        if lo == 0 && speed[0] > V_SEARCH_MIN_KM_S + 1e-9 {
            return None;
        }
        (hi_bi > lo + 2 && hi_ai > hi_bi).then_some(Window { lo, hi_bi, hi_ai })
    }
}

fn check_positive(
    model: &[f64],
    rest: &[f64],
    win: &Window,
    window: &'static str,
) -> Result<(), BalSkip> {
    match (win.lo..win.hi_ai).find(|&i| !(model[i] > 0.0)) {
        Some(i) => Err(BalSkip::ContinuumNotPositive {
            window,
            rest_a: rest[i],
        }),
        None => Ok(()),
    }
}

fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        0.5 * (values[n / 2 - 1] + values[n / 2])
    }
}

/// BI and AI of one line on the continuum `model`.
fn measure_line(
    speed: &[f64],
    win: &Window,
    flux: &[f64],
    sigma: &[f64],
    ivar: &[f64],
    model: &[f64],
    raw: bool,
) -> LineBal {
    let ai_range = win.lo..win.hi_ai;
    // Where an intermediate continuum is not positive the pixel is taken
    // as black with no error: a trough pixel, masked from the next fit.
    let nf: Vec<f64> = ai_range
        .clone()
        .map(|i| {
            if raw || model[i] > 0.0 {
                flux[i] / model[i]
            } else {
                0.0
            }
        })
        .collect();
    let ns: Vec<f64> = ai_range
        .clone()
        .map(|i| {
            if raw || model[i] > 0.0 {
                sigma[i] / model[i]
            } else {
                0.0
            }
        })
        .collect();
    let v = &speed[ai_range.clone()];
    let m = &model[ai_range.clone()];
    let n_bi = win.hi_bi - win.lo;

    let mut snr: Vec<f64> = ai_range
        .clone()
        .map(|i| {
            if ivar[i] > 0.0 {
                flux[i] * ivar[i].sqrt()
            } else {
                0.0
            }
        })
        .collect();
    let snr = median(&mut snr);

    // baltools looks for troughs only where the median flux exceeds the
    // median error, in flux and again in units of the continuum.
    let measurable = |len: usize| {
        let mut f: Vec<f64> = flux[win.lo..win.lo + len].to_vec();
        let mut s: Vec<f64> = sigma[win.lo..win.lo + len].to_vec();
        let mut fnorm = nf[..len].to_vec();
        let mut snorm = ns[..len].to_vec();
        median(&mut f) > median(&mut s) && median(&mut fnorm) >= median(&mut snorm)
    };
    let expr: Vec<f64> = nf
        .iter()
        .zip(&ns)
        .map(|(f, s)| (1.0 - f / LEVEL) - 0.5 * s)
        .collect();

    let ai_spans = if measurable(nf.len()) {
        find_troughs(&expr, v, &nf, &ns, AI_WIDTH_KM_S, true, NAI)
    } else {
        Vec::new()
    };
    // The continuum's own error: mean |model - flux| outside AI troughs.
    let (mut dsum, mut dn) = (0.0, 0usize);
    for i in 0..nf.len() {
        let in_trough = ai_spans.iter().any(|&(s, e)| v[i] >= v[s] && v[i] <= v[e]);
        if !in_trough {
            dsum += (m[i] - flux[win.lo + i]).abs();
            dn += 1;
        }
    }
    let diff = if dn > 0 { dsum / dn as f64 } else { 0.0 };

    let (ai, err_ai, ai_troughs) = sum_troughs(&ai_spans, v, &nf, &ns, m, AI_WIDTH_KM_S, diff);
    let bi_spans = if measurable(n_bi) {
        find_troughs(
            &expr[..n_bi],
            &v[..n_bi],
            &nf[..n_bi],
            &ns[..n_bi],
            BI_WIDTH_KM_S,
            false,
            NBI,
        )
    } else {
        Vec::new()
    };
    let (bi, err_bi, bi_troughs) = sum_troughs(&bi_spans, v, &nf, &ns, m, BI_WIDTH_KM_S, diff);
    LineBal {
        bi_km_s: bi,
        err_bi_km_s: err_bi,
        bi_troughs,
        ai_km_s: ai,
        err_ai_km_s: err_ai,
        ai_troughs,
        snr,
    }
}

/// Troughs as `(first, last)` pixel pairs (both inside the trough).
/// `expr[i] > 0` marks a trough pixel; `width` is the minimum width in
/// km/s; `ai` selects AI's stricter noise-spike rule and significance test.
fn find_troughs(
    expr: &[f64],
    v: &[f64],
    nf: &[f64],
    ns: &[f64],
    width: f64,
    ai: bool,
    max_troughs: usize,
) -> Vec<(usize, usize)> {
    let n = expr.len();
    let mut out = Vec::new();
    // The trough test of the AI path: the mean depth less three standard
    // errors of the mean must still be below 0.9 (over baltools' slice
    // [first, last), which leaves the last pixel out).
    let significant = |s: usize, e: usize| {
        if !ai {
            return true;
        }
        let k = e.saturating_sub(s).max(1);
        let mf = nf[s..s + k].iter().sum::<f64>() / k as f64;
        let ms = ns[s..s + k].iter().sum::<f64>() / k as f64 / (k as f64).sqrt();
        1.0 - (mf + 3.0 * ms) / LEVEL > 0.0
    };
    let mut range = 0.0;
    let mut start = 0;
    for i in 0..n {
        let dv = if i > 0 { v[i] - v[i - 1] } else { 0.0 };
        if expr[i] > 0.0 {
            if range == 0.0 {
                start = i;
                // A started trough: non-zero, so the next pixel adds to it.
                range = 1e-4;
            } else {
                range += dv;
            }
            if i == n - 1 && range > width && significant(start, i) {
                out.push((start, i));
            }
        } else {
            // One failing pixel inside a trough is a noise spike when the
            // next pixel is a trough pixel again (AI: and the two before).
            let spike = i + 2 < n
                && expr[i + 1] > 0.0
                && (!ai || (i >= 2 && expr[i - 1] > 0.0 && expr[i - 2] > 0.0));
            if spike {
                if range != 0.0 {
                    range += dv;
                }
            } else {
                if range > width && significant(start, i - 1) {
                    out.push((start, i - 1));
                }
                range = 0.0;
            }
        }
    }
    out.truncate(max_troughs);
    out
}

/// Each trough's index and error (Weymann et al. 1991 eq. 1, counted after
/// the first `width` km/s), the sums, and the trough descriptions. A trough
/// whose integral comes out negative counts 0.
#[allow(clippy::too_many_arguments)]
fn sum_troughs(
    spans: &[(usize, usize)],
    v: &[f64],
    nf: &[f64],
    ns: &[f64],
    m: &[f64],
    width: f64,
    diff: f64,
) -> (f64, f64, Vec<Trough>) {
    let (mut total, mut var) = (0.0, 0.0);
    let mut troughs = Vec::with_capacity(spans.len());
    for &(s, e) in spans {
        // baltools integrates over the slice [first, last): pixel pairs
        // (i, i + 1) with i + 1 <= last - 1.
        let (mut run, mut value, mut err2) = (0.0, 0.0, 0.0);
        for i in s..e.saturating_sub(1) {
            let dv = v[i + 1] - v[i];
            run += dv;
            if run >= width {
                value += dv * (1.0 - nf[i + 1] / LEVEL);
                let s2 = ns[i] * ns[i] + (diff / m[i]).powi(2);
                // Each pixel's term of the sum is dv (1 - f/0.9), so its
                // variance is dv^2 s2 / 0.9^2 (baltools multiplies by dv,
                // not dv^2: see the module docs).
                if s2.is_finite() {
                    err2 += s2 / (LEVEL * LEVEL) * dv * dv;
                }
            }
        }
        if value < 0.0 {
            value = 0.0;
            err2 = 0.0;
        }
        total += value;
        var += err2;
        let last = e.max(s + 1).min(nf.len());
        let (kmin, fmin) = (s..last)
            .map(|k| (k, nf[k]))
            .fold((s, f64::INFINITY), |a, b| if b.1 < a.1 { b } else { a });
        troughs.push(Trough {
            vmin_km_s: -v[e],
            vmax_km_s: -v[s],
            posmin_km_s: -v[kmin],
            fmin,
            index_km_s: value,
            open_red: e + 1 == nf.len(),
        });
    }
    if total == 0.0 {
        // The catalog records no trough when the index is zero.
        return (0.0, 0.0, Vec::new());
    }
    (total, var.sqrt(), troughs)
}

/// Nearest pixel to `w` in increasing `wave` (baltools' `find_nearest`).
fn nearest(wave: &[f64], w: f64) -> usize {
    let idx = wave.partition_point(|&x| x < w);
    if idx > 0 && (idx == wave.len() || (w - wave[idx - 1]).abs() < (w - wave[idx]).abs()) {
        idx - 1
    } else {
        idx
    }
}

/// Fit-window pixels to keep (true) outside the troughs chosen by `from`
/// of C IV and Si IV: from the nearest pixel to the trough's blue end up to,
/// not including, the nearest pixel to its red end (baltools' `baltomask`).
/// A trough that reaches the red end of its window (0 km/s) is masked on
/// while the flux stays below 0.9 of the current continuum (or the
/// continuum is not positive): absorption that goes on past the line's
/// rest wavelength would otherwise pull the next fit down.
fn trough_mask(
    rest: &[f64],
    flux: &[f64],
    model: &[f64],
    civ: &LineBal,
    siiv: Option<&LineBal>,
    from: MaskFrom,
) -> Vec<bool> {
    let mut mask = vec![true; rest.len()];
    let lines = [(Some(civ), CIV_REST_A), (siiv, SIIV_REST_A)];
    for (line, line_a) in lines {
        let Some(line) = line else { continue };
        let troughs = match from {
            MaskFrom::Ai => &line.ai_troughs,
            MaskFrom::Bi => &line.bi_troughs,
        };
        for t in troughs.iter().filter(|t| t.vmin_km_s > 0.0) {
            let i1 = nearest(rest, line_a * (1.0 - t.vmax_km_s / C_KM_S));
            let mut i2 = nearest(rest, line_a * (1.0 - t.vmin_km_s / C_KM_S));
            if t.open_red {
                while i2 < rest.len() && (model[i2] <= 0.0 || flux[i2] / model[i2] < LEVEL) {
                    i2 += 1;
                }
            }
            for m in &mut mask[i1..i2.max(i1)] {
                *m = false;
            }
        }
    }
    mask
}

/// Median S/N over a rest range `[lo, hi)` (numpy `searchsorted` bounds).
fn median_snr(rest: &[f64], flux: &[f64], ivar: &[f64], lo: f64, hi: f64) -> f64 {
    let i1 = rest.partition_point(|&w| w < lo);
    let i2 = rest.partition_point(|&w| w < hi);
    let mut snr: Vec<f64> = (i1..i2)
        .map(|i| {
            if ivar[i] > 0.0 {
                flux[i] * ivar[i].sqrt()
            } else {
                0.0
            }
        })
        .filter(|s| s.is_finite())
        .collect();
    if snr.is_empty() {
        -1.0
    } else {
        median(&mut snr)
    }
}

/// `SNR_REDSIDE`: rest 1420-1480 A, only when wholly covered.
fn snr_redside(rest: &[f64], flux: &[f64], ivar: &[f64]) -> f64 {
    let (lo, hi) = (1420.0, 1480.0);
    if rest.first().is_some_and(|&w| w <= lo) && rest.last().is_some_and(|&w| w >= hi) {
        median_snr(rest, flux, ivar, lo, hi)
    } else {
        -1.0
    }
}

/// `SNR_FOREST`: rest 1040-1205 A, when at least 50 A are covered.
fn snr_forest(rest: &[f64], flux: &[f64], ivar: &[f64]) -> f64 {
    let (Some(&w0), Some(&w1)) = (rest.first(), rest.last()) else {
        return -1.0;
    };
    let (lo, hi) = (w0.max(1040.0), w1.min(1205.0));
    if hi - lo >= 50.0 {
        median_snr(rest, flux, ivar, lo, hi)
    } else {
        -1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 69 km/s grid from -30,000 to 2,000 km/s.
    fn grid() -> Vec<f64> {
        (0..=464).map(|i| -30_000.0 + 69.0 * i as f64).collect()
    }

    #[test]
    fn boxy_trough_bi_and_ai_by_hand() {
        let v = grid();
        // Flux 0.45 of the continuum from -15,000 to -9,000 km/s.
        let nf: Vec<f64> = v
            .iter()
            .map(|&x| {
                if (-15_000.0..=-9_000.0).contains(&x) {
                    0.45
                } else {
                    1.0
                }
            })
            .collect();
        let ns = vec![0.01; v.len()];
        let expr: Vec<f64> = nf
            .iter()
            .zip(&ns)
            .map(|(f, s)| 1.0 - f / 0.9 - 0.5 * s)
            .collect();
        let spans = find_troughs(&expr, &v, &nf, &ns, 2000.0, false, NBI);
        assert_eq!(spans.len(), 1);
        let (s, e) = spans[0];
        // First pixel at or above -15,000: -14,958; last at or below
        // -9,000: -9,024.
        assert_eq!(v[s], -14_958.0);
        assert_eq!(v[e], -9_024.0);
        let m = vec![1.0; v.len()];
        let (bi, err, troughs) = sum_troughs(&spans, &v, &nf, &ns, &m, 2000.0, 0.0);
        // Pixel pairs s..e-1 (85 steps of 69 km/s); counting starts when the
        // running width reaches 2000 km/s (29 steps = 2001): 85 - 28 = 57
        // steps of 69 km/s at depth 1 - 0.45/0.9 = 0.5.
        assert!((bi - 57.0 * 69.0 * 0.5).abs() < 1e-9, "{bi}");
        assert!((err - (57.0 * 69.0 * 69.0 * 1e-4 / 0.81_f64).sqrt()).abs() < 1e-9);
        assert_eq!(troughs[0].vmax_km_s, 14_958.0);
        assert_eq!(troughs[0].vmin_km_s, 9_024.0);
        assert_eq!(troughs[0].fmin, 0.45);
    }

    #[test]
    fn narrow_or_insignificant_dips_are_no_trough() {
        let v = grid();
        // 300 km/s wide: too narrow for AI.
        let nf: Vec<f64> = v
            .iter()
            .map(|&x| {
                if (-5_000.0..=-4_700.0).contains(&x) {
                    0.2
                } else {
                    1.0
                }
            })
            .collect();
        let ns = vec![0.01; v.len()];
        let expr: Vec<f64> = nf.iter().map(|f| 1.0 - f / 0.9 - 0.005).collect();
        assert!(find_troughs(&expr, &v, &nf, &ns, 450.0, true, NAI).is_empty());
        // Wide and shallow (0.88) with large errors: fails the 3 sigma test.
        let nf: Vec<f64> = v
            .iter()
            .map(|&x| {
                if (-5_000.0..=-4_000.0).contains(&x) {
                    0.88
                } else {
                    1.0
                }
            })
            .collect();
        let ns = vec![0.03; v.len()];
        let expr: Vec<f64> = nf
            .iter()
            .zip(&ns)
            .map(|(f, s)| 1.0 - f / 0.9 - 0.5 * s)
            .collect();
        assert!(expr.iter().any(|&e| e > 0.0));
        assert!(find_troughs(&expr, &v, &nf, &ns, 450.0, true, NAI).is_empty());
    }

    #[test]
    fn nearest_like_baltools() {
        let w = [1.0, 2.0, 3.0];
        assert_eq!(nearest(&w, 0.0), 0);
        assert_eq!(nearest(&w, 1.4), 0);
        assert_eq!(nearest(&w, 1.6), 1);
        assert_eq!(nearest(&w, 2.5), 2);
        assert_eq!(nearest(&w, 9.0), 2);
    }

    #[test]
    fn skips_have_reasons_and_balmask() {
        let s = BalSkip::RedshiftOutOfRange { z: 1.0 };
        assert_eq!(s.balmask(), 3);
        assert_eq!(s.reason(), "redshift_out_of_range");
        assert_eq!(BalSkip::AllMasked { window: "C IV" }.balmask(), 1);
    }
}
