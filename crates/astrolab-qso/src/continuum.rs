//! Quasar continua from a linear basis: the PCA components of Guo & Martini
//! (2019, ApJ 879, 72), as DESI's BAL finder `baltools` uses them
//! (Filbert et al. 2024, AJ 168, 1), or any other set of rest-frame
//! components such as the redrock quasar templates (Bailey et al., redrock;
//! `rrtemplate-QSO-*.fits`).
//!
//! The model is `m(lambda) = sum_k a_k e_k(lambda)`, with the components
//! `e_k` linearly interpolated onto the spectrum's rest wavelengths (numpy's
//! `interp`, as baltools does). The coefficients enter linearly, so instead
//! of baltools' Nelder-Mead search from `a_k = 1` we solve the weighted
//! least squares exactly through the normal equations
//! `(E^T W E) a = E^T W f`, `W = diag(ivar)` (a Cholesky factorisation of a
//! 5 x 5 matrix). The minimum is the one Nelder-Mead looks for; ours is
//! reached exactly and never stops early, so our chi-square is never larger.

// `!(x > 0.0)` is meant: it is also true for NaN, which must count as bad.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use thiserror::Error;

/// Rest-frame window of the PCA fit, Angstrom (baltools' `balconfig`:
/// `BAL_LAMBDA_MIN`, `BAL_LAMBDA_MAX`).
pub const PCA_REST_MIN_A: f64 = 1261.0;
/// See [`PCA_REST_MIN_A`].
pub const PCA_REST_MAX_A: f64 = 2399.0;

/// Why a continuum could not be fitted.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ContinuumError {
    #[error("continuum basis has no components")]
    NoComponents,
    #[error("continuum component {index} has {got} values but the wavelength grid has {expected}")]
    ComponentLength {
        index: usize,
        got: usize,
        expected: usize,
    },
    #[error(
        "continuum basis wavelengths must be finite and strictly increasing (at index {index})"
    )]
    BasisWavelengths { index: usize },
    #[error(
        "spectrum arrays differ in length: wavelength {wavelength}, flux {flux}, ivar {ivar}, mask {mask}"
    )]
    SpectrumLength {
        wavelength: usize,
        flux: usize,
        ivar: usize,
        mask: usize,
    },
    #[error("only {usable} usable pixels (ivar > 0, unmasked) for {components} components")]
    TooFewPixels { usable: usize, components: usize },
    #[error("{got} continuum coefficients given for a basis of {expected} components")]
    CoefficientCount { got: usize, expected: usize },
    #[error(
        "the normal equations are singular: the components are degenerate on the usable pixels"
    )]
    Singular,
}

/// Rest-frame continuum components on one wavelength grid.
#[derive(Debug, Clone)]
pub struct Basis {
    wave_a: Vec<f64>,
    components: Vec<Vec<f64>>,
}

impl Basis {
    /// A basis from its rest wavelength grid (Angstrom, increasing) and
    /// components (each on that grid). For DESI's BAL continuum pass the
    /// `WAVE` and `PCA0..PCA4` columns of `PCA_Eigenvectors.fits`.
    pub fn new(wave_a: Vec<f64>, components: Vec<Vec<f64>>) -> Result<Self, ContinuumError> {
        if components.is_empty() {
            return Err(ContinuumError::NoComponents);
        }
        for (index, c) in components.iter().enumerate() {
            if c.len() != wave_a.len() {
                return Err(ContinuumError::ComponentLength {
                    index,
                    got: c.len(),
                    expected: wave_a.len(),
                });
            }
        }
        for index in 0..wave_a.len() {
            let bad =
                !wave_a[index].is_finite() || (index > 0 && wave_a[index] <= wave_a[index - 1]);
            if bad {
                return Err(ContinuumError::BasisWavelengths { index });
            }
        }
        if wave_a.len() < 2 {
            return Err(ContinuumError::BasisWavelengths { index: 0 });
        }
        Ok(Basis { wave_a, components })
    }

    /// A basis on a log10-wavelength rest grid `loglam0 + i dloglam`
    /// (the redrock template layout: `CRVAL1`, `CDELT1` and one image row
    /// per component, as in `rrtemplate-QSO-HIZ-v1.1.fits`, rest
    /// 443-4500 A, which reaches where the PCA components stop at
    /// 1260-2399 A).
    pub fn from_log_grid(
        loglam0: f64,
        dloglam: f64,
        components: Vec<Vec<f64>>,
    ) -> Result<Self, ContinuumError> {
        let n = components.first().map_or(0, Vec::len);
        let wave = (0..n)
            .map(|i| 10f64.powf(loglam0 + dloglam * i as f64))
            .collect();
        Basis::new(wave, components)
    }

    /// Number of components.
    pub fn n_components(&self) -> usize {
        self.components.len()
    }

