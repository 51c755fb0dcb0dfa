//! Emission lines as PyQSOFit models them (Guo, Shen & Wang 2018, ascl
//! 1809.008; Shen et al. 2019, ApJS 241, 34): Gaussians in `x = ln(lambda)`,
//! `f(x) = A exp(-(x - mu)^2 / (2 s^2))`, three parameters per line in the
//! order `[A, mu, s]` (PyQSOFit's `scale`, `centerwave` as `ln(lambda)` and
//! `sigma` in `ln(lambda)`).
//!
//! Velocities follow PyQSOFit: an offset `v` moves the centre by
//! `d ln(lambda) = v / c` (first order in `v / c`, as its `voff` bounds),
//! and a width is `FWHM = 2 sqrt(2 ln 2) s c`. In these units a common
//! velocity and width of several lines is a common shift of `mu` and a
//! common `s`, which is what the ties of [`crate::fit::lm`] express.

// `!(x > 0.0)` is meant: it is also true for NaN, which must count as bad.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use thiserror::Error;

use crate::bal::C_KM_S;
use crate::fit::lm::Model;

/// `FWHM / sigma` of a Gaussian, `2 sqrt(2 ln 2)`.
pub const FWHM_PER_SIGMA: f64 = 2.354_820_045_030_949_3;

/// Parameters per line: amplitude, centre `ln(lambda)`, sigma in
/// `ln(lambda)`.
pub const PARAMS_PER_LINE: usize = 3;

/// Centre `ln(lambda)` of a line of rest wavelength `rest_a` moved by
/// `velocity_kms` (negative = blueshift).
pub fn ln_centre(rest_a: f64, velocity_kms: f64) -> f64 {
    rest_a.ln() + velocity_kms / C_KM_S
}

/// Velocity offset (km/s) of a centre `ln_centre` from `rest_a`; the
/// inverse of [`ln_centre`].
pub fn velocity_kms(rest_a: f64, ln_centre: f64) -> f64 {
    (ln_centre - rest_a.ln()) * C_KM_S
}

/// Sigma in `ln(lambda)` of a line of FWHM `fwhm_kms`.
pub fn sigma_ln(fwhm_kms: f64) -> f64 {
    fwhm_kms / (FWHM_PER_SIGMA * C_KM_S)
}

/// FWHM (km/s) of a line of sigma `sigma_ln` in `ln(lambda)`; the inverse
/// of [`sigma_ln`].
pub fn fwhm_kms(sigma_ln: f64) -> f64 {
    sigma_ln * FWHM_PER_SIGMA * C_KM_S
}

/// Integrated flux over wavelength, `int f d(lambda)`, of one line: since
/// `d lambda = lambda dx`, `A sqrt(2 pi) s exp(mu + s^2 / 2)` exactly.
/// Flux ratios of lines with a common `s` are therefore amplitude ratios
/// times `exp(mu_1 - mu_2)`, the ratio of their wavelengths.
pub fn line_flux(amplitude: f64, ln_centre: f64, sigma_ln: f64) -> f64 {
    amplitude
        * (2.0 * std::f64::consts::PI).sqrt()
        * sigma_ln
        * (ln_centre + 0.5 * sigma_ln * sigma_ln).exp()
}

/// The sum of the lines `params` (`[A, mu, s]` per line) at `ln_wave`,
/// into `out`. Panics when `params.len()` is not a multiple of 3 or the
/// lengths of `ln_wave` and `out` differ.
pub fn evaluate(ln_wave: &[f64], params: &[f64], out: &mut [f64]) {
    assert_eq!(params.len() % PARAMS_PER_LINE, 0, "3 parameters per line");
    assert_eq!(ln_wave.len(), out.len(), "grid and output lengths");
    out.iter_mut().for_each(|v| *v = 0.0);
    for line in params.chunks_exact(PARAMS_PER_LINE) {
        let (amp, mu, s) = (line[0], line[1], line[2]);
        let k = -0.5 / (s * s);
        for (o, x) in out.iter_mut().zip(ln_wave) {
            let d = x - mu;
            *o += amp * (k * d * d).exp();
        }
    }
}