    /// First and last rest wavelength of the basis, Angstrom.
    pub fn range_a(&self) -> (f64, f64) {
        (self.wave_a[0], self.wave_a[self.wave_a.len() - 1])
    }

    /// The components linearly interpolated onto increasing rest
    /// wavelengths `rest_a`, clamped to the end values outside the grid
    /// (numpy's `interp`). Row-major: `out[k * n + i]` is component `k` at
    /// pixel `i`.
    pub fn interpolate(&self, rest_a: &[f64]) -> Vec<f64> {
        let n = rest_a.len();
        let mut out = vec![0.0; n * self.components.len()];
        let last = self.wave_a.len() - 1;
        // One merge walk: rest wavelengths increase, so the bracketing index
        // only moves forward (O(n + grid) instead of a search per pixel).
        let mut j = 0;
        for (i, &w) in rest_a.iter().enumerate() {
            while j + 1 < last && self.wave_a[j + 1] < w {
                j += 1;
            }
            let (lo, t) = if w <= self.wave_a[0] {
                (0, 0.0)
            } else if w >= self.wave_a[last] {
                (last - 1, 1.0)
            } else {
                let t = (w - self.wave_a[j]) / (self.wave_a[j + 1] - self.wave_a[j]);
                (j, t)
            };
            for (k, c) in self.components.iter().enumerate() {
                out[k * n + i] = c[lo] + t * (c[lo + 1] - c[lo]);
            }
        }
        out
    }
}

/// A fitted continuum.
#[derive(Debug, Clone, PartialEq)]
pub struct ContinuumFit {
    /// One coefficient per basis component (the catalog's `PCA_COEFFS`).
    pub coeffs: Vec<f64>,
    /// The model on the pixels that were passed in.
    pub model: Vec<f64>,
    /// Chi-square over the pixels used.
    pub chi2: f64,
    /// Pixels used: unmasked with `ivar > 0`.
    pub n_used: usize,
}

impl ContinuumFit {
    /// Reduced chi-square, `chi2 / (n_used - n_components)` (the catalog's
    /// `PCA_CHI2`; baltools counts masked-in pixels with `ivar = 0` in the
    /// degrees of freedom too, which we do not, as they carry no
    /// information).
    pub fn reduced_chi2(&self) -> f64 {
        self.chi2 / (self.n_used - self.coeffs.len()) as f64
    }
}

/// Weighted least-squares fit of interpolated components `interp`
/// (row-major, from [`Basis::interpolate`]) to `flux` with inverse
/// variances `ivar`, using only pixels where `use_pixel` is true and
/// `ivar > 0`.
pub fn fit_linear(
    interp: &[f64],
    flux: &[f64],
    ivar: &[f64],
    use_pixel: &[bool],
) -> Result<ContinuumFit, ContinuumError> {
    let n = flux.len();
    if ivar.len() != n || use_pixel.len() != n || n == 0 || !interp.len().is_multiple_of(n) {
        return Err(ContinuumError::SpectrumLength {
            wavelength: if n == 0 { 0 } else { interp.len() / n.max(1) },
            flux: n,
            ivar: ivar.len(),
            mask: use_pixel.len(),
        });
    }
    let m = interp.len() / n;
    let comp = |k: usize| &interp[k * n..(k + 1) * n];
    let mut ata = vec![0.0; m * m];
    let mut atb = vec![0.0; m];
    let mut used = 0;
    for i in 0..n {
        let w = ivar[i];
        if !use_pixel[i] || !(w > 0.0) || !w.is_finite() || !flux[i].is_finite() {
            continue;
        }
        used += 1;
        for a in 0..m {
            let ea = comp(a)[i] * w;
            atb[a] += ea * flux[i];
            for b in 0..=a {
                ata[a * m + b] += ea * comp(b)[i];
            }
        }
    }
    if used <= m {
        return Err(ContinuumError::TooFewPixels {
            usable: used,
            components: m,
        });
    }
    for a in 0..m {
        for b in 0..a {
            ata[b * m + a] = ata[a * m + b];
        }
    }
    let coeffs = cholesky_solve(&mut ata, &atb, m).ok_or(ContinuumError::Singular)?;
    let mut model = vec![0.0; n];
    for (k, c) in coeffs.iter().enumerate() {
        for (mi, e) in model.iter_mut().zip(comp(k)) {
            *mi += c * e;
        }
    }
    let mut chi2 = 0.0;
    for i in 0..n {
        let w = ivar[i];
        if use_pixel[i] && w > 0.0 && w.is_finite() && flux[i].is_finite() {
            let r = flux[i] - model[i];
            chi2 += r * r * w;
        }
    }
    Ok(ContinuumFit {
        coeffs,
        model,
        chi2,
        n_used: used,
    })
}

/// The continuum of given coefficients on interpolated components
/// `interp` (row-major), with its chi-square over the pixels with
/// `ivar > 0`.
pub fn evaluate(interp: &[f64], coeffs: &[f64], flux: &[f64], ivar: &[f64]) -> ContinuumFit {
    let n = flux.len();
    let mut model = vec![0.0; n];
    for (k, c) in coeffs.iter().enumerate() {
        for (mi, e) in model.iter_mut().zip(&interp[k * n..(k + 1) * n]) {
            *mi += c * e;
        }
    }
    let (mut chi2, mut n_used) = (0.0, 0);
    for i in 0..n {
        if ivar[i] > 0.0 && ivar[i].is_finite() && flux[i].is_finite() {
            chi2 += (flux[i] - model[i]).powi(2) * ivar[i];
            n_used += 1;
        }
    }
    ContinuumFit {
        coeffs: coeffs.to_vec(),
        model,
        chi2,
        n_used,
    }
}

/// Solves `A x = b` for symmetric positive definite `A` (m x m, row-major,
/// overwritten by its Cholesky factor). `None` when `A` is not positive
/// definite to working precision.
fn cholesky_solve(a: &mut [f64], b: &[f64], m: usize) -> Option<Vec<f64>> {
    // Scale-aware singularity test: a pivot below 1e-12 of the largest
    // diagonal element means the components are degenerate on these pixels.
    let max_diag = (0..m).map(|i| a[i * m + i]).fold(0.0_f64, f64::max);
    if !(max_diag > 0.0) {
        return None;
    }
    for j in 0..m {
        let mut d = a[j * m + j];
        for k in 0..j {
            d -= a[j * m + k] * a[j * m + k];
        }
        if !(d > 1e-12 * max_diag) {
            return None;
        }
        let d = d.sqrt();
        a[j * m + j] = d;
        for i in j + 1..m {
            let mut s = a[i * m + j];
            for k in 0..j {
                s -= a[i * m + k] * a[j * m + k];
            }
            a[i * m + j] = s / d;
        }
    }
    let mut y = vec![0.0; m];
    for i in 0..m {
        let mut s = b[i];
        for k in 0..i {
            s -= a[i * m + k] * y[k];
        }
        y[i] = s / a[i * m + i];
    }
    let mut x = vec![0.0; m];
    for i in (0..m).rev() {
        let mut s = y[i];
        for k in i + 1..m {
            s -= a[k * m + i] * x[k];
        }
        x[i] = s / a[i * m + i];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_fit_of_a_combination() {
        let wave: Vec<f64> = (0..50).map(|i| 1000.0 + i as f64).collect();
        let c0: Vec<f64> = wave.iter().map(|w| 1.0 + 0.001 * w).collect();
        let c1: Vec<f64> = wave.iter().map(|w| (w / 7.0).sin()).collect();
        let basis = Basis::new(wave.clone(), vec![c0.clone(), c1.clone()]).unwrap();
        let interp = basis.interpolate(&wave);
        let flux: Vec<f64> = (0..50).map(|i| 3.0 * c0[i] - 0.5 * c1[i]).collect();
        let fit = fit_linear(&interp, &flux, &[1.0; 50], &[true; 50]).unwrap();
        assert!((fit.coeffs[0] - 3.0).abs() < 1e-10);
        assert!((fit.coeffs[1] + 0.5).abs() < 1e-10);
        assert!(fit.chi2 < 1e-18);
        assert_eq!(fit.n_used, 50);
    }

    #[test]
    fn interpolation_clamps_like_numpy() {
        let basis = Basis::new(vec![1.0, 2.0, 3.0], vec![vec![10.0, 20.0, 40.0]]).unwrap();
        let v = basis.interpolate(&[0.5, 1.5, 2.5, 3.5]);
        assert_eq!(v, vec![10.0, 15.0, 30.0, 40.0]);
    }

    #[test]
    fn degenerate_components_are_an_error() {
        let wave = vec![1.0, 2.0, 3.0, 4.0];
        let basis = Basis::new(wave.clone(), vec![vec![1.0; 4], vec![2.0; 4]]).unwrap();
        let interp = basis.interpolate(&wave);
        let err = fit_linear(&interp, &[1.0; 4], &[1.0; 4], &[true; 4]).unwrap_err();
        assert_eq!(err, ContinuumError::Singular);
        let err = fit_linear(&interp[..4], &[1.0; 4], &[0.0; 4], &[true; 4]).unwrap_err();
        assert_eq!(
            err,
            ContinuumError::TooFewPixels {
                usable: 0,
                components: 1
            }
        );
    }

    #[test]
    fn bad_basis_is_rejected() {
        assert_eq!(
            Basis::new(vec![1.0, 1.0], vec![vec![0.0, 0.0]]).unwrap_err(),
            ContinuumError::BasisWavelengths { index: 1 }
        );
        assert!(matches!(
            Basis::new(vec![1.0, 2.0], vec![vec![0.0]]).unwrap_err(),
            ContinuumError::ComponentLength { index: 0, .. }
        ));
    }
}