/// The derivatives of [`evaluate`] by each parameter, column-major:
/// `jac[j * n + i] = d f(x_i) / d params[j]`, `n = ln_wave.len()`.
pub fn derivatives(ln_wave: &[f64], params: &[f64], jac: &mut [f64]) {
    let n = ln_wave.len();
    assert_eq!(params.len() % PARAMS_PER_LINE, 0, "3 parameters per line");
    assert_eq!(jac.len(), n * params.len(), "Jacobian length");
    for (l, line) in params.chunks_exact(PARAMS_PER_LINE).enumerate() {
        let (amp, mu, s) = (line[0], line[1], line[2]);
        let inv_s2 = 1.0 / (s * s);
        let (ja, rest) = jac[3 * l * n..3 * (l + 1) * n].split_at_mut(n);
        let (jm, js) = rest.split_at_mut(n);
        for i in 0..n {
            let d = ln_wave[i] - mu;
            let e = (-0.5 * d * d * inv_s2).exp();
            let f = amp * e;
            ja[i] = e;
            jm[i] = f * d * inv_s2;
            js[i] = f * d * d * inv_s2 / s;
        }
    }
}

/// Why a line fit could not be set up.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum GaussError {
    #[error("arrays differ in length: ln_wave {ln_wave}, flux {flux}, ivar {ivar}")]
    Length {
        ln_wave: usize,
        flux: usize,
        ivar: usize,
    },
    #[error("pixel {index}: ivar {ivar} is negative or not finite")]
    BadIvar { index: usize, ivar: f64 },
    #[error("pixel {index}: flux {flux} or ln(lambda) {ln_wave} is not finite where ivar > 0")]
    NonFinite {
        index: usize,
        flux: f64,
        ln_wave: f64,
    },
    #[error("no lines to fit")]
    NoLines,
}

/// A spectrum to fit with `n_lines` Gaussians: residuals
/// `(flux - model) sqrt(ivar)` over the pixels with `ivar > 0` (the others
/// are dropped, so that [`crate::fit::lm::LmFit::dof`] counts only real
/// data), with the analytic Jacobian.
#[derive(Debug, Clone)]
pub struct LineFit {
    ln_wave: Vec<f64>,
    flux: Vec<f64>,
    sqrt_ivar: Vec<f64>,
    n_lines: usize,
}

impl LineFit {
    /// The pixels with `ivar > 0` of `(ln_wave, flux, ivar)`. NaN flux or
    /// wavelengths on those pixels, and negative or NaN `ivar`, are errors:
    /// mask them with `ivar = 0`.
    pub fn new(
        ln_wave: &[f64],
        flux: &[f64],
        ivar: &[f64],
        n_lines: usize,
    ) -> Result<Self, GaussError> {
        if ln_wave.len() != flux.len() || flux.len() != ivar.len() {
            return Err(GaussError::Length {
                ln_wave: ln_wave.len(),
                flux: flux.len(),
                ivar: ivar.len(),
            });
        }
        if n_lines == 0 {
            return Err(GaussError::NoLines);
        }
        let mut fit = Self {
            ln_wave: Vec::with_capacity(flux.len()),
            flux: Vec::with_capacity(flux.len()),
            sqrt_ivar: Vec::with_capacity(flux.len()),
            n_lines,
        };
        for (index, ((&x, &f), &w)) in ln_wave.iter().zip(flux).zip(ivar).enumerate() {
            if !(w >= 0.0) || !w.is_finite() {
                return Err(GaussError::BadIvar { index, ivar: w });
            }
            if w == 0.0 {
                continue;
            }
            if !f.is_finite() || !x.is_finite() {
                return Err(GaussError::NonFinite {
                    index,
                    flux: f,
                    ln_wave: x,
                });
            }
            fit.ln_wave.push(x);
            fit.flux.push(f);
            fit.sqrt_ivar.push(w.sqrt());
        }
        Ok(fit)
    }

    /// `ln(lambda)` of the pixels used.
    pub fn ln_wave(&self) -> &[f64] {
        &self.ln_wave
    }
}

impl Model for LineFit {
    fn n_params(&self) -> usize {
        PARAMS_PER_LINE * self.n_lines
    }
    fn n_residuals(&self) -> usize {
        self.flux.len()
    }
    fn residuals(&self, p: &[f64], r: &mut [f64]) {
        evaluate(&self.ln_wave, p, r);
        for ((ri, f), w) in r.iter_mut().zip(&self.flux).zip(&self.sqrt_ivar) {
            *ri = (f - *ri) * w;
        }
    }
    fn jacobian(&self, p: &[f64], jac: &mut [f64]) -> bool {
        derivatives(&self.ln_wave, p, jac);
        let n = self.flux.len();
        for col in jac.chunks_exact_mut(n) {
            for (j, w) in col.iter_mut().zip(&self.sqrt_ivar) {
                *j *= -w;
            }
        }
        true
    }
}
